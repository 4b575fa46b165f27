/* fuzz_common.h: shared by the libFuzzer harnesses: per-process scratch files, error-contract checks. */
#ifndef LATERAL_FUZZ_COMMON_H
#define LATERAL_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_errno.h>

#include "lateral/err.h"

/* The loaders take paths, so every input is written to one of these files first. They live in one
 * mkdtemp directory per fuzzing process, created on first use and removed at exit. */
#define FUZZ_SLOTS 2

/* Harness-private state: libFuzzer runs one input at a time in one thread. */
static char fuzz_dir[256];
static char fuzz_paths[FUZZ_SLOTS][320];

static inline void fuzz_cleanup(void)
{
	int i;

	for (i = 0; i < FUZZ_SLOTS; i++)
		if (fuzz_paths[i][0])
			unlink(fuzz_paths[i]);
	if (fuzz_dir[0])
		rmdir(fuzz_dir);
}

/* A harness failure (not a finding in the library): stop with a message libFuzzer shows. */
static inline void fuzz_die(const char *what)
{
	perror(what);
	abort();
}

/* Writes data[0..size) to scratch file slot (0 or 1) under the given base name and returns its path. */
static inline const char *fuzz_file(int slot, const char *name, const uint8_t *data, size_t size)
{
	FILE *fp;

	if (!fuzz_dir[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(fuzz_dir, sizeof fuzz_dir, "%s/lat_fuzz.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(fuzz_dir))
			fuzz_die("fuzz: mkdtemp");
		atexit(fuzz_cleanup);
	}
	if (fuzz_paths[slot][0])
		unlink(fuzz_paths[slot]);
	snprintf(fuzz_paths[slot], sizeof fuzz_paths[slot], "%s/%s", fuzz_dir, name);
	fp = fopen(fuzz_paths[slot], "wb");
	if (!fp || (size && fwrite(data, 1, size, fp) != size) || fclose(fp) != 0)
		fuzz_die(fuzz_paths[slot]);
	return fuzz_paths[slot];
}

/* libconfig 1.5 (Debian 12) leaks the string token that is the lookahead of a syntax error, e.g. in
 * `a = 1 "s";` (upstream hyperrealm/libconfig#142, fixed by #155 for 1.7.3: a bison %destructor). Not
 * ours to fix, so LeakSanitizer skips the string allocations of libconfig's scanner (strbuf_append, or
 * libconfig_yylex itself for "": the only libconfig frame a fast unwind finds); settings our code failed
 * to free would still show as leaked config_setting_t objects. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:strbuf_append\nleak:libconfig_yylex\n";
}

/* Process-wide policy as in main(): GSL must return codes instead of aborting. */
static inline void fuzz_setup(void)
{
	gsl_set_error_handler_off();
}

/* The error contract of every loader: a failure is a known negative code with a non-empty message that
 * contains names (the file it is about; NULL: no such check). */
static inline void fuzz_check_error(int rc, const char *err, const char *names)
{
	if (rc == LAT_OK)
		return;
	if (rc < LAT_EDIVERGE || rc > LAT_ENOMEM) {
		fprintf(stderr, "fuzz: unknown status code %d (message '%s')\n", rc, err);
		abort();
	}
	if (!err[0]) {
		fprintf(stderr, "fuzz: status %d (%s) without a message\n", rc, lat_strerror(rc));
		abort();
	}
	if (names && !strstr(err, names)) {
		fprintf(stderr, "fuzz: message '%s' does not name '%s'\n", err, names);
		abort();
	}
}

/* The scratch directory, which every path of fuzz_file (and so every message naming one) contains. */
static inline const char *fuzz_scratch(void)
{
	return fuzz_dir;
}

/* Defines the libFuzzer entry points around run(data, size, err), a harness's one-input function; the
 * regression test (tests/test_fuzz_regress.c) defines FUZZ_NO_ENTRY and calls the run functions itself. */
#ifdef FUZZ_NO_ENTRY
#define FUZZ_ENTRY(run)
#else
#define FUZZ_ENTRY(run)                                                                                      \
	int LLVMFuzzerInitialize(int *argc, char ***argv);                                                   \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                                        \
	int LLVMFuzzerInitialize(int *argc, char ***argv)                                                    \
	{                                                                                                    \
		(void)argc;                                                                                  \
		(void)argv;                                                                                  \
		fuzz_setup();                                                                                \
		return 0;                                                                                    \
	}                                                                                                    \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                                         \
	{                                                                                                    \
		char err[LAT_ERRLEN] = "";                                                                   \
		(void)run(data, size, err);                                                                  \
		return 0;                                                                                    \
	}
#endif

#endif
