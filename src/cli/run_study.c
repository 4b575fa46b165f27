/* run_study.c: a study for the commands: the progress table, interruption and resume, and settings checked
 * after a failed presentation. */
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

/* Rows of the progress table on stdout (metrics.tsv has every recorded row). */
#define TABLE_ROWS 20

static void table_header(void)
{
	printf("%12s %12s %12s %9s %10s %11s %10s %8s\n", "presentation", "snr_pool", "inv_snr", "cos_mean",
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

/* Writes the state file (run_state.bin, state.h) of the study so far, with the model's text. */
int run_study_save(const char *path, const lat_model *m, lat_study *st, char *err)
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
	/* weight snapshots (run.save_weights_every): where, of what, and the first failure */
	const lat_model *m;
	lat_sim *sim;
	const char *dir;
	int snap_rc;
	char snap_err[LAT_ERRLEN];
} hooks_ctx;

static void hook_record(void *ctx, const lat_sim_status *st, double settle, double steps, int last)
{
	hooks_ctx *hc = ctx;
	size_t every = hc->m->save_weights_every, p = st->presentation;

	on_record(&hc->table, st, settle, steps, last);
	if (every && p > 0 && p % every == 0 && !hc->snap_rc) {
		char name[64], path[CLI_PATHLEN], header[96];
		snprintf(name, sizeof name, "weights_%07zu.tsv", p);
		snprintf(header, sizeof header, "W after presentation %zu: one row per neuron (%zu x %zu)", p,
			 hc->m->neurons, hc->m->inputs);
		hc->snap_rc = lat_tsv_write(cli_path(path, sizeof path, hc->dir, name), header, lat_sim_weights(hc->sim),
					    hc->m->neurons, hc->m->inputs, hc->snap_err);
	}
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
/* metrics.tsv, trace.tsv (when traced), and the pool's weights at the start and the end: weights_init.tsv
 * and weights_final.tsv, one row per neuron (N x d). */
static int study_write(const cli_opts *o, const lat_model *m, lat_sim *sim, lat_study *st, const char *dir)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN], header[64];
	size_t len;
	const char *text = lat_study_metrics_text(st, &len);
	int lrc = cli_write_text(cli_path(path, sizeof path, dir, "metrics.tsv"), text, len, err);

	text = lat_study_trace_text(st, &len);
	if (!lrc && text)
		lrc = cli_write_text(cli_path(path, sizeof path, dir, "trace.tsv"), text, len, err);
	snprintf(header, sizeof header, "W^init: one row per neuron (%zu x %zu)", m->neurons, m->inputs);
	if (!lrc)
		lrc = lat_tsv_write(cli_path(path, sizeof path, dir, "weights_init.tsv"), header, lat_sim_weights_init(sim),
				    m->neurons, m->inputs, err);
	snprintf(header, sizeof header, "learned W: one row per neuron (%zu x %zu)", m->neurons, m->inputs);
	if (!lrc)
		lrc = lat_tsv_write(cli_path(path, sizeof path, dir, "weights_final.tsv"), header, lat_sim_weights(sim),
				    m->neurons, m->inputs, err);
	return lrc ? cli_fail(o->cmd, LAT_EIO, err) : CLI_OK;
}

int run_study_ctl(const cli_opts *o, const lat_model *m, lat_sim *sim, const char *dir, int traced,
		  const run_control *ctl, run_result *res)
{
	hooks_ctx hc = {.table = {.print_every = m->presentations / TABLE_ROWS, .quiet = o->quiet},
			.ctl = ctl,
			.m = m,
			.sim = sim,
			.dir = dir};
	lat_study_hooks hooks = {
	    .on_record = hook_record, .stop = hook_stop, .interrupted = hook_interrupted, .ctx = &hc};
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
	/* the input is good (a state to resume from included): record what produced the folder */
	{
		size_t len;
		char *text = cli_model_text(m, &len);
		cli_opts at = *o;
		at.outdir = dir;
		rc = text ? cli_provenance_begin(&at, "model.cfg", text, len) : cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
		free(text);
		if (rc)
			goto out;
	}
	lrc = lat_study_run(st, &hooks, err);
	if (lrc) {
		snprintf(msg, sizeof msg, "%s (no output file in %s was written)", err, dir);
		rc = cli_fail(o->cmd, lrc, msg);
		if (ctl && ctl->state_path)
			run_study_fault(o, ctl, m, sim, st, lrc, lat_study_cause(st));
		goto out;
	}
	sig = lat_study_interrupted(st);
	if (sig) {
		if (run_study_save(ctl->state_path, m, st, err)) {
			rc = cli_fail(o->cmd, LAT_EIO, err);
			goto out;
		}
		fprintf(stderr,
			"lateral %s: %s: stopped after presentation %zu of %zu; the state is saved in %s\n",
			o->cmd, cli_signal_name(sig), lat_study_done(st), m->presentations, ctl->state_path);
		cli_rerun_hint(ctl->argc, ctl->argv, "resume with", NULL, 0, 1);
		rc = CLI_INTERRUPTED(sig);
		goto out;
	}
	if (hc.snap_rc) {
		rc = cli_fail(o->cmd, LAT_EIO, hc.snap_err);
		goto out;
	}
	lat_study_report(st, res);
	rc = study_write(o, m, sim, st, dir);
out:
	lat_study_free(st);
	return rc;
}
