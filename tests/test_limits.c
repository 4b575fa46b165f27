/* test_limits.c: checked size arithmetic against hand-computed edge cases, and the values of issue 14
 * (sizes that overflow, memory plans, step budgets, divergence) through the CLI: exit status, the exact
 * message, and no output folder for a refused input. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli_fixture.h"
#include "lateral/err.h"
#include "runner.h"
#include "size.h"

static char scratch[256], out[300];

/* ---- the helpers (64-bit size_t: SIZE_MAX = 2^64 - 1 = 18446744073709551615) ---- */

static void test_size_mul(void)
{
	size_t r = 7;

	CU_ASSERT_FATAL(SIZE_MAX == UINT64_MAX);
	CU_ASSERT_EQUAL(lat_size_mul(0, SIZE_MAX, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(lat_size_mul(SIZE_MAX, 0, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(lat_size_mul(SIZE_MAX, 1, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	/* 2^64 - 1 = 3 x 6148914691236517205 = 5 x 3689348814741910323 */
	CU_ASSERT_EQUAL(lat_size_mul(6148914691236517205u, 3, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	CU_ASSERT_EQUAL(lat_size_mul(5, 3689348814741910323u, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	/* 2^32 (2^32 - 1) = 2^64 - 2^32 fits; 2^32 x 2^32 = 2^64 does not */
	CU_ASSERT_EQUAL(lat_size_mul(4294967296u, 4294967295u, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 18446744069414584320u);
	r = 7;
	CU_ASSERT_EQUAL(lat_size_mul(4294967296u, 4294967296u, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(r, 7); /* unchanged on overflow */
	CU_ASSERT_EQUAL(lat_size_mul(6148914691236517206u, 3, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_mul(SIZE_MAX, 2, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_mul(2, SIZE_MAX, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_mul(SIZE_MAX, SIZE_MAX, &r), LAT_ENOMEM);
	/* the trace buffer of issue 14: 6.716047599651535e16 / 3 + 3 rows x 103 values x 8 bytes, which the
	 * unchecked product wrapped to 872 bytes */
	CU_ASSERT_EQUAL((size_t)22386825332171787u * 824u, 872);
	CU_ASSERT_EQUAL(lat_size_mul(22386825332171787u, 103 * 8, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(r, 7);
}

static void test_size_add(void)
{
	size_t r = 7;

	CU_ASSERT_EQUAL(lat_size_add(SIZE_MAX, 0, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	CU_ASSERT_EQUAL(lat_size_add(0, SIZE_MAX, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	CU_ASSERT_EQUAL(lat_size_add(SIZE_MAX - 5, 5, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	/* 2^63 + (2^63 - 1) = 2^64 - 1 fits; 2^63 + 2^63 = 2^64 does not */
	CU_ASSERT_EQUAL(lat_size_add(9223372036854775808u, 9223372036854775807u, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, SIZE_MAX);
	r = 7;
	CU_ASSERT_EQUAL(lat_size_add(9223372036854775808u, 9223372036854775808u, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(r, 7);
	CU_ASSERT_EQUAL(lat_size_add(SIZE_MAX, 1, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_add(1, SIZE_MAX, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_add(SIZE_MAX, SIZE_MAX, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(r, 7);
}

static void test_size_from_double(void)
{
	size_t r = 7;

	CU_ASSERT_EQUAL(lat_size_from_double(0.0, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 0);
	r = 7;
	CU_ASSERT_EQUAL(lat_size_from_double(-0.0, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(lat_size_from_double(4.9e-324, &r), LAT_OK); /* the smallest subnormal */
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(lat_size_from_double(0.999, &r), LAT_OK); /* toward zero, as the cast */
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(lat_size_from_double(1.5, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 1);
	CU_ASSERT_EQUAL(lat_size_from_double(600.999, &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 600);
	CU_ASSERT_EQUAL(lat_size_from_double(9007199254740993.0, &r), LAT_OK); /* 2^53 + 1 rounds to 2^53 */
	CU_ASSERT_EQUAL(r, 9007199254740992u);
	/* the largest double below 2^64 is 2^64 - 2048; 2^64 itself no longer fits */
	CU_ASSERT_EQUAL(lat_size_from_double(nextafter(18446744073709551616.0, 0), &r), LAT_OK);
	CU_ASSERT_EQUAL(r, 18446744073709549568u);
	r = 7;
	CU_ASSERT_EQUAL(lat_size_from_double(18446744073709551616.0, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_from_double((double)SIZE_MAX, &r), LAT_ENOMEM); /* rounds up to 2^64 */
	CU_ASSERT_EQUAL(lat_size_from_double(1.8e303, &r), LAT_ENOMEM);		 /* 1800 / 1e-300 */
	CU_ASSERT_EQUAL(lat_size_from_double(INFINITY, &r), LAT_ENOMEM);
	CU_ASSERT_EQUAL(lat_size_from_double(NAN, &r), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_size_from_double(-NAN, &r), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_size_from_double(-INFINITY, &r), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_size_from_double(-1.0, &r), LAT_EINVAL);
	CU_ASSERT_EQUAL(lat_size_from_double(-4.9e-324, &r), LAT_EINVAL);
	CU_ASSERT_EQUAL(r, 7);
}

static void test_size_text(void)
{
	char buf[32];

	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 0), "0 bytes");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 1023), "1023 bytes");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 1024), "1.0 KiB");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 1536), "1.5 KiB");
	/* 1048575 bytes = 1023.999 KiB: one decimal would say 1024.0 KiB */
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 1048575), "1.0 MiB");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 50.0 * 1048576), "50.0 MiB");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 3.0 * 1073741824), "3.0 GiB");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, (double)SIZE_MAX), "16.0 EiB");
	CU_ASSERT_STRING_EQUAL(lat_size_text(buf, sizeof buf, 1e30), "827180.6 YiB");
}

/* ---- through the CLI ---- */

static int out_exists(void)
{
	struct stat st;
	return stat(out, &st) == 0;
}

/* lateral CMD -q --no-plot -o OUT ARGS... exits 2 with message and leaves no output folder. */
static void refused(const char *message, const char *cmd, const char *a1, const char *a2, const char *a3,
		    const char *a4, const char *a5, const char *a6)
{
	const char *args[16] = {cmd, "-q", "--no-plot", "-o", out, a1, a2, a3, a4, a5, a6};
	size_t n = 5;
	int rc;

	while (n < 11 && args[n])
		n++;
	rc = cli_fixture_runv(scratch, n, args);
	CU_ASSERT_EQUAL(rc, 2);
	if (!strstr(cli_err_text, message)) {
		fprintf(stderr, "\n%s %s %s: got: %s  expected: %s\n", cmd, a1, a2 ? a2 : "", cli_err_text,
			message);
		CU_FAIL("message");
	}
	CU_ASSERT(!out_exists());
	test_remove_tree(out);
}

/* Sizes that used to wrap or cast out of range: refused before any work, naming the keys. */
static void test_impossible_sizes(void)
{
	/* the trace buffer wrapped to 872 bytes, and trace_row wrote past it (exit 139) */
	refused(
	    "lateral run: <built-in default>: solver.t_max = 6.71605e+16 sampled at run.trace_dt = 0 "
	    "(min(circuit.tau, circuit.tau_inh) / 10 = 3): traces of 2.24e+16 samples of 100 neurons need "
	    "more than the 16.0 EiB a process can address; raise run.trace_dt, lower solver.t_max or set "
	    "run.trace_presentations = 0\n",
	    "run", "--set", "solver.t_max=6.716047599651535e16", NULL, NULL, NULL, NULL);
	/* (size_t)1.8e303: undefined; it ended as "trace buffer of 3 samples is full" (exit 1) */
	refused(
	    "lateral run: <built-in default>: solver.t_max = 1800 (derived from the circuit) sampled at "
	    "run.trace_dt = 1e-300: traces of 1.8e+303 samples of 100 neurons need more than the 16.0 EiB a "
	    "process can address; raise run.trace_dt, lower solver.t_max or set run.trace_presentations = "
	    "0\n",
	    "run", "--set", "run.trace_dt=1e-300", NULL, NULL, NULL, NULL);
	refused(
	    "lateral trace: <built-in default>: solver.t_max = 1800 (derived from the circuit) sampled at "
	    "run.trace_dt = 1e-300:",
	    "trace", "--set", "run.trace_dt=1e-300", NULL, NULL, NULL, NULL);
	/* tau = 4.9e-324: the derived budget 60 / kappa is 0, and min(tau, tau_inh) / 10 underflows to 0 */
	refused(
	    "lateral run: <built-in default>: solver.t_max = 0 takes the settle time budget 60 / kappa from "
	    "the circuit's slowest decay rate kappa, which gives 0 for circuit.tau = 4.94066e-324, "
	    "circuit.tau_inh = 30, circuit.bias_tau = 0: set solver.t_max > 0 or less extreme time "
	    "constants\n",
	    "run", "--set", "circuit.tau=4.9e-324", NULL, NULL, NULL, NULL);
	refused("lateral run: <built-in default>: run.trace_dt = 0 samples every min(circuit.tau, "
		"circuit.tau_inh) "
		"/ 10, which is 0 here: set run.trace_dt > 0 (or run.trace_presentations = 0)\n",
		"run", "--set", "circuit.tau=4.9e-324", "--set", "solver.t_max=100", NULL, NULL);
	/* the metrics record (2 doubles per recorded presentation) wrapped to 16 bytes (exit 139) */
	refused("lateral run: <built-in default>: run.presentations = 2305843009213693952 recorded every "
		"run.record_every = 1 need more than the 16.0 EiB a process can address; raise "
		"run.record_every or "
		"lower run.presentations\n",
		"run", "--set", "run.presentations=2305843009213693952L", "--set", "run.record_every=1", NULL,
		NULL);
	refused("lateral run: <built-in default>: input.count = 4000000000000000000 fixed inputs of "
		"circuit.inputs "
		"= 9 values need more than the 16.0 EiB a process can address; lower input.count (0 draws a "
		"fresh "
		"input each presentation)\n",
		"run", "--set", "input.count=4000000000000000000L", NULL, NULL, NULL, NULL);
	refused(
	    "lateral validate: --max-updates 1e+12 passes over input.count = 20000000 fixed inputs are more "
	    "presentations than a size_t counts; lower --max-updates\n",
	    "validate", "--max-updates", "1e12", "--set", "input.count=20000000", NULL, NULL);
}

/* The trace and the metrics record are in the memory plan: refused up front, naming what to change. */
static void test_plans(void)
{
	/* the trace buffer failed later with out of memory (exit 1) */
	refused(
	    "lateral trace: planned memory 108.1 GiB is more than the --max-memory limit (50.0 MiB); raise "
	    "run.trace_dt, lower run.trace_presentations or solver.t_max, or raise --max-memory\n",
	    "trace", "--set", "run.trace_dt=1e-4", "--max-memory", "50M", NULL, NULL);
	/* "out of memory for the metrics record" (exit 1) */
	refused("lateral run: planned memory 674.3 GiB is more than the --max-memory limit (50.0 MiB); raise "
		"run.record_every or lower run.presentations, or raise --max-memory\n",
		"run", "--set", "run.presentations=4000000000L", "--set", "run.record_every=1",
		"--max-memory", "50M");
	refused("lateral run: planned memory 2.7 MiB is more than the --max-memory limit (1.0 MiB); raise "
		"run.trace_dt, lower run.trace_presentations or solver.t_max, or raise --max-memory\n",
		"run", "--set", "run.presentations=2", "--max-memory", "1M", NULL, NULL);
	/* without the trace (sweep runs are not traced) the same model plans far less */
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "sweep", "-q", "--no-plot", "-o", out, "--max-memory", "1M",
					"--set", "run.presentations=2", "--vary", "circuit.alpha=1,2", NULL),
			0);
	test_remove_tree(out);
}

/* A pool that starts convolutional has no SNR to measure (it wrote inf and 1e31 into metrics.tsv). */
static void test_init_std_zero(void)
{
	refused(
	    "lateral run: <built-in default>: weights.init_std = 0 gives every neuron the same initial "
	    "weights: "
	    "the pool is convolutional before the first presentation (SNR infinite), so there is nothing to "
	    "measure and the SNR would be rounding noise; set weights.init_std > 0\n",
	    "run", "--set", "weights.init_std=0", NULL, NULL, NULL, NULL);
}

/* Training sizes print with a unit that fits (--max-memory 1K said 0.0 GiB): the data plan at 1K,
 * the first layer's plan at 20K (the data, 4.1 KiB, fit). */
static void test_train_sizes(void)
{
	char exp[1024];

	snprintf(exp, sizeof exp, "%s/tests/smoke/tiny_experiment.cfg", test_srcdir());
	refused("tiny_experiment.cfg: the data alone need 4.1 KiB (8 training and 8 test images) before loading, "
		"more than the --max-memory limit (1.0 KiB)",
		"train", exp, "--max-memory", "1K", NULL, NULL, NULL);
	refused(
	    "tiny_experiment.cfg:10: network.layers[0] (lc) on input 1x8x8: 2560 parameters and 1896 "
	    "workspace "
	    "floats need 87.4 KiB (with gradients and optimiser state), 87.4 KiB with the layers before it: "
	    "more than the --max-memory limit (20.0 KiB)\n",
	    "train", exp, "--max-memory", "20K", NULL, NULL, NULL);
}

/* The tiny experiment with circuit sharing (exact flow) at the given alpha assignment and one more
 * --set assignment (or none). */
static int circuit_train(const char *exp, const char *alpha, const char *extra)
{
	return cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, exp, "--set", "sharing.mode=\"circuit\"",
			       "--set", alpha, "--set", "sharing.method=\"exact\"", "--set", "sharing.t_max=1e9",
			       extra ? "--set" : NULL, extra, NULL);
}

/* Training that diverges with finite numbers stops with exit 1 and names the key (an unbounded sharing
 * step once ended at a loss of 1e15 with exit 0). */
static void test_divergence(void)
{
	char exp[1024];

	snprintf(exp, sizeof exp, "%s/tests/smoke/tiny_experiment.cfg", test_srcdir());
	/* a sharing phase that blows the kernels up is caught in the phase, before any checkpoint: the step
	 * is bounded (share.h), but a circuit near alpha = -1 amplifies the pool mean ~ -a = 99 times. With
	 * the border neurons pooled the phase runs iteration by iteration and names the iteration; with
	 * interior pools only, the transfer matrices compute the whole phase at once */
	CU_ASSERT_EQUAL(circuit_train(exp, "sharing.alpha=-0.99", NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "lateral train: epoch 1, batch 1: sharing phase 1, layer 1 (lc): "
						    "share: non-finite weights within the phase's 100 iterations "
						    "(eta_eff = 0.1 too large?); lower sharing.eta (now 0.1)\n"));
	test_remove_tree(out);
	CU_ASSERT_EQUAL(circuit_train(exp, "sharing.alpha=-0.99", "sharing.border=\"include\""), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text,
				      "lateral train: epoch 1, batch 1: sharing phase 1, layer 1 (lc): "
				      "share: the largest pooled weight grew from "));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text,
				      " at iteration 3, more than 1000 times: the update diverges "
				      "(eta_eff = 0.1 too large); lower sharing.eta (now 0.1)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, " --set sharing.eta=0.01\n"));
	test_remove_tree(out);
	/* growing more slowly (two iterations at alpha = -0.95), the kernels make the loss absurd */
	CU_ASSERT_EQUAL(circuit_train(exp, "sharing.alpha=-0.95", "sharing.iterations=2"), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text,
				      ", more than 1000 x ln(10 classes) = 2302.59 (a uniform guess "
				      "scores ln(10)): training diverged, the largest weight is in layer 1 "
				      "(lc): "));
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(cli_err_text, "; right after a sharing phase: lower sharing.eta (now 0.1)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, " --set sharing.eta=0.01"));
	test_remove_tree(out);
	/* the optimiser: SGD at lr 1000 */
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, exp, "--set",
					"sharing.mode=\"none\"", "--set", "train.optimizer=\"sgd\"", "--set",
					"train.lr=1000", NULL),
			1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "lateral train: epoch 1, batch 2: the loss is "));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "training diverged, the largest weight is in layer "));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "; lower train.lr (now 1000)\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, " --set train.lr=100\n"));
	test_remove_tree(out);
}

/* After a failed presentation, the suggested settings are checked within 10 times its step budget: here
 * max_steps x 10 is checked and x 100, x 1000 are not (they once cost an hour at alpha = 1e12). */
static void test_suggestion_budget(void)
{
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, "--set",
					"circuit.alpha=1e12", "--set", "circuit.nonlinearity=\"relu\"",
					"--set", "circuit.neurons=10", "--set", "solver.max_steps=20000",
					NULL),
			1);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(cli_err_text, "lateral run: presentation 1: no steady state after 20000 steps"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text,
				      "lateral run: checking whether presentation 1 settles with --set "
				      "solver.t_max=18000 --set solver.max_steps=200000\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text,
				      "lateral run: none of the settings tried settles presentation 1 "
				      "(up to --set solver.t_max=18000 --set solver.max_steps=200000)\n"));
	CU_ASSERT_PTR_NULL(strstr(cli_err_text, "2000000"));
	test_remove_tree(out);
}

static int setup(void)
{
	snprintf(scratch, sizeof scratch, "/tmp/lateral-test-limits-XXXXXX");
	if (!mkdtemp(scratch))
		return -1;
	snprintf(out, sizeof out, "%s/out", scratch);
	return 0;
}

static int teardown(void)
{
	test_remove_tree(scratch);
	return 0;
}

int main(void)
{
	CU_TestInfo helpers[] = {{"lat_size_mul at the SIZE_MAX boundary", test_size_mul},
				 {"lat_size_add at the SIZE_MAX boundary", test_size_add},
				 {"lat_size_from_double: NaN, inf, negative, 2^64", test_size_from_double},
				 {"lat_size_text picks the unit", test_size_text},
				 CU_TEST_INFO_NULL};
	CU_TestInfo cli[] = {{"sizes beyond the address space: exit 2", test_impossible_sizes},
			     {"trace and record in the memory plan: exit 2", test_plans},
			     {"weights.init_std = 0: exit 2", test_init_std_zero},
			     {"train sizes in a fitting unit", test_train_sizes},
			     {"training divergence with finite numbers: exit 1", test_divergence},
			     {"suggestion checks within 10 x the step budget", test_suggestion_budget},
			     CU_TEST_INFO_NULL};
	CU_SuiteInfo suites[] = {{"helpers", NULL, NULL, NULL, NULL, helpers},
				 {"cli", setup, teardown, NULL, NULL, cli},
				 CU_SUITE_INFO_NULL};
	return test_run(suites);
}
