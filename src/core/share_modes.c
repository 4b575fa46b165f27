/* share_modes.c: the modes of a sharing phase: instant, the noise-driven iterations (hebbian, and circuit
 * with its settles), expected, and the shortcuts of interior-only pools. */
#include <config.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cblas.h> /* declarations only: cblas_dgemm comes from OpenBLAS at link time */
#ifdef _OPENMP
#include <omp.h>
#endif
#include <gsl/gsl_randist.h>

#include "lateral/circuit.h"
#include "lateral/err.h"
#include "lateral/rule.h"
#include "lateral/ode.h"
#include "share_impl.h"
#include "transfer.h"

/* every held member's kernel becomes its pool's mean */
int lat_share_instant(lat_share *s, char *err)
{
	int status = LAT_OK;

	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		status = lat_share_class_means(s, s->wd, 0, j, s->stat, err);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			for (size_t i = 0; i < n; i++)
				memcpy(s->wd + at(s, mem[i]) * s->d, s->stat + c * s->d, s->d * sizeof *s->stat);
		}
	}
	return status;
}

/* The calling thread's P x d gather buffer. */
static double *thread_xpos(const lat_share *s)
{
#ifdef _OPENMP
	return s->xpos + (size_t)omp_get_thread_num() * s->o.presentations * s->d;
#else
	return s->xpos;
#endif
}

/* zeta = W X_pos^T for every held pooled position (after drawing the patches into s->patch); positions
 * are independent (each writes its own columns of zeta), so threads split them without changing a bit */
static void drives(lat_share *s)
{
	int P = (int)s->o.presentations, d = (int)s->d, n_own = (int)s->n_own;

#pragma omp parallel for schedule(dynamic) num_threads(s->n_thr)
	for (size_t a = s->a0; a < s->a1; a++) {
		size_t pos = s->active[a], q = pos - s->q0;
		double *xpos = thread_xpos(s);
		for (int m = 0; m < P; m++)
			gather(s, s->patch + (size_t)m * s->d, pos, xpos + (size_t)m * s->d);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->g.c_out, P, d, 1.0, s->wd + q * s->d,
			    n_own * d, xpos, d, 0.0, s->zeta + q * (size_t)P, n_own * P);
	}
}

/* grad = (1/P) act X_pos, then the rule's step for every held pooled kernel (docs/science.md section 6);
 * nonzero when a weight became non-finite. Positions are independent, as in drives. */
static int update(lat_share *s)
{
	int P = (int)s->o.presentations, d = (int)s->d, n_own = (int)s->n_own, bad = 0;
	double eta = s->eta_eff, gamma = s->o.gamma;

#pragma omp parallel for schedule(dynamic) num_threads(s->n_thr) reduction(| : bad)
	for (size_t a = s->a0; a < s->a1; a++) {
		size_t pos = s->active[a], q = pos - s->q0;
		double *xpos = thread_xpos(s);
		for (int m = 0; m < P; m++)
			gather(s, s->patch + (size_t)m * s->d, pos, xpos + (size_t)m * s->d);
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s->g.c_out, d, P, 1.0 / P,
			    s->act + q * (size_t)P, n_own * P, xpos, d, 0.0, s->grad + q * s->d, n_own * d);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t off = (c * s->n_own + q) * s->d;
			bad |= lat_rule_step_row(s->d, s->wd + off, s->wd + off, s->w0 + off, NULL, s->grad + off, 1.0,
						 0, eta, gamma);
		}
	}
	return bad;
}

/* act = z_i - zbar, the circuit's r* - b at alpha = infinity (the paper's idealised phase), pool by pool
 * and presentation by presentation; zbar sums the held members' drives in member order, then the parts */
static int act_hebbian(lat_share *s, char *err)
{
	size_t P = s->o.presentations;
	int status;

	memset(s->zsum, 0, s->n_pools * P * sizeof *s->zsum);
	for (size_t p = 0; p < s->n_pools; p++) {
		size_t n;
		const size_t *mem = held(s, p, &n);
		for (size_t i = 0; i < n; i++)
			for (size_t m = 0; m < P; m++)
				s->zsum[p * P + m] += s->zeta[at(s, mem[i]) * P + m];
	}
	status = lat_share_sum_parts(s, s->zsum, s->n_pools * P, err);
	for (size_t p = 0; !status && p < s->n_pools; p++) {
		size_t n;
		const size_t *mem = held(s, p, &n);
		for (size_t m = 0; m < P; m++) {
			double zbar = s->zsum[p * P + m] / (double)pool_size(s, p);
			for (size_t i = 0; i < n; i++)
				s->act[at(s, mem[i]) * P + m] = s->zeta[at(s, mem[i]) * P + m] - zbar;
		}
	}
	return status;
}

/* One iteration of the hebbian phase in expectation over the noise (E x x^T = I): with M_i the mask of
 * neuron i's receptive field (0 on the padding), its step is
 *   w_i -= eta [ M_i (M_i w_i - (1/n) sum_j M_j w_j) + gamma (w_i - w_i^start) ].
 * *bad nonzero when a weight became non-finite. */
static int update_expected(lat_share *s, int *bad, char *err)
{
	size_t d = s->d;
	double *g = s->stat + s->g.c_out * d;
	int status = LAT_OK;

	/* every g_i uses the pool's mean before the step: the members update simultaneously (a class's
	 * means depend on its own members alone) */
	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		status = lat_share_class_means(s, s->wd, 1, j, s->stat, err);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			const double *mbar = s->stat + c * d;
			for (size_t i = 0; i < n; i++) {
				const size_t *src = s->src + (mem[i] % s->n_pos) * d;
				double *wi = s->wd + at(s, mem[i]) * d;
				for (size_t k = 0; k < d; k++)
					g[k] = src[k] == SRC_PAD ? 0 : wi[k] - mbar[k];
				*bad |= lat_rule_step_row(d, wi, wi, s->w0 + at(s, mem[i]) * d, NULL, g, 1.0, 0,
							  s->eta_eff, s->o.gamma);
			}
		}
	}
	return status;
}

/* Each group's ODE engine for the circuits this object settles: all of them in a whole layer, the
 * part's share of each group's pools in a part (pools [part n / parts, (part + 1) n / parts)); the
 * drives of every circuit stay in gr->z. Frees what an earlier call made. */
int lat_share_alloc_settles(lat_share *s, char *err)
{
	size_t P = s->o.presentations;

	for (size_t gi = 0; gi < s->n_groups; gi++) {
		share_group *gr = s->groups + gi;
		size_t n = gr->n, n_c;
		lat_ode_free(gr->ode);
		gr->ode = NULL;
		free(gr->y);
		gr->y = NULL;
		if (!gr->z)
			continue;
		gr->q_lo = (size_t)s->part * gr->n_pools / (size_t)s->parts;
		gr->q_hi = (size_t)(s->part + 1) * gr->n_pools / (size_t)s->parts;
		if (gr->q_lo == gr->q_hi)
			continue;
		n_c = (gr->q_hi - gr->q_lo) * P; /* within the size checked for gr->z */
		gr->y = malloc(n_c * (n + 1) * sizeof *gr->y);
		if (!gr->y)
			return lat_err_set(err, LAT_ENOMEM, "share: out of memory for %zu circuits of %zu neurons", n_c, n);
		gr->b.c = &gr->c;
		gr->b.n_circuits = n_c;
		gr->b.z = gr->z + gr->q_lo * P * n;
		lat_circuit_batch_system(&gr->b, &gr->sys);
		gr->ode = lat_ode_alloc(&gr->sys, &s->o.ode, err);
		if (!gr->ode)
			return LAT_EINVAL; /* lat_ode_alloc reports bad options or memory in err */
	}
	return LAT_OK;
}

/* The parts' settles of one group, settled together: *status (the part's own, or the failing part's
 * code with a message that says so), the solver counters summed and the steady-state error, the largest
 * part's. Nothing to combine in a whole layer. */
static int settle_agree(lat_share *s, int *status, lat_ode_stats *os, double *e, char *err)
{
	double v[3] = {(double)os->steps, (double)os->rhs_evals, *status != 0};
	int rc = lat_share_sum_parts(s, v, 3, err);

	if (rc || s->parts < 2)
		return rc;
	os->steps = (long)v[0];
	os->rhs_evals = (long)v[1];
	if (v[2] > 0) { /* every part takes part in finding the first failing part's code */
		int code = LAT_ESOLVER;
		memset(s->maxv, 0, (size_t)s->parts * sizeof *s->maxv);
		s->maxv[s->part] = *status;
		if ((rc = lat_share_sum_parts(s, s->maxv, (size_t)s->parts, err)))
			return rc;
		for (int r = s->parts - 1; r >= 0; r--)
			code = s->maxv[r] != 0 ? (int)s->maxv[r] : code;
		if (!*status)
			*status = lat_err_set(err, code, "share: a circuit batch did not settle on another part of the "
							 "layer (its message says why)");
		return LAT_OK;
	}
	return lat_share_max_parts(s, e, err);
}

/* act = r - b from one settle per group of every pool's circuit times every presentation; the first
 * pool of each group is checked against the analytic steady state. A part sums the drives of its
 * members into every group's batch (the others' are zero there, so the sum is exact), settles its share
 * of the group's pools (lat_share_alloc_settles), and the rates are summed back the same way, so each
 * part holds every rate and keeps its members'. */
static int act_circuit(lat_share *s, lat_share_stats *st, char *err)
{
	size_t P = s->o.presentations;
	int status = LAT_OK;

	for (size_t gi = 0; gi < s->n_groups && !status; gi++) {
		share_group *gr = s->groups + gi;
		size_t n = gr->n, dim = n + 1, K = gr->n_pools * P, k0 = gr->q_lo * P, n_c = (gr->q_hi - gr->q_lo) * P;
		lat_ode_stats os = {0};
		double e = -1; /* no circuit checked here */
		int rc;
		for (size_t q = 0; q < gr->n_pools; q++) {
			const size_t *mem = s->members + s->pool_start[gr->pools[q]];
			for (size_t m = 0; m < P; m++)
				for (size_t i = 0; i < n; i++)
					gr->z[(q * P + m) * n + i] = holds(s, mem[i]) ? s->zeta[at(s, mem[i]) * P + m] : 0;
		}
		if ((status = lat_share_sum_parts(s, gr->z, K * n, err)))
			break;
		for (size_t kc = 0; kc < n_c; kc++) { /* at rest: r = b, r_inh = 0 */
			for (size_t i = 0; i < n; i++)
				gr->y[kc * dim + i] = gr->c.bias;
			gr->y[kc * dim + n] = 0;
		}
		if (n_c)
			status = lat_ode_settle(gr->ode, gr->y, &os, err);
		st->circuits += n_c;
		/* the group's first pool, settled by the part that holds pool 0 */
		for (size_t m = 0; m < P && !status && gr->q_lo == 0 && n_c; m++) {
			status = lat_circuit_steady(&gr->c, gr->z + m * n, s->ystar, err);
			for (size_t i = 0; i < dim && !status; i++) {
				double d = fabs(gr->y[m * dim + i] - s->ystar[i]);
				if (!(d <= e)) /* NaN-propagating max */
					e = d;
			}
		}
		if ((rc = settle_agree(s, &status, &os, &e, err)))
			return rc;
		st->ode_steps += os.steps;
		st->rhs_evals += os.rhs_evals;
		if (status)
			break;
		if (e >= 0 || isnan(e))
			st->max_steady_error = isnan(e) || !(e <= st->max_steady_error) ? e : st->max_steady_error;
		/* the rates, summed over the parts like the drives */
		memset(gr->z, 0, K * n * sizeof *gr->z);
		for (size_t kc = 0; kc < n_c; kc++)
			for (size_t i = 0; i < n; i++)
				gr->z[(k0 + kc) * n + i] = gr->y[kc * dim + i] - gr->c.bias;
		if ((status = lat_share_sum_parts(s, gr->z, K * n, err)))
			break;
		for (size_t q = 0; q < gr->n_pools; q++) {
			const size_t *mem = s->members + s->pool_start[gr->pools[q]];
			for (size_t m = 0; m < P; m++)
				for (size_t i = 0; i < n; i++)
					if (holds(s, mem[i]))
						s->act[at(s, mem[i]) * P + m] = gr->z[(q * P + m) * n + i];
		}
	}
	return status;
}

/* m (d x d floats): rows [i0, i1) this part's, the others' summed in, through s->stat in blocks of
 * rows (the other parts' rows are zero in each part's block, so the sum is exact); nothing to do in a
 * whole layer. */
static int gather_rows(lat_share *s, float *m, size_t i0, size_t i1, char *err)
{
	size_t d = s->d, block = 4 * s->g.c_out + 1; /* rows s->stat holds */
	int status = LAT_OK;

	for (size_t r0 = 0; s->parts > 1 && r0 < d && !status; r0 += block) {
		size_t r1 = r0 + block < d ? r0 + block : d;
		memset(s->stat, 0, (r1 - r0) * d * sizeof *s->stat);
		for (size_t k = (i0 > r0 ? i0 : r0) * d; k < (i1 < r1 ? i1 : r1) * d; k++)
			s->stat[k - r0 * d] = m[k];
		status = lat_share_sum_parts(s, s->stat, (r1 - r0) * d, err);
		for (size_t k = r0 * d; k < r1 * d; k++)
			m[k] = (float)s->stat[k - r0 * d];
	}
	return status;
}

/* The phase by its transfer matrices (transfer.h; all pooled neurons are interior): per residue class,
 * the deviations of every channel's pool from its mean go through A_class[u][v] = A[src u][src v] in one
 * sgemm (src, the class's receptive-field map, is a permutation of the patch), and in circuit mode the
 * means through B_class likewise (hebbian keeps them). *bad nonzero when A or B is not finite. A part
 * builds its block of rows of A and B (rows evolve independently; every part draws the same patches),
 * the blocks are put together, and it transforms its held members; the pool means are summed over the
 * parts. */
static int share_transfer(lat_share *s, int *bad, char *err)
{
	size_t d = s->d, C = s->g.c_out, n_cls = s->n_pools / C;
	double a_circ = s->o.circuit.alpha / (1.0 + s->o.circuit.alpha);
	size_t i0 = (size_t)s->part * d / (size_t)s->parts, i1 = (size_t)(s->part + 1) * d / (size_t)s->parts;
	float *a, *b;
	int status;

	/* a part builds its rows of A (and B), and the parts' rows are put together */
	*bad = lat_transfer_build(s->tr, s->r, s->o.iterations, s->eta_eff, s->o.gamma, 1.0 - a_circ, i0, i1, &a, &b);
	if ((status = gather_rows(s, a, i0, i1, err)) || (b && (status = gather_rows(s, b, i0, i1, err))))
		return status;
	if (s->parts > 1) /* every part checks the whole matrices: all decide alike */
		*bad = !lat_transfer_finite(a, d * d) || (b && !lat_transfer_finite(b, d * d));
	if (*bad)
		return LAT_OK;
	for (size_t j = 0; j < n_cls; j++) {
		size_t n = s->own_n[j], rows = C * n; /* every channel holds the same positions */
		const size_t *src = s->src + (s->members[s->pool_start[j]] % s->n_pos) * d;
		if ((status = lat_share_class_means(s, s->wd, 0, j, s->cmeans, err)))
			return status;
		if (!n)
			continue;
		for (size_t u = 0; u < d; u++)
			for (size_t v = 0; v < d; v++)
				s->aj[u * d + v] = a[src[u] * d + src[v]];
		if (b)
			for (size_t u = 0; u < d; u++)
				for (size_t v = 0; v < d; v++)
					s->bj[u * d + v] = b[src[u] * d + src[v]];
		for (size_t c = 0; c < C; c++) {
			const size_t *mem = held(s, c * n_cls + j, &n);
			const double *mean = s->cmeans + c * d;
			for (size_t i = 0; i < n; i++)
				for (size_t v = 0; v < d; v++)
					s->rows[(c * n + i) * d + v] = (float)(s->wd[at(s, mem[i]) * d + v] - mean[v]);
			if (b)
				for (size_t v = 0; v < d; v++)
					s->fmeans[c * d + v] = (float)mean[v];
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)d, (int)d, 1.0f, s->rows,
			    (int)d, s->aj, (int)d, 0.0f, s->rows_out, (int)d);
		if (b) {
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)C, (int)d, (int)d, 1.0f, s->fmeans,
				    (int)d, s->bj, (int)d, 0.0f, s->fmeans_out, (int)d);
			for (size_t k = 0; k < C * d; k++)
				s->cmeans[k] = s->fmeans_out[k];
		}
		for (size_t c = 0; c < C; c++) {
			const size_t *mem = held(s, c * n_cls + j, &n);
			const double *mean = s->cmeans + c * d;
			for (size_t i = 0; i < n; i++)
				for (size_t v = 0; v < d; v++)
					s->wd[at(s, mem[i]) * d + v] = mean[v] + s->rows_out[(c * n + i) * d + v];
		}
	}
	return status;
}

/* The expected phase of interior-only pools at once: with E S = I every iteration maps each deviation
 * from the pool mean to (1 - eta - eta gamma) D + eta gamma D_0 and keeps the mean, so after T
 * iterations D = f_T D_0 with f_0 = 1, f_{t+1} = (1 - eta - eta gamma) f_t + eta gamma. *bad nonzero when
 * a weight became non-finite. */
static int share_expected_interior(lat_share *s, int *bad, char *err)
{
	double f = 1, eta = s->eta_eff, gamma = s->o.gamma;
	size_t d = s->d;
	int status = LAT_OK;

	for (size_t it = 0; it < s->o.iterations; it++)
		f = (1 - eta - eta * gamma) * f + eta * gamma;
	for (size_t j = 0; j < n_classes(s) && !status; j++) {
		status = lat_share_class_means(s, s->wd, 0, j, s->stat, err);
		for (size_t c = 0; c < s->g.c_out; c++) {
			size_t n;
			const size_t *mem = held(s, c * n_classes(s) + j, &n);
			const double *mean = s->stat + c * d;
			for (size_t i = 0; i < n; i++) {
				double *wi = s->wd + at(s, mem[i]) * d;
				for (size_t k = 0; k < d; k++) {
					wi[k] = mean[k] + f * (wi[k] - mean[k]);
					*bad |= !isfinite(wi[k]);
				}
			}
		}
	}
	return status;
}

/* 1 when the expected phase is its scalar recursion (interior pools, not told to iterate) */
static int expected_at_once(const lat_share *s)
{
	return s->o.mode == LAT_SHARE_EXPECTED && s->interior && !s->o.iterate;
}

/* 1 when the phase is done in one go (transfer matrices, or the expected mode's recursion) */
int lat_share_shortcut(const lat_share *s)
{
	return s->tr || expected_at_once(s);
}

/* One iteration of an iterative mode (or the whole phase by a shortcut); *bad as update's. */
int lat_share_iterate(lat_share *s, lat_share_stats *sv, int *bad, char *err)
{
	int status;

	if (s->tr)
		return share_transfer(s, bad, err);
	if (expected_at_once(s))
		return share_expected_interior(s, bad, err);
	if (s->o.mode == LAT_SHARE_EXPECTED)
		return update_expected(s, bad, err);
	for (size_t i = 0; i < s->o.presentations * s->d; i++)
		s->patch[i] = gsl_ran_gaussian_ziggurat(s->r, 1.0);
	drives(s);
	status = s->o.mode == LAT_SHARE_HEBBIAN ? act_hebbian(s, err) : act_circuit(s, sv, err);
	if (!status)
		*bad = update(s);
	return status;
}
