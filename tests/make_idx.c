/* make_idx.c: writes the small two-class IDX data set of idx_fixture.h for the shell tests. */
#include <stdio.h>
#include <stdlib.h>

#include "idx_fixture.h"

/* Usage: make_idx DIR PREFIX N SEED: DIR/PREFIX-images and DIR/PREFIX-labels, N 8x8 images. */
int main(int argc, char **argv)
{
	char *end;
	unsigned long n, seed;

	if (argc != 5) {
		fprintf(stderr, "usage: make_idx DIR PREFIX N SEED\n");
		return 2;
	}
	n = strtoul(argv[3], &end, 10);
	if (*end || n == 0 || n > 1000000) {
		fprintf(stderr, "make_idx: N must be a count in 1..1000000, not '%s'\n", argv[3]);
		return 2;
	}
	seed = strtoul(argv[4], &end, 10);
	if (*end) {
		fprintf(stderr, "make_idx: SEED must be a number, not '%s'\n", argv[4]);
		return 2;
	}
	if (idx_write_pair(argv[1], argv[2], n, seed)) {
		fprintf(stderr, "make_idx: cannot write %s/%s-images or -labels\n", argv[1], argv[2]);
		return 1;
	}
	return 0;
}
