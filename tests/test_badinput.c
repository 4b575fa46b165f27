/* test_badinput.c: every bad model and experiment file gives its announced message, exit status 2 and no output. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bad_corpus.h"
#include "cli_fixture.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/trainer.h"
#include "runner.h"

/* Minimum size of the experiment corpus in tests/bad/experiment. */
#define MIN_BAD_EXPERIMENTS 60

static char scratch[256];

static void report(const char *name, int rc, const char *got, const char *expect)
{
	fprintf(stderr, "\n%s: status %d\n  got: %s\n  expected: %s\n", name, rc, got, expect);
}

/* The library refuses the file at load, finalize or trainer construction, with an input-error code. */
static void check_experiment(const char *path, const char *name, const char *expect, void *ctx)
{
	char err[LAT_ERRLEN] = "";
	lat_experiment e;
	lat_trainer *t = NULL;
	int rc, status = LAT_OK;

	(void)ctx;
	lat_experiment_init(&e);
	rc = lat_experiment_load(&e, path, err);
	if (!rc)
		rc = lat_experiment_finalize(&e, err);
	if (!rc) {
		t = lat_experiment_trainer_alloc(&e, &status, err);
		rc = t ? LAT_OK : status;
	}
	CU_ASSERT(rc == LAT_ECONFIG || rc == LAT_EIO);
	if ((rc != LAT_ECONFIG && rc != LAT_EIO) || !strstr(err, expect)) {
		report(name, rc, err, expect);
		CU_FAIL("bad experiment message");
	}
	lat_trainer_free(t);
	lat_experiment_clear(&e);
}

static void test_experiment_corpus(void)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/bad/experiment", test_srcdir());
	CU_ASSERT(bad_corpus_each(dir, check_experiment, NULL) >= MIN_BAD_EXPERIMENTS);
}

/* The command exits 2 with the message on stderr and leaves the output directory uncreated. */
static void check_command(const char *path, const char *name, const char *expect, void *cmd)
{
	char out[600];
	struct stat st;
	int rc;

	snprintf(out, sizeof out, "%s/out", scratch);
	/* Should a bad file ever be accepted, the zero-length run keeps the failure cheap. */
	if (!strcmp((const char *)cmd, "train"))
		rc = cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, path, "--set", "train.epochs=0",
				     NULL);
	else
		rc = cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, path, "--set", "run.presentations=1",
				     NULL);
	CU_ASSERT_EQUAL(rc, 2);
	if (rc != 2 || !strstr(cli_err_text, expect)) {
		report(name, rc, cli_err_text, expect);
		CU_FAIL("bad input through the CLI");
	}
	if (stat(out, &st) == 0 || errno != ENOENT) {
		fprintf(stderr, "\n%s: lateral %s created %s\n", name, (const char *)cmd, out);
		CU_FAIL("output directory created for bad input");
		test_remove_tree(out);
	}
}

static void test_models_through_run(void)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/bad", test_srcdir());
	CU_ASSERT(bad_corpus_each(dir, check_command, "run") >= 40);
}

static void test_experiments_through_train(void)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/tests/bad/experiment", test_srcdir());
	CU_ASSERT(bad_corpus_each(dir, check_command, "train") >= MIN_BAD_EXPERIMENTS);
}

static int out_exists(void)
{
	char out[600];
	struct stat st;
	snprintf(out, sizeof out, "%s/out", scratch);
	return stat(out, &st) == 0;
}

/* A memory plan above --max-memory is refused with exit 2 before any output is written; a bad size is
 * a usage error; a sufficient limit lets the command run. */
static void test_max_memory(void)
{
	char out[600], exp[4096];

	snprintf(out, sizeof out, "%s/out", scratch);
	snprintf(exp, sizeof exp, "%s/tests/smoke/tiny_experiment.cfg", test_srcdir());
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, "--max-memory", "10K", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "planned memory"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "is more than the --max-memory limit (10.0 KiB)"));
	CU_ASSERT(!out_exists());
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "sweep", "-q", "--no-plot", "-o", out, "--max-memory", "10k",
					"--vary", "circuit.neurons=10,20", NULL),
			2);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "(10.0 KiB)"));
	CU_ASSERT(!out_exists());
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, exp, "--max-memory", "20K", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "tiny_experiment.cfg:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "more than the --max-memory limit (20.0 KiB)"));
	CU_ASSERT(!out_exists());
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "run", "-q", "-o", out, "--max-memory", "4X", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "--max-memory 4X: expected a size > 0"));
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "run", "-q", "-o", out, "--max-memory", "-1G", NULL), 2);
	CU_ASSERT(!out_exists());
	/* the default model plans about 2.7 MiB with 2 presentations, most of it the trace (both traced, of
	 * up to 603 samples each: a buffer of 0.5 MiB and at most 2.2 MiB of text) */
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, "--max-memory", "4MiB",
					"--set", "run.presentations=2", NULL),
			0);
	CU_ASSERT(out_exists());
	test_remove_tree(out);
}

/* The largest value of a size_t or unsigned long key without a bound of its own: the reader's int64 range. */
#define INT64_MAX_TEXT "9223372036854775807"

/* Integers wrapped to 32 bits and floats that underflow, given on the command line (--set, --vary): exit
 * 2, the exact message, nothing on stdout, no output folder. "EXP" stands for the tiny experiment. */
static void test_number_literals(void)
{
	static const struct {
		const char *args[10];
		const char *message;
	} cases[] = {
	    /* the reproductions of issue 14 */
	    {{"check", "--set", "run.presentations=-2147483649", "--print"},
	     "lateral check: --set run.presentations=-2147483649: run.presentations: expected an integer >= 0 and <= "
	     INT64_MAX_TEXT ", got -2147483649\n"},
	    {{"run", "-q", "--no-plot", "-o", "OUT", "--set", "circuit.neurons=4294967306"},
	     "lateral run: --set circuit.neurons=4294967306: circuit.neurons: expected an integer >= 1 and <= 1000000, "
	     "got 4294967306\n"},
	    {{"sweep", "-q", "--no-plot", "-o", "OUT", "--vary", "circuit.neurons=2,4294967298"},
	     "lateral sweep: --vary circuit.neurons=4294967298: circuit.neurons: expected an integer >= 1 and <= "
	     "1000000, got 4294967298\n"},
	    {{"train", "-q", "--no-plot", "-o", "OUT", "EXP", "--set", "train.epochs=4294967298"},
	     "lateral train: --set train.epochs=4294967298: train.epochs: expected an integer >= 0 and <= 100000, got "
	     "4294967298\n"},
	    /* hex, L suffixes, beyond int64, a range of --vary, arrays, underflow */
	    {{"run", "-q", "--no-plot", "-o", "OUT", "--set", "circuit.neurons=0x100000002"},
	     "lateral run: --set circuit.neurons=0x100000002: circuit.neurons: expected an integer >= 1 and <= "
	     "1000000, got 0x100000002\n"},
	    {{"run", "-q", "--no-plot", "-o", "OUT", "--set", "weights.seed=18446744073709551616"},
	     "lateral run: --set weights.seed=18446744073709551616: weights.seed: expected an integer >= 0 and <= "
	     INT64_MAX_TEXT ", got 18446744073709551616\n"},
	    {{"run", "-q", "--no-plot", "-o", "OUT", "--set", "solver.max_steps=-9223372036854775809L"},
	     "lateral run: --set solver.max_steps=-9223372036854775809L: solver.max_steps: expected an integer >= 1 "
	     "and <= " INT64_MAX_TEXT ", got -9223372036854775809L\n"},
	    {{"run", "-q", "--no-plot", "-o", "OUT", "--set", "input.seed=0xFFFFFFFFFFFFFFFFLL"},
	     "lateral run: --set input.seed=0xFFFFFFFFFFFFFFFFLL: input.seed: expected an integer >= 0 and <= "
	     INT64_MAX_TEXT ", got 0xFFFFFFFFFFFFFFFFLL\n"},
	    {{"run", "-q", "--no-plot", "-o", "OUT", "--set", "run.trace_dt=1e-400"},
	     "lateral run: --set run.trace_dt=1e-400: run.trace_dt: 1e-400 is too small for a double and would be "
	     "read as 0 (the smallest nonzero magnitude is about 4.9e-324); write 0 if 0 is meant\n"},
	    {{"sweep", "-q", "--no-plot", "-o", "OUT", "--vary", "circuit.neurons=2:4294967298:lin:3"},
	     "lateral sweep: --vary circuit.neurons=2147483650: circuit.neurons: expected an integer >= 1 and <= "
	     "1000000, got 2147483650\n"},
	    {{"sweep", "-q", "--no-plot", "-o", "OUT", "--vary", "circuit.tau=1,1e-400"},
	     "lateral sweep: --vary circuit.tau=1e-400: circuit.tau: 1e-400 is too small for a double and would be "
	     "read as 0 (the smallest nonzero magnitude is about 4.9e-324); write 0 if 0 is meant\n"},
	    {{"train", "-q", "--no-plot", "-o", "OUT", "EXP", "--set", "train.batch=0x100000010"},
	     "lateral train: --set train.batch=0x100000010: train.batch: expected an integer >= 1 and <= 65536, got "
	     "0x100000010\n"},
	    {{"train", "-q", "--no-plot", "-o", "OUT", "EXP", "--set", "train.lr_milestones=[2, 4294967299]"},
	     "lateral train: --set train.lr_milestones=[2, 4294967299]: train.lr_milestones[1]: expected an integer >= "
	     "1 and <= 100000, got 4294967299\n"},
	    {{"train", "-q", "--no-plot", "-o", "OUT", "EXP", "--set", "sharing.max_steps=-4294967295"},
	     "lateral train: --set sharing.max_steps=-4294967295: sharing.max_steps: expected an integer >= 1 and <= "
	     "1000000000000, got -4294967295\n"},
	    {{"train", "-q", "--no-plot", "-o", "OUT", "EXP", "--set", "sharing.eta=1e-400"},
	     "lateral train: --set sharing.eta=1e-400: sharing.eta: 1e-400 is too small for a double and would be "
	     "read as 0 (the smallest nonzero magnitude is about 4.9e-324); write 0 if 0 is meant\n"},
	};
	char out[600], exp[4096];

	snprintf(out, sizeof out, "%s/out", scratch);
	snprintf(exp, sizeof exp, "%s/tests/smoke/tiny_experiment.cfg", test_srcdir());
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *args[10];
		size_t n = 0;
		int rc;

		for (; n < 10 && cases[i].args[n]; n++)
			args[n] = !strcmp(cases[i].args[n], "OUT")	 ? out
				  : !strcmp(cases[i].args[n], "EXP") ? exp
								     : cases[i].args[n];
		rc = cli_fixture_runv(scratch, n, args);
		CU_ASSERT_EQUAL(rc, 2);
		CU_ASSERT_STRING_EQUAL(cli_err_text, cases[i].message);
		CU_ASSERT_STRING_EQUAL(cli_out_text, "");
		CU_ASSERT(!out_exists());
		if (rc != 2 || strcmp(cli_err_text, cases[i].message))
			report(cases[i].args[2], rc, cli_err_text, cases[i].message);
		test_remove_tree(out);
	}
}

/* What the same reader accepts: integers beyond 32 bits at their exact value, hex, the L suffix. */
static void test_number_literals_accepted(void)
{
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "check", "--print", "--set", "run.presentations=5000000000", "--set",
					"circuit.neurons=0x10", "--set", "weights.seed=9223372036854775807", "--set",
					"solver.max_steps=2147483648L", NULL),
			0);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_out_text, "\tpresentations = 5000000000L;\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_out_text, "\tneurons = 16;\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_out_text, "\tseed = 9223372036854775807L;\n"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_out_text, "\tmax_steps = 2147483648L;\n"));
}

/* A failed sharing phase of lateral train names the experiment's keys (sharing.t_max), never the model's
 * (solver.t_max), in its message and its suggestion. */
static void test_sharing_messages(void)
{
	char out[600], exp[4096];

	snprintf(out, sizeof out, "%s/out", scratch);
	snprintf(exp, sizeof exp, "%s/tests/smoke/tiny_experiment.cfg", test_srcdir());
	CU_ASSERT_EQUAL(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, exp, "--set", "sharing.t_max=0.001",
					"--set", "sharing.method=bdf", NULL),
			1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "no steady state by t = 0.001"));
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "--set sharing.t_max=0.01 --set sharing.max_steps=1000000\n"));
	CU_ASSERT_PTR_NULL(strstr(cli_err_text, "solver."));
	CU_ASSERT_PTR_NULL(strstr(cli_err_text, "circuit."));
	test_remove_tree(out);
}

static int setup(void)
{
	snprintf(scratch, sizeof scratch, "/tmp/lateral-test-bad-XXXXXX");
	return mkdtemp(scratch) ? 0 : -1;
}

static int teardown(void)
{
	test_remove_tree(scratch);
	return 0;
}

int main(void)
{
	CU_TestInfo library[] = {{"experiment corpus: load, finalize, trainer", test_experiment_corpus}, CU_TEST_INFO_NULL};
	CU_TestInfo cli[] = {{"bad models: lateral run exits 2, no output", test_models_through_run},
			     {"bad experiments: lateral train exits 2, no output", test_experiments_through_train},
			     {"--max-memory refusals", test_max_memory},
			     {"--set and --vary: integers as written, underflow", test_number_literals},
			     {"--set: integers beyond 32 bits, hex, L", test_number_literals_accepted},
			     {"train: sharing failures name sharing keys", test_sharing_messages},
			     CU_TEST_INFO_NULL};
	CU_SuiteInfo suites[] = {{"library", NULL, NULL, NULL, NULL, library},
				 {"cli", setup, teardown, NULL, NULL, cli},
				 CU_SUITE_INFO_NULL};
	return test_run(suites);
}
