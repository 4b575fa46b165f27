/* test_nvec.c: every vector kernel of src/core/nvec.c against the SUNDIALS serial one it replaces (bit for bit,
 * aliased arguments included), and CVODE runs with and without them. */
#include <config.h>

#include <float.h>
#include <math.h>
#include <string.h>

#include <cvode/cvode.h>
#include <gsl/gsl_rng.h>
#include <nvector/nvector_serial.h>
#include <sunlinsol/sunlinsol_dense.h>
#include <sunmatrix/sunmatrix_dense.h>

#include "lateral/err.h"
#include "nvec.h"
#include "runner.h"

#define N_LENGTHS 4
#define K_MAX 21 /* vectors per pair set */
#define SEED 20240611UL

static const sunindextype lengths[N_LENGTHS] = {1, 2, 7, 101};
/* coefficients hitting every special case of N_VLinearSum: 1, -1, 0, a == b, a == -b, other */
static const sunrealtype coefs[] = {1.0, -1.0, 0.0, 0.5, -0.5, 2.3, -0.7};
#define N_COEFS (sizeof coefs / sizeof coefs[0])

/* Shared by the tests of one run (CUnit runs them sequentially); created in suite_init. */
static SUNContext ctx;
static gsl_rng *rng;

static int suite_init(void)
{
	if (SUNContext_Create(NULL, &ctx))
		return -1;
	rng = gsl_rng_alloc(gsl_rng_mt19937);
	if (!rng)
		return -1;
	gsl_rng_set(rng, SEED);
	return 0;
}

static int suite_clean(void)
{
	gsl_rng_free(rng);
	SUNContext_Free(&ctx);
	return 0;
}

/* k fast vectors (our ops, cloned from an installed template) and k reference vectors (Debian's
 * serial ops) holding identical data. */
typedef struct {
	int k;
	sunindextype n;
	N_Vector F[K_MAX], R[K_MAX];
} pairs;

static void pairs_free(pairs *p)
{
	int i;

	for (i = 0; i < p->k; i++) {
		N_VDestroy(p->F[i]);
		N_VDestroy(p->R[i]);
	}
	p->k = 0;
}

/* Random data in [-1, 1), with exact zeros in about one element in zero_every (0: none). */
static void pairs_fill(pairs *p, int zero_every)
{
	int i;
	sunindextype j;

	for (i = 0; i < p->k; i++) {
		sunrealtype *f = N_VGetArrayPointer(p->F[i]), *r = N_VGetArrayPointer(p->R[i]);
		for (j = 0; j < p->n; j++) {
			double u = 2 * gsl_rng_uniform(rng) - 1;
			if (zero_every && gsl_rng_uniform_int(rng, (unsigned long)zero_every) == 0)
				u = 0;
			f[j] = r[j] = u;
		}
	}
}

static int pairs_alloc(pairs *p, sunindextype n, int k)
{
	N_Vector tf = N_VNew_Serial(n, ctx), tr = N_VNew_Serial(n, ctx);
	int i, status = -1;

	memset(p, 0, sizeof *p);
	p->n = n;
	if (!tf || !tr || lat_nvec_install(tf))
		goto out;
	for (i = 0; i < k; i++) {
		p->F[i] = N_VClone(tf);
		p->R[i] = N_VClone(tr);
		p->k = i + 1;
		if (!p->F[i] || !p->R[i])
			goto out;
	}
	pairs_fill(p, 0);
	status = 0;
out:
	N_VDestroy(tf);
	N_VDestroy(tr);
	if (status)
		pairs_free(p);
	return status;
}

/* Every fast vector equals its reference bit for bit (catches wrong outputs and clobbered inputs). */
static int pairs_equal(const pairs *p)
{
	int i;

	for (i = 0; i < p->k; i++)
		if (memcmp(N_VGetArrayPointer(p->F[i]), N_VGetArrayPointer(p->R[i]),
			   (size_t)p->n * sizeof(sunrealtype)))
			return 0;
	return 1;
}

static int same(sunrealtype a, sunrealtype b)
{
	return memcmp(&a, &b, sizeof a) == 0;
}

/* ---- installation ---- */

static void test_install(void)
{
	N_Vector v = N_VNew_Serial(5, ctx), w = N_VNew_Serial(5, ctx), c = NULL;
	struct _generic_N_Vector_Ops orig;

	CU_ASSERT_FATAL(v && w);
	orig = *v->ops;
	CU_ASSERT_EQUAL(lat_nvec_install(v), 0);
	CU_ASSERT_EQUAL(lat_nvec_install(NULL), LAT_EINVAL);
	/* every op CVODE's step uses is replaced, fused ones are enabled */
	CU_ASSERT_PTR_NOT_EQUAL(v->ops->nvlinearsum, orig.nvlinearsum);
	CU_ASSERT_PTR_NOT_EQUAL(v->ops->nvscale, orig.nvscale);
	CU_ASSERT_PTR_NOT_EQUAL(v->ops->nvwrmsnorm, orig.nvwrmsnorm);
	CU_ASSERT_PTR_NOT_EQUAL(v->ops->nvwsqrsumlocal, orig.nvwsqrsumlocal);
	CU_ASSERT_PTR_NOT_EQUAL(v->ops->nvdotprodmultilocal, orig.nvdotprodmultilocal);
	CU_ASSERT_PTR_NULL(orig.nvlinearcombination);
	CU_ASSERT_PTR_NOT_NULL(v->ops->nvlinearcombination);
	CU_ASSERT_PTR_NOT_NULL(v->ops->nvscaleaddmulti);
	CU_ASSERT_PTR_NOT_NULL(v->ops->nvdotprodmulti);
	CU_ASSERT_PTR_NOT_NULL(v->ops->nvscalevectorarray);
	CU_ASSERT_PTR_NOT_NULL(v->ops->nvlinearcombinationvectorarray);
	/* clones (how CVODE makes its vectors) inherit them; other vectors are untouched */
	c = N_VClone(v);
	CU_ASSERT_FATAL(c != NULL);
	CU_ASSERT_EQUAL(memcmp(c->ops, v->ops, sizeof *v->ops), 0);
	CU_ASSERT_PTR_EQUAL(w->ops->nvlinearsum, orig.nvlinearsum);
	CU_ASSERT_PTR_EQUAL(c->ops->nvclone, orig.nvclone);
	CU_ASSERT_PTR_EQUAL(c->ops->nvgetarraypointer, orig.nvgetarraypointer);
	N_VDestroy(c);
	N_VDestroy(w);
	N_VDestroy(v);
}

/* ---- standard operations: each on fresh random data at every length ---- */

/* z = a x + b y for all coefficient pairs, with z distinct, z == x, z == y, x == y and x == y == z. */
static void test_linear_sum(void)
{
	static const int alias[5][3] = {{0, 1, 2}, {0, 1, 0}, {0, 1, 1}, {0, 0, 2}, {0, 0, 0}};
	pairs p;
	size_t ia, ib;
	int l, s, bad = 0, calls = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 3) == 0);
		for (s = 0; s < 5; s++)
			for (ia = 0; ia < N_COEFS; ia++)
				for (ib = 0; ib < N_COEFS; ib++) {
					const int *q = alias[s];
					pairs_fill(&p, 0);
					N_VLinearSum(coefs[ia], p.F[q[0]], coefs[ib], p.F[q[1]], p.F[q[2]]);
					N_VLinearSum(coefs[ia], p.R[q[0]], coefs[ib], p.R[q[1]], p.R[q[2]]);
					bad += !pairs_equal(&p);
					calls++;
				}
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(calls, N_LENGTHS * 5 * (int)(N_COEFS * N_COEFS));
}

static void test_scale_const(void)
{
	pairs p;
	size_t ic;
	int l, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 2) == 0);
		for (ic = 0; ic < N_COEFS; ic++) {
			pairs_fill(&p, 0);
			N_VScale(coefs[ic], p.F[0], p.F[1]);
			N_VScale(coefs[ic], p.R[0], p.R[1]);
			bad += !pairs_equal(&p);
			N_VScale(coefs[ic], p.F[1], p.F[1]); /* in place */
			N_VScale(coefs[ic], p.R[1], p.R[1]);
			bad += !pairs_equal(&p);
			N_VConst(coefs[ic], p.F[0]);
			N_VConst(coefs[ic], p.R[0]);
			bad += !pairs_equal(&p);
			N_VAddConst(p.F[1], coefs[ic], p.F[0]);
			N_VAddConst(p.R[1], coefs[ic], p.R[0]);
			bad += !pairs_equal(&p);
			N_VCompare(fabs(coefs[ic]), p.F[1], p.F[0]);
			N_VCompare(fabs(coefs[ic]), p.R[1], p.R[0]);
			bad += !pairs_equal(&p);
		}
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_elementwise(void)
{
	pairs p;
	int l, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 3) == 0);
		N_VProd(p.F[0], p.F[1], p.F[2]);
		N_VProd(p.R[0], p.R[1], p.R[2]);
		bad += !pairs_equal(&p);
		N_VProd(p.F[0], p.F[1], p.F[0]);
		N_VProd(p.R[0], p.R[1], p.R[0]);
		bad += !pairs_equal(&p);
		N_VDiv(p.F[0], p.F[1], p.F[2]);
		N_VDiv(p.R[0], p.R[1], p.R[2]);
		bad += !pairs_equal(&p);
		N_VDiv(p.F[0], p.F[1], p.F[1]);
		N_VDiv(p.R[0], p.R[1], p.R[1]);
		bad += !pairs_equal(&p);
		N_VAbs(p.F[2], p.F[0]);
		N_VAbs(p.R[2], p.R[0]);
		bad += !pairs_equal(&p);
		N_VInv(p.F[2], p.F[1]);
		N_VInv(p.R[2], p.R[1]);
		bad += !pairs_equal(&p);
		N_VInv(p.F[2], p.F[2]);
		N_VInv(p.R[2], p.R[2]);
		bad += !pairs_equal(&p);
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* Reductions, through the generic calls and through the ops table's local variants. */
static void test_reductions(void)
{
	pairs p;
	int l, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 3) == 0);
		N_Vector *F = p.F, *R = p.R;
		/* mask: N_VWrmsNormMask counts id > 0 only (id is random in [-1, 1) with zeros) */
		pairs_fill(&p, 4);
		bad += !same(N_VDotProd(F[0], F[1]), N_VDotProd(R[0], R[1]));
		bad += !same(N_VMaxNorm(F[0]), N_VMaxNorm(R[0]));
		bad += !same(N_VWrmsNorm(F[0], F[1]), N_VWrmsNorm(R[0], R[1]));
		bad += !same(N_VWrmsNormMask(F[0], F[1], F[2]), N_VWrmsNormMask(R[0], R[1], R[2]));
		bad += !same(N_VMin(F[0]), N_VMin(R[0]));
		bad += !same(N_VWL2Norm(F[0], F[1]), N_VWL2Norm(R[0], R[1]));
		bad += !same(N_VL1Norm(F[0]), N_VL1Norm(R[0]));
		bad += !same(N_VWSqrSumLocal(F[0], F[1]), N_VWSqrSumLocal(R[0], R[1]));
		bad += !same(N_VWSqrSumMaskLocal(F[0], F[1], F[2]), N_VWSqrSumMaskLocal(R[0], R[1], R[2]));
		bad += !same(F[0]->ops->nvdotprodlocal(F[0], F[1]), R[0]->ops->nvdotprodlocal(R[0], R[1]));
		bad += !same(F[0]->ops->nvmaxnormlocal(F[0]), R[0]->ops->nvmaxnormlocal(R[0]));
		bad += !same(F[0]->ops->nvminlocal(F[0]), R[0]->ops->nvminlocal(R[0]));
		bad += !same(F[0]->ops->nvl1normlocal(F[0]), R[0]->ops->nvl1normlocal(R[0]));
		bad += !same(F[0]->ops->nvminquotientlocal(F[0], F[1]),
			     R[0]->ops->nvminquotientlocal(R[0], R[1]));
		bad += !same(N_VMinQuotient(F[0], F[1]), N_VMinQuotient(R[0], R[1]));
		/* aliased: x == w */
		bad += !same(N_VWrmsNorm(F[0], F[0]), N_VWrmsNorm(R[0], R[0]));
		bad += !same(N_VDotProd(F[1], F[1]), N_VDotProd(R[1], R[1]));
		bad += !pairs_equal(&p);
		/* all denominators zero: SUN_BIG_REAL */
		N_VConst(0.0, F[1]);
		N_VConst(0.0, R[1]);
		bad += !same(N_VMinQuotient(F[0], F[1]), N_VMinQuotient(R[0], R[1]));
		CU_ASSERT_EQUAL(N_VMinQuotient(F[0], F[1]), SUN_BIG_REAL);
		/* all masked out: 0 */
		N_VConst(-1.0, F[2]);
		CU_ASSERT_EQUAL(N_VWrmsNormMask(F[0], F[1], F[2]), 0.0);
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* N_VWrmsNorm = sqrt(sum (x_i w_i)^2 / n), checked against the formula as well as the library. */
static void test_wrms_formula(void)
{
	N_Vector x = N_VNew_Serial(4, ctx), w = N_VNew_Serial(4, ctx);
	sunrealtype *xd, *wd;

	CU_ASSERT_FATAL(x && w && lat_nvec_install(x) == 0 && lat_nvec_install(w) == 0);
	xd = N_VGetArrayPointer(x);
	wd = N_VGetArrayPointer(w);
	xd[0] = 1, xd[1] = -2, xd[2] = 3, xd[3] = 0.5;
	wd[0] = 2, wd[1] = 1, wd[2] = 0.5, wd[3] = -4;
	/* (4 + 4 + 2.25 + 4) / 4 = 3.5625 */
	CU_ASSERT_DOUBLE_EQUAL(N_VWrmsNorm(x, w), sqrt(3.5625), 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(N_VWL2Norm(x, w), sqrt(14.25), 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(N_VMaxNorm(x), 3.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(N_VMin(x), -2.0, 0);
	CU_ASSERT_DOUBLE_EQUAL(N_VL1Norm(x), 6.5, 0);
	N_VDestroy(w);
	N_VDestroy(x);
}

static void test_inv_test_constr_mask(void)
{
	static const sunrealtype cvals[] = {-2.0, -1.0, 0.0, 1.0, 2.0};
	pairs p;
	sunindextype j;
	int l, bad = 0, any_false = 0, any_true = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 3) == 0);
		/* with and without zeros in x; untouched z entries must keep their old values */
		pairs_fill(&p, 3);
		int tf = N_VInvTest(p.F[0], p.F[1]), tr = N_VInvTest(p.R[0], p.R[1]);
		bad += tf != tr || !pairs_equal(&p);
		any_false += !tf;
		any_true += tf;
		pairs_fill(&p, 0);
		tf = N_VInvTest(p.F[0], p.F[1]);
		tr = N_VInvTest(p.R[0], p.R[1]);
		bad += tf != tr || !tf || !pairs_equal(&p);
		/* constraints c in {-2,-1,0,1,2}, x with zeros */
		pairs_fill(&p, 3);
		for (j = 0; j < p.n; j++) {
			sunrealtype c = cvals[gsl_rng_uniform_int(rng, 5)];
			N_VGetArrayPointer(p.F[0])[j] = N_VGetArrayPointer(p.R[0])[j] = c;
		}
		tf = N_VConstrMask(p.F[0], p.F[1], p.F[2]);
		tr = N_VConstrMask(p.R[0], p.R[1], p.R[2]);
		bad += tf != tr || !pairs_equal(&p);
		tf = p.F[0]->ops->nvconstrmasklocal(p.F[0], p.F[1], p.F[2]);
		tr = p.R[0]->ops->nvconstrmasklocal(p.R[0], p.R[1], p.R[2]);
		bad += tf != tr || !pairs_equal(&p);
		any_false += !tf;
		any_true += tf;
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(any_false > 0 && any_true > 0); /* both outcomes were exercised */
}

/* ---- fused operations, against the library's own serial fused kernels ---- */

static void pick_coefs(int n, sunrealtype *c, int variant)
{
	int i;

	for (i = 0; i < n; i++)
		c[i] = variant == 0   ? coefs[(size_t)i % N_COEFS] /* c[0] == 1, c[1] == -1 */
		       : variant == 1 ? 0.5			   /* all equal (a == b) */
				      : 2 * gsl_rng_uniform(rng) - 1;
}

static void test_linear_combination(void)
{
	static const int nvecs[] = {1, 2, 3, 5};
	sunrealtype c[8];
	N_Vector XF[8], XR[8];
	pairs p;
	int l, iv, v, zi, i, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 6) == 0);
		for (iv = 0; iv < 4; iv++)
			for (v = 0; v < 3; v++)
				for (zi = 0; zi < 2; zi++) { /* z distinct (index 5), z == X[0] */
					int nv = nvecs[iv];
					pick_coefs(nv, c, v);
					pairs_fill(&p, 0);
					for (i = 0; i < nv; i++) {
						XF[i] = p.F[i];
						XR[i] = p.R[i];
					}
					N_VLinearCombination(nv, c, XF, zi ? p.F[0] : p.F[5]);
					N_VLinearCombination_Serial(nv, c, XR, zi ? p.R[0] : p.R[5]);
					bad += !pairs_equal(&p);
				}
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_scale_add_multi(void)
{
	static const int nvecs[] = {1, 2, 4};
	sunrealtype a[4];
	N_Vector YF[4], YR[4], ZF[4], ZR[4];
	pairs p;
	int l, iv, v, alias, i, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 9) == 0);
		for (iv = 0; iv < 3; iv++)
			for (v = 0; v < 3; v++)
				for (alias = 0; alias < 3; alias++) { /* Z distinct, Z == Y, Z[i] == Y[i] */
					int nv = nvecs[iv];
					pick_coefs(nv, a, v);
					pairs_fill(&p, 0);
					for (i = 0; i < nv; i++) {
						YF[i] = p.F[1 + i];
						YR[i] = p.R[1 + i];
						ZF[i] = alias == 2 ? YF[i] : p.F[5 + i];
						ZR[i] = alias == 2 ? YR[i] : p.R[5 + i];
					}
					N_VScaleAddMulti(nv, a, p.F[0], YF, alias == 1 ? YF : ZF);
					N_VScaleAddMulti_Serial(nv, a, p.R[0], YR, alias == 1 ? YR : ZR);
					bad += !pairs_equal(&p);
				}
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_dot_prod_multi(void)
{
	sunrealtype df[4], dr[4];
	pairs p;
	int l, nv, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 5) == 0);
		for (nv = 1; nv <= 4; nv++) {
			N_VDotProdMulti(nv, p.F[0], p.F + 1, df);
			N_VDotProdMulti_Serial(nv, p.R[0], p.R + 1, dr);
			bad += memcmp(df, dr, (size_t)nv * sizeof *df) != 0;
			p.F[0]->ops->nvdotprodmultilocal(nv, p.F[0], p.F + 1, df);
			bad += memcmp(df, dr, (size_t)nv * sizeof *df) != 0;
		}
		/* x among the Y */
		N_VDotProdMulti(3, p.F[1], p.F, df);
		N_VDotProdMulti_Serial(3, p.R[1], p.R, dr);
		bad += memcmp(df, dr, 3 * sizeof *df) != 0;
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---- vector-array operations ---- */

static void test_vector_arrays(void)
{
	sunrealtype c[4], nf[4], nr[4];
	pairs p;
	size_t ia, ib;
	int l, nv, alias, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 10) == 0);
		N_Vector *F = p.F, *R = p.R;
		for (nv = 1; nv <= 3; nv += 2) {
			for (ia = 0; ia < N_COEFS; ia++)
				for (ib = 0; ib < N_COEFS; ib++)
					for (alias = 0; alias < 3; alias++) { /* Z distinct, Z == X, Z == Y */
						pairs_fill(&p, 0);
						int zo = alias == 1 ? 0 : alias == 2 ? 3 : 6;
						N_VLinearSumVectorArray(nv, coefs[ia], F, coefs[ib], F + 3,
									F + zo);
						N_VLinearSumVectorArray_Serial(nv, coefs[ia], R, coefs[ib],
									       R + 3, R + zo);
						bad += !pairs_equal(&p);
					}
			pick_coefs(nv, c, 0);
			for (alias = 0; alias < 2; alias++) {
				pairs_fill(&p, 0);
				N_VScaleVectorArray(nv, c, F, alias ? F : F + 3);
				N_VScaleVectorArray_Serial(nv, c, R, alias ? R : R + 3);
				bad += !pairs_equal(&p);
			}
			N_VConstVectorArray(nv, 0.25, F);
			N_VConstVectorArray_Serial(nv, 0.25, R);
			bad += !pairs_equal(&p);
			pairs_fill(&p, 4);
			N_VWrmsNormVectorArray(nv, F, F + 3, nf);
			N_VWrmsNormVectorArray_Serial(nv, R, R + 3, nr);
			bad += memcmp(nf, nr, (size_t)nv * sizeof *nf) != 0;
			N_VWrmsNormMaskVectorArray(nv, F, F + 3, F[9], nf);
			N_VWrmsNormMaskVectorArray_Serial(nv, R, R + 3, R[9], nr);
			bad += memcmp(nf, nr, (size_t)nv * sizeof *nf) != 0;
		}
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* Z[j][i] = a[j] X[i] + Y[j][i] and Z[i] = sum_j c[j] X[j][i], nvec and nsum in {1, 2, 3}. */
static void test_multi_vector_arrays(void)
{
	N_Vector *YF[3], *YR[3], *ZF[3], *ZR[3], *XF[3], *XR[3];
	sunrealtype c[3];
	pairs p;
	int l, nv, ns, v, alias, j, bad = 0;

	for (l = 0; l < N_LENGTHS; l++) {
		/* blocks of 3: scale-add X = 0, Y[j] = 3 + 3j, Z[j] = 12 + 3j; combination X[j] = 3j, Z = 9
		 */
		CU_ASSERT_FATAL(pairs_alloc(&p, lengths[l], 21) == 0);
		N_Vector *F = p.F, *R = p.R;
		for (nv = 1; nv <= 3; nv++)
			for (ns = 1; ns <= 3; ns++)
				for (v = 0; v < 3; v++)
					for (alias = 0; alias < 2; alias++) { /* Z distinct, Z == Y / X[0] */
						pick_coefs(ns, c, v);
						pairs_fill(&p, 0);
						for (j = 0; j < ns; j++) {
							YF[j] = F + 3 + 3 * j, YR[j] = R + 3 + 3 * j;
							ZF[j] = F + 12 + 3 * j, ZR[j] = R + 12 + 3 * j;
						}
						N_VScaleAddMultiVectorArray(nv, ns, c, F, YF,
									    alias ? YF : ZF);
						N_VScaleAddMultiVectorArray_Serial(nv, ns, c, R, YR,
										   alias ? YR : ZR);
						bad += !pairs_equal(&p);

						pairs_fill(&p, 0);
						for (j = 0; j < ns; j++)
							XF[j] = F + 3 * j, XR[j] = R + 3 * j;
						N_VLinearCombinationVectorArray(nv, ns, c, XF,
										alias ? F : F + 9);
						N_VLinearCombinationVectorArray_Serial(nv, ns, c, XR,
										       alias ? R : R + 9);
						bad += !pairs_equal(&p);
					}
		pairs_free(&p);
	}
	CU_ASSERT_EQUAL(bad, 0);
}

/* ---- CVODE end to end: identical trajectories and counters with and without our kernels ---- */

#define ODE_N 101

static int chain_rhs(sunrealtype t, N_Vector y, N_Vector ydot, void *user_data)
{
	const sunrealtype *yd = N_VGetArrayPointer(y);
	sunrealtype *dd = N_VGetArrayPointer(ydot);
	sunindextype i;

	(void)t;
	(void)user_data;
	for (i = 0; i < ODE_N; i++)
		dd[i] = -(1.0 + 0.05 * (double)i) * yd[i] + (i ? 0.9 * yd[i - 1] : 1.0) - 0.1 * yd[i] * yd[i];
	return 0;
}

/* Integrates to t = 20 with lmm; fills y and the step count. Returns the last CVode flag. */
static int chain_solve(int lmm, int fast, sunrealtype *y, long *n_steps)
{
	N_Vector v = N_VNew_Serial(ODE_N, ctx);
	SUNMatrix A = SUNDenseMatrix(ODE_N, ODE_N, ctx);
	SUNLinearSolver LS = NULL;
	void *cv = CVodeCreate(lmm, ctx);
	sunrealtype t = 0;
	int flag = -99, k;

	if (!v || !A || !cv || (fast && lat_nvec_install(v)))
		goto out;
	LS = SUNLinSol_Dense(v, A, ctx);
	N_VConst(0.0, v);
	if (!LS || CVodeInit(cv, chain_rhs, 0.0, v) || CVodeSStolerances(cv, 1e-8, 1e-10) ||
	    CVodeSetLinearSolver(cv, LS, A) || CVodeSetMaxNumSteps(cv, 100000) ||
	    (lmm == CV_BDF && CVodeSetStabLimDet(cv, SUNTRUE)))
		goto out;
	for (k = 1; k <= 20; k++) {
		flag = CVode(cv, (sunrealtype)k, v, &t, CV_NORMAL);
		if (flag < 0)
			goto out;
	}
	memcpy(y, N_VGetArrayPointer(v), ODE_N * sizeof *y);
	CVodeGetNumSteps(cv, n_steps);
out:
	CVodeFree(&cv);
	SUNLinSolFree(LS);
	SUNMatDestroy(A);
	N_VDestroy(v);
	return flag;
}

static void test_cvode_identical(void)
{
	static const int lmms[] = {CV_BDF, CV_ADAMS};
	sunrealtype yf[ODE_N], yr[ODE_N];
	long sf = -1, sr = -2;
	int m;

	for (m = 0; m < 2; m++) {
		CU_ASSERT_EQUAL_FATAL(chain_solve(lmms[m], 1, yf, &sf), CV_SUCCESS);
		CU_ASSERT_EQUAL_FATAL(chain_solve(lmms[m], 0, yr, &sr), CV_SUCCESS);
		CU_ASSERT(sf > 50);
		CU_ASSERT_EQUAL(sf, sr);
		CU_ASSERT_EQUAL(memcmp(yf, yr, sizeof yf), 0);
	}
}

static CU_TestInfo tests[] = {
    {"install: ops replaced, fused enabled, inherited by clones", test_install},
    {"linear sum: every coefficient case and aliasing", test_linear_sum},
    {"scale, const, addconst, compare", test_scale_const},
    {"prod, div, abs, inv", test_elementwise},
    {"reductions: dot, norms, min, minquotient (and local ops)", test_reductions},
    {"wrms / wl2 / max / min / l1 against the formula", test_wrms_formula},
    {"invtest and constrmask", test_inv_test_constr_mask},
    {"fused: linear combination (z == X[0] too)", test_linear_combination},
    {"fused: scale-add-multi (Z == Y too)", test_scale_add_multi},
    {"fused: dot-prod-multi", test_dot_prod_multi},
    {"vector arrays: linear sum, scale, const, wrms norms", test_vector_arrays},
    {"vector arrays: scale-add-multi, linear combination", test_multi_vector_arrays},
    {"cvode bdf and adams: bit-identical runs", test_cvode_identical},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "nvec", .pInitFunc = suite_init, .pCleanupFunc = suite_clean, .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}
