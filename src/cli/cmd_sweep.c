/* cmd_sweep.c: `lateral sweep`: the convergence study over a grid of model keys, with predictions. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "sweep.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "size.h"

/* One sweep's grid and bookkeeping: per run, its row, its table values, whether it is finished, the hash
 * of its resolved model and its presentations. */
typedef struct {
	grid *g;
	size_t n_runs, n_done;
	sweep_row *rows;
	double *vals;
	int *done;
	unsigned long long *hash;
	size_t *pres;
	char state[CLI_PATHLEN]; /* DIR/sweep_state.bin */
} sweep;

/* Checks every combination before running any, so a typo costs nothing: each model loads, its hash and
 * presentations are kept, and the largest run's memory plan is checked against --max-memory. */
static int check_grid(const cli_opts *o, sweep *sw, lat_model *m)
{
	const grid *g = sw->g;
	size_t peak = 0;
	const char *change, *peak_change = "";
	char err[LAT_ERRLEN];
	int rc;

	for (size_t r = 0; r < sw->n_runs; r++) {
		char sets[MAX_KEYS][2 * TEXTLEN + 2], *text;
		const char *extra_sets[MAX_KEYS];
		size_t len = 0, bytes;
		for (size_t k = 0; k < g->n_keys; k++) {
			snprintf(sets[k], sizeof sets[k], "%s=%s", g->key[k],
				 g->value[k][sweep_value_index(g, r, k)]);
			extra_sets[k] = sets[k];
		}
		lat_model_clear(m);
		rc = cli_load_model(o, NULL, extra_sets, g->n_keys, m);
		if (rc)
			return rc;
		text = cli_model_text(m, &len);
		if (!text)
			return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
		sw->hash[r] = cli_hash(text, len);
		sw->pres[r] = m->presentations;
		free(text);
		rc = run_plan(m, 0, &bytes, &change, err);
		if (rc)
			return cli_fail(o->cmd, rc, err);
		if (bytes > peak) {
			peak = bytes;
			peak_change = change;
		}
	}
	/* The runs go one after another: the peak is the largest run's. */
	if (!o->quiet) {
		char text[32];
		fprintf(stderr, "lateral sweep: %zu runs; planned memory %s (the largest run)\n", sw->n_runs,
			lat_size_text(text, sizeof text, (double)peak));
	}
	return cli_memory_check(o, peak, peak_change);
}

/* Messages of the other ranks to rank 0: a finished run (its index, then its table values), and the
 * end of a rank's share. */
enum { TAG_RESULT = 1, TAG_DONE = 2 };

/* Rank 0: records finished run r with its values, saves the state and prints the table's rows that are
 * now complete in order. */
static int record_run(const cli_opts *o, sweep *sw, size_t r, const double *v, size_t *next_print)
{
	char err[LAT_ERRLEN];

	memcpy(sw->vals + r * N_COLUMNS, v, N_COLUMNS * sizeof *v);
	if (!sw->done[r]) {
		sw->done[r] = 1;
		sw->n_done++;
	}
	if (lat_sweep_state_save(sw->state, sw->n_runs, N_COLUMNS, sw->done, sw->hash, sw->vals, err))
		return cli_fail(o->cmd, LAT_EIO, err);
	for (; *next_print < sw->n_runs && sw->done[*next_print]; ++*next_print)
		if (!o->quiet) {
			sweep_table_line(stdout, sw->g, *next_print, sw->vals + *next_print * N_COLUMNS, 0);
			fflush(stdout);
		}
	return CLI_OK;
}

/* Rank 0: takes in what the other ranks sent (waiting for all of them to finish when wait is 1); a
 * rank's end says how many runs it ran, which rank 0 reports unless quiet. */
static int collect(const cli_opts *o, sweep *sw, int wait, int *ranks_left, size_t *next_print)
{
	double msg[1 + N_COLUMNS];
	int tag, rc = CLI_OK;

	while (!rc && (!wait || *ranks_left > 0) && cli_mpi_receive(wait, msg, 1 + N_COLUMNS, &tag)) {
		if (tag == TAG_DONE) {
			--*ranks_left;
			if (!o->quiet)
				fprintf(stderr, "lateral sweep: rank %d ran %.0f runs\n", (int)msg[0], msg[1]);
		} else {
			rc = record_run(o, sw, (size_t)msg[0], msg + 1, next_print);
		}
	}
	return rc;
}

/* Runs the unfinished runs, each rank taking the next index from a shared counter when it is free (a
 * run's cost varies a lot with its keys), so one process takes them in order. Rank 0 saves the state
 * after each run it finishes or hears of, and prints the table in order; a failed run stops every rank
 * with its message; a signal lets every rank finish its current run (resumable). */
static int run_all(int argc, char **argv, const cli_opts *o, sweep *sw, lat_model *m)
{
	char path[CLI_PATHLEN], name[64];
	int rank = cli_mpi_rank(), ranks_left = cli_mpi_size() - 1, rc = CLI_OK, sig = 0;
	size_t next_print = 0, ran = 0;
	long serial = 0, r;

	if (rank == 0) /* the rows finished before (a resumed sweep) */
		for (; next_print < sw->n_runs && sw->done[next_print]; next_print++)
			if (!o->quiet)
				sweep_table_line(stdout, sw->g, next_print, sw->vals + next_print * N_COLUMNS, 0);
	if (cli_mpi_counter_open())
		rc = cli_fail(o->cmd, LAT_EIO, "MPI: cannot open the shared run counter");
	while (!rc && !sig && (r = cli_mpi_counter_next(&serial)) >= 0 && (size_t)r < sw->n_runs) {
		double msg[1 + N_COLUMNS];
		if (sw->done[r])
			continue;
		snprintf(name, sizeof name, "run_%03zu", (size_t)r + 1);
		lat_model_clear(m);
		rc = sweep_one_run(o, sw->g, (size_t)r, cli_path(path, sizeof path, o->outdir, name), m, &sw->rows[r]);
		if (rc) {
			if (cli_mpi_size() > 1) {
				fprintf(stderr, "lateral sweep: rank %d: run %ld failed; stopping every rank\n", rank, r + 1);
				cli_mpi_abort(rc);
			}
			if (sw->n_done) {
				fprintf(stderr, "lateral sweep: the %zu finished runs are kept in %s\n", sw->n_done, sw->state);
				cli_rerun_hint(argc, argv, "continue with other settings, e.g.", NULL, 0, 1);
			}
			break;
		}
		ran++;
		msg[0] = (double)r;
		sweep_row_values(&sw->rows[r], msg + 1);
		if (rank == 0)
			rc = record_run(o, sw, (size_t)r, msg + 1, &next_print);
		else if (cli_mpi_send(TAG_RESULT, msg, 1 + N_COLUMNS))
			rc = cli_fail(o->cmd, LAT_EIO, "MPI: cannot send a result to rank 0");
		if (!rc && rank == 0)
			rc = collect(o, sw, 0, &ranks_left, &next_print);
		sig = cli_interrupted();
	}
	if (rc) { /* one process: the failed run's status; several: every rank ends here */
		cli_mpi_abort(rc);
		cli_mpi_counter_close();
		return rc;
	}
	if (rank != 0) {
		double end[2] = {(double)rank, (double)ran};
		if (cli_mpi_send(TAG_DONE, end, 2))
			rc = cli_fail(o->cmd, LAT_EIO, "MPI: cannot reach rank 0");
	} else {
		if (cli_mpi_size() > 1 && !o->quiet)
			fprintf(stderr, "lateral sweep: rank 0 ran %zu runs\n", ran);
		rc = collect(o, sw, 1, &ranks_left, &next_print);
	}
	cli_mpi_counter_close();
	if (!rc && sig && rank == 0 && sw->n_done < sw->n_runs) {
		fprintf(stderr, "lateral sweep: %s: stopped after %zu of %zu runs; they are kept in %s\n",
			cli_signal_name(sig), sw->n_done, sw->n_runs, sw->state);
		cli_rerun_hint(argc, argv, "resume with", NULL, 0, 1);
	}
	if (!rc && sig && (rank != 0 || sw->n_done < sw->n_runs))
		rc = CLI_INTERRUPTED(sig);
	return rc;
}

/* Under several ranks: every rank must have checked the grid and loaded the same models (the same binary,
 * model file and options); a disagreement, or a failure on any rank, ends all of them alike. */
static int agree_grid(const cli_opts *o, const sweep *sw, int rc)
{
	unsigned long long h;
	int same_rc;

	if (cli_mpi_size() == 1)
		return rc;
	cli_mpi_agree((unsigned long long)rc, &same_rc);
	if (!same_rc || rc)
		return rc ? rc : CLI_USAGE; /* the failing rank said why */
	/* the runs' model hashes (cli_mpi_same adds the version and the program's own bytes) */
	h = cli_hash((const char *)sw->hash, sw->n_runs * sizeof *sw->hash);
	return cli_mpi_same(o->cmd, "models for the grid", h);
}

/* DIR/sweep.tsv, written whole or not at all. */
static int write_table(const cli_opts *o, const sweep *sw)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, o->outdir, "sweep.tsv"), err);

	if (!f)
		return cli_fail(o->cmd, LAT_EIO, err);
	sweep_table_header(lat_afile_fp(f), sw->g, 1);
	for (size_t r = 0; r < sw->n_runs; r++)
		sweep_table_line(lat_afile_fp(f), sw->g, r, sw->vals + r * N_COLUMNS, 1);
	if (lat_afile_commit(f, err))
		return cli_fail(o->cmd, LAT_EIO, err);
	return CLI_OK;
}

/* The command's help and its own options. */
static const char summary[] =
    "Runs the convergence study for every combination of the --vary values (the first key varies\n"
    "fastest) and writes DIR/sweep.tsv (one row per run: SNR gain, 1/SNR ratio, its prediction from\n"
    "the closed-form W* and from the C = I formula (gamma/(1+gamma))^2 / (g/(1+g))^2, g = "
    "gamma(1+alpha),\n"
    "the mean ratio |wbar|/|wbar_init| with its predictions, p50/p90: presentations until log SNR\n"
    "gained 50 %/90 % of its final gain, solver steps and cost), DIR/run_NNN/\n"
    "(metrics.tsv, summary.json) and DIR/sweep_NN.png: SNR against presentations, one line per "
    "value\n"
    "of the first key, one plot per combination of the others. Values are separated by commas\n"
    "(array values cannot be swept). DIR/sweep_state.bin lists the finished runs; SIGINT or SIGTERM\n"
    "finishes the current run and exits with status 130 or 143, and --resume (same MODEL, --set and\n"
    "--vary) skips the finished runs and produces the same table. Example, the classic grid:\n"
    "  lateral sweep --vary circuit.inputs=9,36,81 --vary plasticity.gamma=0.1,0.01,0.001";
static const cli_extra extra[] = {
    {"vary", 1, "section.key=v1,v2,... or FROM:TO:lin|log:N (repeatable, at most 8)"},
    {"resume", 0, "skip the runs DIR/sweep_state.bin lists as finished"},
    {NULL, 0, NULL}};
static const char *const outputs[] = {"sweep_state.bin", "sweep.tsv", NULL};
int cmd_sweep(int argc, char **argv)
{
	sweep sw = {.g = calloc(1, sizeof *sw.g), .n_runs = 1};
	grid *g = sw.g;
	cli_opts o;
	lat_model m, base;
	char err[LAT_ERRLEN];
	int rc, root = cli_mpi_rank() == 0;

	lat_model_init(&m);
	lat_model_init(&base);
	if (!g) {
		fprintf(stderr, "lateral sweep: out of memory\n");
		return CLI_FAIL;
	}
	rc = cli_parse(argc, argv, "sweep", summary, "out/sweep", 0, extra, sweep_on_vary, g, &o);
	if (rc) {
		rc = rc < 0 ? CLI_OK : rc;
		goto out;
	}
	if (g->n_keys == 0) {
		fprintf(stderr, "lateral sweep: give at least one --vary section.key=v1,v2,...\n");
		rc = CLI_USAGE;
		goto out;
	}
	for (size_t k = 0; k < g->n_keys; k++) {
		sw.n_runs *= g->n_values[k];
		if (sw.n_runs > MAX_RUNS) {
			fprintf(stderr, "lateral sweep: the grid has more than %d runs\n", MAX_RUNS);
			rc = CLI_USAGE;
			goto out;
		}
	}
	sw.rows = calloc(sw.n_runs, sizeof *sw.rows);
	sw.vals = calloc(sw.n_runs * N_COLUMNS, sizeof *sw.vals);
	sw.done = calloc(sw.n_runs, sizeof *sw.done);
	sw.hash = calloc(sw.n_runs, sizeof *sw.hash);
	sw.pres = calloc(sw.n_runs, sizeof *sw.pres);
	if (!sw.rows || !sw.vals || !sw.done || !sw.hash || !sw.pres) {
		rc = cli_fail(o.cmd, LAT_ENOMEM, "out of memory");
		goto out;
	}
	rc = check_grid(&o, &sw, &m);
	/* the model before the --vary values (MODEL and --set), for model.cfg and the plots' caption; the
	 * values of each run are in its folder and its curve's title */
	if (!rc)
		rc = cli_load_model(&o, NULL, NULL, 0, &base);
	rc = agree_grid(&o, &sw, rc);
	if (rc)
		goto out;
	run_caption(&base, "varied keys aside, ");
	/* rank 0 holds the folder, its state and provenance; the other ranks write their runs into it */
	if (root) {
		rc = cli_outdir(&o);
		if (!rc)
			cli_remove_stale(o.outdir, outputs);
	} else {
		cli_outdir_adopt();
	}
	cli_signals_install();
	cli_path(sw.state, sizeof sw.state, o.outdir, "sweep_state.bin");
	if (!rc && root && g->resume &&
	    (rc = sweep_state_read(sw.state, sw.n_runs, sw.done, sw.hash, sw.pres, sw.vals, &sw.n_done, err)) != 0)
		rc = cli_fail(o.cmd, LAT_ECONFIG, err);
	if (!rc && root) {
		/* the model before the --vary values, which the command line in provenance.jsonl adds */
		size_t len;
		char *text = cli_model_text(&base, &len);
		rc = text ? cli_provenance_begin(&o, "model.cfg", text, len) : cli_fail(o.cmd, LAT_ENOMEM, "out of memory");
		free(text);
	}
	/* A fresh sweep forgets the runs of an earlier one. */
	if (!rc && root && !g->resume &&
	    lat_sweep_state_save(sw.state, sw.n_runs, N_COLUMNS, sw.done, sw.hash, sw.vals, err))
		rc = cli_fail(o.cmd, LAT_EIO, err);
	/* every rank learns whether rank 0 is ready, and which runs are finished */
	{
		int status[1] = {rc};
		if (cli_mpi_bcast_int(status, 1) || cli_mpi_bcast_int(sw.done, sw.n_runs))
			rc = cli_fail(o.cmd, LAT_EIO, "MPI: cannot share the sweep's state");
		else if (!root)
			rc = status[0];
	}
	if (rc)
		goto out;
	if (root && g->resume)
		fprintf(stderr, "lateral sweep: resuming: %zu of %zu runs are finished (%s)\n", sw.n_done,
			sw.n_runs, sw.state);
	if (root && cli_mpi_size() > 1 && !o.quiet)
		fprintf(stderr, "lateral sweep: %d ranks share the runs\n", cli_mpi_size());
	if (root && !o.quiet) {
		printf("# lateral sweep: %zu runs; ratios are final / initial\n", sw.n_runs);
		sweep_table_header(stdout, g, 0);
	}
	rc = run_all(argc, argv, &o, &sw, &m);
	if (!root)
		goto out;
	if (!rc)
		rc = write_table(&o, &sw);
	if (!rc)
		rc = sweep_plots(&o, g, sw.n_runs);
	if (!rc && !o.quiet)
		printf("# files in %s/: sweep.tsv, run_NNN/, sweep_NN.png\n", o.outdir);
out:
	lat_model_clear(&m);
	lat_model_clear(&base);
	free(sw.rows);
	free(sw.vals);
	free(sw.done);
	free(sw.hash);
	free(sw.pres);
	free(g);
	return rc;
}
