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
	double *next;   /* n x d: the weights before the update in progress, so a divergent one is undone */
	double *vel_undo; /* n x d with momentum (else NULL): vel before the update in progress */
	double w0_max;    /* max |w_init| */
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
	p->vel_undo = opts->momentum > 0 ? malloc(bytes) : NULL;
	if (!p->w_init || !p->acc || !p->vel || !p->next || (opts->momentum > 0 && !p->vel_undo))
		goto nomem;
	memcpy(p->w_init, w_init, nd * sizeof *p->w_init);
	p->w0_max = lat_max_abs_nan(p->w_init, nd);
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
	free(p->vel_undo);
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

/* One pass over a row, built for AVX2 as well (simd.h; the weights are bit-identical): the candidate
 * is stored over w, the old w (and with momentum the old vel) into the undo rows, and the return value
 * is nonzero when the stored row holds a non-finite value (the sum of c - c, 0 for every finite c).
 * mu is >= 0 (lat_rule_alloc checks it); with mu = 0 vel is neither read nor written, so stays 0. */
LAT_CLONES static int row_commit(size_t d, double *restrict w, const double *restrict w0, double *restrict vel,
				 const double *restrict h, double h_scale, double mu, double eta, double gamma,
				 double *restrict w_undo, double *restrict vel_undo)
{
	double s = 0;

	if (mu > 0) {
		LAT_SIMD_SUM_S
		for (size_t j = 0; j < d; j++) {
			double old = w[j], c = candidate(old, mu * vel[j], w0[j], h[j], h_scale, eta, gamma);
			w_undo[j] = old;
			vel_undo[j] = vel[j];
			vel[j] = c - old;
			w[j] = c;
			s += c - c;
		}
	} else {
		LAT_SIMD_SUM_S
		for (size_t j = 0; j < d; j++) {
			double old = w[j], c = candidate(old, 0.0, w0[j], h[j], h_scale, eta, gamma);
			w_undo[j] = old;
			w[j] = c;
			s += c - c;
		}
	}
	return !(s == 0);
}

/* The candidate row stored over w, unchecked (for updates proved finite beforehand, step_bounded). */
LAT_CLONES static void row_commit_unchecked(size_t d, double *restrict w, const double *restrict w0,
					    const double *restrict h, double h_scale, double eta, double gamma)
{
	LAT_SIMD
	for (size_t j = 0; j < d; j++)
		w[j] = candidate(w[j], 0.0, w0[j], h[j], h_scale, eta, gamma);
}

/* Below this bound on every |candidate| and on every intermediate of computing it, nothing overflows. */
#define RULE_SAFE_BOUND 1e300
/* The rounding of one candidate (six rounded operations, each within a relative 2^-53) and of a bound's own
 * arithmetic, with room to spare. */
#define RULE_ROUNDING (1 + 8 * DBL_EPSILON)

/* An online update without momentum whose weights cannot become non-finite: with finite inputs, every
 * intermediate of candidate() is at most RULE_ROUNDING times
 *   B = W + eta (A X + gamma (W + W0)),   W >= |w|, W0 = max |w0|, A = max |act|, X = max |x|,
 * so B <= RULE_SAFE_BOUND proves the update finite and it is committed in one unchecked pass. *wmax is
 * W on entry (NaN: measured here first); on return a bound of the new weights without a pass over
 * them: the candidate is (1 - eta gamma) w + eta gamma w0 - eta h_scale h up to rounding, so with
 * 0 <= eta gamma <= 1 its size is at most (1 - eta gamma) W + eta (gamma W0 + A X) plus B's rounding
 * (else B itself), rounded up. NaN when the checked path must do the update: then 0 is returned and w
 * is untouched. */
static int step_bounded(lat_rule *p, double *w, const double *x, const double *act, double *wmax, double eta)
{
	double gamma = p->opts.gamma, eg = eta * gamma, bound, ax, wm = *wmax;

	*wmax = NAN;
	if (p->opts.momentum > 0)
		return 0;
	if (isnan(wm))
		wm = lat_max_abs_nan(w, p->n * p->d);
	ax = lat_max_abs_nan(act, p->n) * lat_max_abs_nan(x, p->d);
	bound = wm + eta * (ax + gamma * (wm + p->w0_max));
	if (!(bound <= RULE_SAFE_BOUND))
		return 0;
	for (size_t i = 0; i < p->n; i++)
		row_commit_unchecked(p->d, w + i * p->d, p->w_init + i * p->d, x, act[i], eta, gamma);
	*wmax = (eg <= 1 ? (1 - eg) * wm + eta * (gamma * p->w0_max + ax) + bound * (RULE_ROUNDING - 1) : bound) *
		RULE_ROUNDING;
	return 1;
}

/* Commits row by row in place, keeping the old rows; when a row turns out non-finite, the rows done so
 * far are restored, so w (and vel) change all or nothing. One pass over the weights instead of a
 * check pass and a commit pass: the candidate is computed once. */
static int step(lat_rule *p, double *w, const double *x, const double *act, double *wmax, char *err)
{
	size_t n = p->n, d = p->d, nd = n * d, i, k = 0;
	double eta = lat_rule_eta(p), mu = p->opts.momentum, gamma = p->opts.gamma;
	double inv = p->n_acc ? 1.0 / (double)p->n_acc : 0, unknown = NAN;
	int bad = 0;

	if (!wmax)
		wmax = &unknown;
	if (x && step_bounded(p, w, x, act, wmax, eta))
		goto done;
	for (i = 0; i < n && !bad; i++)
		bad = row_commit(d, w + i * d, p->w_init + i * d, p->vel + i * d, x ? x : p->acc + i * d,
				 x ? act[i] : inv, mu, eta, gamma, p->next + i * d,
				 p->vel_undo ? p->vel_undo + i * d : NULL);
	if (bad) {
		while (k < i * d && isfinite(w[k]))
			k++;
		memcpy(w, p->next, i * d * sizeof *w);
		if (mu > 0)
			memcpy(p->vel, p->vel_undo, i * d * sizeof *p->vel);
		return lat_err_set(err, LAT_EDIVERGE,
				   "plasticity: weight w[%zu][%zu] became non-finite at update %zu (eta = %g too large?)",
				   k / d, k % d, p->n_updates + 1, eta);
	}
done:
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
	return step(p, w, NULL, NULL, NULL, err);
}

int lat_rule_update(lat_rule *p, const double *x, const double *act, double *w, double *wmax, char *err)
{
	if (p->n_acc)
		return lat_err_set(err, LAT_EINVAL, "plasticity: online update with %zu accumulated presentations",
				   p->n_acc);
	return step(p, w, x, act, wmax, err);
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
