/* sim.c: one pool's convergence study: inputs -> settled rates (ODE engine) -> anti-Hebbian rule. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "gslguard.h"
#include "lateral/ckpt.h"
#include "lateral/circuit.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/ode.h"
#include "lateral/rule.h"
#include "lateral/sim.h"
#include "simd.h"
#include "size.h"

struct lat_sim {
	size_t n, d, dim_c, dim; /* neurons, inputs, circuit state size, ODE state size */
	size_t presented;
	int x_pending; /* 1: x is the input of a presentation that failed, to be presented again */
	int continuous, batch;
	lat_rule_opts rule_opts; /* the rule's settings (continuous timing uses its schedule directly) */
	double duration;

	lat_circuit circuit;
	lat_circuit_batch batch_params;
	lat_circuit_plastic plastic_params;
	lat_ode_system sys;
	lat_ode *ode;
	lat_rule *rule;
	lat_trace *trace; /* the trace being filled during a sampled settle, else NULL */

	gsl_rng *rng_input;
	double input_mean;
	double *chol;   /* d x d lower factor, or NULL */
	double *scale;  /* d per-coordinate std when chol is NULL */
	double *fixed;  /* M x d or NULL */
	size_t m;

	double *w, *w_init, *wbar_init, *wstar; /* N x d, N x d, d, N x d or NULL */
	double *x, *z;                          /* current input (d) and drive (N) */
	double wmax;                            /* an upper bound of max |w_ij| (lat_rule_update; NaN: unknown) */
	double *y;      /* ODE state: circuit (dim_c), then W (N x d) with continuous timing */
	double *y_prev; /* y before the current presentation, restored when it fails */
	double *acc_prev; /* N x d: the rule's accumulator before a batch update, restored when it fails */
	double *ystar;  /* dim_c: analytic steady state */
	double *act;    /* N: r_i - b */
	double *rates;  /* N + 2: r, r_inh, b */
};

static double bias_of(const lat_sim *s, const double *y)
{
	return s->circuit.bias_dynamic ? y[s->n + 1] : s->circuit.bias;
}

static void copy_rates(lat_sim *s)
{
	memcpy(s->rates, s->y, (s->n + 1) * sizeof *s->rates);
	s->rates[s->n + 1] = bias_of(s, s->y);
}

static int setup_inputs(lat_sim *s, const lat_sim_opts *m, char *err)
{
	size_t d = s->d;

	s->rng_input = lat_gsl_rng_alloc();
	if (!s->rng_input)
		return lat_err_set(err, LAT_ENOMEM, "out of memory for the input generator");
	/* Zeroed first so that every byte of the state lat_sim_save writes is defined (padding too). */
	memset(gsl_rng_state(s->rng_input), 0, gsl_rng_size(s->rng_input));
	gsl_rng_set(s->rng_input, m->input_seed);
	s->input_mean = m->input_mean;
	if (m->input_cov) {
		gsl_matrix_view cv;
		int bad;
		s->chol = malloc(d * d * sizeof *s->chol);
		if (!s->chol)
			return lat_err_set(err, LAT_ENOMEM, "out of memory for a %zu x %zu covariance", d, d);
		memcpy(s->chol, m->input_cov, d * d * sizeof *s->chol);
		cv = gsl_matrix_view_array(s->chol, d, d);
		lat_gsl_enter();
		bad = gsl_linalg_cholesky_decomp1(&cv.matrix);
		lat_gsl_leave();
		if (bad)
			return lat_err_set(err, LAT_ECONFIG, "%s: the input covariance is not positive definite", m->source);
		for (size_t i = 0; i < d; i++)
			for (size_t j = i + 1; j < d; j++)
				s->chol[i * d + j] = 0;
	} else {
		s->scale = malloc(d * sizeof *s->scale);
		if (!s->scale)
			return lat_err_set(err, LAT_ENOMEM, "out of memory");
		for (size_t j = 0; j < d; j++)
			s->scale[j] = m->input_cov_diag ? sqrt(m->input_cov_diag[j]) : m->input_std;
	}
	return LAT_OK;
}

/* x = mean + L g with g ~ N(0, I). */
static void draw_input(lat_sim *s, double *x)
{
	size_t d = s->d;
	if (s->chol) {
		for (size_t j = 0; j < d; j++)
			x[j] = gsl_ran_gaussian_ziggurat(s->rng_input, 1.0);
		/* In-place lower-triangular product from the last row up. */
		for (size_t i = d; i-- > 0;) {
			double acc = 0;
			for (size_t j = 0; j <= i; j++)
				acc += s->chol[i * d + j] * x[j];
			x[i] = acc;
		}
	} else {
		for (size_t j = 0; j < d; j++)
			x[j] = s->scale[j] * gsl_ran_gaussian_ziggurat(s->rng_input, 1.0);
	}
	for (size_t j = 0; j < d; j++)
		x[j] += s->input_mean;
}

static int setup_weights(lat_sim *s, const lat_sim_opts *m, char *err)
{
	size_t nd = s->n * s->d;
	gsl_rng *r;

	if (m->w_init) {
		memcpy(s->w_init, m->w_init, nd * sizeof *s->w_init);
	} else {
		r = lat_gsl_rng_alloc();
		if (!r)
			return lat_err_set(err, LAT_ENOMEM, "out of memory for the weight generator");
		gsl_rng_set(r, m->weights_seed);
		for (size_t k = 0; k < nd; k++)
			s->w_init[k] = m->init_mean + gsl_ran_gaussian_ziggurat(r, m->init_std);
		gsl_rng_free(r);
	}
	memcpy(s->w, s->w_init, nd * sizeof *s->w);
	lat_metrics_mean(s->n, s->d, s->w_init, s->wbar_init);
	return LAT_OK;
}

/* W* for the generator's population second moment C = L L^T + mu^2 1 1^T (fresh inputs). */
static int population_wstar(lat_sim *s, const lat_sim_opts *m, char *err)
{
	size_t d = s->d;
	double *c = malloc(d * d * sizeof *c);
	int rc;

	if (!c)
		return lat_err_set(err, LAT_ENOMEM, "out of memory for a %zu x %zu covariance", d, d);
	for (size_t i = 0; i < d; i++)
		for (size_t j = 0; j < d; j++) {
			double v = s->input_mean * s->input_mean;
			if (s->chol)
				for (size_t k = 0; k <= (i < j ? i : j); k++)
					v += s->chol[i * d + k] * s->chol[j * d + k];
			else if (i == j)
				v += s->scale[i] * s->scale[i];
			c[i * d + j] = v;
		}
	rc = lat_closedform_wstar_cov(s->n, d, c, s->w_init, m->circuit.alpha, m->rule.gamma, s->wstar, err);
	free(c);
	return rc;
}

static int setup_fixed(lat_sim *s, const lat_sim_opts *m, char *err)
{
	s->m = m->m;
	if (m->rule.gamma > 0) {
		s->wstar = malloc(s->n * s->d * sizeof *s->wstar);
		if (!s->wstar)
			return lat_err_set(err, LAT_ENOMEM, "out of memory for W*");
	}
	if (s->m == 0)
		return s->wstar ? population_wstar(s, m, err) : LAT_OK;
	s->fixed = malloc(s->m * s->d * sizeof *s->fixed);
	if (!s->fixed)
		return lat_err_set(err, LAT_ENOMEM, "out of memory for %zu fixed inputs", s->m);
	if (m->x_fixed)
		memcpy(s->fixed, m->x_fixed, s->m * s->d * sizeof *s->fixed);
	else
		for (size_t k = 0; k < s->m; k++)
			draw_input(s, s->fixed + k * s->d);
	if (s->wstar) {
		return lat_closedform_wstar(s->n, s->d, s->m, s->fixed, s->w_init, m->circuit.alpha, m->rule.gamma, s->wstar,
					    err);
	}
	return LAT_OK;
}

/* Arrays of N x d doubles a simulation may hold: W, W_init, W*, the batch accumulator, the rule's
 * momentum, accumulator and update, and the three of a saved state. */
#define PLAN_ND_ARRAYS 9
/* State-sized vectors of the ODE engine (CVODE BDF holds up to about 20, rk8pd 13 stages), rounded up. */
#define PLAN_STATE_VECTORS 32

lat_sim_plan_fail lat_sim_plan(const lat_sim_opts *o, size_t *bytes)
{
	size_t n = o->circuit.n, d = o->d, nd, dd, dim, small, pool, fixed, total;

	/* PLAN_ND_ARRAYS N x d arrays, two d x d, PLAN_STATE_VECTORS of the ODE state, 8 of N or d */
	if (lat_size_mul(n, d, &nd) || lat_size_mul(d, d, &dd) || lat_size_add(n, 3, &dim) ||
	    lat_size_add(dim, o->continuous ? nd : 0, &dim) || lat_size_add(n, d, &small) ||
	    lat_size_mul(nd, PLAN_ND_ARRAYS, &pool) || lat_size_mul(dd, 2, &dd) || lat_size_add(pool, dd, &pool) ||
	    lat_size_mul(dim, PLAN_STATE_VECTORS, &dim) || lat_size_add(pool, dim, &pool) ||
	    lat_size_mul(small, 8, &small) || lat_size_add(pool, small, &pool) ||
	    lat_size_mul(pool, sizeof(double), &pool))
		return LAT_SIM_PLAN_POOL;
	if (lat_size_mul(o->m, d, &fixed) || lat_size_mul(fixed, sizeof(double), &fixed) ||
	    lat_size_add(pool, fixed, &total))
		return LAT_SIM_PLAN_FIXED;
	*bytes = total;
	return LAT_SIM_PLAN_OK;
}

lat_sim *lat_sim_alloc(const lat_sim_opts *m, FILE *solver_log, char *err)
{
	lat_sim *s = calloc(1, sizeof *s);
	lat_ode_opts opts;
	size_t n = m->circuit.n, d = m->d, dim, planned;

	/* every size below is a term of the plan: none of them overflows once the plan fits */
	if (lat_sim_plan(m, &planned) != LAT_SIM_PLAN_OK) {
		lat_err_set(err, LAT_ECONFIG,
			    "%s: a pool of %zu neurons with %zu inputs (and %zu fixed inputs) needs more than a process "
			    "can address",
			    m->source, n, d, m->m);
		goto fail;
	}
	if (!s)
		goto nomem;
	s->n = n;
	s->d = d;
	s->circuit = m->circuit;
	if (lat_circuit_check(&s->circuit, err))
		goto fail;
	s->dim_c = lat_circuit_dim(&s->circuit);
	s->continuous = m->continuous;
	s->batch = m->batch;
	s->rule_opts = m->rule;
	s->duration = m->duration;
	if (s->continuous && m->rule.momentum > 0) {
		lat_err_set(err, LAT_ECONFIG,
			    "%s: momentum %g with continuous timing: momentum applies only to the rule's "
			    "updates after each settle",
			    m->source, m->rule.momentum);
		goto fail;
	}
	dim = s->dim_c + (s->continuous ? n * d : 0);
	s->dim = dim;

	s->w = malloc(n * d * sizeof *s->w);
	s->wmax = NAN;
	s->w_init = malloc(n * d * sizeof *s->w_init);
	s->wbar_init = malloc(d * sizeof *s->wbar_init);
	s->x = calloc(d, sizeof *s->x);
	s->z = calloc(n, sizeof *s->z);
	s->y = calloc(dim, sizeof *s->y);
	s->y_prev = malloc(dim * sizeof *s->y_prev);
	s->acc_prev = s->batch ? malloc(n * d * sizeof *s->acc_prev) : NULL;
	s->ystar = malloc(s->dim_c * sizeof *s->ystar);
	s->act = malloc(n * sizeof *s->act);
	s->rates = malloc((n + 2) * sizeof *s->rates);
	if (!s->w || !s->w_init || !s->wbar_init || !s->x || !s->z || !s->y || !s->ystar ||
	    !s->act || !s->rates || !s->y_prev || (s->batch && !s->acc_prev))
		goto nomem;
	if (setup_inputs(s, m, err) || setup_weights(s, m, err) || setup_fixed(s, m, err))
		goto fail;

	/* Start at rest: the steady state of zero drive. */
	if (s->circuit.bias_dynamic)
		s->y[n + 1] = m->circuit.bias;
	for (size_t i = 0; i < n; i++)
		s->y[i] = s->circuit.relu ? fmax(0, m->circuit.bias) : m->circuit.bias;

	copy_rates(s);
	s->rule = lat_rule_alloc(n, d, &s->rule_opts, s->w_init, err);
	if (!s->rule)
		goto fail;

	if (s->continuous) {
		s->plastic_params = (lat_circuit_plastic){
		    .c = &s->circuit, .d = d, .x = s->x, .w_init = s->w_init, .eta = m->rule.eta, .gamma = m->rule.gamma};
		lat_circuit_plastic_system(&s->plastic_params, &s->sys);
		memcpy(s->y + s->dim_c, s->w, n * d * sizeof *s->w);
	} else {
		s->batch_params = (lat_circuit_batch){.c = &s->circuit, .n_circuits = 1, .z = s->z};
		lat_circuit_batch_system(&s->batch_params, &s->sys);
	}
	opts = m->ode;
	opts.solver_log = solver_log;
	s->ode = lat_ode_alloc(&s->sys, &opts, err);
	if (!s->ode)
		goto fail;
	return s;
nomem:
	lat_err_set(err, LAT_ENOMEM, "out of memory for a pool of %zu neurons with %zu inputs", n, d);
fail:
	lat_sim_free(s);
	return NULL;
}

void lat_sim_free(lat_sim *s)
{
	if (!s)
		return;
	lat_ode_free(s->ode);
	lat_rule_free(s->rule);
	gsl_rng_free(s->rng_input);
	free(s->chol);
	free(s->scale);
	free(s->fixed);
	free(s->w);
	free(s->w_init);
	free(s->wbar_init);
	free(s->wstar);
	free(s->x);
	free(s->z);
	free(s->y);
	free(s->y_prev);
	free(s->acc_prev);
	free(s->ystar);
	free(s->act);
	free(s->rates);
	free(s);
}

/* z = W x. Four partial sums break the dependency chain of one long reduction (about 3x faster at
 * d = 81); the order of summation is fixed, so results are reproducible. The four sums are the lanes
 * of one AVX2 vector in that build (simd.h), which keeps the order. With GCC's vector types four rows
 * run at once, four independent chains (a third faster at N = 100, d = 81), each row summed in the
 * same order as alone: the same bits. */
#if defined(__GNUC__)
typedef double drive_v4 __attribute__((vector_size(4 * sizeof(double))));
#endif

LAT_CLONES static void compute_drive_rows(size_t n, size_t d, const double *w, const double *x, double *z)
{
	size_t d4 = d - d % 4, i = 0;
#if defined(__GNUC__)
	for (; i + 4 <= n; i += 4) {
		const double *w0 = w + i * d, *w1 = w0 + d, *w2 = w1 + d, *w3 = w2 + d;
		drive_v4 a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
		size_t j;
		for (j = 0; j < d4; j += 4) {
			drive_v4 xv, u0, u1, u2, u3; /* unaligned loads */
			memcpy(&xv, x + j, sizeof xv);
			memcpy(&u0, w0 + j, sizeof u0);
			memcpy(&u1, w1 + j, sizeof u1);
			memcpy(&u2, w2 + j, sizeof u2);
			memcpy(&u3, w3 + j, sizeof u3);
			a0 += u0 * xv;
			a1 += u1 * xv;
			a2 += u2 * xv;
			a3 += u3 * xv;
		}
		for (; j < d; j++) {
			a0[0] += w0[j] * x[j];
			a1[0] += w1[j] * x[j];
			a2[0] += w2[j] * x[j];
			a3[0] += w3[j] * x[j];
		}
		z[i] = (a0[0] + a0[1]) + (a0[2] + a0[3]);
		z[i + 1] = (a1[0] + a1[1]) + (a1[2] + a1[3]);
		z[i + 2] = (a2[0] + a2[1]) + (a2[2] + a2[3]);
		z[i + 3] = (a3[0] + a3[1]) + (a3[2] + a3[3]);
	}
#endif
	for (; i < n; i++) {
		const double *wi = w + i * d;
		double a0 = 0, a1 = 0, a2 = 0, a3 = 0;
		size_t j;
		for (j = 0; j < d4; j += 4) {
			a0 += wi[j] * x[j];
			a1 += wi[j + 1] * x[j + 1];
			a2 += wi[j + 2] * x[j + 2];
			a3 += wi[j + 3] * x[j + 3];
		}
		for (; j < d; j++)
			a0 += wi[j] * x[j];
		z[i] = (a0 + a1) + (a2 + a3);
	}
}

static void compute_drive(lat_sim *s)
{
	compute_drive_rows(s->n, s->d, s->w, s->x, s->z);
}

static void trace_row(lat_sim *s, lat_trace *tr, double t, const double *y)
{
	double *row = tr->data + tr->n * (1 + tr->cols);
	row[0] = t;
	memcpy(row + 1, y, (s->n + 1) * sizeof *row);
	row[s->n + 2] = bias_of(s, y);
	tr->n++;
}

/* A settle's sample: one trace row of the state y at time t (LAT_ENOMEM when the buffer is full). */
static int trace_sample(void *ctx, double t, const double *y)
{
	lat_sim *s = ctx;
	lat_trace *tr = s->trace;

	if (tr->n == tr->cap)
		return LAT_ENOMEM;
	trace_row(s, tr, t, y);
	return LAT_OK;
}

/* Samples the trajectory every tr->dt: the settle itself (fixed-point timing), or the integration over
 * the duration (continuous timing). */
static int integrate_traced(lat_sim *s, lat_trace *tr, lat_ode_stats *st, char *err)
{
	double t = 0;
	int rc;

	tr->n = 0;
	if (!s->continuous) {
		s->trace = tr;
		rc = lat_ode_settle_sampled(s->ode, s->y, tr->dt, trace_sample, s, st, err);
		s->trace = NULL;
		if (rc == LAT_ENOMEM && tr->n == tr->cap)
			rc = lat_err_set(err, LAT_ENOMEM, "trace buffer of %zu samples is full", tr->cap);
		return rc;
	}
	rc = lat_ode_restart(s->ode, s->y, err);
	while (!rc) {
		if (tr->n == tr->cap)
			return lat_err_set(err, LAT_ENOMEM, "trace buffer of %zu samples is full at t = %g", tr->cap, t);
		trace_row(s, tr, t, s->y);
		if (t >= s->duration)
			break;
		t = fmin(t + tr->dt, s->duration);
		rc = lat_ode_advance(s->ode, t, s->y, st, err);
	}
	st->settle_time = s->duration;
	return rc;
}

int lat_sim_present(lat_sim *s, lat_sim_step *step, lat_trace *trace, char *err)
{
	lat_ode_stats st = {0};
	char msg[LAT_ERRLEN];
	double b, *vel, *acc;
	size_t p = s->presented, nd = s->n * s->d, *n_acc, *n_updates, n_acc_prev = 0;
	int rc, batch_due = !s->continuous && s->batch && (p + 1) % s->m == 0;

	/* A failed presentation leaves everything as it was: the circuit state, the accumulator and the
	 * input (kept for the retry, so the generator's stream is not advanced twice). */
	memcpy(s->y_prev, s->y, s->dim * sizeof *s->y);
	lat_rule_state(s->rule, &vel, &acc, &n_acc, &n_updates);
	if (batch_due) {
		memcpy(s->acc_prev, acc, nd * sizeof *acc);
		n_acc_prev = *n_acc;
	}
	if (s->m > 0)
		memcpy(s->x, s->fixed + (p % s->m) * s->d, s->d * sizeof *s->x);
	else if (!s->x_pending)
		draw_input(s, s->x);
	s->x_pending = 0;

	if (s->continuous) {
		s->plastic_params.eta = lat_rule_eta_at(&s->rule_opts, (double)p);
		memcpy(s->y + s->dim_c, s->w, s->n * s->d * sizeof *s->w);
		if (trace) {
			rc = integrate_traced(s, trace, &st, msg);
		} else {
			rc = lat_ode_restart(s->ode, s->y, msg);
			if (!rc)
				rc = lat_ode_advance(s->ode, s->duration, s->y, &st, msg);
			st.settle_time = s->duration;
		}
		if (rc)
			goto fail;
		for (size_t k = 0; k < s->n * s->d; k++)
			if (!isfinite(s->y[s->dim_c + k])) {
				rc = lat_err_set(msg, LAT_EDIVERGE, "weights became non-finite (eta too large?)");
				goto fail;
			}
		memcpy(s->w, s->y + s->dim_c, s->n * s->d * sizeof *s->w);
		compute_drive(s);
	} else {
		compute_drive(s);
		rc = trace ? integrate_traced(s, trace, &st, msg) : lat_ode_settle(s->ode, s->y, &st, msg);
		if (rc)
			goto fail;
		b = bias_of(s, s->y);
		for (size_t i = 0; i < s->n; i++)
			s->act[i] = s->y[i] - b;
		if (s->batch) {
			lat_rule_accumulate(s->rule, s->x, s->act);
			rc = (p + 1) % s->m == 0 ? lat_rule_apply(s->rule, s->w, msg) : LAT_OK;
		} else {
			rc = lat_rule_update(s->rule, s->x, s->act, s->w, &s->wmax, msg);
		}
		if (rc)
			goto fail;
	}
	if (step) {
		step->settle_time = st.settle_time;
		step->residual = st.residual;
		step->steps = st.steps;
		step->rhs_evals = st.rhs_evals;
		step->jac_evals = st.jac_evals;
		step->rtol_used = st.rtol_used;
		step->method_used = st.method_used;
		step->polished = st.polished;
		step->switches = st.switches;
		step->cause = st.cause;
		step->updated = s->continuous || !s->batch || (p + 1) % s->m == 0;
		step->steady_error = NAN;
		/* The analytic steady state is the one for the drive the circuit settled under. */
		if (!s->continuous && lat_circuit_steady(&s->circuit, s->z, s->ystar, NULL) == LAT_OK) {
			double e = 0;
			for (size_t k = 0; k < s->dim_c; k++) {
				double ek = fabs(s->y[k] - s->ystar[k]);
				e = ek > e ? ek : e; /* as fmax: a NaN difference is skipped */
			}
			step->steady_error = e;
		}
	}
	copy_rates(s);
	s->presented++;
	return LAT_OK;
fail:
	if (step)
		step->cause = st.cause;
	memcpy(s->y, s->y_prev, s->dim * sizeof *s->y);
	if (batch_due) {
		memcpy(acc, s->acc_prev, nd * sizeof *acc);
		*n_acc = n_acc_prev;
	}
	s->x_pending = s->m == 0;
	return lat_err_set(err, rc, "presentation %zu: %s", p + 1, msg);
}

/* The state of lat_sim_save: a container (ckpt.h) of kind LAT_CKPT_SIM with these sections. */
#define SIM_VERSION 1u
enum { SIM_HDR, SIM_W, SIM_Y, SIM_X, SIM_VEL, SIM_ACC, SIM_RNG, SIM_N_SECTIONS };
/* The header's counts, in this order. */
enum { H_N, H_D, H_DIM, H_M, H_CONTINUOUS, H_BATCH, H_PRESENTED, H_X_PENDING, H_N_ACC, H_N_UPDATES, H_COUNT };

static void sim_sections(lat_ckpt_section *secs)
{
	const lat_ckpt_section t[SIM_N_SECTIONS] = {
	    {LAT_CKPT_TAG('S', 'H', 'D', 'R'), LAT_CKPT_U64, H_COUNT, "sizes and counters", NULL, 0},
	    {LAT_CKPT_TAG('W', 'G', 'H', 'T'), LAT_CKPT_F64, LAT_CKPT_ANY, "weights", NULL, 0},
	    {LAT_CKPT_TAG('Y', 'S', 'T', 'A'), LAT_CKPT_F64, LAT_CKPT_ANY, "circuit state", NULL, 0},
	    {LAT_CKPT_TAG('X', 'I', 'N', 'P'), LAT_CKPT_F64, LAT_CKPT_ANY, "current input", NULL, 0},
	    {LAT_CKPT_TAG('V', 'E', 'L', 'O'), LAT_CKPT_F64, LAT_CKPT_ANY, "momentum buffer", NULL, 0},
	    {LAT_CKPT_TAG('A', 'C', 'C', 'U'), LAT_CKPT_F64, LAT_CKPT_ANY, "accumulator", NULL, 0},
	    {LAT_CKPT_TAG('R', 'N', 'G', 'I'), LAT_CKPT_U64, LAT_CKPT_ANY, "input generator", NULL, 0}};
	memcpy(secs, t, sizeof t);
}

int lat_sim_save(lat_sim *s, FILE *fp, char *err)
{
	size_t nd = s->n * s->d, *n_acc, *n_updates;
	double *vel, *acc;
	uint64_t h[H_COUNT];
	lat_ckpt_writer *w;
	int rc;

	lat_rule_state(s->rule, &vel, &acc, &n_acc, &n_updates);
	h[H_N] = s->n;
	h[H_D] = s->d;
	h[H_DIM] = s->dim;
	h[H_M] = s->m;
	h[H_CONTINUOUS] = (uint64_t)s->continuous;
	h[H_BATCH] = (uint64_t)s->batch;
	h[H_PRESENTED] = s->presented;
	h[H_X_PENDING] = (uint64_t)s->x_pending;
	h[H_N_ACC] = *n_acc;
	h[H_N_UPDATES] = *n_updates;
	w = lat_ckpt_writer_stream(fp, LAT_CKPT_SIM, SIM_VERSION, err);
	if (!w)
		return LAT_ENOMEM;
	lat_ckpt_put(w, LAT_CKPT_TAG('S', 'H', 'D', 'R'), LAT_CKPT_U64, h, H_COUNT);
	lat_ckpt_put(w, LAT_CKPT_TAG('W', 'G', 'H', 'T'), LAT_CKPT_F64, s->w, nd);
	lat_ckpt_put(w, LAT_CKPT_TAG('Y', 'S', 'T', 'A'), LAT_CKPT_F64, s->y, s->dim);
	lat_ckpt_put(w, LAT_CKPT_TAG('X', 'I', 'N', 'P'), LAT_CKPT_F64, s->x, s->d);
	lat_ckpt_put(w, LAT_CKPT_TAG('V', 'E', 'L', 'O'), LAT_CKPT_F64, vel, nd);
	lat_ckpt_put(w, LAT_CKPT_TAG('A', 'C', 'C', 'U'), LAT_CKPT_F64, acc, nd);
	rc = lat_ckpt_put_rng(w, LAT_CKPT_TAG('R', 'N', 'G', 'I'), s->rng_input, err);
	if (rc) {
		lat_ckpt_writer_abort(w);
		return rc;
	}
	rc = lat_ckpt_writer_commit(w, err);
	return rc ? lat_err_set(err, LAT_EIO, "cannot write the simulation state") : LAT_OK;
}

/* The counters of a saved state that this simulation could have reached: updates and accumulated
 * presentations follow from the presentations (fixed-point timing: one update per presentation online,
 * one per pass over the M inputs in batch; continuous timing bypasses the rule), and only a fresh draw
 * is kept pending after a failure. Returns the first violation's description or NULL. */
static const char *sim_counters_bad(const lat_sim *s, const uint64_t *h)
{
	uint64_t p = h[H_PRESENTED];
	if (h[H_X_PENDING] > 1 || (h[H_X_PENDING] && s->m > 0))
		return "a pending input that cannot be (only a fresh draw is kept after a failure)";
	if (s->continuous)
		return h[H_N_ACC] || h[H_N_UPDATES] ? "the rule's counters (continuous timing has none)" : NULL;
	if (s->batch)
		return h[H_N_ACC] != p % s->m || h[H_N_UPDATES] != p / s->m ? "the rule's counters (batch updates)" : NULL;
	return h[H_N_ACC] || h[H_N_UPDATES] != p ? "the rule's counters (online updates)" : NULL;
}

int lat_sim_load(lat_sim *s, FILE *fp, const char *path, char *err)
{
	size_t nd = s->n * s->d, *n_acc, *n_updates;
	size_t want[SIM_N_SECTIONS] = {H_COUNT, nd, s->dim, s->d, nd, nd, 0};
	lat_ckpt_section secs[SIM_N_SECTIONS];
	lat_ckpt *c = NULL;
	double *vel, *acc;
	uint64_t h[H_COUNT];
	const char *bad;
	int rc;

	sim_sections(secs);
	rc = lat_ckpt_load_stream(fp, path, LAT_CKPT_SIM, SIM_VERSION, secs, SIM_N_SECTIONS, &c, err);
	if (rc)
		goto out;
	for (size_t k = 0; k < H_COUNT; k++)
		h[k] = lat_ckpt_u64(&secs[SIM_HDR], k);
	if (h[H_N] != s->n || h[H_D] != s->d || h[H_DIM] != s->dim || h[H_M] != s->m ||
	    h[H_CONTINUOUS] != (uint64_t)s->continuous || h[H_BATCH] != (uint64_t)s->batch) {
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s: state of a pool of %llu neurons x %llu inputs, %llu fixed inputs, %s timing, %s "
				 "updates; this model has %zu x %zu, %zu, %s, %s",
				 path, (unsigned long long)h[H_N], (unsigned long long)h[H_D], (unsigned long long)h[H_M],
				 h[H_CONTINUOUS] ? "continuous" : "fixedpoint", h[H_BATCH] ? "batch" : "online", s->n, s->d,
				 s->m, s->continuous ? "continuous" : "fixedpoint", s->batch ? "batch" : "online");
		goto out;
	}
	for (size_t k = SIM_W; k < SIM_RNG; k++) {
		if (secs[k].n != want[k]) {
			rc = lat_err_set(err, LAT_ECONFIG, "%s: corrupt simulation state: %zu values of %s, expected %zu",
					 path, secs[k].n, secs[k].name, want[k]);
			goto out;
		}
		rc = lat_ckpt_check_finite(c, &secs[k], err);
		if (rc)
			goto out;
	}
	bad = sim_counters_bad(s, h);
	if (h[H_PRESENTED] > SIZE_MAX / 2 || bad) {
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s: corrupt simulation state: %s after %llu presentations (%llu accumulated, %llu "
				 "updates, pending %llu)",
				 path, bad ? bad : "a count beyond any run", (unsigned long long)h[H_PRESENTED],
				 (unsigned long long)h[H_N_ACC], (unsigned long long)h[H_N_UPDATES],
				 (unsigned long long)h[H_X_PENDING]);
		goto out;
	}
	/* Everything is checked: the generator (restored only when valid) and then the rest. */
	rc = lat_ckpt_get_rng(c, &secs[SIM_RNG], s->rng_input, err);
	if (rc)
		goto out;
	lat_rule_state(s->rule, &vel, &acc, &n_acc, &n_updates);
	lat_ckpt_get_f64(&secs[SIM_W], s->w);
	s->wmax = NAN;
	lat_ckpt_get_f64(&secs[SIM_Y], s->y);
	lat_ckpt_get_f64(&secs[SIM_X], s->x);
	lat_ckpt_get_f64(&secs[SIM_VEL], vel);
	lat_ckpt_get_f64(&secs[SIM_ACC], acc);
	s->presented = (size_t)h[H_PRESENTED];
	s->x_pending = h[H_X_PENDING] != 0;
	*n_acc = (size_t)h[H_N_ACC];
	*n_updates = (size_t)h[H_N_UPDATES];
	copy_rates(s);
out:
	lat_ckpt_free(c);
	return rc;
}

void lat_sim_measure(const lat_sim *s, lat_sim_status *mt)
{
	mt->presentation = s->presented;
	lat_metrics_pool(s->n, s->d, s->w, s->wbar_init, &mt->pool);
	mt->dist_wstar = s->wstar && s->m > 0 ? lat_metrics_rel_dist(s->n * s->d, s->w, s->wstar) : NAN;
}

size_t lat_sim_neurons(const lat_sim *s)
{
	return s->n;
}

size_t lat_sim_inputs(const lat_sim *s)
{
	return s->d;
}

const double *lat_sim_weights(const lat_sim *s)
{
	return s->w;
}

const double *lat_sim_weights_init(const lat_sim *s)
{
	return s->w_init;
}

const double *lat_sim_wstar(const lat_sim *s, int *population)
{
	if (population)
		*population = s->m == 0;
	return s->wstar;
}

const double *lat_sim_fixed_inputs(const lat_sim *s, size_t *m)
{
	*m = s->m;
	return s->fixed;
}

const double *lat_sim_drive(const lat_sim *s)
{
	return s->z;
}

const double *lat_sim_rates(const lat_sim *s)
{
	return s->rates;
}

lat_trace *lat_trace_alloc(size_t cols, size_t cap, double dt)
{
	lat_trace *t = NULL;
	size_t size;

	if (lat_size_add(cols, 1, &size) || lat_size_mul(size, cap, &size) ||
	    lat_size_mul(size, sizeof *t->data, &size))
		return NULL;
	t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->cols = cols;
	t->cap = cap;
	t->dt = dt;
	t->data = malloc(size);
	if (!t->data) {
		free(t);
		return NULL;
	}
	return t;
}

void lat_trace_free(lat_trace *t)
{
	if (!t)
		return;
	free(t->data);
	free(t);
}
