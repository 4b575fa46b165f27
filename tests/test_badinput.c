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
		t = lat_trainer_alloc(&e, &status, err);
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
			     CU_TEST_INFO_NULL};
	CU_SuiteInfo suites[] = {{"library", NULL, NULL, NULL, NULL, library},
				 {"cli", setup, teardown, NULL, NULL, cli},
				 CU_SUITE_INFO_NULL};
	return test_run(suites);
}
