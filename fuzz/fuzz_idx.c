/* fuzz_idx.c: libFuzzer harness for the IDX image/label reader (plain and gzip, detected by magic).
 * Input layout: 2 bytes big-endian L, then L bytes of the images file, then the labels file (the rest);
 * an L beyond the input gives all of it to the images file and an empty labels file. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "fuzz_data.h"
#include "lateral/data.h"

/* One input: the two files in the layout above. Returns the loader's status (message in err). */
static int fuzz_idx_run(const uint8_t *data, size_t size, char *err)
{
	const char *images, *labels;
	size_t len;
	lat_dataset d;
	float *sentinel;
	int rc;

	err[0] = '\0';
	if (size < 2)
		return LAT_EINVAL;
	len = (size_t)data[0] << 8 | data[1];
	data += 2;
	size -= 2;
	if (len > size)
		len = size;
	images = fuzz_file(0, "images-idx3-ubyte", data, len);
	labels = fuzz_file(1, "labels-idx1-ubyte", data + len, size - len);

	fuzz_sentinel(&d);
	sentinel = d.x;
	rc = lat_data_load_idx(images, labels, 0, &d, err);
	fuzz_check_error(rc, err, fuzz_scratch());
	fuzz_check_dataset(rc, &d, sentinel, 1, 0);
	lat_dataset_clear(&d);
	return rc;
}

FUZZ_ENTRY(fuzz_idx_run)
