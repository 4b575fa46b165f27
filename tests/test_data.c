/* test_data.c: IDX / CIFAR loading (exact pixels, every malformed file), stats, splits and the batcher. */
#include <config.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "lateral/data.h"
#include "lateral/err.h"
#include "runner.h"

#define CIFAR_PIXELS 3072

/* One temporary directory for the whole suite, removed with its files afterwards. */
static char tmpdir[64];

static int suite_init(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lat_test_data.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_cleanup(void)
{
	test_remove_tree(tmpdir);
	return 0;
}

static void tmp_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

/* Writes len bytes to path, gzip-compressed when gz. Returns 0 on success. */
static int write_file(const char *path, const unsigned char *data, size_t len, int gz)
{
	if (gz) {
		gzFile g = gzopen(path, "wb");
		int ok;
		if (!g)
			return -1;
		ok = len == 0 || gzwrite(g, data, (unsigned)len) == (int)len;
		return gzclose(g) == Z_OK && ok ? 0 : -1;
	} else {
		FILE *fp = fopen(path, "wb");
		int ok;
		if (!fp)
			return -1;
		ok = fwrite(data, 1, len, fp) == len;
		return fclose(fp) == 0 && ok ? 0 : -1;
	}
}

/* Reads a whole (raw) file into a new buffer. */
static unsigned char *read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	long size;

	*len = 0;
	if (!fp)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) > 0 && fseek(fp, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)size);
		if (buf && fread(buf, 1, (size_t)size, fp) == (size_t)size)
			*len = (size_t)size;
	}
	fclose(fp);
	return buf;
}

static void put_be32(unsigned char *p, unsigned long v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* The known pixel byte of image i at flat position j; covers 0 and 255. */
static unsigned char pix(size_t i, size_t j)
{
	return (unsigned char)((i * 97 + j * 13 + (i == 1 && j == 0 ? 255 - 97 : 0)) & 0xff);
}

/* IDX image file bytes (header dims as given, pixels from pix); free with free(). */
static unsigned char *idx_images(unsigned long magic, unsigned long n, unsigned long h, unsigned long w,
				 size_t *len)
{
	size_t n_pix = (size_t)n * h * w, j;
	unsigned char *b = malloc(16 + n_pix);

	put_be32(b, magic);
	put_be32(b + 4, n);
	put_be32(b + 8, h);
	put_be32(b + 12, w);
	for (j = 0; j < n_pix; j++)
		b[16 + j] = pix(j / (h * w), j % (h * w));
	*len = 16 + n_pix;
	return b;
}

static unsigned char *idx_labels(unsigned long magic, unsigned long n, const unsigned char *labels,
				 size_t *len)
{
	unsigned char *b = malloc(8 + n);

	put_be32(b, magic);
	put_be32(b + 4, n);
	memcpy(b + 8, labels, n);
	*len = 8 + n;
	return b;
}

static const unsigned char LABELS3[3] = {3, 0, 9};

/* Writes the standard 3-image 4x5 set to <stem>-images / <stem>-labels (gz selects compression). */
static void write_idx_set(const char *images, const char *labels, int gz_images, int gz_labels)
{
	size_t len;
	unsigned char *b = idx_images(0x803, 3, 4, 5, &len);

	CU_ASSERT_FATAL(write_file(images, b, len, gz_images) == 0);
	free(b);
	b = idx_labels(0x801, 3, LABELS3, &len);
	CU_ASSERT_FATAL(write_file(labels, b, len, gz_labels) == 0);
	free(b);
}

static void check_idx_set(const lat_dataset *d)
{
	size_t i, j, bad = 0;

	CU_ASSERT_EQUAL(d->n, 3);
	CU_ASSERT_EQUAL(d->c, 1);
	CU_ASSERT_EQUAL(d->h, 4);
	CU_ASSERT_EQUAL(d->w, 5);
	CU_ASSERT_EQUAL(d->n_classes, 10);
	CU_ASSERT_FATAL(d->x != NULL && d->y != NULL && d->n == 3);
	for (i = 0; i < 3; i++) {
		CU_ASSERT_EQUAL(d->y[i], LABELS3[i]);
		for (j = 0; j < 20; j++)
			bad += d->x[i * 20 + j] != (float)pix(i, j) / 255.0f;
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL(d->x[20], 1.0f); /* pix(1, 0) = 255 */
	CU_ASSERT_EQUAL(d->x[0], 0.0f);	 /* pix(0, 0) = 0 */
}

static void test_idx_plain(void)
{
	char im[128], lb[128], err[LAT_ERRLEN];
	lat_dataset d;

	tmp_path(im, sizeof im, "plain-images-idx3-ubyte");
	tmp_path(lb, sizeof lb, "plain-labels-idx1-ubyte");
	write_idx_set(im, lb, 0, 0);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	check_idx_set(&d);
	/* loading into a filled dataset replaces it without leaking */
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	check_idx_set(&d);
	lat_dataset_clear(&d);
	CU_ASSERT_EQUAL(d.n, 0);
	CU_ASSERT_PTR_NULL(d.x);
	lat_dataset_clear(&d); /* twice is safe */
}

static void test_idx_gzip(void)
{
	char im[128], lb[128], err[LAT_ERRLEN];
	lat_dataset d;
	size_t len;
	unsigned char *raw;

	tmp_path(im, sizeof im, "gz-images-idx3-ubyte.gz");
	tmp_path(lb, sizeof lb, "gz-labels-idx1-ubyte.gz");
	write_idx_set(im, lb, 1, 1);
	raw = read_file(im, &len);
	CU_ASSERT_FATAL(raw != NULL && len > 2);
	CU_ASSERT(raw[0] == 0x1f && raw[1] == 0x8b); /* really compressed */
	free(raw);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	check_idx_set(&d);
	lat_dataset_clear(&d);

	/* mixed: gzip images, plain labels */
	tmp_path(im, sizeof im, "mix-images.gz");
	tmp_path(lb, sizeof lb, "mix-labels");
	write_idx_set(im, lb, 1, 0);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	check_idx_set(&d);
	lat_dataset_clear(&d);
}

static void test_idx_classes(void)
{
	char im[128], lb[128], err[LAT_ERRLEN];
	unsigned char labels[3] = {12, 1, 4}, *b;
	lat_dataset d;
	size_t len;

	tmp_path(im, sizeof im, "cls-images");
	tmp_path(lb, sizeof lb, "cls-labels");
	write_idx_set(im, lb, 0, 0);
	b = idx_labels(0x801, 3, labels, &len);
	CU_ASSERT_FATAL(write_file(lb, b, len, 0) == 0);
	free(b);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n_classes, 13);
	CU_ASSERT_EQUAL(d.y[0], 12);
	lat_dataset_clear(&d);

	labels[0] = 255;
	b = idx_labels(0x801, 3, labels, &len);
	CU_ASSERT_FATAL(write_file(lb, b, len, 1) == 0);
	free(b);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n_classes, 256);
	lat_dataset_clear(&d);
}

/* Loads and expects failure with code; the message must contain the file name `name` and `what`. The
 * dataset passed in holds a previous load, which must survive. */
static void expect_idx_fail(const char *im, const char *lb, int code, const char *name, const char *what)
{
	char err[LAT_ERRLEN] = "";
	lat_dataset d;
	float *x;
	int rc;

	lat_dataset_init(&d);
	d.n = 1;
	d.c = d.h = d.w = 1;
	d.x = x = malloc(sizeof *d.x);
	d.y = malloc(sizeof *d.y);
	rc = lat_data_load_idx(im, lb, 0, &d, err);
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, name));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	if (rc != code || !strstr(err, name) || !strstr(err, what))
		fprintf(stderr, "\n  got %d '%s', wanted %d with '%s' and '%s'\n", rc, err, code, name, what);
	CU_ASSERT(d.n == 1 && d.x == x);
	lat_dataset_clear(&d);
}

/* Writes bytes (images when is_images) to a fresh file and checks the loader rejects it. */
static void bad_idx(const char *name, const unsigned char *b, size_t len, int gz, int is_images, int code,
		    const char *what)
{
	char im[128], lb[128], bad[128];

	tmp_path(im, sizeof im, "good-images");
	tmp_path(lb, sizeof lb, "good-labels");
	write_idx_set(im, lb, 0, 0);
	tmp_path(bad, sizeof bad, name);
	CU_ASSERT_FATAL(write_file(bad, b, len, gz) == 0);
	if (is_images)
		expect_idx_fail(bad, lb, code, name, what);
	else
		expect_idx_fail(im, bad, code, name, what);
}

static void test_idx_malformed(void)
{
	unsigned char *b, labels[3] = {1, 2, 3};
	size_t len;
	int gz;

	for (gz = 0; gz < 2; gz++) {
		/* wrong magic (images and labels; swapped file kinds) */
		b = idx_images(0x801, 3, 4, 5, &len);
		bad_idx("magic-images", b, len, gz, 1, LAT_ECONFIG, "expected 0x00000803");
		free(b);
		b = idx_labels(0x803, 3, labels, &len);
		bad_idx("magic-labels", b, len, gz, 0, LAT_ECONFIG, "expected 0x00000801");
		free(b);
		b = idx_images(0x803, 3, 4, 5, &len);
		bad_idx("short-magic", b, 2, gz, 1, LAT_ECONFIG, "bad magic");
		bad_idx("empty-images", b, 0, gz, 1, LAT_ECONFIG, "bad magic");

		/* truncation: header, images, labels */
		bad_idx("short-header", b, 10, gz, 1, LAT_ECONFIG,
			"truncated header: expected at least 16 bytes, got 10");
		bad_idx("trunc-images", b, len - 6, gz, 1, LAT_ECONFIG,
			"truncated: expected 76 bytes, got 70");
		bad_idx("header-only", b, 16, gz, 1, LAT_ECONFIG, "truncated: expected 76 bytes, got 16");
		free(b);
		b = idx_labels(0x801, 3, labels, &len);
		bad_idx("trunc-labels", b, len - 1, gz, 0, LAT_ECONFIG,
			"truncated: expected 11 bytes, got 10");
		free(b);

		/* trailing bytes */
		b = idx_images(0x803, 3, 4, 5, &len);
		b = realloc(b, len + 3);
		memset(b + len, 0, 3);
		bad_idx("trail-images", b, len + 3, gz, 1, LAT_ECONFIG,
			"trailing data: expected 76 bytes, got 79");
		free(b);
		b = idx_labels(0x801, 3, labels, &len);
		b = realloc(b, len + 1);
		b[len] = 7;
		bad_idx("trail-labels", b, len + 1, gz, 0, LAT_ECONFIG,
			"trailing data: expected 11 bytes, got 12");
		free(b);

		/* image count vs label count */
		b = idx_labels(0x801, 2, labels, &len);
		bad_idx("count-labels", b, len, gz, 0, LAT_ECONFIG, "expected 3 labels");
		free(b);

		/* zero dimensions */
		b = idx_images(0x803, 0, 4, 5, &len);
		bad_idx("zero-n", b, len, gz, 1, LAT_ECONFIG, "expected nonzero dimensions");
		free(b);
		b = idx_images(0x803, 3, 0, 5, &len);
		bad_idx("zero-h", b, len, gz, 1, LAT_ECONFIG, "expected nonzero dimensions");
		free(b);
		b = idx_images(0x803, 3, 4, 0, &len);
		bad_idx("zero-w", b, len, gz, 1, LAT_ECONFIG, "expected nonzero dimensions");
		free(b);
	}

	/* absurd dimensions are refused from the header alone (the file holds no pixels) */
	b = idx_images(0x803, 3, 4, 5, &len);
	put_be32(b + 4, 3);
	put_be32(b + 8, 0xffffffffUL);
	put_be32(b + 12, 0xffffffffUL);
	bad_idx("huge-hw", b, 16, 0, 1, LAT_ECONFIG, "exceed the limit");
	put_be32(b + 4, 60000);
	put_be32(b + 8, 300);
	put_be32(b + 12, 300);
	bad_idx("huge-n", b, 16, 0, 1, LAT_ECONFIG, "exceed the limit");
	free(b);
}

static void test_idx_gzip_corrupt(void)
{
	char im[128], lb[128];
	unsigned char *b, labels[200];
	size_t len, j;
	unsigned long s = 12345;

	tmp_path(im, sizeof im, "corrupt-images-idx3-ubyte.gz");
	tmp_path(lb, sizeof lb, "corrupt-labels-idx1-ubyte");
	b = idx_images(0x803, 200, 28, 28, &len);
	for (j = 16; j < len; j++) { /* mildly compressible pseudo-random pixels */
		s = s * 1103515245UL + 12345UL;
		b[j] = (unsigned char)((s >> 16) & 0x3f);
	}
	CU_ASSERT_FATAL(write_file(im, b, len, 1) == 0);
	free(b);
	memset(labels, 1, sizeof labels);
	b = idx_labels(0x801, 200, labels, &len);
	CU_ASSERT_FATAL(write_file(lb, b, len, 0) == 0);
	free(b);

	/* sanity: the intact pair loads */
	expect_idx_fail(im, "/nonexistent/labels", LAT_EIO, "/nonexistent/labels", "cannot read: No such file or directory");
	{
		lat_dataset d;
		char err[LAT_ERRLEN];
		lat_dataset_init(&d);
		CU_ASSERT_EQUAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
		CU_ASSERT_EQUAL(d.n, 200);
		lat_dataset_clear(&d);
	}

	/* flipped bytes in the middle of the deflate stream */
	b = read_file(im, &len);
	CU_ASSERT_FATAL(b != NULL && len > 100);
	for (j = len / 2; j < len / 2 + 8; j++)
		b[j] ^= 0xff;
	CU_ASSERT_FATAL(write_file(im, b, len, 0) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "corrupt-images-idx3-ubyte.gz", "corrupt gzip data");
	/* a damaged CRC only (all data decodes) */
	for (j = len / 2; j < len / 2 + 8; j++)
		b[j] ^= 0xff;
	b[len - 6] ^= 0x55;
	CU_ASSERT_FATAL(write_file(im, b, len, 0) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "corrupt-images-idx3-ubyte.gz", "corrupt gzip data");
	b[len - 6] ^= 0x55;
	/* the compressed file cut in half */
	CU_ASSERT_FATAL(write_file(im, b, len / 2, 0) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "corrupt-images-idx3-ubyte.gz", "gzip");
	/* gzip magic followed by garbage */
	memset(b + 2, 0xa5, 64);
	CU_ASSERT_FATAL(write_file(im, b, 66, 0) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "corrupt-images-idx3-ubyte.gz", "gzip");
	free(b);
}

static void test_idx_missing(void)
{
	char im[128], lb[128], missing[128];

	tmp_path(im, sizeof im, "m-images");
	tmp_path(lb, sizeof lb, "m-labels");
	write_idx_set(im, lb, 0, 0);
	tmp_path(missing, sizeof missing, "no-such-file-idx3-ubyte.gz");
	expect_idx_fail(missing, lb, LAT_EIO, "no-such-file-idx3-ubyte.gz", "cannot read: No such file or directory");
	expect_idx_fail(im, missing, LAT_EIO, "no-such-file-idx3-ubyte.gz", "cannot read: No such file or directory");
	expect_idx_fail(tmpdir, lb, LAT_EIO, tmpdir, "cannot read: Is a directory");
}

/* Writes data as two gzip members split at byte cut, then extra raw bytes. Returns 0 on success. */
static int write_gz_parts(const char *path, const unsigned char *data, size_t len, size_t cut,
			  const unsigned char *extra, size_t n_extra)
{
	char part[160];
	unsigned char *a, *b;
	size_t la, lb;
	FILE *fp;
	int ok;

	snprintf(part, sizeof part, "%s.part", path);
	if (write_file(part, data, cut, 1) != 0 || !(a = read_file(part, &la)))
		return -1;
	if (write_file(part, data + cut, len - cut, 1) != 0 || !(b = read_file(part, &lb))) {
		free(a);
		return -1;
	}
	unlink(part);
	fp = fopen(path, "wb");
	ok = fp && fwrite(a, 1, la, fp) == la && fwrite(b, 1, lb, fp) == lb &&
	     (n_extra == 0 || fwrite(extra, 1, n_extra, fp) == n_extra);
	if (fp && fclose(fp) != 0)
		ok = 0;
	free(a);
	free(b);
	return ok ? 0 : -1;
}

/* Concatenated gzip members are one stream (as gzip reads them); any byte after the last member that does
 * not start another one is trailing data, refused with the file named (zlib's gzread would skip it). */
static void test_idx_gzip_members(void)
{
	char im[128], lb[128], err[LAT_ERRLEN] = "";
	const unsigned char junk[4] = {'J', 'U', 'N', 'K'}, zeros[100] = {0}, magic[2] = {0x1f, 0x8b};
	unsigned char *b;
	size_t len;
	lat_dataset d;

	tmp_path(im, sizeof im, "members-images.gz");
	tmp_path(lb, sizeof lb, "members-labels");
	write_idx_set(im, lb, 0, 0);
	b = idx_images(0x803, 3, 4, 5, &len);
	/* a member boundary inside the header, then one inside the pixels */
	CU_ASSERT_FATAL(write_gz_parts(im, b, len, 10, NULL, 0) == 0);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	check_idx_set(&d);
	CU_ASSERT_FATAL(write_gz_parts(im, b, len, 33, NULL, 0) == 0);
	CU_ASSERT_EQUAL(lat_data_load_idx(im, lb, 0, &d, err), LAT_OK);
	check_idx_set(&d);
	lat_dataset_clear(&d);

	CU_ASSERT_FATAL(write_gz_parts(im, b, len, 33, junk, sizeof junk) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "members-images.gz",
			"trailing data: 4 bytes after the end of the gzip data");
	CU_ASSERT_FATAL(write_gz_parts(im, b, len, 33, zeros, sizeof zeros) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "members-images.gz",
			"trailing data: 100 bytes after the end of the gzip data");
	/* half a gzip magic, then the whole magic and nothing of a member */
	CU_ASSERT_FATAL(write_gz_parts(im, b, len, 33, magic, 1) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "members-images.gz",
			"trailing data: 1 bytes after the end of the gzip data");
	CU_ASSERT_FATAL(write_gz_parts(im, b, len, 33, magic, 2) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "members-images.gz", "corrupt gzip data: unexpected end of file");
	free(b);
}

/* With a limit only the first samples are read: the same values as a full load, n_classes from the labels
 * read, and the rest of the files unread (bytes beyond are not looked at); a plain file too short for
 * what its header announces is still refused. probe gives the announced shape. */
static void test_idx_limit(void)
{
	char im[128], lb[128], gz[128], err[LAT_ERRLEN] = "";
	unsigned char *b, trailing[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	size_t len, j, bad = 0;
	lat_dataset d, full;
	lat_data_shape s = {0, 0, 0, 0};

	tmp_path(im, sizeof im, "limit-images");
	tmp_path(lb, sizeof lb, "limit-labels");
	tmp_path(gz, sizeof gz, "limit-images.gz");
	write_idx_set(im, lb, 0, 0);
	write_idx_set(gz, lb, 1, 0);
	lat_dataset_init(&d);
	lat_dataset_init(&full);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 0, &full, err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(im, lb, 2, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 2);
	CU_ASSERT(d.h == 4 && d.w == 5 && d.c == 1 && d.n_classes == 10);
	CU_ASSERT(d.y[0] == LABELS3[0] && d.y[1] == LABELS3[1]);
	for (j = 0; j < 2 * 20; j++)
		bad += d.x[j] != full.x[j];
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(gz, lb, 1, &d, err), LAT_OK);
	CU_ASSERT(d.n == 1 && d.y[0] == LABELS3[0] && d.x[19] == full.x[19]);
	/* a limit above the count loads everything */
	CU_ASSERT_EQUAL_FATAL(lat_data_load_idx(gz, lb, 7, &d, err), LAT_OK);
	check_idx_set(&d);

	/* bytes behind the data: refused when read, not looked at behind a limit */
	b = idx_images(0x803, 3, 4, 5, &len);
	b = realloc(b, len + sizeof trailing);
	memcpy(b + len, trailing, sizeof trailing);
	CU_ASSERT_FATAL(write_file(im, b, len + sizeof trailing, 0) == 0);
	expect_idx_fail(im, lb, LAT_ECONFIG, "limit-images", "trailing data: expected 76 bytes, got 84");
	CU_ASSERT_EQUAL(lat_data_load_idx(im, lb, 2, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 2);
	/* a plain file shorter than its header says, with a limit that the file could serve */
	CU_ASSERT_FATAL(write_file(im, b, len - 20, 0) == 0);
	CU_ASSERT_EQUAL(lat_data_load_idx(im, lb, 1, &d, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated: expected 76 bytes, got 56"));
	free(b);

	CU_ASSERT_EQUAL(lat_data_probe_idx(gz, lb, &s, err), LAT_OK);
	CU_ASSERT(s.n == 3 && s.c == 1 && s.h == 4 && s.w == 5);
	CU_ASSERT_EQUAL(lat_data_probe_idx(im, lb, &s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated: expected 76 bytes, got 56"));
	lat_dataset_clear(&d);
	lat_dataset_clear(&full);
}

/* CIFAR record s: label bytes then pixels (s*31 + j) & 0xff. */
static void cifar_record(unsigned char *rec, size_t n_label, const unsigned char *label, size_t s)
{
	size_t j;

	memcpy(rec, label, n_label);
	for (j = 0; j < CIFAR_PIXELS; j++)
		rec[n_label + j] = (unsigned char)((s * 31 + j) & 0xff);
}

/* Writes records [first, first+n) with the given labels (n_label bytes each) to path. */
static void write_cifar(const char *path, size_t n_label, const unsigned char *labels, size_t first, size_t n,
			size_t extra)
{
	size_t rec_size = n_label + CIFAR_PIXELS, i;
	unsigned char *b = calloc(n * rec_size + extra, 1);

	for (i = 0; i < n; i++)
		cifar_record(b + i * rec_size, n_label, labels + (first + i) * n_label, first + i);
	CU_ASSERT_FATAL(write_file(path, b, n * rec_size + extra, 0) == 0);
	free(b);
}

static void check_cifar_pixels(const lat_dataset *d)
{
	size_t s, j, bad = 0;

	for (s = 0; s < d->n; s++)
		for (j = 0; j < CIFAR_PIXELS; j++)
			bad += d->x[s * CIFAR_PIXELS + j] != (float)((s * 31 + j) & 0xff) / 255.0f;
	CU_ASSERT_EQUAL(bad, 0);
}

static void test_cifar10(void)
{
	char a[128], b[128], err[LAT_ERRLEN];
	const char *paths[2] = {a, b};
	const unsigned char labels[3] = {1, 9, 0};
	lat_dataset d;

	tmp_path(a, sizeof a, "data_batch_1.bin");
	tmp_path(b, sizeof b, "data_batch_2.bin");
	write_cifar(a, 1, labels, 0, 2, 0);
	write_cifar(b, 1, labels, 2, 1, 0);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_cifar(paths, 2, 0, 0, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 3);
	CU_ASSERT_EQUAL(d.c, 3);
	CU_ASSERT_EQUAL(d.h, 32);
	CU_ASSERT_EQUAL(d.w, 32);
	CU_ASSERT_EQUAL(d.n_classes, 10);
	CU_ASSERT(d.y[0] == 1 && d.y[1] == 9 && d.y[2] == 0);
	check_cifar_pixels(&d);
	/* channel layout: pixel (ch=2, row=1, col=3) of sample 1 is byte 2048 + 32 + 3 */
	CU_ASSERT_EQUAL(d.x[CIFAR_PIXELS + 2 * 1024 + 1 * 32 + 3], (float)((31 + 2083) & 0xff) / 255.0f);
	lat_dataset_clear(&d);
}

static void test_cifar100(void)
{
	char a[128], err[LAT_ERRLEN];
	const char *paths[1] = {a};
	const unsigned char labels[4] = {19, 99, 0, 42};
	lat_dataset d;

	tmp_path(a, sizeof a, "train.bin");
	write_cifar(a, 2, labels, 0, 2, 0);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_cifar(paths, 1, 1, 0, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 2);
	CU_ASSERT_EQUAL(d.n_classes, 100);
	CU_ASSERT(d.y[0] == 99 && d.y[1] == 42);
	check_cifar_pixels(&d);
	lat_dataset_clear(&d);
}

/* A limit reads the first records across the files in order; probe counts them all from the sizes. */
static void test_cifar_limit(void)
{
	char a[128], b[128], err[LAT_ERRLEN] = "";
	const char *paths[2] = {a, b};
	const unsigned char labels[5] = {1, 9, 0, 4, 7};
	lat_dataset d;
	lat_data_shape s = {0, 0, 0, 0};

	tmp_path(a, sizeof a, "limit_batch_1.bin");
	tmp_path(b, sizeof b, "limit_batch_2.bin");
	write_cifar(a, 1, labels, 0, 2, 0);
	write_cifar(b, 1, labels, 2, 3, 0);
	lat_dataset_init(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_cifar(paths, 2, 0, 3, &d, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 3);
	CU_ASSERT(d.y[0] == 1 && d.y[1] == 9 && d.y[2] == 0);
	check_cifar_pixels(&d);
	CU_ASSERT_EQUAL_FATAL(lat_data_load_cifar(paths, 2, 0, 1, &d, err), LAT_OK);
	CU_ASSERT(d.n == 1 && d.y[0] == 1);
	CU_ASSERT_EQUAL(lat_data_probe_cifar(paths, 2, 0, &s, err), LAT_OK);
	CU_ASSERT(s.n == 5 && s.c == 3 && s.h == 32 && s.w == 32);
	lat_dataset_clear(&d);
}

static void expect_cifar_fail(const char *const *paths, size_t n_paths, int cifar100, int code,
			      const char *name, const char *what)
{
	char err[LAT_ERRLEN] = "";
	lat_dataset d;
	int rc;

	lat_dataset_init(&d);
	rc = lat_data_load_cifar(paths, n_paths, cifar100, 0, &d, err);
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, name));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
	if (rc != code || !strstr(err, name) || !strstr(err, what))
		fprintf(stderr, "\n  got %d '%s', wanted %d with '%s' and '%s'\n", rc, err, code, name, what);
	CU_ASSERT(d.n == 0 && d.x == NULL);
	lat_dataset_clear(&d);
}

static void test_cifar_malformed(void)
{
	char a[128], b[128], missing[128];
	const char *paths[2] = {a, b};
	const unsigned char good10[3] = {1, 2, 3}, bad10[3] = {1, 10, 3};
	const unsigned char bad_fine[4] = {0, 5, 3, 100}, bad_coarse[4] = {20, 5, 3, 1},
			    good100[4] = {1, 2, 3, 4};

	tmp_path(a, sizeof a, "c10-good.bin");
	write_cifar(a, 1, good10, 0, 3, 0);
	tmp_path(b, sizeof b, "c10-badlabel.bin");
	write_cifar(b, 1, bad10, 0, 3, 0);
	expect_cifar_fail(paths, 2, 0, LAT_ECONFIG, "c10-badlabel.bin",
			  "record 1: expected a label < 10, got 10");

	tmp_path(b, sizeof b, "c100-badfine.bin");
	write_cifar(b, 2, bad_fine, 0, 2, 0);
	expect_cifar_fail(paths + 1, 1, 1, LAT_ECONFIG, "c100-badfine.bin",
			  "expected a fine label < 100, got 100");
	tmp_path(b, sizeof b, "c100-badcoarse.bin");
	write_cifar(b, 2, bad_coarse, 0, 2, 0);
	expect_cifar_fail(paths + 1, 1, 1, LAT_ECONFIG, "c100-badcoarse.bin",
			  "expected a coarse label < 20, got 20");

	tmp_path(b, sizeof b, "c10-ragged.bin");
	write_cifar(b, 1, good10, 0, 2, 5);
	expect_cifar_fail(paths, 2, 0, LAT_ECONFIG, "c10-ragged.bin", "multiple of the 3073-byte");
	tmp_path(b, sizeof b, "c100-good.bin");
	write_cifar(b, 2, good100, 0, 2, 0);
	expect_cifar_fail(paths, 1, 1, LAT_ECONFIG, "c10-good.bin",
			  "multiple of the 3074-byte"); /* wrong kind */
	expect_cifar_fail(paths + 1, 1, 0, LAT_ECONFIG, "c100-good.bin", "got 6148 bytes");
	tmp_path(b, sizeof b, "c10-empty.bin");
	write_cifar(b, 1, good10, 0, 0, 0);
	expect_cifar_fail(paths, 2, 0, LAT_ECONFIG, "c10-empty.bin", "got 0 bytes");

	tmp_path(missing, sizeof missing, "no_batch.bin");
	paths[1] = missing;
	expect_cifar_fail(paths, 2, 0, LAT_EIO, "no_batch.bin", "cannot read: No such file or directory");
	expect_cifar_fail(paths, 0, 0, LAT_EINVAL, "CIFAR", "expected at least one file");
}

/* A dataset of n zero images of c x h x w; labels 0. */
static void make_dataset(lat_dataset *d, size_t n, size_t c, size_t h, size_t w, size_t n_classes)
{
	lat_dataset_init(d);
	d->n = n;
	d->c = c;
	d->h = h;
	d->w = w;
	d->n_classes = n_classes;
	d->x = calloc(n * c * h * w, sizeof *d->x);
	d->y = calloc(n, sizeof *d->y);
	CU_ASSERT_FATAL(d->x != NULL && d->y != NULL);
}

static void test_stats_normalize(void)
{
	/* two samples, 2 channels of 1x2: channel 0 holds {1,2 | 3,6}, channel 1 is constant 5 */
	const float x[8] = {1, 2, 5, 5, 3, 6, 5, 5};
	double mean[2], std[2];
	lat_dataset d;
	size_t k;

	make_dataset(&d, 2, 2, 1, 2, 2);
	memcpy(d.x, x, sizeof x);
	lat_data_stats(&d, mean, std);
	CU_ASSERT_DOUBLE_EQUAL(mean[0], 3.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(std[0], sqrt(14.0 / 4.0), 1e-12); /* deviations -2 -1 0 3 */
	CU_ASSERT_DOUBLE_EQUAL(mean[1], 5.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(std[1], 0.0, 1e-12);

	lat_data_normalize(&d, mean, std);
	{
		const double s = sqrt(3.5);
		const double want[8] = {-2 / s, -1 / s, 0, 0, 0 / s, 3 / s, 0, 0};
		for (k = 0; k < 8; k++)
			CU_ASSERT_DOUBLE_EQUAL(d.x[k], want[k], 1e-6);
	}
	lat_data_stats(&d, mean, std);
	CU_ASSERT_DOUBLE_EQUAL(mean[0], 0.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(std[0], 1.0, 1e-6);
	CU_ASSERT_DOUBLE_EQUAL(mean[1], 0.0, 1e-12);
	CU_ASSERT_DOUBLE_EQUAL(std[1], 0.0, 1e-12);
	lat_dataset_clear(&d);

	/* an empty dataset with a shape gives zeros */
	lat_dataset_init(&d);
	d.c = 2;
	d.h = d.w = 3;
	mean[0] = mean[1] = std[0] = std[1] = 9;
	lat_data_stats(&d, mean, std);
	CU_ASSERT(mean[0] == 0 && mean[1] == 0 && std[0] == 0 && std[1] == 0);
}

/* n images of 1x2x2: pixel 0 is the tag s+1, the others (s+1)*100 + k; label s % 3. */
static void make_tagged(lat_dataset *d, size_t n)
{
	size_t s, k;

	make_dataset(d, n, 1, 2, 2, 3);
	for (s = 0; s < n; s++) {
		d->x[s * 4] = (float)(s + 1);
		for (k = 1; k < 4; k++)
			d->x[s * 4 + k] = (float)((s + 1) * 100 + k);
		d->y[s] = (int)(s % 3);
	}
}

/* Checks that every sample of d is intact and returns its original index; marks it in seen[]. Tags must be
 * increasing (original order preserved). */
static void check_tagged(const lat_dataset *d, int *seen, size_t n_total)
{
	size_t i, k, prev = 0;

	CU_ASSERT(d->c == 1 && d->h == 2 && d->w == 2 && d->n_classes == 3);
	for (i = 0; i < d->n; i++) {
		size_t tag = (size_t)d->x[i * 4];
		CU_ASSERT_FATAL(tag >= 1 && tag <= n_total);
		CU_ASSERT(i == 0 || tag > prev);
		prev = tag;
		seen[tag - 1]++;
		for (k = 1; k < 4; k++)
			CU_ASSERT_EQUAL(d->x[i * 4 + k], (float)(tag * 100 + k));
		CU_ASSERT_EQUAL(d->y[i], (int)((tag - 1) % 3));
	}
}

/* Splits a fresh 10-sample set with seed; writes the validation tags to tags[3]. */
static void split_tags(unsigned long seed, size_t *tags)
{
	lat_dataset d, val;
	char err[LAT_ERRLEN];
	size_t i;

	make_tagged(&d, 10);
	lat_dataset_init(&val);
	CU_ASSERT_EQUAL_FATAL(lat_data_split(&d, 3, seed, &val, err), LAT_OK);
	for (i = 0; i < 3; i++)
		tags[i] = (size_t)val.x[i * 4];
	lat_dataset_clear(&val);
	lat_dataset_clear(&d);
}

static void test_split(void)
{
	lat_dataset d, val;
	char err[LAT_ERRLEN];
	int seen[10] = {0};
	size_t i, t1[3], t2[3];
	unsigned long seed;
	int differs = 0;

	make_tagged(&d, 10);
	lat_dataset_init(&val);
	CU_ASSERT_EQUAL_FATAL(lat_data_split(&d, 3, 42, &val, err), LAT_OK);
	CU_ASSERT_EQUAL(d.n, 7);
	CU_ASSERT_EQUAL(val.n, 3);
	check_tagged(&d, seen, 10);
	check_tagged(&val, seen, 10);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(seen[i], 1);

	/* too many: error, nothing changes */
	CU_ASSERT_EQUAL(lat_data_split(&d, 8, 42, &val, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "expected at most 7"));
	CU_ASSERT(d.n == 7 && val.n == 3);
	/* everything, then nothing */
	CU_ASSERT_EQUAL_FATAL(lat_data_split(&d, 7, 1, &val, err), LAT_OK);
	CU_ASSERT(d.n == 0 && d.x == NULL && val.n == 7);
	memset(seen, 0, sizeof seen);
	check_tagged(&val, seen, 10);
	CU_ASSERT_EQUAL_FATAL(lat_data_split(&val, 0, 1, &d, err), LAT_OK);
	CU_ASSERT(d.n == 0 && val.n == 7 && d.c == 1 && d.h == 2);
	lat_dataset_clear(&val);
	lat_dataset_clear(&d);

	/* deterministic for a seed, and the seed matters */
	split_tags(42, t1);
	split_tags(42, t2);
	CU_ASSERT(memcmp(t1, t2, sizeof t1) == 0);
	for (seed = 43; seed < 48; seed++) {
		split_tags(seed, t2);
		differs |= memcmp(t1, t2, sizeof t1) != 0;
	}
	CU_ASSERT(differs);
}

/* Runs one epoch with pad 0 and repeats 1, recording the sample index of each output in order[]; checks
 * the batch sizes and exact copies. Returns the number of samples produced. */
static size_t run_epoch(lat_batcher *b, const lat_dataset *d, size_t batch, size_t *order)
{
	float *x = malloc(batch * 4 * sizeof *x);
	int *y = malloc(batch * sizeof *y);
	size_t got, total = 0, i, n_batches = 0;

	while ((got = lat_batcher_next(b, x, y)) > 0) {
		CU_ASSERT(got == batch || (got < batch && total + got == d->n));
		for (i = 0; i < got; i++) {
			size_t s = (size_t)x[i * 4] - 1;
			CU_ASSERT_FATAL(s < d->n);
			CU_ASSERT(memcmp(x + i * 4, d->x + s * 4, 4 * sizeof *x) == 0);
			CU_ASSERT_EQUAL(y[i], d->y[s]);
			order[total + i] = s;
		}
		total += got;
		n_batches++;
	}
	CU_ASSERT_EQUAL(n_batches, lat_batcher_count(b));
	CU_ASSERT_EQUAL(lat_batcher_next(b, x, y), 0); /* stays at the end */
	free(y);
	free(x);
	return total;
}

static void test_batcher_epochs(void)
{
	lat_dataset d;
	lat_batch_opts o = {.batch = 4, .pad = 0, .repeats = 1, .shuffle = 1, .seed = 7};
	lat_batcher *b, *b2;
	char err[LAT_ERRLEN];
	size_t e0[10], e1[10], again[10], i;
	int seen[10];

	make_tagged(&d, 10);
	b = lat_batcher_alloc(&d, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(lat_batcher_count(b), 3);
	CU_ASSERT_EQUAL(run_epoch(b, &d, 4, e0), 10); /* epoch 0 without an explicit lat_batcher_epoch */
	memset(seen, 0, sizeof seen);
	for (i = 0; i < 10; i++)
		seen[e0[i]]++;
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(seen[i], 1);

	lat_batcher_epoch(b, 1);
	CU_ASSERT_EQUAL(run_epoch(b, &d, 4, e1), 10);
	memset(seen, 0, sizeof seen);
	for (i = 0; i < 10; i++)
		seen[e1[i]]++;
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(seen[i], 1);
	CU_ASSERT(memcmp(e0, e1, sizeof e0) != 0); /* reshuffled */

	/* resuming at an epoch reproduces it, also in a new batcher */
	lat_batcher_epoch(b, 0);
	CU_ASSERT_EQUAL(run_epoch(b, &d, 4, again), 10);
	CU_ASSERT(memcmp(e0, again, sizeof e0) == 0);
	b2 = lat_batcher_alloc(&d, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b2);
	lat_batcher_epoch(b2, 1);
	CU_ASSERT_EQUAL(run_epoch(b2, &d, 4, again), 10);
	CU_ASSERT(memcmp(e1, again, sizeof e1) == 0);
	lat_batcher_free(b2);
	lat_batcher_free(b);

	/* no shuffle: dataset order; batch = n: one batch */
	o.shuffle = 0;
	o.batch = 10;
	b = lat_batcher_alloc(&d, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(lat_batcher_count(b), 1);
	lat_batcher_epoch(b, 3);
	CU_ASSERT_EQUAL(run_epoch(b, &d, 10, again), 10);
	for (i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(again[i], i);
	lat_batcher_free(b);
	lat_dataset_clear(&d);
}

#define SH 9 /* side of the shift-test images */

/* Finds the shift of out (2 channels of SH x SH) relative to the 1-pixel image whose bright pixel sits at
 * (4, 4) of channel 1; returns 0 unless exactly that pixel, shifted, is nonzero. */
static int bright_shift(const float *out, long *dx, long *dy)
{
	size_t k, n_on = 0, at = 0;

	for (k = 0; k < 2 * SH * SH; k++)
		if (out[k] != 0.0f) {
			n_on++;
			at = k;
		}
	if (n_on != 1 || at < SH * SH || out[at] != 1.0f)
		return 0;
	at -= SH * SH;
	*dy = (long)(at / SH) - 4;
	*dx = (long)(at % SH) - 4;
	return 1;
}

static void test_batcher_repeats(void)
{
	const size_t pad = 2, repeats = 4, per = 2 * SH * SH;
	lat_dataset d;
	lat_batch_opts o = {.batch = 2, .pad = pad, .repeats = repeats, .shuffle = 1, .seed = 3};
	lat_batcher *b;
	char err[LAT_ERRLEN];
	float *x = malloc(2 * repeats * per * sizeof *x), *x2 = malloc(2 * repeats * per * sizeof *x);
	int y[8], y2[8];
	long min_dx = 99, max_dx = -99, min_dy = 99, max_dy = -99;
	size_t s, got, i, epoch, n_moved = 0, n_out = 0;
	int ok = 1;

	make_dataset(&d, 3, 2, SH, SH, 3);
	for (s = 0; s < 3; s++) {
		d.x[s * per + SH * SH + 4 * SH + 4] = 1.0f;
		d.y[s] = (int)s;
	}
	b = lat_batcher_alloc(&d, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(lat_batcher_count(b), 2);
	for (epoch = 0; epoch < 40; epoch++) {
		int seen[3] = {0, 0, 0};
		size_t n_batch = 0;
		lat_batcher_epoch(b, epoch);
		while ((got = lat_batcher_next(b, x, y)) > 0) {
			/* 2 images x 4 repeats, then the short last batch of 1 image x 4 */
			CU_ASSERT_EQUAL(got, n_batch == 0 ? 8 : 4);
			n_batch++;
			for (i = 0; i < got; i++) {
				long dx, dy;
				if (!bright_shift(x + i * per, &dx, &dy)) {
					ok = 0;
					continue;
				}
				n_out++;
				n_moved += dx != 0 || dy != 0;
				min_dx = dx < min_dx ? dx : min_dx;
				max_dx = dx > max_dx ? dx : max_dx;
				min_dy = dy < min_dy ? dy : min_dy;
				max_dy = dy > max_dy ? dy : max_dy;
				/* repeats of one image are consecutive */
				CU_ASSERT_EQUAL(y[i], y[i - i % repeats]);
				if (i % repeats == 0)
					seen[y[i]]++;
			}
		}
		CU_ASSERT(seen[0] == 1 && seen[1] == 1 && seen[2] == 1);
	}
	CU_ASSERT(ok);
	CU_ASSERT_EQUAL(n_out, 40 * 3 * repeats);
	/* shifts stay within [-pad, pad] and reach both ends */
	CU_ASSERT(min_dx == -2 && max_dx == 2 && min_dy == -2 && max_dy == 2);
	CU_ASSERT(n_moved > n_out / 2);

	/* same seed and epoch: the same batches, shifts included */
	lat_batcher_epoch(b, 5);
	got = lat_batcher_next(b, x, y);
	lat_batcher_epoch(b, 9);
	(void)lat_batcher_next(b, x2, y2);
	lat_batcher_epoch(b, 5);
	CU_ASSERT_EQUAL_FATAL(lat_batcher_next(b, x2, y2), got);
	CU_ASSERT(memcmp(x, x2, got * per * sizeof *x) == 0);
	CU_ASSERT(memcmp(y, y2, got * sizeof *y) == 0);
	lat_batcher_free(b);

	/* pad 0: identical copies of the source */
	o.pad = 0;
	b = lat_batcher_alloc(&d, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	got = lat_batcher_next(b, x, y);
	CU_ASSERT_EQUAL(got, 8);
	for (i = 0; i < got; i++)
		CU_ASSERT(memcmp(x + i * per, d.x + (size_t)y[i] * per, per * sizeof *x) == 0);
	lat_batcher_free(b);
	lat_dataset_clear(&d);
	free(x2);
	free(x);
}

/* Every output is exactly the source translated with zero fill, the same shift for all channels. */
static void test_batcher_shift_exact(void)
{
	const size_t h = 5, w = 7, c = 2, per = c * h * w, pad = 3, repeats = 50;
	lat_dataset d;
	lat_batch_opts o = {.batch = 1, .pad = pad, .repeats = repeats, .shuffle = 0, .seed = 11};
	lat_batcher *b;
	char err[LAT_ERRLEN];
	float *x = malloc(repeats * per * sizeof *x);
	int y[50];
	size_t k, i, got, bad = 0, n_edge = 0;

	make_dataset(&d, 1, c, h, w, 1);
	for (k = 0; k < per; k++)
		d.x[k] = (float)(k + 1); /* all distinct and nonzero */
	b = lat_batcher_alloc(&d, &o, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	got = lat_batcher_next(b, x, y);
	CU_ASSERT_EQUAL_FATAL(got, repeats);
	for (i = 0; i < got; i++) {
		const float *out = x + i * per;
		long dx = 99, dy = 99, row, col, ch;
		/* some pixel of channel 0 survives any shift with |d| <= pad < size */
		for (k = 0; k < h * w && dx == 99; k++)
			if (out[k] != 0.0f) {
				size_t src = (size_t)out[k] - 1;
				dy = (long)(k / w) - (long)(src / w);
				dx = (long)(k % w) - (long)(src % w);
			}
		bad += labs(dx) > (long)pad || labs(dy) > (long)pad;
		n_edge += labs(dx) == (long)pad || labs(dy) == (long)pad;
		for (ch = 0; ch < (long)c; ch++)
			for (row = 0; row < (long)h; row++)
				for (col = 0; col < (long)w; col++) {
					long sr = row - dy, sc = col - dx;
					float want = sr >= 0 && sr < (long)h && sc >= 0 && sc < (long)w
							 ? d.x[((size_t)ch * h + (size_t)sr) * w + (size_t)sc]
							 : 0.0f;
					bad += out[((size_t)ch * h + (size_t)row) * w + (size_t)col] != want;
				}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(n_edge > 0);
	lat_batcher_free(b);
	lat_dataset_clear(&d);
	free(x);
}

static void test_batcher_bad_opts(void)
{
	lat_dataset d, empty;
	lat_batch_opts o = {.batch = 4, .pad = 1, .repeats = 1, .shuffle = 1, .seed = 1};
	char err[LAT_ERRLEN];

	make_dataset(&d, 3, 1, 4, 6, 2);
	o.batch = 0;
	err[0] = '\0';
	CU_ASSERT_PTR_NULL(lat_batcher_alloc(&d, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "batch"));
	o.batch = 4;
	o.repeats = 0;
	CU_ASSERT_PTR_NULL(lat_batcher_alloc(&d, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "repeats"));
	o.repeats = 1;
	o.pad = 4;
	CU_ASSERT_PTR_NULL(lat_batcher_alloc(&d, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "pad"));
	o.pad = 1;
	o.repeats = (size_t)-1 / 2;
	CU_ASSERT_PTR_NULL(lat_batcher_alloc(&d, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "overflow"));
	o.repeats = 1;
	lat_dataset_init(&empty);
	CU_ASSERT_PTR_NULL(lat_batcher_alloc(&empty, &o, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "empty"));
	lat_batcher_free(NULL);
	lat_dataset_clear(&d);
}

/* Canvas placement: every image lands whole at an offset within its ranges, the rest of the canvas is 0,
 * labels follow their images, both ends of a range occur; errors leave the data as they were. */
static void test_place(void)
{
	const size_t n = 200, c = 2, h = 3, w = 4, canvas = 10, off[4] = {1, 5, 2, 4};
	size_t seen_x[10] = {0}, seen_y[10] = {0}, bad = 0;
	lat_dataset d;
	char err[LAT_ERRLEN];
	float *orig;

	make_dataset(&d, n, c, h, w, 10);
	for (size_t k = 0; k < n * c * h * w; k++)
		d.x[k] = (float)(k + 1); /* all distinct, nonzero */
	for (size_t i = 0; i < n; i++)
		d.y[i] = (int)(i % 10);
	orig = malloc(n * c * h * w * sizeof *orig);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	memcpy(orig, d.x, n * c * h * w * sizeof *orig);
	/* errors first: nothing changes */
	CU_ASSERT_EQUAL(lat_data_place(&d, canvas, (const size_t[4]){3, 2, 0, 0}, 1, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "reversed"));
	CU_ASSERT_EQUAL(lat_data_place(&d, canvas, (const size_t[4]){0, 7, 0, 0}, 1, err), LAT_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "do not fit (the largest offsets are 6 in x and 7 in y)"));
	CU_ASSERT(d.h == h && d.w == w && memcmp(d.x, orig, n * c * h * w * sizeof *orig) == 0);

	CU_ASSERT_EQUAL_FATAL(lat_data_place(&d, canvas, off, 7, err), LAT_OK);
	CU_ASSERT(d.h == canvas && d.w == canvas && d.c == c && d.n == n);
	for (size_t i = 0; i < n; i++) {
		/* the image's first pixel (channel 0, row 0, column 0) marks where it went */
		const float *p = d.x + i * c * canvas * canvas, first = orig[i * c * h * w];
		size_t ox = canvas, oy = canvas, nonzero = 0;
		for (size_t k = 0; k < canvas * canvas; k++)
			if (p[k] == first) {
				oy = k / canvas;
				ox = k % canvas;
			}
		bad += ox < off[0] || ox > off[1] || oy < off[2] || oy > off[3];
		if (ox >= canvas || oy >= canvas)
			continue;
		seen_x[ox]++;
		seen_y[oy]++;
		for (size_t ch = 0; ch < c; ch++)
			for (size_t r = 0; r < h; r++)
				for (size_t col = 0; col < w; col++)
					bad += p[ch * canvas * canvas + (oy + r) * canvas + ox + col] !=
					       orig[((i * c + ch) * h + r) * w + col];
		for (size_t k = 0; k < c * canvas * canvas; k++)
			nonzero += p[k] != 0;
		bad += nonzero != c * h * w;
		bad += d.y[i] != (int)(i % 10);
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(seen_x[1] > 0 && seen_x[5] > 0 && seen_y[2] > 0 && seen_y[4] > 0);
	free(orig);
	lat_dataset_clear(&d);
}

static CU_TestInfo tests[] = {
    {"idx plain: exact pixels and labels", test_idx_plain},
    {"idx gzip and mixed", test_idx_gzip},
    {"idx n_classes = max label + 1, at least 10", test_idx_classes},
    {"idx malformed: magic, truncation, trailing, counts, zero and huge dims", test_idx_malformed},
    {"idx corrupt gzip", test_idx_gzip_corrupt},
    {"idx missing file", test_idx_missing},
    {"idx gzip members; trailing bytes after gzip refused", test_idx_gzip_members},
    {"idx limit reads the first samples; probe", test_idx_limit},
    {"cifar limit across files; probe", test_cifar_limit},
    {"cifar-10 over two files", test_cifar10},
    {"cifar-100 fine labels", test_cifar100},
    {"cifar malformed", test_cifar_malformed},
    {"stats and normalize", test_stats_normalize},
    {"split: each sample once, deterministic", test_split},
    {"canvas placement: offsets in range, image whole, labels follow", test_place},
    {"batcher: coverage, short batch, epochs", test_batcher_epochs},
    {"batcher: repeats and shifts", test_batcher_repeats},
    {"batcher: shifts are exact translations", test_batcher_shift_exact},
    {"batcher: bad options", test_batcher_bad_opts},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "data", .pInitFunc = suite_init, .pCleanupFunc = suite_cleanup, .pTests = tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}
