/* test_cli.c: smoke tests of the lateral binary: outputs, exit statuses and error messages. */
#include <config.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli_fixture.h"
#include "idx_fixture.h"
#include "runner.h"

#define BUF 65536

static char tmpdir[256];
#define out_text cli_out_text
#define err_text cli_err_text
/* Runs lateral with the NULL-terminated arguments; returns its exit status (or -1) and fills
 * out_text / err_text. */
#define run(...) cli_fixture_run(tmpdir, __VA_ARGS__)

static char *path_in(char *buf, const char *sub)
{
	sprintf(buf, "%s/%s", tmpdir, sub);
	return buf;
}

static int exists(const char *sub)
{
	char p[512];
	struct stat st;
	return stat(path_in(p, sub), &st) == 0 && st.st_size > 0;
}

static size_t data_rows(const char *sub)
{
	char p[512], line[65536];
	size_t n = 0;
	FILE *fp = fopen(path_in(p, sub), "r");
	if (!fp)
		return 0;
	while (fgets(line, sizeof line, fp))
		if (line[0] != '#' && line[0] != '\n')
			n++;
	fclose(fp);
	return n;
}

/* Value of "key": NUMBER in a summary.json. */
static double json_number(const char *sub, const char *key)
{
	char p[512], text[BUF], pat[128];
	const char *hit;
	FILE *fp = fopen(path_in(p, sub), "r");
	size_t n;
	if (!fp)
		return -1e300;
	n = fread(text, 1, sizeof text - 1, fp);
	text[n] = 0;
	fclose(fp);
	snprintf(pat, sizeof pat, "\"%s\": ", key);
	hit = strstr(text, pat);
	return hit ? strtod(hit + strlen(pat), NULL) : -1e300;
}

static void model_path(char *buf, const char *rel)
{
	sprintf(buf, "%s/%s", test_srcdir(), rel);
}

static void test_version_and_help(void)
{
	CU_ASSERT_EQUAL(run("--version", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "lateral " PACKAGE_VERSION));
	CU_ASSERT_EQUAL(run("help", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "validate"));
	CU_ASSERT_EQUAL(run("run", "--help", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "--set"));
	CU_ASSERT_EQUAL(run(NULL), 2);
	CU_ASSERT_EQUAL(run("frobnicate", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "unknown command 'frobnicate'"));
	CU_ASSERT_EQUAL(run("run", "--bogus", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "--bogus"));
}

static void test_run_writes_outputs(void)
{
	char dir[512];
	path_in(dir, "run");
	CU_ASSERT_EQUAL_FATAL(run("run", "-o", dir, "--no-plot", "--set", "run.presentations=50", "--set",
				  "run.record_every=10", NULL),
			      0);
	/* The initial state plus one row every 10 presentations. */
	CU_ASSERT_EQUAL(data_rows("run/metrics.tsv"), 6);
	CU_ASSERT(exists("run/trace.tsv"));
	CU_ASSERT(exists("run/summary.json"));
	CU_ASSERT_EQUAL(json_number("run/summary.json", "presentations"), 50);
	CU_ASSERT(json_number("run/summary.json", "snr_final") > json_number("run/summary.json", "snr_init"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "presentation"));
	CU_ASSERT_PTR_NULL(strstr(err_text, "error"));
}

static void test_plots_or_clear_note(void)
{
	char dir[512];
	path_in(dir, "plot");
	/* A missing gnuplot is a note, not a failure. */
	setenv("LATERAL_GNUPLOT", "/nonexistent/gnuplot", 1);
	CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, "--set", "run.presentations=20", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "gnuplot not found"));
	CU_ASSERT(!exists("plot/snr.png"));
	unsetenv("LATERAL_GNUPLOT");
	if (access("/usr/bin/gnuplot", X_OK) == 0) {
		CU_ASSERT_EQUAL(run("run", "-q", "-o", dir, "--set", "run.presentations=20", NULL), 0);
		CU_ASSERT(exists("plot/snr.png"));
		CU_ASSERT(exists("plot/trace.png"));
		CU_ASSERT(!exists("plot/snr.png.tmp"));
	}
}

static void test_bad_inputs_exit_2(void)
{
	char dir[512], bad[600];
	path_in(dir, "bad");
	CU_ASSERT_EQUAL(run("run", "-o", dir, "/nonexistent/model.cfg", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "/nonexistent/model.cfg"));
	CU_ASSERT_EQUAL(run("run", "-o", dir, "--set", "circuit.tau=-1", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.tau"));
	CU_ASSERT_EQUAL(run("run", "-o", dir, "--set", "circuit.nope=1", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.nope"));
	CU_ASSERT_EQUAL(run("run", "-o", dir, "--set", "notakey", NULL), 2);
	CU_ASSERT(!exists("bad/metrics.tsv"));
	model_path(bad, "tests/bad/unknown_key.cfg");
	CU_ASSERT_EQUAL(run("check", bad, NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "unknown_key.cfg:"));
	CU_ASSERT_EQUAL(run("check", NULL), 2);
	CU_ASSERT_EQUAL(run("sweep", "-o", dir, NULL), 2);
	CU_ASSERT_EQUAL(run("sweep", "-o", dir, "--vary", "circuit.tau", NULL), 2);
	CU_ASSERT_EQUAL(run("sweep", "-o", dir, "--vary", "circuit.tau=30,-1", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "circuit.tau"));
	CU_ASSERT_EQUAL(run("validate", "-o", dir, "--tol", "abc", NULL), 2);
	CU_ASSERT_EQUAL(run("validate", "-o", dir, "--set", "input.count=0", "--set", "plasticity.update=online", NULL),
			2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "fixed inputs"));
}

static void test_runtime_failure_exit_1(void)
{
	char dir[512];
	path_in(dir, "fail");
	CU_ASSERT_EQUAL(run("run", "-q", "--no-plot", "-o", dir, "--set", "solver.t_max=5", NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "presentation 1"));
	CU_ASSERT(!exists("fail/metrics.tsv"));
}

static void test_check_models(void)
{
	char p[600];
	model_path(p, "models/default.cfg");
	CU_ASSERT_EQUAL(run("check", p, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, ": ok"));
	/* --print writes a model that loads back to the same thing. */
	CU_ASSERT_EQUAL(run("check", "--print", "--set", "circuit.alpha=42", NULL), 0);
	{
		char mp[512];
		FILE *fp = fopen(path_in(mp, "printed.cfg"), "w");
		CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
		fputs(out_text, fp);
		fclose(fp);
		CU_ASSERT_EQUAL(run("check", mp, NULL), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "alpha = 42"));
	}
}

static void test_validate_pass_and_fail(void)
{
	char dir[512];
	path_in(dir, "val");
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "-o", dir, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "agree with the closed-form"));
	CU_ASSERT(json_number("val/summary.json", "max_rel_error") <= 1e-6);
	CU_ASSERT(json_number("val/summary.json", "max_steady_error") <= json_number("val/summary.json", "max_steady_error_bound"));
	CU_ASSERT_EQUAL(data_rows("val/weights_final.tsv"), 20);
	CU_ASSERT_EQUAL(data_rows("val/closed_form.tsv"), 20);
	CU_ASSERT_EQUAL(data_rows("val/inputs.tsv"), 20);
	/* validate stops by itself: its bound on the remaining error is below 0.1 tol, and the predicted
	 * contraction rate is the batch rule's (cmd_validate.c), here about 0.965 */
	CU_ASSERT(json_number("val/summary.json", "predicted_remaining_error") <= 1e-7);
	CU_ASSERT(json_number("val/summary.json", "contraction_rate") > 0.9 &&
		  json_number("val/summary.json", "contraction_rate") < 0.99);
	CU_ASSERT_EQUAL(json_number("val/summary.json", "max_updates_reached"), 0);
	/* run.presentations plays no part in the verdict */
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "-o", dir, "--set", "run.presentations=40", NULL), 0);
	/* An upper bound too low to converge: the same check must fail with exit status 1 and say so. */
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "-o", dir, "--max-updates", "2", NULL), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "FAIL"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "reached --max-updates = 2"));
	CU_ASSERT_EQUAL(json_number("val/summary.json", "max_updates_reached"), 1);
	/* eta too large for the batch rule: refused with the bound on eta (exit 2) */
	CU_ASSERT_EQUAL(run("validate", "--no-plot", "-o", dir, "--set", "plasticity.eta=5", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "batch updates do not converge"));
}

static void test_trace_and_sweep(void)
{
	char dir[512];
	path_in(dir, "trace");
	CU_ASSERT_EQUAL(run("trace", "--no-plot", "-o", dir, "--set", "run.trace_presentations=2", "--set",
			    "circuit.neurons=4", NULL),
			0);
	CU_ASSERT(data_rows("trace/trace.tsv") > 20);
	path_in(dir, "sweep");
	CU_ASSERT_EQUAL(run("sweep", "--no-plot", "-o", dir, "--set", "run.presentations=30", "--vary",
			    "plasticity.gamma=0.1,0.3", "--vary", "circuit.inputs=4,9", NULL),
			0);
	CU_ASSERT_EQUAL(data_rows("sweep/sweep.tsv"), 4);
	CU_ASSERT(exists("sweep/run_004/metrics.tsv"));
}

/* lateral train and eval on generated images: JSON lines, checkpoint, resume, bad input. */
static void test_train_and_eval(void)
{
	char dir[512], cfg[512], ckpt[600];
	FILE *fp;
	CU_ASSERT_EQUAL_FATAL(idx_write_pair(tmpdir, "tr", 48, 1), 0);
	CU_ASSERT_EQUAL_FATAL(idx_write_pair(tmpdir, "te", 16, 2), 0);
	fp = fopen(path_in(cfg, "exp.cfg"), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs("data = { train_images = \"tr-images\"; train_labels = \"tr-labels\";\n"
	      "         test_images = \"te-images\"; test_labels = \"te-labels\"; };\n"
	      "network = { layers = ( { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
	      "                       { type = \"linear\"; outputs = 10; } ); };\n"
	      "train = { epochs = 2; batch = 16; lr = 0.01; threads = 1; };\n"
	      "sharing = { mode = \"circuit\"; every = 2; presentations = 2; };\n",
	      fp);
	fclose(fp);
	path_in(dir, "train");
	CU_ASSERT_EQUAL(run("train", "-q", "--no-plot", "-o", dir, cfg, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"epoch\": 2"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"snr\": ["));
	/* 3 batches per epoch, a phase every 2 batches counted across epochs: 1 in epoch 1, 2 in epoch 2. */
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"share_phases\": 1,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"share_phases\": 2,"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"share_steady_error\": "));
	CU_ASSERT_EQUAL(data_rows("train/epochs.jsonl"), 2);
	CU_ASSERT(exists("train/checkpoint.bin"));
	/* Two more epochs from the checkpoint: the log keeps all four. */
	CU_ASSERT_EQUAL(run("train", "-q", "--no-plot", "--resume", "-o", dir, cfg, "--set", "train.epochs=4", NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"epoch\": 4"));
	CU_ASSERT_PTR_NULL(strstr(out_text, "\"epoch\": 2"));
	CU_ASSERT_EQUAL(data_rows("train/epochs.jsonl"), 4);
	path_in(ckpt, "train/checkpoint.bin");
	CU_ASSERT_EQUAL(run("eval", "--experiment", cfg, ckpt, NULL), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"test_acc\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out_text, "\"epochs\": 4"));
	/* Bad input: exit 2 with the key named; a checkpoint of another network is refused. */
	CU_ASSERT_EQUAL(run("train", "-o", dir, cfg, "--set", "train.batch=0", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "train.batch"));
	CU_ASSERT_EQUAL(run("train", "-o", dir, cfg, "--set", "data.test_images=/nonexistent.gz", NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "/nonexistent.gz"));
	CU_ASSERT_EQUAL(run("eval", "--experiment", cfg, "--set", "train.threads=2", "--set",
			    "network.locally_connected=true", ckpt, NULL),
			0);
	CU_ASSERT_EQUAL(run("eval", ckpt, NULL), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "checkpoint"));
}

static int setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lateral-test-cli-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void)
{
	test_remove_tree(tmpdir);
	return 0;
}

static CU_TestInfo tests[] = {{"version, help, unknown command", test_version_and_help},
			      {"run writes metrics, trace and summary", test_run_writes_outputs},
			      {"plots, or a note without gnuplot", test_plots_or_clear_note},
			      {"bad input exits 2 with a message", test_bad_inputs_exit_2},
			      {"runtime failure exits 1 and writes nothing", test_runtime_failure_exit_1},
			      {"check and --print round trip", test_check_models},
			      {"validate passes, and fails when unconverged", test_validate_pass_and_fail},
			      {"trace and sweep", test_trace_and_sweep},
			      {"train, resume and eval", test_train_and_eval},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {
    {.pName = "cli", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
