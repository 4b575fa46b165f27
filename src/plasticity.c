/* plasticity.c: averaged anti-Hebbian updates with momentum and a learning-rate schedule. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/plasticity.h"
#include "size.h"

struct lat_plasticity {
	size_t n, d;
	lat_plasticity_opts opts;
	double *w_init; /* n x d */
	double *acc;    /* n x d: sum of (r_i - b) x over the pending presentations */
	double *vel;    /* n x d: momentum buffer */
	double *next;   /* n x d: candidate weights, so a divergent update leaves w untouched */
	size_t n_acc;   /* presentations accumulated */
	size_t n_updates;
};

lat_plasticity *lat_plasticity_alloc(size_t n, size_t d, const lat_plasticity_opts *opts,
				     const double *w_init, char *err)
{
	lat_plasticity *p = NULL;
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
	lat_plasticity_free(p);
	return NULL;
}

void lat_plasticity_free(lat_plasticity *p)
{
	if (!p)
		return;
	free(p->w_init);
	free(p->acc);
	free(p->vel);
	free(p->next);
	free(p);
}

void lat_plasticity_accumulate(lat_plasticity *p, const double *x, const double *act)
{
	for (size_t i = 0; i < p->n; i++) {
		double *a = p->acc + i * p->d;
		for (size_t j = 0; j < p->d; j++)
			a[j] += act[i] * x[j];
	}
	p->n_acc++;
}

double lat_plasticity_eta(const lat_plasticity *p)
{
	if (p->opts.schedule == LAT_SCHED_INVSQRT)
		return p->opts.eta / sqrt(1.0 + (double)p->n_updates / p->opts.schedule_tau);
	return p->opts.eta;
}

/* One row of the candidate step next = w + v, v = mu vel - eta (hebb_scale h + gamma (w - w_init)), with
 * h = x for one presentation (hebb_scale = act_i) or the accumulator (hebb_scale = 1/n_acc). Returns
 * nonzero if any candidate is not finite. */
static int row_step(size_t d, double *restrict next, const double *restrict wi, const double *restrict w0,
		    const double *restrict vel, const double *restrict h, double hebb_scale, double mu, double eta,
		    double gamma)
{
	double lo = 0, hi = 0; /* finite candidates keep these finite; inf or NaN makes them NaN */
	size_t j = 0;

	/* Pairs computed side by side let -O2's straight-line vectoriser use two-double SSE2 operations. */
	for (; j + 1 < d; j += 2) {
		double a = wi[j] + (mu * vel[j] - eta * (hebb_scale * h[j] + gamma * (wi[j] - w0[j])));
		double b = wi[j + 1] + (mu * vel[j + 1] - eta * (hebb_scale * h[j + 1] + gamma * (wi[j + 1] - w0[j + 1])));
		next[j] = a;
		next[j + 1] = b;
		lo += a - a;
		hi += b - b;
	}
	for (; j < d; j++) {
		double a = wi[j] + (mu * vel[j] - eta * (hebb_scale * h[j] + gamma * (wi[j] - w0[j])));
		next[j] = a;
		lo += a - a;
	}
	return !(lo == 0 && hi == 0);
}

/* The candidate for every row, then (only if all are finite) the commit: w changes all or nothing. */
static int step(lat_plasticity *p, double *w, const double *x, const double *act, char *err)
{
	size_t n = p->n, d = p->d, nd = n * d;
	double eta = lat_plasticity_eta(p), mu = p->opts.momentum, gamma = p->opts.gamma;
	double inv = p->n_acc ? 1.0 / (double)p->n_acc : 0;
	int bad = 0;

	for (size_t i = 0; i < n; i++)
		bad |= row_step(d, p->next + i * d, w + i * d, p->w_init + i * d, p->vel + i * d,
				x ? x : p->acc + i * d, x ? act[i] : inv, mu, eta, gamma);
	if (bad) {
		size_t k = 0;
		while (k < nd && isfinite(p->next[k]))
			k++;
		return lat_err_set(err, LAT_EDIVERGE,
				   "plasticity: weight w[%zu][%zu] became non-finite at update %zu (eta = %g too large?)",
				   k / d, k % d, p->n_updates + 1, eta);
	}
	if (mu > 0)
		for (size_t k = 0; k < nd; k++)
			p->vel[k] = p->next[k] - w[k];
	memcpy(w, p->next, nd * sizeof *w);
	if (!x && p->n_acc) {
		memset(p->acc, 0, nd * sizeof *p->acc);
		p->n_acc = 0;
	}
	p->n_updates++;
	return LAT_OK;
}

int lat_plasticity_apply(lat_plasticity *p, double *w, char *err)
{
	if (p->n_acc == 0)
		return lat_err_set(err, LAT_EINVAL, "plasticity: update with no accumulated presentation");
	return step(p, w, NULL, NULL, err);
}

int lat_plasticity_update(lat_plasticity *p, const double *x, const double *act, double *w, char *err)
{
	if (p->n_acc)
		return lat_err_set(err, LAT_EINVAL, "plasticity: online update with %zu accumulated presentations",
				   p->n_acc);
	return step(p, w, x, act, err);
}

size_t lat_plasticity_updates(const lat_plasticity *p)
{
	return p->n_updates;
}

const double *lat_plasticity_w_init(const lat_plasticity *p)
{
	return p->w_init;
}

void lat_plasticity_state(lat_plasticity *p, double **vel, double **acc, size_t **n_acc, size_t **n_updates)
{
	*vel = p->vel;
	*acc = p->acc;
	*n_acc = &p->n_acc;
	*n_updates = &p->n_updates;
}
