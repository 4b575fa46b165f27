/* test_layout.c: the library's floors hold: nothing in src/core or the core's public headers includes or
 * names the configuration floor (lat_model, lat_experiment, cfg.h) or the CLI, and nothing in
 * src/config includes the CLI. */
#include <config.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

/* Words a file of the floor may not contain. */
static const char *const not_in_core[] = {"lateral/model.h", "lateral/experiment.h", "\"cfg.h\"", "\"cli.h\"",
					  "lat_model",	     "lat_experiment",	     "lat_cfg_",  NULL};
static const char *const not_in_config[] = {"\"cli.h\"", "cli_", NULL};
/* The public headers of the configuration floor (and the umbrella header, which includes every floor). */
static const char *const config_headers[] = {"model.h", "experiment.h", "lateral.h", NULL};

static char *slurp(const char *path)
{
	FILE *fp = fopen(path, "rb");
	char *text = NULL;
	long len;

	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (len = ftell(fp)) >= 0 && fseek(fp, 0, SEEK_SET) == 0) {
		text = malloc((size_t)len + 1);
		if (text && fread(text, 1, (size_t)len, fp) != (size_t)len) {
			free(text);
			text = NULL;
		} else if (text) {
			text[len] = '\0';
		}
	}
	fclose(fp);
	return text;
}

static int listed(const char *name, const char *const *list)
{
	for (size_t k = 0; list && list[k]; k++)
		if (!strcmp(name, list[k]))
			return 1;
	return 0;
}

/* Checks every .c and .h file of dir (except those in skip) for the forbidden words; returns the number
 * of files checked. */
static size_t check_dir(const char *dir, const char *const *forbidden, const char *const *skip)
{
	char path[4096];
	DIR *d;
	struct dirent *de;
	size_t n = 0;

	snprintf(path, sizeof path, "%s/%s", test_srcdir(), dir);
	d = opendir(path);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);
		char *text;
		if (len < 3 || (strcmp(de->d_name + len - 2, ".c") && strcmp(de->d_name + len - 2, ".h")) ||
		    listed(de->d_name, skip))
			continue;
		snprintf(path, sizeof path, "%s/%s/%s", test_srcdir(), dir, de->d_name);
		text = slurp(path);
		CU_ASSERT_PTR_NOT_NULL_FATAL(text);
		for (size_t k = 0; forbidden[k]; k++)
			if (strstr(text, forbidden[k])) {
				fprintf(stderr, "\n%s names \"%s\", which belongs to a higher floor\n", path,
					forbidden[k]);
				CU_FAIL("a file names a higher floor");
			}
		free(text);
		n++;
	}
	closedir(d);
	return n;
}

static void test_core_knows_no_configuration(void)
{
	CU_ASSERT(check_dir("src/core", not_in_core, NULL) >= 30);
	CU_ASSERT(check_dir("include/lateral", not_in_core, config_headers) >= 15);
}

static void test_configuration_knows_no_cli(void)
{
	CU_ASSERT(check_dir("src/config", not_in_config, NULL) >= 4);
}

static CU_TestInfo tests[] = {
    {"src/core and the core headers name no configuration or CLI", test_core_knows_no_configuration},
    {"src/config names no CLI", test_configuration_knows_no_cli},
    CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "layout", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
