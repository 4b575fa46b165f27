/* fuzz_set.c: libFuzzer harness for --set overrides: each input line is one section.key=value assignment,
 * applied in order to the default model (lat_model_set) and to the default experiment (lat_experiment_set)
 * as the CLI applies its --set options, then finalized. A backslash before a newline keeps the newline
 * inside the assignment (a shell argument can hold one). */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lateral/experiment.h"
#include "lateral/model.h"

/* More --set options than anyone types; keeps a single input cheap. */
#define MAX_ASSIGNMENTS 64

/* One input: the assignments. rc[0] and err[0] receive the model's status and message, rc[1] and err[1]
 * the experiment's. */
static void fuzz_set_both(const uint8_t *data, size_t size, int rc[2], char err[2][LAT_ERRLEN])
{
	char *text = malloc(size + 1), *sets[MAX_ASSIGNMENTS];
	size_t n_sets = 0, i, j, k;
	lat_model m;
	lat_experiment e;

	if (!text)
		fuzz_die("fuzz: malloc");
	/* argv strings cannot hold a NUL byte; a NUL ends the assignment like the end of an argument */
	sets[n_sets++] = text;
	for (i = 0, j = 0; i < size; i++) {
		if (data[i] == '\\' && i + 1 < size && data[i + 1] == '\n') {
			text[j++] = '\n';
			i++;
		} else if (data[i] == '\n' && n_sets < MAX_ASSIGNMENTS) {
			text[j++] = '\0';
			sets[n_sets++] = text + j;
		} else {
			text[j++] = (char)data[i];
		}
	}
	text[j] = '\0';

	err[0][0] = '\0';
	lat_model_init(&m);
	rc[0] = LAT_OK;
	for (k = 0; !rc[0] && k < n_sets; k++)
		rc[0] = lat_model_set(&m, sets[k], err[0]);
	if (!rc[0])
		rc[0] = lat_model_finalize(&m, err[0]);
	fuzz_check_error(rc[0], err[0], NULL);
	lat_model_clear(&m);

	err[1][0] = '\0';
	lat_experiment_init(&e);
	rc[1] = LAT_OK;
	for (k = 0; !rc[1] && k < n_sets; k++)
		rc[1] = lat_experiment_set(&e, sets[k], err[1]);
	if (!rc[1])
		rc[1] = lat_experiment_finalize(&e, err[1]);
	fuzz_check_error(rc[1], err[1], NULL);
	lat_experiment_clear(&e);

	free(text);
}

/* One input; returns the model's status and message, or when that is 0 the experiment's. */
static int fuzz_set_run(const uint8_t *data, size_t size, char *err)
{
	char errs[2][LAT_ERRLEN];
	int rc[2], which;

	fuzz_set_both(data, size, rc, errs);
	which = rc[0] ? 0 : 1;
	memcpy(err, errs[which], LAT_ERRLEN);
	return rc[which];
}

FUZZ_ENTRY(fuzz_set_run)
