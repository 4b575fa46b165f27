/* state.c: run_state.bin and sweep_state.bin on the state-file container, with every field checked on load.
 */
#include <config.h>

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/ckpt.h"
#include "lateral/err.h"
#include "lateral/state.h"

#define RUN_VERSION 1u
#define SWEEP_VERSION 1u

/* ---- run_state.bin ---- */

/* What a running sum may hold. */
enum {
	C_NONNEG,     /* finite, >= 0 */
	C_NONNEG_NAN, /* >= 0 (+inf included) or NaN */
	C_FINITE_NAN, /* finite or NaN */
	C_COUNT	      /* a whole number from 0 to the presentations done */
};

#define SUM(field, cls)                                                                                      \
	{                                                                                                    \
		offsetof(lat_run_sums, field), cls, #field                                                   \
	}
#define METHOD(k)                                                                                            \
	{                                                                                                    \
		offsetof(lat_run_sums, by_method) + (k) * sizeof(double), C_COUNT, "by_method"               \
	}
static const struct {
	size_t off;
	int cls;
	const char *name;
} run_sums[] = {SUM(sum_settle, C_NONNEG),
		SUM(sum_steps, C_NONNEG),
		SUM(tot_settle, C_NONNEG),
		SUM(tot_steps, C_NONNEG),
		SUM(tot_rhs, C_NONNEG),
		SUM(tot_jac, C_NONNEG),
		SUM(t0, C_NONNEG),
		SUM(seconds, C_NONNEG),
		SUM(min_rtol_used, C_NONNEG_NAN),
		SUM(max_steady_error, C_NONNEG_NAN),
		SUM(init_snr, C_NONNEG_NAN),
		SUM(init_inv_snr, C_NONNEG_NAN),
		SUM(init_cos_mean, C_FINITE_NAN),
		SUM(init_mean_ratio, C_NONNEG_NAN),
		SUM(init_dist_wstar, C_NONNEG_NAN),
		METHOD(LAT_METHOD_BDF),
		METHOD(LAT_METHOD_ADAMS),
		METHOD(LAT_METHOD_RK8PD),
		METHOD(LAT_METHOD_EXACT),
		METHOD(LAT_METHOD_AUTO),
		SUM(polished, C_COUNT),
		SUM(switches, C_NONNEG)};
#define N_SUMS (sizeof run_sums / sizeof run_sums[0])
_Static_assert(LAT_METHOD_AUTO == 4, "run_sums lists one by_method entry per lat_method");

enum { R_COUNTS, R_SUMS, R_MODEL, R_RECP, R_RECS, R_METRICS, R_TRACE, R_SIM, R_N_SECTIONS };
static void run_sections(lat_ckpt_section *secs)
{
	const lat_ckpt_section t[R_N_SECTIONS] = {
	    {LAT_CKPT_TAG('R', 'C', 'N', 'T'), LAT_CKPT_U64, 3,
	     "presentations done, since the last record, records", NULL, 0},
	    {LAT_CKPT_TAG('R', 'S', 'U', 'M'), LAT_CKPT_F64, N_SUMS, "running sums", NULL, 0},
	    {LAT_CKPT_TAG('M', 'O', 'D', 'L'), LAT_CKPT_BYTES, LAT_CKPT_ANY, "model text", NULL, 0},
	    {LAT_CKPT_TAG('R', 'E', 'C', 'P'), LAT_CKPT_F64, LAT_CKPT_ANY, "recorded presentations", NULL, 0},
	    {LAT_CKPT_TAG('R', 'E', 'C', 'S'), LAT_CKPT_F64, LAT_CKPT_ANY, "recorded SNR", NULL, 0},
	    {LAT_CKPT_TAG('M', 'E', 'T', 'R'), LAT_CKPT_BYTES, LAT_CKPT_ANY, "metrics.tsv so far", NULL, 0},
	    {LAT_CKPT_TAG('T', 'R', 'A', 'C'), LAT_CKPT_BYTES, LAT_CKPT_ANY, "trace.tsv so far", NULL, 0},
	    {LAT_CKPT_TAG('S', 'I', 'M', ' '), LAT_CKPT_NESTED, LAT_CKPT_ANY, "simulation", NULL, 0}};
	memcpy(secs, t, sizeof t);
}

static double *sum_at(lat_run_sums *s, size_t k)
{
	return (double *)(void *)((char *)s + run_sums[k].off);
}

/* The simulation's state (lat_sim_save) in a new buffer. */
static int sim_bytes(lat_sim *sim, char **buf, size_t *len, char *err)
{
	FILE *fp = open_memstream(buf, len);
	int rc;
	if (!fp)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	rc = lat_sim_save(sim, fp, err);
	if (fclose(fp) && !rc)
		rc = lat_err_set(err, LAT_ENOMEM, "out of memory");
	return rc;
}

int lat_run_state_save(const char *path, const lat_run_sums *s, const char *model, const double *rec_p,
		       const double *rec_s, const char *metrics, const char *trace, lat_sim *sim, char *err)
{
	uint64_t counts[3] = {s->done, s->since, s->n_rec};
	double sums[N_SUMS];
	lat_run_sums copy = *s;
	lat_ckpt_writer *w = NULL;
	char *simbuf = NULL;
	size_t simlen = 0;
	int rc;

	for (size_t k = 0; k < N_SUMS; k++)
		sums[k] = *sum_at(&copy, k);
	rc = sim_bytes(sim, &simbuf, &simlen, err);
	if (rc)
		goto out;
	w = lat_ckpt_writer_open(path, LAT_CKPT_RUN, RUN_VERSION, err);
	if (!w) {
		rc = LAT_EIO;
		goto out;
	}
	lat_ckpt_put(w, LAT_CKPT_TAG('R', 'C', 'N', 'T'), LAT_CKPT_U64, counts, 3);
	lat_ckpt_put(w, LAT_CKPT_TAG('R', 'S', 'U', 'M'), LAT_CKPT_F64, sums, N_SUMS);
	lat_ckpt_put(w, LAT_CKPT_TAG('M', 'O', 'D', 'L'), LAT_CKPT_BYTES, model, (size_t)s->model_len);
	lat_ckpt_put(w, LAT_CKPT_TAG('R', 'E', 'C', 'P'), LAT_CKPT_F64, rec_p, (size_t)s->n_rec);
	lat_ckpt_put(w, LAT_CKPT_TAG('R', 'E', 'C', 'S'), LAT_CKPT_F64, rec_s, (size_t)s->n_rec);
	lat_ckpt_put(w, LAT_CKPT_TAG('M', 'E', 'T', 'R'), LAT_CKPT_BYTES, metrics, (size_t)s->metrics_len);
	lat_ckpt_put(w, LAT_CKPT_TAG('T', 'R', 'A', 'C'), LAT_CKPT_BYTES, trace, (size_t)s->trace_len);
	lat_ckpt_put(w, LAT_CKPT_TAG('S', 'I', 'M', ' '), LAT_CKPT_NESTED, simbuf, simlen);
	rc = lat_ckpt_writer_commit(w, err);
out:
	free(simbuf);
	return rc;
}

/* 1 when the len bytes of text are tab, newline and printable ASCII and end with a newline (or len is
 * 0); *lines receives the number of lines. */
static int text_ok(const unsigned char *text, size_t len, size_t *lines)
{
	*lines = 0;
	for (size_t k = 0; k < len; k++) {
		if (text[k] == '\n')
			(*lines)++;
		else if (text[k] != '\t' && (text[k] < 0x20 || text[k] > 0x7e))
			return 0;
	}
	return len == 0 || text[len - 1] == '\n';
}

static int sum_ok(double v, int cls, double done)
{
	switch (cls) {
	case C_NONNEG:
		return isfinite(v) && v >= 0;
	case C_NONNEG_NAN:
		return isnan(v) || v >= 0;
	case C_FINITE_NAN:
		return !isinf(v);
	default:
		return v >= 0 && v <= done && v == floor(v);
	}
}

/* The study part of a run state (everything but the simulation), checked against the study's length. */
static int check_study(const char *path, size_t presentations, const lat_ckpt_section *secs, lat_run_sums *s,
		       char *err)
{
	uint64_t done = lat_ckpt_u64(&secs[R_COUNTS], 0), since = lat_ckpt_u64(&secs[R_COUNTS], 1);
	uint64_t n_rec = lat_ckpt_u64(&secs[R_COUNTS], 2);
	size_t lines;
	double last = 0;

	memset(s, 0, sizeof *s);
	if (done > presentations)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: %llu presentations are done, more than the %zu of this study", path,
				   (unsigned long long)done, presentations);
	if (n_rec < 1 || n_rec > done + 1 || secs[R_RECP].n != n_rec || secs[R_RECS].n != n_rec)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: corrupt state: %llu records (%zu presentations and %zu SNR values saved) after "
		    "%llu presentations",
		    path, (unsigned long long)n_rec, secs[R_RECP].n, secs[R_RECS].n,
		    (unsigned long long)done);
	for (size_t k = 0; k < n_rec; k++) {
		double p = lat_ckpt_f64(&secs[R_RECP], k), snr = lat_ckpt_f64(&secs[R_RECS], k);
		if (!(k == 0 ? p == 0 : p > last && p <= (double)done && p == floor(p)) || snr < 0)
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: corrupt state: record %zu is presentation %g with SNR %g (expected 0 first, "
			    "then increasing whole presentations up to %llu, SNR >= 0)",
			    path, k + 1, p, snr, (unsigned long long)done);
		last = p;
	}
	if (since != done - (uint64_t)last)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: corrupt state: %llu presentations since the last record (at %g), but %llu are done",
		    path, (unsigned long long)since, last, (unsigned long long)done);
	s->done = done;
	s->since = since;
	s->n_rec = n_rec;
	for (size_t k = 0; k < N_SUMS; k++) {
		double v = lat_ckpt_f64(&secs[R_SUMS], k);
		if (!sum_ok(v, run_sums[k].cls, (double)done))
			return lat_err_set(
			    err, LAT_ECONFIG, "%s: corrupt state: %s is %g%s", path, run_sums[k].name, v,
			    run_sums[k].cls == C_COUNT ? " (not a count of the presentations done)" : "");
		*sum_at(s, k) = v;
	}
	if (memchr(secs[R_MODEL].data, 0, secs[R_MODEL].n))
		return lat_err_set(err, LAT_ECONFIG, "%s: corrupt state: a NUL byte in the model text", path);
	if (!text_ok(secs[R_METRICS].data, secs[R_METRICS].n, &lines) || lines != n_rec + 1 ||
	    secs[R_METRICS].data[0] != '#')
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: corrupt state: the rows of metrics.tsv (%zu bytes) are not a header and %llu "
		    "lines of text",
		    path, secs[R_METRICS].n, (unsigned long long)n_rec);
	if (!text_ok(secs[R_TRACE].data, secs[R_TRACE].n, &lines))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: corrupt state: the rows of trace.tsv (%zu bytes) are not text", path,
				   secs[R_TRACE].n);
	s->model_len = secs[R_MODEL].n;
	s->metrics_len = secs[R_METRICS].n;
	s->trace_len = secs[R_TRACE].n;
	return LAT_OK;
}

/* Loads the nested simulation state of len bytes at buf into sim. */
static int load_sim(lat_sim *sim, const void *buf, size_t len, const char *path, char *err)
{
	FILE *fp;
	int rc;
	if (len == 0)
		return lat_err_set(err, LAT_ECONFIG, "%s: corrupt state: the simulation state is empty",
				   path);
	fp = fmemopen((void *)(uintptr_t)buf, len, "rb");
	if (!fp)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	rc = lat_sim_load(sim, fp, path, err);
	fclose(fp);
	return rc;
}

void lat_run_state_clear(lat_run_state *st)
{
	free(st->model);
	free(st->rec_p);
	free(st->rec_s);
	free(st->metrics);
	free(st->trace);
	memset(st, 0, sizeof *st);
}

int lat_run_state_load(const char *path, size_t presentations, lat_sim *sim, lat_run_state *st, char *err)
{
	lat_ckpt_section secs[R_N_SECTIONS];
	lat_ckpt *c = NULL;
	lat_sim_status ss;
	char *backup = NULL, msg[LAT_ERRLEN];
	size_t backup_len = 0;
	int rc;

	memset(st, 0, sizeof *st);
	run_sections(secs);
	rc = lat_ckpt_load(path, LAT_CKPT_RUN, RUN_VERSION, secs, R_N_SECTIONS, &c, err);
	if (!rc)
		rc = check_study(path, presentations, secs, &st->s, err);
	if (rc)
		goto out;
	st->model = malloc(st->s.model_len + 1);
	st->rec_p = malloc(st->s.n_rec * sizeof *st->rec_p);
	st->rec_s = malloc(st->s.n_rec * sizeof *st->rec_s);
	st->metrics = malloc(st->s.metrics_len + 1);
	st->trace = malloc(st->s.trace_len + 1);
	if (!st->model || !st->rec_p || !st->rec_s || !st->metrics || !st->trace) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	memcpy(st->model, secs[R_MODEL].data, st->s.model_len);
	st->model[st->s.model_len] = 0;
	lat_ckpt_get_f64(&secs[R_RECP], st->rec_p);
	lat_ckpt_get_f64(&secs[R_RECS], st->rec_s);
	memcpy(st->metrics, secs[R_METRICS].data, st->s.metrics_len);
	st->metrics[st->s.metrics_len] = 0;
	memcpy(st->trace, secs[R_TRACE].data, st->s.trace_len);
	st->trace[st->s.trace_len] = 0;
	/* The simulation last; a count that disagrees with the study's puts the old state back. */
	rc = sim_bytes(sim, &backup, &backup_len, err);
	if (!rc)
		rc = load_sim(sim, secs[R_SIM].data, secs[R_SIM].n, path, err);
	if (rc)
		goto out;
	lat_sim_measure(sim, &ss);
	if (ss.presentation != st->s.done) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: corrupt state: the simulation has done %zu presentations, the study %llu", path,
		    ss.presentation, (unsigned long long)st->s.done);
		load_sim(sim, backup, backup_len, path, msg);
	}
out:
	if (rc)
		lat_run_state_clear(st);
	free(backup);
	lat_ckpt_free(c);
	return rc;
}

/* ---- sweep_state.bin ---- */

enum { S_HEADER, S_RUNS, S_HASH, S_VALS, S_N_SECTIONS };

int lat_sweep_state_save(const char *path, size_t n_runs, size_t n_cols, const int *done,
			 const unsigned long long *hash, const double *vals, char *err)
{
	uint64_t header[2] = {n_runs, n_cols}, *runs = malloc((n_runs + 1) * sizeof *runs);
	uint64_t *hashes = malloc((n_runs + 1) * sizeof *hashes);
	double *v = malloc((n_runs * n_cols + 1) * sizeof *v);
	lat_ckpt_writer *w = NULL;
	size_t n = 0;
	int rc;

	if (!runs || !hashes || !v) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	for (size_t r = 0; r < n_runs; r++) {
		if (!done[r])
			continue;
		runs[n] = r + 1;
		hashes[n] = hash[r];
		memcpy(v + n * n_cols, vals + r * n_cols, n_cols * sizeof *v);
		n++;
	}
	w = lat_ckpt_writer_open(path, LAT_CKPT_SWEEP, SWEEP_VERSION, err);
	if (!w) {
		rc = LAT_EIO;
		goto out;
	}
	lat_ckpt_put(w, LAT_CKPT_TAG('S', 'W', 'H', 'D'), LAT_CKPT_U64, header, 2);
	lat_ckpt_put(w, LAT_CKPT_TAG('R', 'U', 'N', 'S'), LAT_CKPT_U64, runs, n);
	lat_ckpt_put(w, LAT_CKPT_TAG('H', 'A', 'S', 'H'), LAT_CKPT_U64, hashes, n);
	lat_ckpt_put(w, LAT_CKPT_TAG('V', 'A', 'L', 'S'), LAT_CKPT_F64, v, n * n_cols);
	rc = lat_ckpt_writer_commit(w, err);
out:
	free(runs);
	free(hashes);
	free(v);
	return rc;
}

static int column_ok(double v, lat_sweep_kind cls, size_t presentations)
{
	switch (cls) {
	case LAT_SWEEP_RATIO:
		return isnan(v) || v >= 0;
	case LAT_SWEEP_PRESENTATION:
		return isnan(v) || (v >= 0 && v <= (double)presentations && v == floor(v));
	default:
		return isfinite(v) && v >= 0;
	}
}

int lat_sweep_state_load(const char *path, size_t n_runs, size_t n_cols, const lat_sweep_column *cols,
			 const unsigned long long *hash, const size_t *presentations, int *done, double *vals,
			 size_t *n_done, char *err)
{
	lat_ckpt_section secs[S_N_SECTIONS] = {
	    {LAT_CKPT_TAG('S', 'W', 'H', 'D'), LAT_CKPT_U64, 2, "runs and columns", NULL, 0},
	    {LAT_CKPT_TAG('R', 'U', 'N', 'S'), LAT_CKPT_U64, LAT_CKPT_ANY, "finished runs", NULL, 0},
	    {LAT_CKPT_TAG('H', 'A', 'S', 'H'), LAT_CKPT_U64, LAT_CKPT_ANY, "model hashes", NULL, 0},
	    {LAT_CKPT_TAG('V', 'A', 'L', 'S'), LAT_CKPT_F64, LAT_CKPT_ANY, "table values", NULL, 0}};
	lat_ckpt *c = NULL;
	size_t n;
	uint64_t prev = 0;
	int rc = lat_ckpt_load(path, LAT_CKPT_SWEEP, SWEEP_VERSION, secs, S_N_SECTIONS, &c, err);

	if (rc)
		goto out;
	n = secs[S_RUNS].n;
	if (lat_ckpt_u64(&secs[S_HEADER], 0) != n_runs) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: the state of a sweep of %llu runs; this grid has %zu (other --vary values?): use "
		    "another -o DIR or leave out --resume",
		    path, (unsigned long long)lat_ckpt_u64(&secs[S_HEADER], 0), n_runs);
		goto out;
	}
	if (lat_ckpt_u64(&secs[S_HEADER], 1) != n_cols || secs[S_HASH].n != n || n > n_runs ||
	    secs[S_VALS].n != n * n_cols) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: corrupt state: %zu runs, %zu hashes, %zu values in %llu columns (expected %zu)",
		    path, n, secs[S_HASH].n, secs[S_VALS].n,
		    (unsigned long long)lat_ckpt_u64(&secs[S_HEADER], 1), n_cols);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t r = lat_ckpt_u64(&secs[S_RUNS], i);
		if (r <= prev || r > n_runs) {
			rc = lat_err_set(err, LAT_ECONFIG,
					 "%s: corrupt state: finished run %zu is run %llu (expected "
					 "increasing runs 1..%zu)",
					 path, i + 1, (unsigned long long)r, n_runs);
			goto out;
		}
		prev = r;
		if (lat_ckpt_u64(&secs[S_HASH], i) != hash[r - 1]) {
			rc = lat_err_set(err, LAT_ECONFIG,
					 "%s: run %llu was made with another model (other MODEL, --set or "
					 "--vary values): use "
					 "another -o DIR or leave out --resume",
					 path, (unsigned long long)r);
			goto out;
		}
		for (size_t k = 0; k < n_cols; k++) {
			double v = lat_ckpt_f64(&secs[S_VALS], i * n_cols + k);
			if (!column_ok(v, cols[k].kind, presentations[r - 1])) {
				rc = lat_err_set(err, LAT_ECONFIG, "%s: corrupt state: run %llu: %s is %g",
						 path, (unsigned long long)r, cols[k].name, v);
				goto out;
			}
		}
	}
	/* Everything is checked: fill in. */
	*n_done = n;
	for (size_t i = 0; i < n; i++) {
		size_t r = (size_t)lat_ckpt_u64(&secs[S_RUNS], i) - 1;
		done[r] = 1;
		for (size_t k = 0; k < n_cols; k++)
			vals[r * n_cols + k] = lat_ckpt_f64(&secs[S_VALS], i * n_cols + k);
	}
out:
	lat_ckpt_free(c);
	return rc;
}
