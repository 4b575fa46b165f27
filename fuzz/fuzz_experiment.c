/* fuzz_experiment.c: libFuzzer harness for experiment files: load and finalize as `lateral train` does. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "lateral/experiment.h"

/* One input: the experiment file. Returns the status of load + finalize (message in err). */
static int fuzz_experiment_run(const uint8_t *data, size_t size, char *err)
{
	const char *path = fuzz_file(0, "experiment.cfg", data, size);
	lat_experiment e;
	int rc;

	/* the sequence of load_experiment in cmd_train.c: init, load, finalize, clear */
	err[0] = '\0';
	lat_experiment_init(&e);
	rc = lat_experiment_load(&e, path, err);
	if (!rc)
		rc = lat_experiment_finalize(&e, err);
	fuzz_check_error(rc, err, path);
	if (!rc && (e.n_layers == 0 || e.n_layers > LAT_MAX_LAYERS || e.n_train_files > LAT_MAX_FILES ||
		    e.n_test_files > LAT_MAX_FILES || e.n_milestones > LAT_MAX_MILESTONES)) {
		fprintf(stderr, "fuzz: finalized experiment with impossible counts\n");
		abort();
	}
	lat_experiment_clear(&e);
	return rc;
}

FUZZ_ENTRY(fuzz_experiment_run)
