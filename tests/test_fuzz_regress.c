/* test_fuzz_regress.c: replays fuzz/regress/HARNESS/ inputs through the harness's own loader sequence. */
#include <config.h>

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* The harnesses without their libFuzzer entry points: each provides fuzz_NAME_run(data, size, err), which
 * runs one input exactly as under libFuzzer (including its contract checks, which abort on a violation)
 * and returns the loader's status. */
#define FUZZ_NO_ENTRY
#include "../fuzz/fuzz_cifar.c"
#include "../fuzz/fuzz_experiment.c"
#include "../fuzz/fuzz_idx.c"
#include "../fuzz/fuzz_model.c"
#include "../fuzz/fuzz_set.c"
#include "../fuzz/fuzz_setint.c"

#include "runner.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

/* Heap limit of the replay: a loader that allocates from a header claiming gigabytes gets NULL (and so a
 * wrong status) instead of memory the kernel would lend it. Not under ASan, which maps terabytes of shadow.
 */
#define REPLAY_DATA_LIMIT ((rlim_t)1 << 30)

typedef int (*run_fn)(const uint8_t *data, size_t size, char *err);

/* Reads a whole file; returns a new buffer (free with free()) or NULL. */
static uint8_t *slurp(const char *path, size_t *size)
{
	FILE *fp = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)len + 1);
		if (buf && fread(buf, 1, (size_t)len, fp) != (size_t)len) {
			free(buf);
			buf = NULL;
		}
		*size = (size_t)len;
	}
	fclose(fp);
	return buf;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every file of fuzz/regress/harness: names starting with "ok_" must load (status 0), every other
 * file must be refused as bad input (LAT_ECONFIG). */
static void replay(const char *harness, run_fn run)
{
	char dir[1024];
	char *names[256];
	size_t n = 0, i;
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof dir, "%s/fuzz/regress/%s", test_srcdir(), harness);
	d = opendir(dir);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL && n < sizeof names / sizeof names[0])
		if (de->d_name[0] != '.')
			names[n++] = strdup(de->d_name);
	closedir(d);
	CU_ASSERT(n > 0);
	qsort(names, n, sizeof *names, by_name);
	for (i = 0; i < n; i++) {
		char path[2048], err[LAT_ERRLEN] = "";
		int want = strncmp(names[i], "ok_", 3) == 0 ? LAT_OK : LAT_ECONFIG, rc;
		size_t size = 0;
		uint8_t *data;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		data = slurp(path, &size);
		CU_ASSERT_PTR_NOT_NULL(data);
		if (data) {
			rc = run(data, size, err);
			CU_ASSERT_EQUAL(rc, want);
			if (rc != want)
				fprintf(stderr, "\n  %s: status %d (wanted %d): %s\n", path, rc, want, err);
		}
		free(data);
		free(names[i]);
	}
}

/* fuzz_set_run reports the model's failure first; these report the experiment's. */
static int set_experiment_run(const uint8_t *data, size_t size, char *err)
{
	char errs[2][LAT_ERRLEN];
	int rc[2];

	fuzz_set_both(data, size, rc, errs);
	memcpy(err, errs[1], LAT_ERRLEN);
	return rc[1];
}

/* The bugs the fuzzers found, with the message each input must now get. */
static void test_messages(void)
{
	static const struct {
		const char *harness, *file, *message;
		run_fn run;
	} cases[] = {
	    {"fuzz_model", "exit_include_directory.cfg", "model.cfg:1: @include is not supported",
	     fuzz_model_run},
	    {"fuzz_model", "exit_include_indented.cfg", "model.cfg:2: @include is not supported",
	     fuzz_model_run},
	    {"fuzz_experiment", "exit_include_directory.cfg", "experiment.cfg:2: @include is not supported",
	     fuzz_experiment_run},
	    {"fuzz_set", "exit_include_model_value", "input.cov_diag: @include is not supported in a value",
	     fuzz_set_run},
	    /* a bare string value is quoted, so the directive stays inside the string */
	    {"fuzz_set", "exit_include_experiment_value", "sharing.mode: expected one of \"none\", \"instant\"",
	     set_experiment_run},
	    /* issue 14: integers that libconfig 1.5 alone wraps to 32 bits, given with --set, --vary, in a file */
	    {"fuzz_setint", "neurons_wrap32_set",
	     "--set circuit.neurons=4294967306: circuit.neurons: expected an integer >= 1 and <= 1000000, got "
	     "4294967306",
	     fuzz_setint_run},
	    {"fuzz_setint", "neurons_wrap32_vary",
	     "--vary circuit.neurons=4294967298: circuit.neurons: expected an integer >= 1 and <= 1000000, got "
	     "4294967298",
	     fuzz_setint_run},
	    {"fuzz_setint", "epochs_wrap32_file",
	     "setint.cfg:1: train.epochs: expected an integer >= 0 and <= 100000, got 4294967298", fuzz_setint_run},
	    {"fuzz_setint", "layer_channels_wrap32",
	     "setint.cfg:1: network.layers[0].channels: expected an integer >= 1 and <= 1000000, got 4294967328",
	     fuzz_setint_run},
	    {"fuzz_idx", "oom_plain_width_83886082",
	     "images-idx3-ubyte: truncated: expected 335544344 bytes, got 24", fuzz_idx_run},
	    {"fuzz_idx", "huge_gz_header_60000x28x28",
	     "images-idx3-ubyte: the header announces 47040016 bytes (uncompressed) but a", fuzz_idx_run},
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char path[2048], err[LAT_ERRLEN] = "";
		size_t size = 0;
		uint8_t *data;
		int rc;

		snprintf(path, sizeof path, "%s/fuzz/regress/%s/%s", test_srcdir(), cases[i].harness,
			 cases[i].file);
		data = slurp(path, &size);
		CU_ASSERT_PTR_NOT_NULL_FATAL(data);
		rc = cases[i].run(data, size, err);
		CU_ASSERT_EQUAL(rc, LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].message));
		if (!strstr(err, cases[i].message))
			fprintf(stderr, "\n  %s: got '%s', wanted '%s'\n", path, err, cases[i].message);
		free(data);
	}
}

static void test_model(void)
{
	replay("fuzz_model", fuzz_model_run);
}

static void test_experiment(void)
{
	replay("fuzz_experiment", fuzz_experiment_run);
}

static void test_set(void)
{
	replay("fuzz_set", fuzz_set_run);
}

static void test_setint(void)
{
	replay("fuzz_setint", fuzz_setint_run);
}

static void test_idx(void)
{
	replay("fuzz_idx", fuzz_idx_run);
}

static void test_cifar(void)
{
	replay("fuzz_cifar", fuzz_cifar_run);
}

static int suite_init(void)
{
#ifndef UNDER_ASAN
	struct rlimit lim;
	if (getrlimit(RLIMIT_DATA, &lim) == 0 &&
	    (lim.rlim_max == RLIM_INFINITY || lim.rlim_max > REPLAY_DATA_LIMIT)) {
		lim.rlim_cur = REPLAY_DATA_LIMIT;
		setrlimit(RLIMIT_DATA, &lim);
	}
#endif
	fuzz_setup();
	return 0;
}

static CU_TestInfo tests[] = {{"model files", test_model},
			      {"experiment files", test_experiment},
			      {"--set overrides", test_set},
			      {"integer literals (--set, --vary, files)", test_setint},
			      {"IDX readers (plain, gzip)", test_idx},
			      {"CIFAR readers", test_cifar},
			      {"messages of the fixed bugs", test_messages},
			      CU_TEST_INFO_NULL};

static CU_SuiteInfo suites[] = {{.pName = "fuzz regressions", .pInitFunc = suite_init, .pTests = tests},
				CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
