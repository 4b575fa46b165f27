/* runner.h: shared CUnit runner for every tests/test_*.c (exit status from the failure count). */
#ifndef LATERAL_TEST_RUNNER_H
#define LATERAL_TEST_RUNNER_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <gsl/gsl_errno.h>

/* Directory holding the source tree (models/, tests/bad/): $top_srcdir under make check, else ".". */
static inline const char *test_srcdir(void)
{
	const char *s = getenv("top_srcdir");
	return s && *s ? s : ".";
}

/* Removes path and, for a directory, everything below it (test scratch directories). */
static inline void test_remove_tree(const char *path)
{
	struct stat st;
	DIR *dir;
	struct dirent *de;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	dir = opendir(path);
	if (dir) {
		while ((de = readdir(dir)) != NULL) {
			char sub[4096];
			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) < (int)sizeof sub)
				test_remove_tree(sub);
		}
		closedir(dir);
	}
	rmdir(path);
}

/* Runs the suites; returns 0 when every assertion passed, 1 on failures, 99 on framework errors. */
static inline int test_run(CU_SuiteInfo *suites)
{
	unsigned failed;
	gsl_set_error_handler_off();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 99;
	if (CU_register_suites(suites) != CUE_SUCCESS) {
		fprintf(stderr, "CUnit: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		return 99;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

#endif
