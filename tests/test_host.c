/* test_host.c: the library never aborts its host through GSL's error handler, whatever that handler is. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>

#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/model.h"
#include "runner.h"

static int host_calls;

static void counting_handler(const char *reason, const char *file, int line, int gsl_errno)
{
	(void)reason;
	(void)file;
	(void)line;
	(void)gsl_errno;
	host_calls++;
}

/* A covariance that is symmetric but not positive definite. */
static const char bad_cov_model[] = "circuit = { neurons = 4; inputs = 2; };\n"
				    "input = { cov = [1.0, 2.0, 2.0, 1.0]; };\n";

/* GSL's default handler (abort): the library returns its error code and the process lives on. */
static void test_default_handler(void)
{
	char err[LAT_ERRLEN] = "";
	double c[4] = {1, 2, 2, 1}, w[4] = {1, 0, 0, 1}, ws[4];
	lat_model m;

	gsl_set_error_handler(NULL);
	lat_model_init(&m);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, bad_cov_model, "host.cfg", err), LAT_OK);
	CU_ASSERT_EQUAL(lat_model_finalize(&m, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not positive definite"));
	lat_model_clear(&m);
	CU_ASSERT_NOT_EQUAL(lat_closedform_wstar_cov(2, 2, c, w, 10, 0.01, ws, err), LAT_OK);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not positive definite"));
}

/* A host's own handler: not called for the library's errors, and back in place afterwards. */
static void test_host_handler_kept(void)
{
	char err[LAT_ERRLEN] = "";
	double a[4] = {1, 2, 2, 1};
	gsl_matrix_view v = gsl_matrix_view_array(a, 2, 2);
	lat_model m;

	host_calls = 0;
	gsl_set_error_handler(counting_handler);
	lat_model_init(&m);
	CU_ASSERT_EQUAL(lat_model_load_string(&m, bad_cov_model, "host.cfg", err), LAT_OK);
	CU_ASSERT_EQUAL(lat_model_finalize(&m, err), LAT_ECONFIG);
	lat_model_clear(&m);
	CU_ASSERT_EQUAL(host_calls, 0);
	/* the host's own GSL error still reaches its handler */
	CU_ASSERT_NOT_EQUAL(gsl_linalg_cholesky_decomp1(&v.matrix), GSL_SUCCESS);
	CU_ASSERT_EQUAL(host_calls, 1);
	gsl_set_error_handler_off();
}

static CU_TestInfo tests[] = {{"GSL's default handler: an error code, no abort", test_default_handler},
			      {"a host's handler is neither called nor replaced", test_host_handler_kept},
			      CU_TEST_INFO_NULL};

int main(void)
{
	CU_SuiteInfo suites[] = {{.pName = "host", .pTests = tests}, CU_SUITE_INFO_NULL};
	return test_run(suites);
}
