/* nvec.c: serial N_Vector operations (z = ax + by, weighted RMS norms, fused sums) built with our -O2,
 * replacing Debian's -O0 libsundials kernels op for op and bit for bit. */
#include <config.h>

#include <math.h>

#include <nvector/nvector_serial.h>
#include <sundials/sundials_nvector.h>
#include <sundials/sundials_types.h>

#include "lateral/err.h"
#include "nvec.h"

/*
 * Every function mirrors the SUNDIALS 6.x serial implementation (src/nvector/serial/nvector_serial.c):
 * the same special cases, the same expression per element and the same summation order, so the
 * integrator sees identical numbers. Arguments may alias exactly where SUNDIALS allows it (z == x,
 * z == y, Y == Z), hence no restrict. Fused and vector-array operations, which SUNDIALS leaves NULL
 * by default, reproduce the values of the generic fallbacks (loops of N_VScale/N_VLinearSum/
 * N_VDotProd), which the serial fused kernels also do.
 */

/* ---- element loops on raw arrays ---- */

/* z[k] = expr for k = 0 .. n-1, where expr reads element k of the inputs. Two elements per iteration,
 * both computed before either is stored: GCC's -O2 basic-block vectoriser then emits one SSE2 operation
 * per pair with no runtime alias check, while z may still coincide with an input (N_Vector data never
 * overlaps partially). The arithmetic per element is unchanged. */
#define EACH_PAIR(n, z, k, expr)                                                                             \
	do {                                                                                                 \
		sunindextype k##_0;                                                                          \
		for (k##_0 = 0; k##_0 + 1 < (n); k##_0 += 2) {                                               \
			sunrealtype r0_, r1_;                                                                \
			{                                                                                    \
				const sunindextype k = k##_0;                                                \
				r0_ = (expr);                                                                \
				(void)k;                                                                     \
			}                                                                                    \
			{                                                                                    \
				const sunindextype k = k##_0 + 1;                                            \
				r1_ = (expr);                                                                \
				(void)k;                                                                     \
			}                                                                                    \
			(z)[k##_0] = r0_;                                                                    \
			(z)[k##_0 + 1] = r1_;                                                                \
		}                                                                                            \
		if (k##_0 < (n)) {                                                                           \
			const sunindextype k = k##_0;                                                        \
			(z)[k] = (expr);                                                                     \
			(void)k;                                                                             \
		}                                                                                            \
	} while (0)

static void v_copy(sunindextype n, const sunrealtype *x, sunrealtype *z)
{
	EACH_PAIR(n, z, k, x[k]);
}

static void v_neg(sunindextype n, const sunrealtype *x, sunrealtype *z)
{
	EACH_PAIR(n, z, k, -x[k]);
}

static void v_scale_by(sunindextype n, sunrealtype a, sunrealtype *x)
{
	EACH_PAIR(n, x, k, x[k] * a);
}

/* y <- a x + y */
static void v_axpy(sunindextype n, sunrealtype a, const sunrealtype *x, sunrealtype *y)
{
	if (a == 1.0)
		EACH_PAIR(n, y, k, y[k] + x[k]);
	else if (a == -1.0)
		EACH_PAIR(n, y, k, y[k] - x[k]);
	else
		EACH_PAIR(n, y, k, y[k] + a * x[k]);
}

/* z = a x + b y with SUNDIALS' case analysis (its rounding differs for a == b and a == -b) */
static void v_linear_sum(sunindextype n, sunrealtype a, const sunrealtype *x, sunrealtype b,
			 const sunrealtype *y, sunrealtype *z)
{
	if (b == 1.0 && z == y) {
		v_axpy(n, a, x, z);
		return;
	}
	if (a == 1.0 && z == x) {
		v_axpy(n, b, y, z);
		return;
	}
	if (a == 1.0 && b == 1.0) {
		EACH_PAIR(n, z, k, x[k] + y[k]);
		return;
	}
	if ((a == 1.0 && b == -1.0) || (a == -1.0 && b == 1.0)) {
		const sunrealtype *p = a == 1.0 ? x : y, *m = a == 1.0 ? y : x;
		EACH_PAIR(n, z, k, p[k] - m[k]);
		return;
	}
	if (a == 1.0 || b == 1.0) { /* z = c v1 + v2 */
		sunrealtype c = a == 1.0 ? b : a;
		const sunrealtype *v1 = a == 1.0 ? y : x, *v2 = a == 1.0 ? x : y;
		EACH_PAIR(n, z, k, (c * v1[k]) + v2[k]);
		return;
	}
	if (a == -1.0 || b == -1.0) { /* z = c v1 - v2 */
		sunrealtype c = a == -1.0 ? b : a;
		const sunrealtype *v1 = a == -1.0 ? y : x, *v2 = a == -1.0 ? x : y;
		EACH_PAIR(n, z, k, (c * v1[k]) - v2[k]);
		return;
	}
	if (a == b) {
		EACH_PAIR(n, z, k, a * (x[k] + y[k]));
		return;
	}
	if (a == -b) {
		EACH_PAIR(n, z, k, a * (x[k] - y[k]));
		return;
	}
	EACH_PAIR(n, z, k, (a * x[k]) + (b * y[k]));
}

static void v_scale(sunindextype n, sunrealtype c, const sunrealtype *x, sunrealtype *z)
{
	if (z == x)
		v_scale_by(n, c, z);
	else if (c == 1.0)
		v_copy(n, x, z);
	else if (c == -1.0)
		v_neg(n, x, z);
	else
		EACH_PAIR(n, z, k, c * x[k]);
}

static sunrealtype v_wsqrsum(sunindextype n, const sunrealtype *x, const sunrealtype *w)
{
	sunrealtype sum = 0.0, p0, p1;
	sunindextype i;

	/* products in pairs (one SSE2 multiply), sum in SUNDIALS' order */
	for (i = 0; i + 1 < n; i += 2) {
		p0 = x[i] * w[i];
		p1 = x[i + 1] * w[i + 1];
		p0 *= p0;
		p1 *= p1;
		sum += p0;
		sum += p1;
	}
	if (i < n) {
		p0 = x[i] * w[i];
		sum += p0 * p0;
	}
	return sum;
}

static sunrealtype v_wsqrsum_mask(sunindextype n, const sunrealtype *x, const sunrealtype *w,
				  const sunrealtype *id)
{
	sunrealtype sum = 0.0, prod;
	sunindextype i;

	for (i = 0; i < n; i++)
		if (id[i] > 0.0) {
			prod = x[i] * w[i];
			sum += prod * prod;
		}
	return sum;
}

static sunrealtype v_dot(sunindextype n, const sunrealtype *x, const sunrealtype *y)
{
	sunrealtype sum = 0.0, p0, p1;
	sunindextype i;

	for (i = 0; i + 1 < n; i += 2) {
		p0 = x[i] * y[i];
		p1 = x[i + 1] * y[i + 1];
		sum += p0;
		sum += p1;
	}
	if (i < n)
		sum += x[i] * y[i];
	return sum;
}

/* SUNRsqrt: 0 for non-positive arguments */
static sunrealtype rsqrt(sunrealtype x)
{
	return x <= 0.0 ? 0.0 : sqrt(x);
}

/* ---- standard operations ---- */

#define LEN(v) NV_LENGTH_S(v)
#define DAT(v) NV_DATA_S(v)

static void nv_linear_sum(sunrealtype a, N_Vector x, sunrealtype b, N_Vector y, N_Vector z)
{
	v_linear_sum(LEN(x), a, DAT(x), b, DAT(y), DAT(z));
}

static void nv_const(sunrealtype c, N_Vector z)
{
	sunindextype n = LEN(z);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, c);
}

static void nv_prod(N_Vector x, N_Vector y, N_Vector z)
{
	sunindextype n = LEN(x);
	const sunrealtype *xd = DAT(x), *yd = DAT(y);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, xd[k] * yd[k]);
}

static void nv_div(N_Vector x, N_Vector y, N_Vector z)
{
	sunindextype n = LEN(x);
	const sunrealtype *xd = DAT(x), *yd = DAT(y);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, xd[k] / yd[k]);
}

static void nv_scale(sunrealtype c, N_Vector x, N_Vector z)
{
	v_scale(LEN(x), c, DAT(x), DAT(z));
}

static void nv_abs(N_Vector x, N_Vector z)
{
	sunindextype n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, fabs(xd[k]));
}

static void nv_inv(N_Vector x, N_Vector z)
{
	sunindextype n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, 1.0 / xd[k]);
}

static void nv_add_const(N_Vector x, sunrealtype b, N_Vector z)
{
	sunindextype n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, xd[k] + b);
}

static sunrealtype nv_dot_prod(N_Vector x, N_Vector y)
{
	return v_dot(LEN(x), DAT(x), DAT(y));
}

static sunrealtype nv_max_norm(N_Vector x)
{
	sunindextype i, n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype max = 0.0;

	for (i = 0; i < n; i++)
		if (fabs(xd[i]) > max)
			max = fabs(xd[i]);
	return max;
}

static sunrealtype nv_wsqrsum_local(N_Vector x, N_Vector w)
{
	return v_wsqrsum(LEN(x), DAT(x), DAT(w));
}

static sunrealtype nv_wsqrsum_mask_local(N_Vector x, N_Vector w, N_Vector id)
{
	return v_wsqrsum_mask(LEN(x), DAT(x), DAT(w), DAT(id));
}

static sunrealtype nv_wrms_norm(N_Vector x, N_Vector w)
{
	return rsqrt(v_wsqrsum(LEN(x), DAT(x), DAT(w)) / LEN(x));
}

static sunrealtype nv_wrms_norm_mask(N_Vector x, N_Vector w, N_Vector id)
{
	return rsqrt(v_wsqrsum_mask(LEN(x), DAT(x), DAT(w), DAT(id)) / LEN(x));
}

static sunrealtype nv_min(N_Vector x)
{
	sunindextype i, n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype min;

	if (n < 1) /* SUNDIALS reads xd[0] regardless */
		return SUN_BIG_REAL;
	min = xd[0];
	for (i = 1; i < n; i++)
		if (xd[i] < min)
			min = xd[i];
	return min;
}

static sunrealtype nv_wl2_norm(N_Vector x, N_Vector w)
{
	return rsqrt(v_wsqrsum(LEN(x), DAT(x), DAT(w)));
}

static sunrealtype nv_l1_norm(N_Vector x)
{
	sunindextype i, n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype sum = 0.0;

	for (i = 0; i < n; i++)
		sum += fabs(xd[i]);
	return sum;
}

static void nv_compare(sunrealtype c, N_Vector x, N_Vector z)
{
	sunindextype n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype *zd = DAT(z);

	EACH_PAIR(n, zd, k, fabs(xd[k]) >= c ? 1.0 : 0.0);
}

/* z = 1/x where x != 0 (other z untouched); false if any x is 0 */
static sunbooleantype nv_inv_test(N_Vector x, N_Vector z)
{
	sunindextype i, n = LEN(x);
	const sunrealtype *xd = DAT(x);
	sunrealtype *zd = DAT(z);
	sunbooleantype no_zero = SUNTRUE;

	for (i = 0; i < n; i++) {
		if (xd[i] == 0.0)
			no_zero = SUNFALSE;
		else
			zd[i] = 1.0 / xd[i];
	}
	return no_zero;
}

/* m = 1 where x violates constraint c (|c| 2: x c > 0, |c| 1: x c >= 0), else 0; false if any 1 */
static sunbooleantype nv_constr_mask(N_Vector c, N_Vector x, N_Vector m)
{
	sunindextype i, n = LEN(x);
	const sunrealtype *cd = DAT(c), *xd = DAT(x);
	sunrealtype *md = DAT(m);
	sunbooleantype violated = SUNFALSE;

	for (i = 0; i < n; i++) {
		md[i] = 0.0;
		if (cd[i] == 0.0)
			continue;
		if ((fabs(cd[i]) > 1.5 && xd[i] * cd[i] <= 0.0) ||
		    (fabs(cd[i]) > 0.5 && xd[i] * cd[i] < 0.0)) {
			md[i] = 1.0;
			violated = SUNTRUE;
		}
	}
	return violated ? SUNFALSE : SUNTRUE;
}

/* min over denom != 0 of num/denom; SUN_BIG_REAL if every denom is 0 */
static sunrealtype nv_min_quotient(N_Vector num, N_Vector denom)
{
	sunindextype i, n = LEN(num);
	const sunrealtype *nd = DAT(num), *dd = DAT(denom);
	sunrealtype min = SUN_BIG_REAL, q;
	int first = 1;

	for (i = 0; i < n; i++) {
		if (dd[i] == 0.0)
			continue;
		q = nd[i] / dd[i];
		if (first) {
			min = q;
			first = 0;
		} else {
			min = min < q ? min : q; /* SUNMIN, argument order kept for NaN */
		}
	}
	return min;
}

/* ---- fused operations ---- */

/* z = c[0] x0, the first term of a linear combination (x0 may be z) */
static void v_comb_first(sunindextype n, sunrealtype c0, const sunrealtype *x0, sunrealtype *z)
{
	if (x0 != z)
		EACH_PAIR(n, z, k, c0 * x0[k]);
	else if (c0 != 1.0)
		v_scale_by(n, c0, z);
}

/* z = a x + y, or y += a x when z is y */
static void v_scale_add(sunindextype n, sunrealtype a, const sunrealtype *x, const sunrealtype *y,
			sunrealtype *z)
{
	if (z == y)
		v_axpy(n, a, x, z);
	else
		EACH_PAIR(n, z, k, a * x[k] + y[k]);
}

/* z = sum_i c[i] X[i]; as SUNDIALS, N_VScale for one term and N_VLinearSum for two */
static int nv_linear_combination(int nvec, sunrealtype *c, N_Vector *X, N_Vector z)
{
	sunindextype n = LEN(z);
	sunrealtype *zd = DAT(z);
	int i;

	if (nvec < 1)
		return -1;
	if (nvec == 1) {
		v_scale(n, c[0], DAT(X[0]), zd);
		return 0;
	}
	if (nvec == 2) {
		v_linear_sum(n, c[0], DAT(X[0]), c[1], DAT(X[1]), zd);
		return 0;
	}
	v_comb_first(n, c[0], DAT(X[0]), zd);
	for (i = 1; i < nvec; i++)
		v_axpy(n, c[i], DAT(X[i]), zd);
	return 0;
}

/* Z[i] = a[i] x + Y[i] */
static int nv_scale_add_multi(int nvec, sunrealtype *a, N_Vector x, N_Vector *Y, N_Vector *Z)
{
	sunindextype n = LEN(x);
	int i;

	if (nvec < 1)
		return -1;
	if (nvec == 1) {
		v_linear_sum(n, a[0], DAT(x), 1.0, DAT(Y[0]), DAT(Z[0]));
		return 0;
	}
	for (i = 0; i < nvec; i++)
		v_scale_add(n, a[i], DAT(x), DAT(Y[i]), DAT(Z[i]));
	return 0;
}

/* d[i] = x . Y[i] */
static int nv_dot_prod_multi(int nvec, N_Vector x, N_Vector *Y, sunrealtype *d)
{
	int i;

	if (nvec < 1)
		return -1;
	for (i = 0; i < nvec; i++)
		d[i] = v_dot(LEN(x), DAT(x), DAT(Y[i]));
	return 0;
}

/* ---- vector-array operations ---- */

static int nv_linear_sum_vector_array(int nvec, sunrealtype a, N_Vector *X, sunrealtype b, N_Vector *Y,
				      N_Vector *Z)
{
	int i;

	if (nvec < 1)
		return -1;
	for (i = 0; i < nvec; i++)
		v_linear_sum(LEN(Z[i]), a, DAT(X[i]), b, DAT(Y[i]), DAT(Z[i]));
	return 0;
}

static int nv_scale_vector_array(int nvec, sunrealtype *c, N_Vector *X, N_Vector *Z)
{
	int i;

	if (nvec < 1)
		return -1;
	for (i = 0; i < nvec; i++)
		v_scale(LEN(Z[i]), c[i], DAT(X[i]), DAT(Z[i]));
	return 0;
}

static int nv_const_vector_array(int nvec, sunrealtype c, N_Vector *Z)
{
	int i;

	if (nvec < 1)
		return -1;
	for (i = 0; i < nvec; i++)
		nv_const(c, Z[i]);
	return 0;
}

static int nv_wrms_norm_vector_array(int nvec, N_Vector *X, N_Vector *W, sunrealtype *nrm)
{
	int i;

	if (nvec < 1)
		return -1;
	for (i = 0; i < nvec; i++)
		nrm[i] = nv_wrms_norm(X[i], W[i]);
	return 0;
}

static int nv_wrms_norm_mask_vector_array(int nvec, N_Vector *X, N_Vector *W, N_Vector id, sunrealtype *nrm)
{
	int i;

	if (nvec < 1)
		return -1;
	for (i = 0; i < nvec; i++)
		nrm[i] = nv_wrms_norm_mask(X[i], W[i], id);
	return 0;
}

/* Z[j][i] = a[j] X[i] + Y[j][i] */
static int nv_scale_add_multi_vector_array(int nvec, int nsum, sunrealtype *a, N_Vector *X, N_Vector **Y,
					   N_Vector **Z)
{
	sunindextype n;
	int i, j;

	if (nvec < 1 || nsum < 1)
		return -1;
	n = LEN(X[0]);
	for (i = 0; i < nvec; i++)
		for (j = 0; j < nsum; j++)
			if (nsum == 1) /* SUNDIALS: N_VLinearSum(a[0], X[i], 1, Y[0][i], Z[0][i]) */
				v_linear_sum(n, a[0], DAT(X[i]), 1.0, DAT(Y[0][i]), DAT(Z[0][i]));
			else
				v_scale_add(n, a[j], DAT(X[i]), DAT(Y[j][i]), DAT(Z[j][i]));
	return 0;
}

/* Z[j] = sum_i c[i] X[i][j] */
static int nv_linear_combination_vector_array(int nvec, int nsum, sunrealtype *c, N_Vector **X, N_Vector *Z)
{
	sunindextype n;
	int i, j;

	if (nvec < 1 || nsum < 1)
		return -1;
	n = LEN(Z[0]);
	for (j = 0; j < nvec; j++) {
		if (nsum == 1) {
			v_scale(n, c[0], DAT(X[0][j]), DAT(Z[j]));
		} else if (nsum == 2) {
			v_linear_sum(n, c[0], DAT(X[0][j]), c[1], DAT(X[1][j]), DAT(Z[j]));
		} else {
			v_comb_first(n, c[0], DAT(X[0][j]), DAT(Z[j]));
			for (i = 1; i < nsum; i++)
				v_axpy(n, c[i], DAT(X[i][j]), DAT(Z[j]));
		}
	}
	return 0;
}

int lat_nvec_install(N_Vector v)
{
	N_Vector_Ops ops;

	if (!v || !v->ops || N_VGetVectorID(v) != SUNDIALS_NVEC_SERIAL)
		return LAT_EINVAL;
	ops = v->ops;

	ops->nvlinearsum = nv_linear_sum;
	ops->nvconst = nv_const;
	ops->nvprod = nv_prod;
	ops->nvdiv = nv_div;
	ops->nvscale = nv_scale;
	ops->nvabs = nv_abs;
	ops->nvinv = nv_inv;
	ops->nvaddconst = nv_add_const;
	ops->nvdotprod = nv_dot_prod;
	ops->nvmaxnorm = nv_max_norm;
	ops->nvwrmsnorm = nv_wrms_norm;
	ops->nvwrmsnormmask = nv_wrms_norm_mask;
	ops->nvmin = nv_min;
	ops->nvwl2norm = nv_wl2_norm;
	ops->nvl1norm = nv_l1_norm;
	ops->nvcompare = nv_compare;
	ops->nvinvtest = nv_inv_test;
	ops->nvconstrmask = nv_constr_mask;
	ops->nvminquotient = nv_min_quotient;

	ops->nvlinearcombination = nv_linear_combination;
	ops->nvscaleaddmulti = nv_scale_add_multi;
	ops->nvdotprodmulti = nv_dot_prod_multi;

	ops->nvlinearsumvectorarray = nv_linear_sum_vector_array;
	ops->nvscalevectorarray = nv_scale_vector_array;
	ops->nvconstvectorarray = nv_const_vector_array;
	ops->nvwrmsnormvectorarray = nv_wrms_norm_vector_array;
	ops->nvwrmsnormmaskvectorarray = nv_wrms_norm_mask_vector_array;
	ops->nvscaleaddmultivectorarray = nv_scale_add_multi_vector_array;
	ops->nvlinearcombinationvectorarray = nv_linear_combination_vector_array;

	/* serial: the local reductions are the global ones */
	ops->nvdotprodlocal = nv_dot_prod;
	ops->nvmaxnormlocal = nv_max_norm;
	ops->nvminlocal = nv_min;
	ops->nvl1normlocal = nv_l1_norm;
	ops->nvinvtestlocal = nv_inv_test;
	ops->nvconstrmasklocal = nv_constr_mask;
	ops->nvminquotientlocal = nv_min_quotient;
	ops->nvwsqrsumlocal = nv_wsqrsum_local;
	ops->nvwsqrsummasklocal = nv_wsqrsum_mask_local;
	ops->nvdotprodmultilocal = nv_dot_prod_multi;
	return 0;
}
