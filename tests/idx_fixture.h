/* idx_fixture.h: writes a small separable two-class IDX data set for the training tests. */
#ifndef LATERAL_TEST_IDX_FIXTURE_H
#define LATERAL_TEST_IDX_FIXTURE_H

#include <stdio.h>

#include <gsl/gsl_rng.h>

static inline void idx_put_be32(FILE *fp, unsigned v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
			      (unsigned char)v};
	fwrite(b, 1, 4, fp);
}

/* n 8x8 images in DIR/PREFIX-images and labels in DIR/PREFIX-labels: class 0 is bright in the left
 * half, class 1 in the right half, with uniform noise. Returns 0 or -1 if a file cannot be written. */
static inline int idx_write_pair(const char *dir, const char *prefix, size_t n, unsigned long seed)
{
	char pi[512], pl[512];
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	FILE *fi, *fl;
	snprintf(pi, sizeof pi, "%s/%s-images", dir, prefix);
	snprintf(pl, sizeof pl, "%s/%s-labels", dir, prefix);
	fi = fopen(pi, "wb");
	fl = fopen(pl, "wb");
	if (!fi || !fl || !r) {
		if (fi)
			fclose(fi);
		if (fl)
			fclose(fl);
		gsl_rng_free(r);
		return -1;
	}
	gsl_rng_set(r, seed);
	idx_put_be32(fi, 0x803);
	idx_put_be32(fi, (unsigned)n);
	idx_put_be32(fi, 8);
	idx_put_be32(fi, 8);
	idx_put_be32(fl, 0x801);
	idx_put_be32(fl, (unsigned)n);
	for (size_t i = 0; i < n; i++) {
		unsigned char label = (unsigned char)(i % 2);
		for (size_t y = 0; y < 8; y++)
			for (size_t x = 0; x < 8; x++) {
				int bright = (x < 4) == (label == 0);
				fputc((int)((bright ? 160 : 60) + 40 * gsl_rng_uniform(r)), fi);
			}
		fputc(label, fl);
	}
	fclose(fi);
	fclose(fl);
	gsl_rng_free(r);
	return 0;
}

#endif
