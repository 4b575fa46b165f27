/* cmd_run.c: `lateral run`: the convergence study of one pool, with metrics, traces, summary and plots. */
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
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "lateral/study.h"
#include "size.h"

/* Rows of the progress table on stdout (metrics.tsv has every recorded row). */
#define TABLE_ROWS 20

static void table_header(void)
{
	printf("%12s %12s %12s %9s %10s %11s %10s %8s\n", "presentation", "snr", "inv_snr", "cos_mean",
	       "mean_ratio", "dist_wstar", "settle_t", "steps");
}

/* Missing values (no W*, nothing settled yet) print as "-", as they are empty in metrics.tsv. */
static void table_num(const char *fmt, int width, double v)
{
	if (isnan(v))
		printf(" %*s", width, "-");
	else
		printf(fmt, v);
}

static void table_row(const lat_sim_status *st, double settle, double steps)
{
	printf("%12zu %12.5g %12.5g %9.6f %10.6f", st->presentation, st->pool.snr, st->pool.inv_snr,
	       st->pool.cos_mean, st->pool.mean_ratio);
	table_num(" %11.4g", 11, st->dist_wstar);
	table_num(" %10.4g", 10, settle);
	table_num(" %8.1f", 8, steps);
	putchar('\n');
}

/* Bytes of one row of metrics.tsv at most: the presentation (20 digits) and 8 numbers of at most 17
 * characters ("%.10g", e.g. -1.234567891e-100), each with its separator. */
#define METRICS_ROW_BYTES (21 + 8 * 18)
/* Bytes of one value in a row of trace.tsv at most, with its separator (see METRICS_ROW_BYTES). */
#define TRACE_VALUE_BYTES 18

/* Rows the metrics record needs: the initial one, every record_every-th presentation and the last. */
static int record_rows(const lat_model *m, size_t *rows)
{
	return lat_size_add(m->presentations / m->record_every, 2, rows);
}

int run_plan(const lat_model *m, int traced, size_t *bytes, const char **change, char *err)
{
	const char *src = m->source ? m->source : "<built-in default>";
	size_t sim, total, rows, part, cap, buffer, n_traced;
	double dt, most;
	char limit[32];
	int rc = lat_model_sim_plan(m, &sim, err);

	if (rc)
		return rc;
	lat_size_text(limit, sizeof limit, (double)SIZE_MAX);
	/* the SNR record (2 doubles) and the text of metrics.tsv, per recorded presentation */
	if (record_rows(m, &rows) || lat_size_mul(rows, 2 * sizeof(double) + METRICS_ROW_BYTES, &part) ||
	    lat_size_add(sim, part, &total))
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: run.presentations = %zu recorded every run.record_every = %zu need more than "
		    "the %s a process can address; raise run.record_every or lower run.presentations",
		    src, m->presentations, m->record_every, limit);
	*change = "reduce circuit.neurons, circuit.inputs or the fixed inputs";
	most = (double)sim;
	if (part > most) {
		*change = "raise run.record_every or lower run.presentations";
		most = (double)part;
	}
	n_traced = m->trace_presentations < m->presentations ? m->trace_presentations : m->presentations;
	if (traced && n_traced) {
		rc = lat_model_trace_plan(m, &dt, &cap, &buffer, err);
		if (rc)
			return rc;
		/* the buffer of one presentation and the text of trace.tsv for every traced one */
		if (lat_size_add(m->neurons, 3, &part) || lat_size_mul(part, TRACE_VALUE_BYTES, &part) ||
		    lat_size_add(part, 21, &part) || lat_size_mul(part, cap, &part) ||
		    lat_size_mul(part, n_traced, &part) || lat_size_add(part, buffer, &part) ||
		    lat_size_add(total, part, &total))
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: run.trace_presentations = %zu traces of up to %zu samples of %zu neurons "
			    "need more than the %s a process can address; raise run.trace_dt or lower "
			    "run.trace_presentations",
			    src, n_traced, cap, m->neurons, limit);
		if (part > most)
			*change = "raise run.trace_dt, lower run.trace_presentations or solver.t_max";
	}
	*bytes = total;
	return LAT_OK;
}

/* Writes the state file (run_state.bin, state.h) of the study so far, with the model's text. */
static int study_save(const char *path, const lat_model *m, lat_study *st, char *err)
{
	size_t model_len = 0;
	char *model = cli_model_text(m, &model_len);
	int rc;

	if (!model)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	rc = lat_study_save(st, path, model, err);
	free(model);
	return rc;
}

/* Prints a note for every key whose line ("\tkey = value;") in the model text differs from the saved one. */
static void model_notes(const char *cmd, const char *old, const char *cur)
{
	char section[64] = "";
	while (*old && *cur) {
		size_t lo = strcspn(old, "\n"), lc = strcspn(cur, "\n");
		const char *eq = memchr(old, '=', lo);
		if (sscanf(cur, "%63[a-z_] = {", section) != 1 && (lo != lc || memcmp(old, cur, lo)) && eq &&
		    cur[0] == '\t' && lc > 2 && lo > (size_t)(eq - old) + 2)
			fprintf(stderr, "lateral %s: note: resuming with %s.%.*s (was %.*s)\n", cmd, section,
				(int)lc - 2, cur + 1, (int)(lo - (size_t)(eq - old) - 3), eq + 2);
		old += lo + (old[lo] == '\n');
		cur += lc + (cur[lc] == '\n');
	}
}

/* Continues the study saved at path (every field checked, see lat_run_state_load), noting the keys that
 * differ from the saved model. Errors are input errors (LAT_ECONFIG, LAT_EIO). */
static int study_load(const char *cmd, const char *path, const lat_model *m, lat_study *st, char *err)
{
	char *saved = NULL, *cur = NULL;
	size_t cur_len = 0;
	int rc = lat_study_resume(st, path, &saved, err);

	if (rc)
		return rc;
	cur = cli_model_text(m, &cur_len);
	if (!cur)
		rc = lat_err_set(err, LAT_ENOMEM, "out of memory reading %s", path);
	else
		model_notes(cmd, saved, cur);
	free(cur);
	free(saved);
	return rc;
}

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
static void study_fault(const cli_opts *o, const run_control *ctl, const lat_model *m, lat_sim *sim,
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
	} else if (study_save(ctl->state_path, m, st, err)) {
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
	} else {
		fprintf(stderr, "lateral %s: the last good state (after presentation %llu) is saved in %s\n",
			o->cmd, (unsigned long long)lat_study_done(st), ctl->state_path);
		cli_rerun_hint(ctl->argc, ctl->argv,
			       n_use ? "continue from it with" : "continue from it, after a change,", set_ptr,
			       n_use, 1);
	}
}

int run_study(const cli_opts *o, const lat_model *m, lat_sim *sim, const char *dir, int traced,
	      run_result *res)
{
	return run_study_ctl(o, m, sim, dir, traced, NULL, res);
}

/* The progress table on stdout: every record that is the last or falls on a multiple of print_every. */
typedef struct {
	size_t print_every;
	int quiet;
} table_ctx;

static void on_record(void *ctx, const lat_sim_status *st, double settle, double steps, int last)
{
	const table_ctx *t = ctx;

	if (!t->quiet && (last || st->presentation % t->print_every == 0)) {
		table_row(st, settle, steps);
		fflush(stdout);
	}
}

/* The hooks' context: the table, the caller's stop rule and whether signals interrupt. */
typedef struct {
	table_ctx table;
	const run_control *ctl;
} hooks_ctx;

static void hook_record(void *ctx, const lat_sim_status *st, double settle, double steps, int last)
{
	on_record(&((hooks_ctx *)ctx)->table, st, settle, steps, last);
}

static int hook_stop(void *ctx, const lat_sim *sim, size_t p)
{
	const run_control *ctl = ((hooks_ctx *)ctx)->ctl;
	return ctl && ctl->stop && ctl->stop(ctl->stop_ctx, sim, p);
}

static int hook_interrupted(void *ctx)
{
	const run_control *ctl = ((hooks_ctx *)ctx)->ctl;
	return ctl && ctl->state_path ? cli_interrupted() : 0;
}

/* The study of m on sim as the model's run.* keys say (traced: its first trace_presentations). */
static int study_open(const cli_opts *o, const lat_model *m, lat_sim *sim, int traced, lat_study **st)
{
	lat_study_opts so = {.presentations = m->presentations,
			     .record_every = m->record_every,
			     .trace_presentations = traced ? m->trace_presentations : 0};
	char err[LAT_ERRLEN];
	size_t bytes;
	int lrc;

	if (so.trace_presentations) {
		/* run_plan has refused what does not fit */
		lrc = lat_model_trace_plan(m, &so.trace_dt, &so.trace_cap, &bytes, err);
		if (lrc)
			return cli_fail(o->cmd, lrc, err);
	}
	*st = lat_study_alloc(&so, sim, err);
	return *st ? CLI_OK : cli_fail(o->cmd, LAT_ENOMEM, err);
}

/* The study's files: metrics.tsv and, when traced, trace.tsv, in dir. */
static int study_write(const cli_opts *o, lat_study *st, const char *dir)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN];
	size_t len;
	const char *text = lat_study_metrics_text(st, &len);
	int lrc = cli_write_text(cli_path(path, sizeof path, dir, "metrics.tsv"), text, len, err);

	text = lat_study_trace_text(st, &len);
	if (!lrc && text)
		lrc = cli_write_text(cli_path(path, sizeof path, dir, "trace.tsv"), text, len, err);
	return lrc ? cli_fail(o->cmd, LAT_EIO, err) : CLI_OK;
}

int run_study_ctl(const cli_opts *o, const lat_model *m, lat_sim *sim, const char *dir, int traced,
		  const run_control *ctl, run_result *res)
{
	hooks_ctx hc = {.table = {.print_every = m->presentations / TABLE_ROWS, .quiet = o->quiet}, .ctl = ctl};
	lat_study_hooks hooks = {.on_record = hook_record, .stop = hook_stop, .interrupted = hook_interrupted, .ctx = &hc};
	char err[LAT_ERRLEN], msg[LAT_ERRLEN + 64];
	lat_study *st = NULL;
	lat_sim_status first;
	int rc, lrc, sig;

	memset(res, 0, sizeof *res);
	if (hc.table.print_every < m->record_every)
		hc.table.print_every = m->record_every;
	hc.table.print_every -= hc.table.print_every % m->record_every;
	rc = study_open(o, m, sim, traced, &st);
	if (rc)
		goto out;
	if (ctl && ctl->resume) {
		if (study_load(o->cmd, ctl->state_path, m, st, err)) {
			rc = cli_fail(o->cmd, LAT_ECONFIG, err);
			goto out;
		}
		fprintf(stderr, "lateral %s: resuming after presentation %zu of %zu from %s\n", o->cmd,
			lat_study_done(st), m->presentations, ctl->state_path);
		if (!o->quiet)
			table_header();
	} else {
		lat_study_start(st, &first, err);
		if (!o->quiet) {
			table_header();
			table_row(&first, NAN, NAN);
		}
	}
	lrc = lat_study_run(st, &hooks, err);
	if (lrc) {
		snprintf(msg, sizeof msg, "%s (no output file in %s was written)", err, dir);
		rc = cli_fail(o->cmd, lrc, msg);
		if (ctl && ctl->state_path)
			study_fault(o, ctl, m, sim, st, lrc, lat_study_cause(st));
		goto out;
	}
	sig = lat_study_interrupted(st);
	if (sig) {
		if (study_save(ctl->state_path, m, st, err)) {
			rc = cli_fail(o->cmd, LAT_EIO, err);
			goto out;
		}
		fprintf(stderr, "lateral %s: %s: stopped after presentation %zu of %zu; the state is saved in %s\n",
			o->cmd, cli_signal_name(sig), lat_study_done(st), m->presentations, ctl->state_path);
		cli_rerun_hint(ctl->argc, ctl->argv, "resume with", NULL, 0, 1);
		rc = CLI_INTERRUPTED(sig);
		goto out;
	}
	lat_study_report(st, res);
	rc = study_write(o, st, dir);
out:
	lat_study_free(st);
	return rc;
}

int run_prepare(const cli_opts *o, const lat_model *m, const char *dir, int traced, lat_sim **sim)
{
	char err[LAT_ERRLEN];
	const char *change;
	cli_opts at = *o;
	size_t planned;
	int rc = run_plan(m, traced, &planned, &change, err);

	if (rc)
		return cli_fail(o->cmd, rc, err);
	at.outdir = dir;
	rc = cli_memory_check(o, planned, change);
	if (rc)
		return rc;
	/* sweep prints the plan of its largest run once, before the first */
	if (!o->quiet && strcmp(o->cmd, "sweep")) {
		char text[32];
		fprintf(stderr, "lateral %s: planned memory %s\n", o->cmd,
			lat_size_text(text, sizeof text, (double)planned));
	}
	rc = cli_outdir(&at);
	if (rc)
		return rc;
	*sim = lat_model_sim_alloc(m, o->solver_log ? stderr : NULL, err);
	return *sim ? CLI_OK : cli_fail(o->cmd, LAT_EINVAL, err);
}

char *run_methods_text(char *buf, size_t size, const run_result *res)
{
	size_t used = 0, n_used = 0;
	int k;

	buf[0] = 0;
	for (k = 0; k <= LAT_METHOD_AUTO; k++)
		n_used += res->by_method[k] > 0;
	for (k = 0; k <= LAT_METHOD_AUTO && used < size; k++) {
		if (!(res->by_method[k] > 0))
			continue;
		if (n_used == 1)
			used +=
			    (size_t)snprintf(buf + used, size - used, "%s", lat_method_name((lat_method)k));
		else
			used += (size_t)snprintf(buf + used, size - used, "%s%s %.0f", used ? ", " : "",
						 lat_method_name((lat_method)k), res->by_method[k]);
	}
	return buf;
}

int run_write_summary(const cli_opts *o, const lat_model *m, const char *dir, const run_result *res,
		      const char *const *extra_keys, const double *extra_vals, size_t n_extra)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN], text[128];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, dir, "summary.json"), err);
	cli_json j;

	if (!f)
		return cli_fail(o->cmd, LAT_EIO, err);
	cli_json_begin(&j, lat_afile_fp(f));
	cli_json_str(&j, "model", m->source);
	cli_json_str(&j, "method", lat_method_name(m->method));
	cli_json_str(&j, "method_used", run_methods_text(text, sizeof text, res));
	cli_json_num(&j, "presentations_polished", res->polished);
	cli_json_num(&j, "integrator_switches", res->switches);
	cli_json_num(&j, "t_max", lat_model_t_max(m));
	cli_json_int(&j, "neurons", (long)m->neurons);
	cli_json_int(&j, "inputs", (long)m->inputs);
	cli_json_num(&j, "snr_init", res->init.pool.snr);
	cli_json_num(&j, "snr_final", res->final.pool.snr);
	cli_json_num(&j, "inv_snr_init", res->init.pool.inv_snr);
	cli_json_num(&j, "inv_snr_final", res->final.pool.inv_snr);
	cli_json_num(&j, "inv_snr_ratio", res->final.pool.inv_snr / res->init.pool.inv_snr);
	cli_json_num(&j, "cos_mean_final", res->final.pool.cos_mean);
	cli_json_num(&j, "mean_ratio_final", res->final.pool.mean_ratio);
	cli_json_num(&j, "presentations_to_50pct_gain", res->p50);
	cli_json_num(&j, "presentations_to_90pct_gain", res->p90);
	cli_json_num(&j, "dist_wstar_final", res->dist_wstar);
	cli_json_str(&j, "wstar_covariance", res->wstar_population ? "population" : "fixed inputs");
	cli_json_num(&j, "max_steady_error", res->max_steady_error);
	cli_json_int(&j, "presentations", (long)res->presentations);
	cli_json_num(&j, "steps_per_presentation", res->mean_steps);
	cli_json_num(&j, "rhs_evals_per_presentation", res->mean_rhs);
	cli_json_num(&j, "jac_evals_per_presentation", res->mean_jac);
	cli_json_num(&j, "settle_time_per_presentation", res->mean_settle_time);
	cli_json_num(&j, "rtol", m->rtol);
	cli_json_num(&j, "rtol_used_min", res->min_rtol_used);
	cli_json_num(&j, "seconds", res->seconds);
	cli_json_num(&j, "microseconds_per_presentation",
		     res->presentations ? 1e6 * res->seconds / (double)res->presentations : NAN);
	for (size_t k = 0; k < n_extra; k++)
		cli_json_num(&j, extra_keys[k], extra_vals[k]);
	cli_json_end(&j);
	if (lat_afile_commit(f, err))
		return cli_fail(o->cmd, LAT_EIO, err);
	return CLI_OK;
}

int run_plots(const cli_opts *o, const lat_model *m, const char *dir, int traced)
{
	char path[CLI_PATHLEN], out[CLI_PATHLEN], q[CLI_PATHLEN + 64], nbuf[64];
	const char *assign[2];
	int rc;

	snprintf(q, sizeof q, "data = %s",
		 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "metrics.tsv")));
	snprintf(nbuf, sizeof nbuf, "wstar = %d", lat_model_n_fixed(m) > 0 && m->gamma > 0);
	assign[0] = q;
	assign[1] = nbuf;
	rc = cli_plot(o, "plots/metrics.gp", cli_path(path, sizeof path, dir, "snr.png"), assign, 2);
	if (rc || !traced || m->trace_presentations == 0)
		return rc;
	snprintf(q, sizeof q, "data = %s",
		 cli_gp_quote(out, sizeof out, cli_path(path, sizeof path, dir, "trace.tsv")));
	snprintf(nbuf, sizeof nbuf, "neurons = %zu", m->neurons);
	assign[0] = q;
	assign[1] = nbuf;
	return cli_plot(o, "plots/trace.gp", cli_path(path, sizeof path, dir, "trace.png"), assign, 2);
}

static int on_run_extra(const char *name, const char *arg, void *ctx)
{
	(void)name;
	(void)arg;
	*(int *)ctx = 1;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const char summary[] =
	    "Presents inputs to one pool, settles its rate circuit to the fixed point after each input and\n"
	    "applies the anti-Hebbian rule. Writes DIR/metrics.tsv (one row every run.record_every\n"
	    "presentations), DIR/trace.tsv (rates of the first run.trace_presentations presentations),\n"
	    "DIR/summary.json, and DIR/snr.png, DIR/trace.png when gnuplot is installed, each atomically.\n"
	    "SIGINT or SIGTERM finishes the current presentation, saves the state (weights, circuit, input\n"
	    "generator, rows so far) to DIR/run_state.bin and exits with status 130 or 143; --resume\n"
	    "continues from it to the same weights and files as an uninterrupted run. A presentation that\n"
	    "fails (no steady state, solver failure, non-finite weights) stops the run with status 1; its\n"
	    "last good state is then saved there too, to continue with other settings (--set).";
	static const cli_extra extra[] = {
	    {"resume", 0, "continue from DIR/run_state.bin (same MODEL; changed keys are noted)"},
	    {NULL, 0, NULL}};
	static const char *const outputs[] = {"run_state.bin", "metrics.tsv", "trace.tsv", "summary.json",
					      "snr.png",       "trace.png",   NULL};
	cli_opts o;
	lat_model m;
	lat_sim *sim = NULL;
	run_result res;
	char state[CLI_PATHLEN];
	int resume = 0;
	run_control ctl;
	int rc = cli_parse(argc, argv, "run", summary, "out/run", 0, extra, on_run_extra, &resume, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	cli_signals_install();
	rc = cli_load_model(&o, NULL, NULL, 0, &m);
	if (rc)
		goto out;
	rc = run_prepare(&o, &m, o.outdir, 1, &sim);
	if (rc)
		goto out;
	cli_remove_stale(o.outdir, outputs);
	ctl = (run_control){.state_path = cli_path(state, sizeof state, o.outdir, "run_state.bin"),
			    .resume = resume,
			    .argc = argc,
			    .argv = argv};
	if (!o.quiet)
		printf("# lateral run: %s, N = %zu, d = %zu, alpha = %g, gamma = %g, eta = %g, %zu "
		       "presentations, "
		       "solver %s\n",
		       m.source, m.neurons, m.inputs, m.alpha, m.gamma, m.eta, m.presentations,
		       lat_method_name(m.method));
	rc = run_study_ctl(&o, &m, sim, o.outdir, 1, &ctl, &res);
	if (rc)
		goto out;
	rc = run_write_summary(&o, &m, o.outdir, &res, NULL, NULL, 0);
	if (!rc)
		rc = run_plots(&o, &m, o.outdir, 1);
	/* The run is complete: its state is of no more use. */
	if (!rc)
		unlink(state);
	if (!o.quiet) {
		printf(
		    "# 1/SNR fell from %.4g to %.4g (factor %.4g); |wbar|/|wbar_init| = %.4f, cos = %.6f\n",
		    res.init.pool.inv_snr, res.final.pool.inv_snr,
		    res.final.pool.inv_snr / res.init.pool.inv_snr, res.final.pool.mean_ratio,
		    res.final.pool.cos_mean);
		if (isfinite(res.dist_wstar))
			printf("# closed form: |W - W*| / |W*| = %.3g (W* for the %s covariance%s)\n",
			       res.dist_wstar, res.wstar_population ? "population" : "fixed inputs'",
			       res.wstar_population ? "; online updates settle within O(eta) of it" : "");
		char used[128];
		printf("# solver %s: %s", lat_method_name(m.method),
		       run_methods_text(used, sizeof used, &res));
		if (res.polished > 0)
			printf(", %.0f of %zu settles finished by a Newton polish", res.polished,
			       res.presentations);
		if (res.switches > 0)
			printf(", %.0f integrator switches", res.switches);
		printf("; t_max %g\n", lat_model_t_max(&m));
		printf("# %.3g s, %.1f us and %.1f solver steps per presentation; files in %s/\n",
		       res.seconds, res.presentations ? 1e6 * res.seconds / (double)res.presentations : 0.0,
		       res.mean_steps, o.outdir);
	}
out:
	lat_sim_free(sim);
	lat_model_clear(&m);
	return rc;
}
