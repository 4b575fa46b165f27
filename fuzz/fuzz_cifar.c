/* fuzz_cifar.c: libFuzzer harness for the CIFAR-10/100 binary reader.
 * Input layout: one flags byte (bit 0: CIFAR-100, bit 1: two files), then with two files 2 bytes
 * big-endian L and L bytes of the first file; the rest is the (last) file. */
#include <config.h>

#include <stdint.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "fuzz_data.h"
#include "lateral/data.h"

#define CIFAR_SIDE 32

/* One input: flags and files in the layout above. Returns the loader's status (message in err). */
static int fuzz_cifar_run(const uint8_t *data, size_t size, char *err)
{
	const char *paths[FUZZ_SLOTS];
	size_t n_paths = 1, len;
	int cifar100, rc;
	lat_dataset d;
	float *sentinel;

	err[0] = '\0';
	if (size < 1)
		return LAT_EINVAL;
	cifar100 = data[0] & 1;
	if (data[0] & 2) {
		if (size < 3)
			return LAT_EINVAL;
		len = (size_t)data[1] << 8 | data[2];
		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		paths[0] = fuzz_file(0, "data_batch_1.bin", data, len);
		data += len;
		size -= len;
		n_paths = 2;
	} else {
		data++;
		size--;
	}
	paths[n_paths - 1] = fuzz_file((int)n_paths - 1, "data_batch_2.bin", data, size);

	fuzz_sentinel(&d);
	sentinel = d.x;
	rc = lat_data_load_cifar(paths, n_paths, cifar100, 0, &d, err);
	fuzz_check_error(rc, err, fuzz_scratch());
	fuzz_check_dataset(rc, &d, sentinel, 3, CIFAR_SIDE);
	if (!rc && d.n_classes != (cifar100 ? 100u : 10u)) {
		fprintf(stderr, "fuzz: CIFAR-%d data set with %zu classes\n", cifar100 ? 100 : 10,
			d.n_classes);
		abort();
	}
	lat_dataset_clear(&d);
	return rc;
}

FUZZ_ENTRY(fuzz_cifar_run)
