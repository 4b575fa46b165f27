/* bad_corpus.h: walks a directory of bad input files, each announcing its error on a "# expect:" first line. */
#ifndef LATERAL_TEST_BAD_CORPUS_H
#define LATERAL_TEST_BAD_CORPUS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "lateral/err.h"

/* Calls fn(path, name, expect, ctx) for every *.cfg file in dir, in name order, where expect is the text
 * after "# expect: " on its first line (a CUnit failure if that line is missing). Returns the number of
 * files visited. */
static inline int bad_corpus_each(const char *dir, void (*fn)(const char *, const char *, const char *, void *),
				  void *ctx)
{
	static const char tag[] = "# expect: ";
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort), visited = 0;

	CU_ASSERT_FATAL(n >= 0);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		size_t len = strlen(name);
		char path[8192], line[LAT_ERRLEN] = "";
		FILE *fp;

		if (len > 4 && !strcmp(name + len - 4, ".cfg")) {
			snprintf(path, sizeof path, "%s/%s", dir, name);
			fp = fopen(path, "r");
			CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
			if (!fgets(line, sizeof line, fp))
				line[0] = '\0';
			fclose(fp);
			len = strlen(line);
			while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
				line[--len] = '\0';
			if (strncmp(line, tag, sizeof tag - 1) || !line[sizeof tag - 1]) {
				fprintf(stderr, "\n%s: first line must be \"%s<message>\"\n", path, tag);
				CU_FAIL("bad corpus file without # expect:");
			} else {
				fn(path, name, line + sizeof tag - 1, ctx);
			}
			visited++;
		}
		free(names[i]);
	}
	free(names);
	return visited;
}

#endif
