/* test_optim.c: SGD and AdamW steps and the learning-rate schedule against hand-computed values. */
#include <config.h>

#include <math.h>
#include <string.h>

#include "lateral/err.h"
#include "lateral/optim.h"
#include "runner.h"

/* SGD with momentum 0.9, weight decay 0.1, lr 0.1 from w = 1 with g = 0.5 twice (PyTorch's rule, by hand):
 *   1: g' = 0.5 + 0.1 * 1 = 0.6,      v = 0.6,                 w = 1 - 0.06 = 0.94
 *   2: g' = 0.5 + 0.1 * 0.94 = 0.594, v = 0.9 * 0.6 + 0.594 = 1.134, w = 0.94 - 0.1134 = 0.8266 */
static void test_sgd_steps(void)
{
	lat_optim_opts e = {.kind = LAT_OPT_SGD, .momentum = 0.9, .weight_decay = 0.1};
	lat_optim *o;
	char err[LAT_ERRLEN] = "";
	float w[2] = {1, -2}, g[2] = {0.5f, 0}, *state;
	size_t n_state;

	o = lat_optim_alloc(&e, 2, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(lat_optim_step(o, w, g, 0.1), 0);
	CU_ASSERT_DOUBLE_EQUAL(w[0], 0.94, 1e-6);
	/* a zero gradient still decays the weight: g' = 0.1 * -2 = -0.2, w = -2 + 0.02 */
	CU_ASSERT_DOUBLE_EQUAL(w[1], -1.98, 1e-6);
	lat_optim_step(o, w, g, 0.1);
	CU_ASSERT_DOUBLE_EQUAL(w[0], 0.8266, 1e-6);
	state = lat_optim_state(o, &n_state);
	CU_ASSERT_EQUAL(n_state, 2);
	CU_ASSERT_DOUBLE_EQUAL(state[0], 1.134, 1e-6);
	CU_ASSERT_EQUAL(*lat_optim_steps(o), 2);
	lat_optim_free(o);
	lat_optim_free(NULL);
}

/* AdamW (decoupled decay, bias-corrected moments), lr 0.01, weight decay 0.1, betas 0.9 / 0.999,
 * eps 1e-8, w = 1, gradients 0.5 then -0.25. Step 1 by hand: w = 0.999, m = 0.05, v = 2.5e-4,
 * m^ = 0.5, v^ = 0.25, w = 0.999 - 0.01 * 0.5 / (0.5 + 1e-8) = 0.989. Step 2 from the same formulas
 * in double: w = 0.989 (1 - 0.001), m = 0.02, v = 3.1225e-4, m^ = m / 0.19, v^ = v / 0.001999. */
static void test_adamw_steps(void)
{
	lat_optim_opts e = {.kind = LAT_OPT_ADAMW, .weight_decay = 0.1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
	lat_optim *o;
	char err[LAT_ERRLEN] = "";
	float w[1] = {1}, g[1] = {0.5f};
	double m, v, expect;
	size_t n_state;

	o = lat_optim_alloc(&e, 1, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	lat_optim_step(o, w, g, 0.01);
	CU_ASSERT_DOUBLE_EQUAL(w[0], 0.989, 1e-6);
	g[0] = -0.25f;
	lat_optim_step(o, w, g, 0.01);
	m = 0.9 * 0.05 + 0.1 * -0.25;
	v = 0.999 * 2.5e-4 + 0.001 * 0.0625;
	expect = 0.989 * (1 - 0.01 * 0.1) - 0.01 * (m / (1 - 0.81)) / (sqrt(v / (1 - 0.998001)) + 1e-8);
	CU_ASSERT_DOUBLE_EQUAL(w[0], expect, 1e-6);
	CU_ASSERT(fabs(expect - 0.98535) < 1e-4); /* the hand value, to four places */
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_state(o, &n_state)[0], m, 1e-7);
	CU_ASSERT_EQUAL(n_state, 2);
	/* beta2 is a float: 1 - 0.999f differs from 0.001 by 1.3e-5 relative */
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_state(o, &n_state)[1], v, 1e-4 * v);
	lat_optim_free(o);
}

/* lr 0.1, lr_gamma 0.5, milestones at epochs 2 and 5: 0.1 for epochs 0-1, 0.05 for 2-4, 0.025 after. */
static void test_lr_schedule(void)
{
	lat_optim_opts e = {.lr = 0.1, .lr_gamma = 0.5, .milestones = {2, 5}, .n_milestones = 2};

	CU_ASSERT_DOUBLE_EQUAL(lat_optim_lr(&e, 0), 0.1, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_lr(&e, 1), 0.1, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_lr(&e, 2), 0.05, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_lr(&e, 4), 0.05, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_lr(&e, 5), 0.025, 1e-15);
	CU_ASSERT_DOUBLE_EQUAL(lat_optim_lr(&e, 100), 0.025, 1e-15);
}

/* The step reports a parameter that became non-finite, with either optimiser and on either side of the
 * parallel threshold: a gradient of 3e38 at lr 10 (SGD) overflows w[k] for one k only. */
static void test_nonfinite_reported(void)
{
	static float w[100000], g[100000];
	size_t sizes[] = {3, 100000};
	char err[LAT_ERRLEN] = "";

	for (int kind = 0; kind < 2; kind++)
		for (size_t s = 0; s < 2; s++) {
			lat_optim_opts e = {.kind = kind ? LAT_OPT_ADAMW : LAT_OPT_SGD, .beta1 = 0.9, .beta2 = 0.999,
					    .eps = 1e-8};
			size_t n = sizes[s], bad = n - 2;
			lat_optim *o = lat_optim_alloc(&e, n, err);
			CU_ASSERT_PTR_NOT_NULL_FATAL(o);
			for (size_t k = 0; k < n; k++) {
				w[k] = 1;
				g[k] = 0.5f;
			}
			CU_ASSERT_EQUAL(lat_optim_step(o, w, g, 0.1), 0);
			/* SGD: w -= 10 * 3e38 overflows; AdamW: a NaN gradient makes m, v and w NaN */
			g[bad] = kind ? NAN : 3e38f;
			CU_ASSERT_EQUAL(lat_optim_step(o, w, g, 10), 1);
			CU_ASSERT(!isfinite(w[bad]));
			CU_ASSERT(isfinite(w[0]));
			lat_optim_free(o);
		}
}

/* Three optimisers stepping ranges [0, 3), [3, 7), [7, 10) of one parameter array (as the processes of
 * a split optimiser step do) give, over their ranges, the bits of one optimiser's whole steps, and leave
 * everything outside untouched: the weights and state there hold sentinels, the gradients NaN. */
static void test_range_steps(void)
{
	static const size_t cut[] = {0, 3, 7, 10};
	char err[LAT_ERRLEN] = "";

	for (int kind = 0; kind < 2; kind++) {
		lat_optim_opts e = {.kind = kind ? LAT_OPT_ADAMW : LAT_OPT_SGD, .momentum = 0.9, .weight_decay = 0.1,
				    .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8};
		lat_optim *whole = lat_optim_alloc(&e, 10, err), *part[3];
		float w[10], g[10], wp[3][10], gp[3][10];
		size_t n_state;
		for (int r = 0; r < 3; r++) {
			part[r] = lat_optim_alloc(&e, 10, err);
			CU_ASSERT_PTR_NOT_NULL_FATAL(part[r]);
		}
		CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
		for (size_t k = 0; k < 10; k++)
			w[k] = 0.3f * (float)k - 1;
		for (int step = 0; step < 3; step++) {
			for (size_t k = 0; k < 10; k++)
				g[k] = 0.1f * (float)((k * 7 + (size_t)step * 3) % 11) - 0.5f;
			/* each part's own weights are the whole's (checked below after every step) */
			for (int r = 0; r < 3; r++) {
				float *st = lat_optim_state(part[r], &n_state);
				for (size_t k = 0; k < 10; k++) {
					int in = k >= cut[r] && k < cut[r + 1];
					wp[r][k] = in ? w[k] : 1234.5f;
					gp[r][k] = in ? g[k] : NAN;
					for (size_t b = 0; b < n_state / 10 && !in; b++)
						st[b * 10 + k] = -77.f;
				}
				CU_ASSERT_EQUAL(lat_optim_step_range(part[r], wp[r], gp[r], 0.1, cut[r], cut[r + 1]), 0);
			}
			CU_ASSERT_EQUAL(lat_optim_step(whole, w, g, 0.1), 0);
			for (int r = 0; r < 3; r++) {
				float *st = lat_optim_state(part[r], &n_state), *sw = lat_optim_state(whole, &n_state);
				for (size_t k = 0; k < 10; k++) {
					int in = k >= cut[r] && k < cut[r + 1];
					CU_ASSERT(in ? memcmp(&wp[r][k], &w[k], sizeof(float)) == 0 : wp[r][k] == 1234.5f);
					for (size_t b = 0; b < n_state / 10; b++)
						CU_ASSERT(in ? memcmp(&st[b * 10 + k], &sw[b * 10 + k], sizeof(float)) == 0
							     : st[b * 10 + k] == -77.f);
				}
				CU_ASSERT_EQUAL(*lat_optim_steps(part[r]), (unsigned long)step + 1);
			}
		}
		for (int r = 0; r < 3; r++)
			lat_optim_free(part[r]);
		lat_optim_free(whole);
	}
}

static CU_TestInfo tests[] = {{"SGD with momentum and weight decay, two steps by hand", test_sgd_steps},
			      {"AdamW with decoupled decay and bias correction, two steps", test_adamw_steps},
			      {"learning-rate milestones", test_lr_schedule},
			      {"a step reports a parameter that became non-finite", test_nonfinite_reported},
			      {"steps on ranges = the whole step over each range, nothing outside touched", test_range_steps},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "optim", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
