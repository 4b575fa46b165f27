/* test_metrics.c: pool SNR, mean drift and distances on hand-computed pools. */
#include <config.h>

#include <math.h>

#include "lateral/metrics.h"
#include "runner.h"

static void test_hand_pool(void)
{
	/* m = (2, 3), v = (1, 1) with 1/N normalisation: SNR = (4 + 9) / 2. */
	const double w[] = {1, 2, 3, 4}, wbar0[] = {1, 0};
	lat_pool_stats st;
	lat_metrics_pool(2, 2, w, wbar0, &st);
	CU_ASSERT_DOUBLE_EQUAL(st.snr, 6.5, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(st.inv_snr, 1 / 6.5, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(st.cos_mean, 2 / sqrt(13), 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(st.mean_ratio, sqrt(13), 1e-14);
}

static void test_three_neurons(void)
{
	/* Column 0: 1, 2, 6 -> m = 3, v = (4 + 1 + 9)/3 = 14/3; column 1: 0, 0, 3 -> m = 1, v = (1+1+4)/3 = 2. */
	const double w[] = {1, 0, 2, 0, 6, 3}, wbar0[] = {3, 1};
	lat_pool_stats st;
	lat_metrics_pool(3, 2, w, wbar0, &st);
	CU_ASSERT_DOUBLE_EQUAL(st.snr, 0.5 * (9 / (14.0 / 3) + 1 / 2.0), 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(st.mean_over_std, 0.5 * (3 / sqrt(14.0 / 3) + 1 / sqrt(2.0)), 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(st.cos_mean, 1.0, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(st.mean_ratio, 1.0, 1e-14);
}

static void test_uniform_pool(void)
{
	const double w[] = {1, -2, 1, -2, 1, -2}, wbar0[] = {-1, 2};
	double wbar[2];
	lat_pool_stats st;
	lat_metrics_pool(3, 2, w, wbar0, &st);
	CU_ASSERT(isinf(st.snr) && st.snr > 0);
	CU_ASSERT(isinf(st.mean_over_std) && st.mean_over_std > 0);
	CU_ASSERT_EQUAL(st.inv_snr, 0);
	CU_ASSERT_DOUBLE_EQUAL(st.cos_mean, -1.0, 1e-14);
	lat_metrics_mean(3, 2, w, wbar);
	CU_ASSERT_EQUAL(wbar[0], 1);
	CU_ASSERT_EQUAL(wbar[1], -2);
}

static void test_distances(void)
{
	const double a[] = {1, 2, 2}, b[] = {1, 0, 0}, z[] = {0, 0, 0};
	CU_ASSERT_DOUBLE_EQUAL(lat_metrics_rel_dist(3, a, b), sqrt(8.0), 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(lat_metrics_rel_dist(3, a, z), 3.0, 1e-14);
	/* max_k |a-b| / max(|b_k|, floor): k = 1 gives 2 / 0.5. */
	CU_ASSERT_DOUBLE_EQUAL(lat_metrics_max_rel(3, a, b, 0.5), 4.0, 1e-14);
	CU_ASSERT_DOUBLE_EQUAL(lat_metrics_max_rel(3, a, b, 2.0), 1.0, 1e-14);
	{
		const double nan_a[] = {NAN, 0, 0};
		CU_ASSERT(isnan(lat_metrics_max_rel(3, nan_a, b, 1.0)));
	}
}

static CU_TestInfo tests[] = {{"hand-computed 2x2 pool", test_hand_pool},
			      {"hand-computed 3x2 pool", test_three_neurons},
			      {"uniform pool has infinite SNR", test_uniform_pool},
			      {"distances", test_distances},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "metrics", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
