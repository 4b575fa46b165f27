/* study.c: the convergence study of one pool: presentations, records, the metrics and trace text, save and
 * resume. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lateral/err.h"
#include "lateral/metrics.h"
#include "lateral/study.h"
#include "size.h"

struct lat_study {
	lat_study_opts o;
	lat_sim *sim; /* borrowed */
	lat_trace *tr;
	lat_run_sums s;
	double *rec_p, *rec_s; /* recorded presentations and their SNR */
	size_t cap_rec;
	char *mtext, *ttext; /* memory streams of metrics.tsv and trace.tsv */
	size_t mlen, tlen;
	FILE *mfp, *tfp;
	lat_sim_status init;
	int interrupted, cause;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void tsv_num(FILE *fp, double v, int last)
{
	if (isfinite(v))
		fprintf(fp, "%.10g", v);
	else if (isinf(v))
		fputs(v > 0 ? "inf" : "-inf", fp);
	fputc(last ? '\n' : '\t', fp);
}

/* One row of metrics.tsv. */
static void metrics_row(FILE *fp, const lat_sim_status *st, double inv_snr_init, double settle_time,
			double steps)
{
	fprintf(fp, "%zu\t", st->presentation);
	tsv_num(fp, st->pool.snr, 0);
	tsv_num(fp, st->pool.inv_snr, 0);
	tsv_num(fp, st->pool.cos_mean, 0);
	tsv_num(fp, st->pool.mean_ratio, 0);
	tsv_num(fp, st->dist_wstar, 0);
	tsv_num(fp, settle_time, 0);
	tsv_num(fp, steps, 0);
	tsv_num(fp, st->pool.inv_snr / inv_snr_init, 1);
}

static void trace_rows(FILE *fp, const lat_trace *tr, size_t presentation, double t0)
{
	for (size_t r = 0; r < tr->n; r++) {
		const double *row = tr->data + r * (1 + tr->cols);
		fprintf(fp, "%zu\t%.10g", presentation, t0 + row[0]);
		for (size_t c = 1; c <= tr->cols; c++)
			fprintf(fp, "\t%.10g", row[c]);
		fputc('\n', fp);
	}
}

/* First recorded presentation at which log(snr / snr_0) reached frac of its final value (NaN if the
 * SNR did not grow). */
static double time_to_gain(const double *pres, const double *snr, size_t n, double frac)
{
	double total = n ? log(snr[n - 1] / snr[0]) : NAN;
	if (!(total > 0) || !isfinite(total))
		return NAN;
	for (size_t k = 0; k < n; k++)
		if (log(snr[k] / snr[0]) >= frac * total)
			return pres[k];
	return NAN;
}

static int records(lat_study *st, size_t cap)
{
	double *p = realloc(st->rec_p, cap * sizeof *p), *q;
	if (p)
		st->rec_p = p;
	q = p ? realloc(st->rec_s, cap * sizeof *q) : NULL;
	if (q)
		st->rec_s = q;
	if (!p || !q)
		return LAT_ENOMEM;
	st->cap_rec = cap;
	return LAT_OK;
}

lat_study *lat_study_alloc(const lat_study_opts *o, lat_sim *sim, char *err)
{
	lat_study *s = NULL;
	size_t rows;

	if (!o || !sim || o->presentations == 0 || o->record_every == 0 ||
	    (o->trace_presentations && !(o->trace_dt > 0 && o->trace_cap > 0))) {
		lat_err_set(
		    err, LAT_EINVAL,
		    "study: needs presentations > 0, record_every > 0 and a trace buffer when traced");
		return NULL;
	}
	s = calloc(1, sizeof *s);
	if (!s)
		goto nomem;
	s->o = *o;
	s->sim = sim;
	s->s.max_steady_error = NAN;
	s->mfp = open_memstream(&s->mtext, &s->mlen);
	s->tfp = o->trace_presentations ? open_memstream(&s->ttext, &s->tlen) : NULL;
	if (!s->mfp || (o->trace_presentations && !s->tfp) ||
	    lat_size_add(o->presentations / o->record_every, 2, &rows) || records(s, rows))
		goto nomem;
	if (o->trace_presentations) {
		s->tr = lat_trace_alloc(lat_sim_neurons(sim) + 2, o->trace_cap, o->trace_dt);
		if (!s->tr)
			goto nomem;
	}
	return s;
nomem:
	lat_err_set(err, LAT_ENOMEM, "out of memory for the study's records");
	lat_study_free(s);
	return NULL;
}

void lat_study_free(lat_study *s)
{
	if (!s)
		return;
	if (s->mfp)
		fclose(s->mfp);
	if (s->tfp)
		fclose(s->tfp);
	free(s->mtext);
	free(s->ttext);
	free(s->rec_p);
	free(s->rec_s);
	lat_trace_free(s->tr);
	free(s);
}

int lat_study_start(lat_study *s, lat_sim_status *first, char *err)
{
	lat_run_sums *r = &s->s;
	lat_sim_status st;

	(void)err;
	fputs(
	    "# "
	    "presentation\tsnr_pool\tinv_snr\tcos_mean\tmean_ratio\tdist_wstar\tsettle_time\tsteps\tinv_snr_rel\n",
	    s->mfp);
	if (s->tfp) {
		fprintf(s->tfp, "# presentation\tt");
		for (size_t i = 1; i <= lat_sim_neurons(s->sim); i++)
			fprintf(s->tfp, "\tr_%zu", i);
		fprintf(s->tfp, "\tr_inh\tb\n");
	}
	lat_sim_measure(s->sim, &st);
	s->init = st;
	r->init_snr = st.pool.snr;
	r->init_inv_snr = st.pool.inv_snr;
	r->init_cos_mean = st.pool.cos_mean;
	r->init_mean_ratio = st.pool.mean_ratio;
	r->init_dist_wstar = st.dist_wstar;
	s->rec_p[r->n_rec] = 0;
	s->rec_s[r->n_rec++] = st.pool.snr;
	metrics_row(s->mfp, &st, st.pool.inv_snr, NAN, NAN);
	if (first)
		*first = st;
	return LAT_OK;
}

int lat_study_resume(lat_study *s, const char *path, char **saved_model, char *err)
{
	lat_run_state rs;
	int rc = lat_run_state_load(path, s->o.presentations, s->sim, &rs, err);

	if (rc)
		return rc;
	rc = records(s, rs.s.n_rec + (s->o.presentations - rs.s.done) / s->o.record_every + 2);
	if (!rc && saved_model) {
		*saved_model = strdup(rs.model);
		rc = *saved_model ? LAT_OK : LAT_ENOMEM;
	}
	if (rc) {
		rc = lat_err_set(err, LAT_ENOMEM, "out of memory reading %s", path);
		goto out;
	}
	memcpy(s->rec_p, rs.rec_p, rs.s.n_rec * sizeof *s->rec_p);
	memcpy(s->rec_s, rs.rec_s, rs.s.n_rec * sizeof *s->rec_s);
	fwrite(rs.metrics, 1, rs.s.metrics_len, s->mfp);
	if (s->tfp)
		fwrite(rs.trace, 1, rs.s.trace_len, s->tfp);
	s->s = rs.s;
	s->init = (lat_sim_status){.presentation = 0,
				   .pool = {.snr = rs.s.init_snr,
					    .inv_snr = rs.s.init_inv_snr,
					    .cos_mean = rs.s.init_cos_mean,
					    .mean_ratio = rs.s.init_mean_ratio,
					    .mean_over_std = NAN},
				   .dist_wstar = rs.s.init_dist_wstar};
out:
	lat_run_state_clear(&rs);
	return rc;
}

/* Adds presentation p's settle to the running sums. */
static void account(lat_run_sums *s, const lat_sim_step *step, size_t p)
{
	s->sum_settle += step->settle_time;
	s->sum_steps += (double)step->steps;
	s->tot_settle += step->settle_time;
	s->tot_steps += (double)step->steps;
	s->tot_rhs += (double)step->rhs_evals;
	s->tot_jac += (double)step->jac_evals;
	if ((unsigned)step->method_used <= LAT_METHOD_AUTO)
		s->by_method[step->method_used]++;
	s->polished += step->polished;
	s->switches += step->switches;
	if (p == 1 || step->rtol_used < s->min_rtol_used)
		s->min_rtol_used = step->rtol_used;
	s->since++;
	if (isfinite(step->steady_error))
		s->max_steady_error = isnan(s->max_steady_error)
					  ? step->steady_error
					  : fmax(s->max_steady_error, step->steady_error);
}

/* Records presentation p (the pool's status, a row of metrics.tsv) and tells the hook. */
static void record(lat_study *s, const lat_study_hooks *h, size_t p, int last)
{
	lat_run_sums *r = &s->s;
	lat_sim_status st;

	lat_sim_measure(s->sim, &st);
	s->rec_p[r->n_rec] = (double)p;
	s->rec_s[r->n_rec++] = st.pool.snr;
	metrics_row(s->mfp, &st, r->init_inv_snr, r->sum_settle / (double)r->since,
		    r->sum_steps / (double)r->since);
	if (h && h->on_record)
		h->on_record(h->ctx, &st, r->sum_settle / (double)r->since, r->sum_steps / (double)r->since,
			     last);
	r->sum_settle = r->sum_steps = 0;
	r->since = 0;
}

int lat_study_run(lat_study *s, const lat_study_hooks *h, char *err)
{
	lat_run_sums *r = &s->s;
	lat_sim_step step;
	double start = now();
	int rc = LAT_OK, stop = 0;

	s->interrupted = 0;
	s->cause = 0;
	for (size_t p = (size_t)r->done + 1; p <= s->o.presentations; p++) {
		lat_trace *use = p <= s->o.trace_presentations ? s->tr : NULL;
		rc = lat_sim_present(s->sim, &step, use, err);
		if (rc) {
			s->cause = step.cause;
			break;
		}
		if (use) {
			trace_rows(s->tfp, s->tr, p, r->t0);
			r->t0 += s->tr->data[(s->tr->n - 1) * (1 + s->tr->cols)];
		}
		account(r, &step, p);
		stop = h && h->stop && h->stop(h->ctx, s->sim, p);
		if (p % s->o.record_every == 0 || p == s->o.presentations || stop)
			record(s, h, p, p == s->o.presentations || stop);
		r->done = p;
		if (stop)
			break;
		s->interrupted = h && h->interrupted && p < s->o.presentations ? h->interrupted(h->ctx) : 0;
		if (s->interrupted)
			break;
	}
	r->seconds += now() - start;
	return rc;
}

int lat_study_interrupted(const lat_study *s)
{
	return s->interrupted;
}

int lat_study_cause(const lat_study *s)
{
	return s->cause;
}

size_t lat_study_done(const lat_study *s)
{
	return (size_t)s->s.done;
}

int lat_study_save(lat_study *s, const char *path, const char *model_text, char *err)
{
	fflush(s->mfp);
	if (s->tfp)
		fflush(s->tfp);
	s->s.model_len = strlen(model_text);
	s->s.metrics_len = s->mlen;
	s->s.trace_len = s->tfp ? s->tlen : 0;
	return lat_run_state_save(path, &s->s, model_text, s->rec_p, s->rec_s, s->mtext, s->ttext, s->sim,
				  err);
}

void lat_study_report(lat_study *s, lat_study_result *res)
{
	const lat_run_sums *r = &s->s;
	const double *ws;

	memset(res, 0, sizeof *res);
	res->init = s->init;
	res->min_rtol_used = r->min_rtol_used;
	res->max_steady_error = r->max_steady_error;
	res->seconds = r->seconds;
	lat_sim_measure(s->sim, &res->final);
	res->presentations = (size_t)r->done;
	memcpy(res->by_method, r->by_method, sizeof res->by_method);
	res->polished = r->polished;
	res->switches = r->switches;
	res->p50 = time_to_gain(s->rec_p, s->rec_s, r->n_rec, 0.5);
	res->p90 = time_to_gain(s->rec_p, s->rec_s, r->n_rec, 0.9);
	if (r->done) {
		res->mean_steps = r->tot_steps / (double)r->done;
		res->mean_rhs = r->tot_rhs / (double)r->done;
		res->mean_jac = r->tot_jac / (double)r->done;
		res->mean_settle_time = r->tot_settle / (double)r->done;
	}
	ws = lat_sim_wstar(s->sim, &res->wstar_population);
	res->dist_wstar = ws ? lat_metrics_rel_dist(lat_sim_neurons(s->sim) * lat_sim_inputs(s->sim),
						    lat_sim_weights(s->sim), ws)
			     : NAN;
}

const char *lat_study_metrics_text(lat_study *s, size_t *len)
{
	fflush(s->mfp);
	*len = s->mlen;
	return s->mtext;
}

const char *lat_study_trace_text(lat_study *s, size_t *len)
{
	*len = 0;
	if (!s->tfp)
		return NULL;
	fflush(s->tfp);
	*len = s->tlen;
	return s->ttext;
}
