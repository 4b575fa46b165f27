/* run_fault.c: after a failed presentation, settings that are checked to settle it before they are suggested.
 */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "lateral/study.h"
#include "size.h"

/* 1 when the input that failed settles under m's settings plus sets, from sim's last good state (the
 * suggestion is checked before it is printed). */
static int suggestion_works(const lat_model *m, lat_sim *sim, const char *const *sets, size_t n_sets)
{
	char err[LAT_ERRLEN], *text = NULL, *state = NULL;
	size_t len = 0, state_len = 0;
	lat_model m2;
	lat_sim *s2 = NULL;
	FILE *fp = NULL;
	int ok = 0, rc;

	lat_model_init(&m2);
	text = cli_model_text(m, &len);
	rc = text ? lat_model_load_string(&m2, text, m->source, err) : LAT_ENOMEM;
	for (size_t k = 0; !rc && k < n_sets; k++)
		rc = lat_model_set(&m2, sets[k], err);
	if (!rc)
		rc = lat_model_finalize(&m2, err);
	if (!rc && (s2 = lat_model_sim_alloc(&m2, NULL, err)) != NULL &&
	    (fp = open_memstream(&state, &state_len)) != NULL) {
		rc = lat_sim_save(sim, fp, err);
		fclose(fp);
		fp = rc ? NULL : fmemopen(state, state_len, "rb");
		ok = fp && lat_sim_load(s2, fp, "state", err) == LAT_OK &&
		     lat_sim_present(s2, NULL, NULL, err) == LAT_OK;
	}
	if (fp)
		fclose(fp);
	free(state);
	free(text);
	lat_sim_free(s2);
	lat_model_clear(&m2);
	return ok;
}

/* The checks of candidate settings after a failed presentation may take at most this many times the
 * steps the presentation was allowed (solver.max_steps), or SUGGEST_MIN_STEPS when that is more: each
 * check retries the presentation with the candidate's max_steps, and checking max_steps x 10, x 100 and
 * x 1000 could cost 1110 times a presentation of 3 s (relu units at circuit.alpha = 1e12: still
 * checking after 5 minutes). */
#define SUGGEST_FACTOR 10
#define SUGGEST_MIN_STEPS 1e5

/* Candidate settings for a failed presentation, by what the failure measured: a smaller eta for a
 * blow-up; more simulated time or steps for a residual still falling; the auto method for an
 * integrator that stalled or did not converge. Up to 3 alternatives of up to 2 sets each, in order of
 * cost: steps[k] is the step budget a check of alternative k may use. */
static size_t fault_candidates(const lat_model *m, int code, int cause, char sets[3][2][64], size_t n_sets[3],
			       double steps[3])
{
	double t_max = lat_model_t_max(m);
	size_t n = 0;

	for (int k = 0; k < 3; k++) {
		double f = pow(10.0, k + 1);
		n_sets[n] = 1;
		steps[n] =
		    (double)m->max_steps; /* a smaller eta, more time, another method: the same budget */
		if (code == LAT_EDIVERGE) {
			snprintf(sets[n][0], sizeof sets[n][0], "plasticity.eta=%g", m->eta / f);
		} else if (cause == LAT_ODE_CAUSE_TIME) {
			snprintf(sets[n][0], sizeof sets[n][0], "solver.t_max=%g", f * t_max);
		} else if (cause == LAT_ODE_CAUSE_STEPS) {
			snprintf(sets[n][0], sizeof sets[n][0], "solver.max_steps=%.0f",
				 f * (double)m->max_steps);
			steps[n] *= f;
		} else if ((cause == LAT_ODE_CAUSE_STALL || cause == LAT_ODE_CAUSE_NOCONV) && k == 0 &&
			   m->method != LAT_METHOD_AUTO) {
			snprintf(sets[n][0], sizeof sets[n][0], "solver.method=auto");
		} else if (cause == LAT_ODE_CAUSE_STALL || cause == LAT_ODE_CAUSE_NOCONV) {
			snprintf(sets[n][0], sizeof sets[n][0], "solver.t_max=%g", f * t_max);
			snprintf(sets[n][1], sizeof sets[n][1], "solver.max_steps=%.0f",
				 f * (double)m->max_steps);
			n_sets[n] = 2;
			steps[n] *= f;
		} else {
			break; /* an unstable fixed point, a solver failure: no setting of ours is known to
				  help */
		}
		n++;
	}
	return n;
}

/* After a failed presentation: the simulation is back at its last good state; save it and say how to
 * continue, with a setting checked to settle the failed presentation when one of the candidates does. */
void run_study_fault(const cli_opts *o, const run_control *ctl, const lat_model *m, lat_sim *sim,
		     lat_study *st, int code, int cause)
{
	char sets[3][2][64], err[LAT_ERRLEN];
	const char *set_ptr[2] = {NULL, NULL};
	double steps[3], budget = fmax(SUGGEST_FACTOR * (double)m->max_steps, SUGGEST_MIN_STEPS), spent = 0;
	size_t n_sets[3], n_cand = fault_candidates(m, code, cause, sets, n_sets, steps), k, n_use = 0;
	unsigned long long next = (unsigned long long)lat_study_done(st) + 1;

	/* the alternatives come in order of cost: check those the budget allows */
	for (k = 0; k < n_cand && spent + steps[k] <= budget; k++)
		spent += steps[k];
	n_cand = k;
	for (k = 0; k < n_cand; k++) {
		set_ptr[0] = sets[k][0];
		set_ptr[1] = sets[k][1];
		/* a check with a larger step budget can take up to SUGGEST_FACTOR times the failed
		 * presentation */
		if (steps[k] > (double)m->max_steps)
			fprintf(stderr,
				"lateral %s: checking whether presentation %llu settles with --set %s%s%s\n",
				o->cmd, next, sets[k][0], n_sets[k] > 1 ? " --set " : "",
				n_sets[k] > 1 ? sets[k][1] : "");
		if (suggestion_works(m, sim, set_ptr, n_sets[k])) {
			n_use = n_sets[k];
			fprintf(stderr, "lateral %s: checked: presentation %llu settles with --set %s%s%s\n",
				o->cmd, next, sets[k][0], n_use > 1 ? " --set " : "",
				n_use > 1 ? sets[k][1] : "");
			break;
		}
	}
	if (n_use == 0 && n_cand > 0)
		fprintf(
		    stderr,
		    "lateral %s: none of the settings tried settles presentation %llu (up to --set %s%s%s)\n",
		    o->cmd, next, sets[n_cand - 1][0], n_sets[n_cand - 1] > 1 ? " --set " : "",
		    n_sets[n_cand - 1] > 1 ? sets[n_cand - 1][1] : "");
	else if (n_use == 0 && cause == LAT_ODE_CAUSE_UNSTABLE)
		fprintf(stderr,
			"lateral %s: no solver setting settles an unstable fixed point: the model itself "
			"(its circuit keys) has to change\n",
			o->cmd);
	if (lat_study_done(st) == 0) {
		fprintf(stderr, "lateral %s: no presentation succeeded; nothing was saved\n", o->cmd);
		if (n_use)
			cli_rerun_hint(ctl->argc, ctl->argv, "run again with", set_ptr, n_use, 0);
	} else if (run_study_save(ctl->state_path, m, st, err)) {
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
	} else {
		fprintf(stderr, "lateral %s: the last good state (after presentation %llu) is saved in %s\n",
			o->cmd, (unsigned long long)lat_study_done(st), ctl->state_path);
		cli_rerun_hint(ctl->argc, ctl->argv,
			       n_use ? "continue from it with" : "continue from it, after a change,", set_ptr,
			       n_use, 1);
	}
}
