/* fuzz_model.c: libFuzzer harness for model files: load, finalize (as `lateral check`), reload the output. */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "lateral/model.h"

/* lat_model_write promises a valid model file: what it writes must load again. */
static void model_roundtrip(const lat_model *m)
{
	char err[LAT_ERRLEN] = "";
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	lat_model back;
	int rc;

	if (!fp)
		fuzz_die("fuzz: open_memstream");
	rc = lat_model_write(m, fp);
	if (fclose(fp) != 0 || rc != LAT_OK)
		fuzz_die("fuzz: lat_model_write");
	lat_model_init(&back);
	rc = lat_model_load_string(&back, text, "<written>", err);
	if (rc != LAT_OK) {
		fprintf(stderr, "fuzz: the written model does not load again: %s\n--- written:\n%s", err,
			text);
		abort();
	}
	lat_model_clear(&back);
	free(text);
}

/* One input: the model file. Returns the status of load + finalize (message in err). */
static int fuzz_model_run(const uint8_t *data, size_t size, char *err)
{
	const char *path = fuzz_file(0, "model.cfg", data, size);
	lat_model m;
	int rc;

	/* the sequence of cli_load_model: init, load, finalize, clear */
	err[0] = '\0';
	lat_model_init(&m);
	rc = lat_model_load(&m, path, err);
	if (!rc)
		rc = lat_model_finalize(&m, err);
	fuzz_check_error(rc, err, path);
	if (!rc)
		model_roundtrip(&m);
	lat_model_clear(&m);
	return rc;
}

FUZZ_ENTRY(fuzz_model_run)
