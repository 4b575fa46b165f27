/* rule.c: the anti-Hebbian rule: one neuron's step and rate, and averaged updates with momentum and a schedule. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/rule.h"
#include "simd.h"
#include "size.h"

const char *const lat_schedule_names[] = {[LAT_SCHED_CONSTANT] = "constant", [LAT_SCHED_INVSQRT] = "inverse_sqrt",
					  NULL};

struct lat_rule {
	size_t n, d;
	lat_rule_opts opts;
	double *w_init; /* n x d */
	double *acc;    /* n x d: sum of (r_i - b) x over the pending presentations */
	double *vel;    /* n x d: momentum buffer */
	double *next;   /* n x d: candidate weights, so a divergent update leaves w untouched */
	size_t n_acc;   /* presentations accumulated */
	size_t n_updates;
};

lat_rule *lat_rule_alloc(size_t n, size_t d, const lat_rule_opts *opts,
				     const double *w_init, char *err)
{
	lat_rule *p = NULL;
	size_t nd = 0, bytes;

	if (n == 0 || d == 0 || lat_size_mul(n, d, &nd) || lat_size_mul(nd, sizeof *p->w_init, &bytes)) {
		lat_err_set(err, LAT_EINVAL,
			    "plasticity: need n >= 1 and d >= 1, n x d doubles addressable (got %zu x %zu)",
			    n, d);
		goto fail;
	}
	if (!(opts->eta > 0) || !(opts->gamma >= 0) || !(opts->momentum >= 0 && opts->momentum < 1) ||
	    !(opts->schedule_tau > 0)) {
		lat_err_set(err, LAT_EINVAL,
			    "plasticity: need eta > 0, gamma >= 0, 0 <= momentum < 1, schedule_tau > 0");
		goto fail;
	}
	p = calloc(1, sizeof *p);
	if (!p)
		goto nomem;
	p->n = n;
	p->d = d;
	p->opts = *opts;
	p->w_init = malloc(bytes);
	p->acc = calloc(nd, sizeof *p->acc);
	p->vel = calloc(nd, sizeof *p->vel);
	p->next = malloc(bytes);
	if (!p->w_init || !p->acc || !p->vel || !p->next)
		goto nomem;
	memcpy(p->w_init, w_init, nd * sizeof *p->w_init);
	return p;
nomem:
	lat_err_set(err, LAT_ENOMEM, "plasticity: out of memory for %zu x %zu weights", n, d);
fail:
	lat_rule_free(p);
	return NULL;
}

void lat_rule_free(lat_rule *p)
{
	if (!p)
		return;
	free(p->w_init);
	free(p->acc);
	free(p->vel);
	free(p->next);
	free(p);
}

void lat_rule_accumulate(lat_rule *p, const double *x, const double *act)
{
	for (size_t i = 0; i < p->n; i++) {
		double *a = p->acc + i * p->d;
		for (size_t j = 0; j < p->d; j++)
			a[j] += act[i] * x[j];
	}
	p->n_acc++;
}

double lat_rule_eta_at(const lat_rule_opts *o, double t)
{
	if (o->schedule == LAT_SCHED_INVSQRT)
		return o->eta / sqrt(1.0 + t / o->schedule_tau);
	return o->eta;
}

double lat_rule_eta(const lat_rule *p)
{
	return lat_rule_eta_at(&p->opts, (double)p->n_updates);
}

/* The candidate row, then one pass that tells whether all of it is finite. The update loop carries no
 * reduction and is vectorised (OpenMP simd), as is the check, a sum in any order of x - x (0 for every
 * finite x, NaN otherwise), so neither is bound by the latency of one chain of additions.
 * next may be w (an update in place: each element is read before it is written). has_vel is a constant at both call sites, so each gets its own loop without a branch. */
/* One weight's candidate: w + (m - eta (h_scale h + gamma (w - w0))), m the momentum term (mu vel, or
 * 0 without momentum). Every path of the rule computes it through here, so all agree bit for bit. */
static inline double candidate(double w, double m, double w0, double h, double h_scale, double eta, double gamma)
{
	return w + (m - eta * (h_scale * h + gamma * (w - w0)));
}

static inline int step_row(size_t d, double *next, const double *w, const double *restrict w0,
			   const double *restrict vel, const double *restrict h, double h_scale, double mu,
			   double eta, double gamma, int has_vel)
{
	double s = 0;

	/* element j is read and then written at j only: no dependence between iterations, next == w or not */
	LAT_SIMD
	for (size_t j = 0; j < d; j++)
		next[j] = candidate(w[j], has_vel ? mu * vel[j] : 0.0, w0[j], h[j], h_scale, eta, gamma);
	LAT_SIMD_SUM_S
	for (size_t j = 0; j < d; j++)
		s += next[j] - next[j];
	return !(s == 0);
}

int lat_rule_step_row(size_t d, double *next, const double *w, const double *w0, const double *vel,
		      const double *h, double h_scale, double mu, double eta, double gamma)
{
	if (vel)
		return step_row(d, next, w, w0, vel, h, h_scale, mu, eta, gamma, 1);
	return step_row(d, next, w, w0, NULL, h, h_scale, mu, eta, gamma, 0);
}

void lat_rule_rate_row(size_t d, double *restrict dw, const double *restrict w, const double *restrict w0,
		       const double *restrict h, double h_scale, double rate, double gamma)
{
	for (size_t j = 0; j < d; j++)
		dw[j] = -rate * (h_scale * h[j] + gamma * (w[j] - w0[j]));
}

/* The two passes of step() are also built for AVX2 (simd.h); the weights are bit-identical.
 * row_bad: nonzero when a candidate row (computed, not stored) holds a non-finite value. */
LAT_CLONES static int row_bad(size_t d, const double *restrict w, const double *restrict w0,
			      const double *restrict vel, const double *restrict h, double h_scale, double mu,
			      double eta, double gamma)
{
	double s = 0;

	/* without momentum vel stays 0 and mu vel is +0: the same candidate without reading vel */
	if (mu > 0) {
		LAT_SIMD_SUM_S
		for (size_t j = 0; j < d; j++) {
			double c = candidate(w[j], mu * vel[j], w0[j], h[j], h_scale, eta, gamma);
			s += c - c;
		}
	} else {
		LAT_SIMD_SUM_S
		for (size_t j = 0; j < d; j++) {
			double c = candidate(w[j], 0.0, w0[j], h[j], h_scale, eta, gamma);
			s += c - c;
		}
	}
	return !(s == 0);
}

/* The candidate row stored over w, and with momentum vel = candidate - w (as a separate pass did).
 * mu is >= 0 (lat_rule_alloc checks it); with mu = 0, vel is never written, so stays 0. */
LAT_CLONES static void row_commit(size_t d, double *restrict w, const double *restrict w0, double *restrict vel,
				  const double *restrict h, double h_scale, double mu, double eta, double gamma)
{
	if (mu > 0) {
		LAT_SIMD
		for (size_t j = 0; j < d; j++) {
			double c = candidate(w[j], mu * vel[j], w0[j], h[j], h_scale, eta, gamma);
			vel[j] = c - w[j];
			w[j] = c;
		}
	} else {
		LAT_SIMD
		for (size_t j = 0; j < d; j++)
			w[j] = candidate(w[j], 0.0, w0[j], h[j], h_scale, eta, gamma);
	}
}

/* Every row is checked first and only then committed in place, so w changes all or nothing (the
 * candidate is computed twice rather than stored and copied: cheaper for rows that stay in cache). */
static int step(lat_rule *p, double *w, const double *x, const double *act, char *err)
{
	size_t n = p->n, d = p->d, nd = n * d;
	double eta = lat_rule_eta(p), mu = p->opts.momentum, gamma = p->opts.gamma;
	double inv = p->n_acc ? 1.0 / (double)p->n_acc : 0;
	int bad = 0;

	for (size_t i = 0; i < n && !bad; i++)
		bad = row_bad(d, w + i * d, p->w_init + i * d, p->vel + i * d, x ? x : p->acc + i * d,
			      x ? act[i] : inv, mu, eta, gamma);
	if (bad) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			lat_rule_step_row(d, p->next + i * d, w + i * d, p->w_init + i * d, p->vel + i * d,
					  x ? x : p->acc + i * d, x ? act[i] : inv, mu, eta, gamma);
		while (k < nd && isfinite(p->next[k]))
			k++;
		return lat_err_set(err, LAT_EDIVERGE,
				   "plasticity: weight w[%zu][%zu] became non-finite at update %zu (eta = %g too large?)",
				   k / d, k % d, p->n_updates + 1, eta);
	}
	for (size_t i = 0; i < n; i++)
		row_commit(d, w + i * d, p->w_init + i * d, p->vel + i * d, x ? x : p->acc + i * d,
			   x ? act[i] : inv, mu, eta, gamma);
	if (!x && p->n_acc) {
		memset(p->acc, 0, nd * sizeof *p->acc);
		p->n_acc = 0;
	}
	p->n_updates++;
	return LAT_OK;
}

int lat_rule_apply(lat_rule *p, double *w, char *err)
{
	if (p->n_acc == 0)
		return lat_err_set(err, LAT_EINVAL, "plasticity: update with no accumulated presentation");
	return step(p, w, NULL, NULL, err);
}

int lat_rule_update(lat_rule *p, const double *x, const double *act, double *w, char *err)
{
	if (p->n_acc)
		return lat_err_set(err, LAT_EINVAL, "plasticity: online update with %zu accumulated presentations",
				   p->n_acc);
	return step(p, w, x, act, err);
}

size_t lat_rule_updates(const lat_rule *p)
{
	return p->n_updates;
}

const double *lat_rule_w_init(const lat_rule *p)
{
	return p->w_init;
}

void lat_rule_state(lat_rule *p, double **vel, double **acc, size_t **n_acc, size_t **n_updates)
{
	*vel = p->vel;
	*acc = p->acc;
	*n_acc = &p->n_acc;
	*n_updates = &p->n_updates;
}
