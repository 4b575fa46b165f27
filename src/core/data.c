/* data.c: IDX / CIFAR loaders with strict size checks, channel stats, seeded splits, augmented batches. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <zlib.h>

#include "gslguard.h"
#include "lateral/data.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "size.h"

const char *const lat_data_format_names[] = {[LAT_DATA_IDX] = "idx", [LAT_DATA_CIFAR10] = "cifar10",
					     [LAT_DATA_CIFAR100] = "cifar100", NULL};

#define IDX_IMAGES_MAGIC 0x00000803UL /* type 0x08 (unsigned byte), 3 dimensions */
#define IDX_LABELS_MAGIC 0x00000801UL /* type 0x08 (unsigned byte), 1 dimension */
#define IDX_IMAGES_HEADER 16	      /* bytes: magic, n, rows, cols */
#define IDX_LABELS_HEADER 8	      /* bytes: magic, n */
#define IDX_MIN_CLASSES 10	      /* MNIST and Fashion-MNIST have 10 classes even if a file lacks some */

/* Largest pixel count we allocate: 2^30 floats = 4 GiB. Anything bigger is treated as a corrupt header. */
#define DATA_MAX_FLOATS ((size_t)1 << 30)
#define PIXEL_MAX 255.0f

#define READ_CHUNK 65536 /* bytes per read call */
#define DEFLATE_MAX_RATIO 1032 /* deflate's largest expansion (zlib FAQ): caps what a gzip file holds */
#define GZ_BUFFER 131072 /* compressed input buffer (bytes) */
#define GZIP_MAGIC0 0x1f
#define GZIP_MAGIC1 0x8b
#define GZIP_WINDOW (15 + 16) /* inflateInit2: 32 KiB window, gzip wrapper only */

#define CIFAR_SIDE 32
#define CIFAR_CHANNELS 3
#define CIFAR_PIXELS (CIFAR_CHANNELS * CIFAR_SIDE * CIFAR_SIDE)
#define CIFAR10_CLASSES 10
#define CIFAR100_COARSE 20
#define CIFAR100_CLASSES 100

/* Seed stream of lat_data_split; lat_batcher_epoch uses the epoch number as its stream. */
#define SPLIT_STREAM UINT64_MAX

struct lat_batcher {
	const lat_dataset *d; /* borrowed */
	lat_batch_opts o;
	size_t size;   /* floats per sample: c*h*w */
	size_t *order; /* sample order of the current epoch */
	size_t pos;    /* next index into order */
	gsl_rng *r;    /* reseeded by every lat_batcher_epoch */
};

/* A sequential reader over a plain or gzip file (one or more gzip members, read with zlib's inflate so that
 * bytes after the last member are seen and refused, which gzread would skip). */
typedef struct {
	FILE *fp;
	const char *path;
	size_t file_size; /* bytes on disk */
	int gzip;	  /* the file starts with the gzip magic */
	int zinit;	  /* zs is initialised (gzip) */
	int member_end;	  /* the current gzip member is complete */
	int eof;	  /* fp has no more bytes */
	z_stream zs;	  /* next_in / avail_in: the unread part of in, in both modes */
	unsigned char *in;
	unsigned char *out;	/* gzip: decompressed bytes, READ_CHUNK of them */
	size_t out_pos, out_len; /* the unread part of out */
	size_t pos;		/* (decompressed) bytes delivered so far */
	size_t raw_read;	/* bytes read from the file so far */
} idx_file;

void lat_dataset_init(lat_dataset *d)
{
	d->n = d->c = d->h = d->w = 0;
	d->n_classes = 0;
	d->x = NULL;
	d->y = NULL;
}

void lat_dataset_clear(lat_dataset *d)
{
	free(d->x);
	free(d->y);
	lat_dataset_init(d);
}

/* *out = a * b if it does not exceed limit; returns 0 otherwise. */
static int mul_within(size_t a, size_t b, size_t limit, size_t *out)
{
	size_t r;

	if (lat_size_mul(a, b, &r) || r > limit)
		return 0;
	*out = r;
	return 1;
}

static size_t be32(const unsigned char *p)
{
	return (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | (size_t)p[3];
}

/* Pixel byte to float, as a table so that every loader scales identically (v / 255, correctly rounded). */
static void pixel_table(float *t)
{
	int v;
	for (v = 0; v < 256; v++)
		t[v] = (float)v / PIXEL_MAX;
}

/* Moves the unread input to the front of f->in and reads more behind it (nothing at the end of the file). */
static int idx_fill(idx_file *f, char *err)
{
	size_t have = f->zs.avail_in, got;

	if (f->eof)
		return LAT_OK;
	if (have && f->zs.next_in != f->in)
		memmove(f->in, f->zs.next_in, have);
	got = fread(f->in + have, 1, GZ_BUFFER - have, f->fp);
	if (got == 0 && ferror(f->fp))
		return lat_err_sys(err, f->path, "read");
	f->eof = feof(f->fp) != 0;
	f->raw_read += got;
	f->zs.next_in = f->in;
	f->zs.avail_in = (uInt)(have + got);
	return LAT_OK;
}

static void idx_close(idx_file *f)
{
	if (f->zinit)
		inflateEnd(&f->zs);
	if (f->fp)
		fclose(f->fp);
	free(f->in);
	free(f->out);
	f->fp = NULL;
	f->in = NULL;
	f->out = NULL;
	f->zinit = 0;
}

/* Opens path (a regular file only: a FIFO would block) and tells gzip from plain data by the first bytes. */
static int idx_open(idx_file *f, const char *path, char *err)
{
	int rc, zr;

	memset(f, 0, sizeof *f);
	f->path = path;
	rc = lat_file_open(path, &f->fp, &f->file_size, err);
	if (rc)
		return rc;
	f->in = malloc(GZ_BUFFER);
	f->out = malloc(READ_CHUNK);
	if (!f->in || !f->out)
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory opening the file", path);
	rc = idx_fill(f, err);
	if (rc)
		return rc;
	if (f->zs.avail_in < 2 && !f->eof) {
		rc = idx_fill(f, err);
		if (rc)
			return rc;
	}
	f->gzip = f->zs.avail_in >= 2 && f->in[0] == GZIP_MAGIC0 && f->in[1] == GZIP_MAGIC1;
	if (!f->gzip)
		return LAT_OK;
	zr = inflateInit2(&f->zs, GZIP_WINDOW);
	if (zr != Z_OK)
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory opening the file", path);
	f->zinit = 1;
	return LAT_OK;
}

/* After the end of a gzip member: another member may follow (concatenated gzip files are one stream), but
 * anything else is trailing data. */
static int idx_next_member(idx_file *f, char *err)
{
	int rc = LAT_OK;

	if (f->zs.avail_in < 2 && !f->eof)
		rc = idx_fill(f, err);
	if (rc || f->zs.avail_in == 0)
		return rc;
	if (f->zs.avail_in < 2 || f->zs.next_in[0] != GZIP_MAGIC0 || f->zs.next_in[1] != GZIP_MAGIC1) {
		size_t at = f->raw_read - f->zs.avail_in;
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: trailing data: %zu bytes after the end of the gzip data (from byte %zu on), "
				   "not another gzip member",
				   f->path, f->file_size > at ? f->file_size - at : f->zs.avail_in, at);
	}
	inflateReset(&f->zs);
	f->member_end = 0;
	return LAT_OK;
}

/* Decompresses the next READ_CHUNK bytes (fewer only at the end of the data) into f->out. A whole chunk at
 * a time: a small file is then checked to its end, checksum and trailing bytes included, on the first
 * read, before its header is believed. */
static int idx_inflate(idx_file *f, char *err)
{
	int rc, zr;

	f->out_pos = f->out_len = 0;
	while (f->out_len < READ_CHUNK) {
		if (f->zs.avail_in == 0 && !f->eof) {
			rc = idx_fill(f, err);
			if (rc)
				return rc;
		}
		if (f->member_end) {
			if (f->zs.avail_in == 0 && f->eof)
				break;
			rc = idx_next_member(f, err);
			if (rc)
				return rc;
			continue;
		}
		f->zs.next_out = f->out + f->out_len;
		f->zs.avail_out = (uInt)(READ_CHUNK - f->out_len);
		zr = inflate(&f->zs, Z_NO_FLUSH);
		f->out_len = READ_CHUNK - f->zs.avail_out;
		if (zr == Z_STREAM_END)
			f->member_end = 1;
		else if (zr == Z_BUF_ERROR && f->eof && f->zs.avail_in == 0)
			return lat_err_set(err, LAT_ECONFIG, "%s: corrupt gzip data: unexpected end of file", f->path);
		else if (zr == Z_MEM_ERROR)
			return lat_err_set(err, LAT_ENOMEM, "%s: out of memory while decompressing", f->path);
		else if (zr != Z_OK && zr != Z_BUF_ERROR)
			return lat_err_set(err, LAT_ECONFIG, "%s: corrupt gzip data: %s", f->path,
					   f->zs.msg ? f->zs.msg : "invalid data");
	}
	return LAT_OK;
}

/* Reads up to len bytes, fewer only at the end of the data; *got receives the count. */
static int idx_read(idx_file *f, unsigned char *buf, size_t len, size_t *got, char *err)
{
	int rc;

	*got = 0;
	while (*got < len) {
		size_t k;

		if (f->gzip) {
			if (f->out_pos == f->out_len) {
				rc = idx_inflate(f, err);
				if (rc)
					return rc;
				if (f->out_len == 0)
					break;
			}
			k = len - *got < f->out_len - f->out_pos ? len - *got : f->out_len - f->out_pos;
			memcpy(buf + *got, f->out + f->out_pos, k);
			f->out_pos += k;
		} else {
			if (f->zs.avail_in == 0 && !f->eof) {
				rc = idx_fill(f, err);
				if (rc)
					return rc;
			}
			if (f->zs.avail_in == 0)
				break;
			k = len - *got < f->zs.avail_in ? len - *got : f->zs.avail_in;
			memcpy(buf + *got, f->zs.next_in, k);
			f->zs.next_in += k;
			f->zs.avail_in -= (uInt)k;
		}
		*got += k;
		f->pos += k;
	}
	return LAT_OK;
}

/* Reads exactly len bytes of a file whose total size should be expected bytes. */
static int idx_need(idx_file *f, unsigned char *buf, size_t len, size_t expected, char *err)
{
	size_t got;
	int rc = idx_read(f, buf, len, &got, err);

	if (rc)
		return rc;
	if (got < len)
		return lat_err_set(err, LAT_ECONFIG, "%s: truncated: expected %zu bytes, got %zu%s", f->path,
				   expected, f->pos, f->gzip ? " (uncompressed)" : "");
	return LAT_OK;
}

/* Checks that f is at its end (all expected bytes consumed, and for gzip the last member complete with its
 * checksum and nothing behind it), counting any trailing bytes for the message; scratch holds READ_CHUNK
 * bytes. */
static int idx_finish(idx_file *f, unsigned char *scratch, size_t expected, char *err)
{
	size_t got;
	int rc;

	do {
		rc = idx_read(f, scratch, READ_CHUNK, &got, err);
		if (rc)
			return rc;
	} while (got == READ_CHUNK);
	if (f->pos != expected)
		return lat_err_set(err, LAT_ECONFIG, "%s: trailing data: expected %zu bytes, got %zu%s",
				   f->path, expected, f->pos, f->gzip ? " (uncompressed)" : "");
	return LAT_OK;
}

/* Reads a header of len bytes and checks its magic number. */
static int idx_header(idx_file *f, unsigned char *hdr, size_t len, unsigned long magic, const char *what,
		      char *err)
{
	size_t got;
	int rc = idx_read(f, hdr, len, &got, err);

	if (rc)
		return rc;
	if (got < 4)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: bad magic: expected 0x%08lx (%s), got a %zu-byte file", f->path,
				   magic, what, got);
	if (be32(hdr) != magic)
		return lat_err_set(err, LAT_ECONFIG, "%s: bad magic: expected 0x%08lx (%s), got 0x%08zx",
				   f->path, magic, what, be32(hdr));
	if (got < len)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: truncated header: expected at least %zu bytes, got %zu", f->path, len,
				   got);
	return LAT_OK;
}

/* Refuses a header that announces more than the file can hold (expected bytes in all), before anything is
 * allocated from it: a plain file must have them, a gzip file decompresses to at most DEFLATE_MAX_RATIO
 * times its size. */
static int idx_fits(const idx_file *f, size_t expected, char *err)
{
	size_t cap;

	if (!f->gzip) {
		if (f->file_size < expected)
			return lat_err_set(err, LAT_ECONFIG, "%s: truncated: expected %zu bytes, got %zu",
					   f->path, expected, f->file_size);
		return LAT_OK;
	}
	cap = f->file_size > SIZE_MAX / DEFLATE_MAX_RATIO ? SIZE_MAX : f->file_size * DEFLATE_MAX_RATIO;
	if (cap < expected)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: the header announces %zu bytes (uncompressed) but a %zu-byte gzip file "
		    "holds at most %zu",
		    f->path, expected, f->file_size, cap);
	return LAT_OK;
}

/* Opens an IDX pair and checks both headers and what they announce; *s receives the shape. On failure the
 * caller still closes fi and fl. */
static int idx_begin(idx_file *fi, idx_file *fl, const char *images, const char *labels, lat_data_shape *s,
		     char *err)
{
	unsigned char hi[IDX_IMAGES_HEADER], hl[IDX_LABELS_HEADER];
	size_t n, h, w, n_lab, plane, n_pix;
	int rc;

	rc = idx_open(fi, images, err);
	if (!rc)
		rc = idx_open(fl, labels, err);
	if (!rc)
		rc = idx_header(fi, hi, sizeof hi, IDX_IMAGES_MAGIC, "idx3-ubyte images", err);
	if (!rc)
		rc = idx_header(fl, hl, sizeof hl, IDX_LABELS_MAGIC, "idx1-ubyte labels", err);
	if (rc)
		return rc;
	n = be32(hi + 4);
	h = be32(hi + 8);
	w = be32(hi + 12);
	n_lab = be32(hl + 4);
	if (n == 0 || h == 0 || w == 0)
		return lat_err_set(err, LAT_ECONFIG, "%s: expected nonzero dimensions, got %zu images of %zu x %zu",
				   images, n, h, w);
	if (!mul_within(h, w, DATA_MAX_FLOATS, &plane) || !mul_within(n, plane, DATA_MAX_FLOATS, &n_pix) ||
	    n_pix > SIZE_MAX / sizeof(float))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: %zu images of %zu x %zu exceed the limit of %zu pixels (4 GiB of floats)",
				   images, n, h, w, DATA_MAX_FLOATS);
	if (n_lab != n)
		return lat_err_set(err, LAT_ECONFIG, "%s: expected %zu labels (the image count of %s), got %zu",
				   labels, n, images, n_lab);
	rc = idx_fits(fi, IDX_IMAGES_HEADER + n_pix, err);
	if (!rc)
		rc = idx_fits(fl, IDX_LABELS_HEADER + n, err);
	if (rc)
		return rc;
	*s = (lat_data_shape){.n = n, .c = 1, .h = h, .w = w};
	return LAT_OK;
}

int lat_data_probe_idx(const char *images, const char *labels, lat_data_shape *s, char *err)
{
	idx_file fi, fl;
	int rc;

	memset(&fi, 0, sizeof fi);
	memset(&fl, 0, sizeof fl);
	rc = idx_begin(&fi, &fl, images, labels, s, err);
	idx_close(&fl);
	idx_close(&fi);
	return rc;
}

int lat_data_load_idx(const char *images, const char *labels, size_t limit, lat_dataset *d, char *err)
{
	idx_file fi, fl;
	lat_data_shape s;
	unsigned char *buf = NULL;
	float *x = NULL;
	int *y = NULL;
	float scale[256];
	size_t n, plane, n_pix, done, k, i, expected, max_label = 0;
	int rc;

	memset(&fi, 0, sizeof fi);
	memset(&fl, 0, sizeof fl);
	rc = idx_begin(&fi, &fl, images, labels, &s, err);
	if (rc)
		goto out;
	/* only the first n samples are read: the file may announce far more than the memory allows */
	n = limit && limit < s.n ? limit : s.n;
	plane = s.h * s.w;
	n_pix = n * plane;
	buf = malloc(READ_CHUNK);
	x = malloc(n_pix * sizeof *x);
	y = malloc(n * sizeof *y);
	if (!buf || !x || !y) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory for %zu images of %zu x %zu", images, n,
				 s.h, s.w);
		goto out;
	}

	pixel_table(scale);
	expected = IDX_IMAGES_HEADER + s.n * plane;
	for (done = 0; done < n_pix; done += k) {
		k = n_pix - done < READ_CHUNK ? n_pix - done : READ_CHUNK;
		rc = idx_need(&fi, buf, k, expected, err);
		if (rc)
			goto out;
		for (i = 0; i < k; i++)
			x[done + i] = scale[buf[i]];
	}
	if (n == s.n)
		rc = idx_finish(&fi, buf, expected, err);
	if (rc)
		goto out;

	/* labels are single bytes, so < 256 holds by construction */
	expected = IDX_LABELS_HEADER + s.n;
	for (done = 0; done < n; done += k) {
		k = n - done < READ_CHUNK ? n - done : READ_CHUNK;
		rc = idx_need(&fl, buf, k, expected, err);
		if (rc)
			goto out;
		for (i = 0; i < k; i++) {
			y[done + i] = buf[i];
			if (buf[i] > max_label)
				max_label = buf[i];
		}
	}
	if (n == s.n)
		rc = idx_finish(&fl, buf, expected, err);
	if (rc)
		goto out;

	lat_dataset_clear(d);
	d->n = n;
	d->c = 1;
	d->h = s.h;
	d->w = s.w;
	d->n_classes = max_label + 1 > IDX_MIN_CLASSES ? max_label + 1 : IDX_MIN_CLASSES;
	d->x = x;
	d->y = y;
	x = NULL;
	y = NULL;
out:
	free(y);
	free(x);
	free(buf);
	idx_close(&fl);
	idx_close(&fi);
	return rc;
}

/* Records per CIFAR file (counts[f]) and in all (*n), from the file sizes; only regular files are accepted. */
static int cifar_count(const char *const *paths, size_t n_paths, int cifar100, size_t *counts, size_t *n,
		       char *err)
{
	size_t rec_size = (cifar100 ? 2 : 1) + CIFAR_PIXELS, f;
	int rc = LAT_OK;

	*n = 0;
	if (!paths || n_paths == 0)
		return lat_err_set(err, LAT_EINVAL, "CIFAR: expected at least one file, got none");
	for (f = 0; f < n_paths; f++) {
		FILE *fp = NULL;
		size_t size = 0;
		rc = lat_file_open(paths[f], &fp, &size, err);
		if (rc)
			return rc;
		fclose(fp);
		if (size == 0 || size % rec_size != 0)
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: expected a nonzero multiple of the %zu-byte CIFAR-%d record, got %zu bytes",
			    paths[f], rec_size, cifar100 ? 100 : 10, size);
		counts[f] = size / rec_size;
		if (counts[f] > DATA_MAX_FLOATS / CIFAR_PIXELS - *n)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: more than %zu records in total exceed 4 GiB of floats", paths[f],
					   DATA_MAX_FLOATS / CIFAR_PIXELS);
		*n += counts[f];
	}
	return LAT_OK;
}

int lat_data_probe_cifar(const char *const *paths, size_t n_paths, int cifar100, lat_data_shape *s, char *err)
{
	size_t *counts = n_paths ? calloc(n_paths, sizeof *counts) : NULL;
	size_t n = 0;
	int rc;

	if (n_paths && !counts)
		return lat_err_set(err, LAT_ENOMEM, "CIFAR: out of memory for %zu file names", n_paths);
	rc = cifar_count(paths, n_paths, cifar100, counts, &n, err);
	if (!rc)
		*s = (lat_data_shape){.n = n, .c = CIFAR_CHANNELS, .h = CIFAR_SIDE, .w = CIFAR_SIDE};
	free(counts);
	return rc;
}

int lat_data_load_cifar(const char *const *paths, size_t n_paths, int cifar100, size_t limit, lat_dataset *d,
			char *err)
{
	FILE *fp = NULL;
	size_t *counts = NULL;
	float *x = NULL;
	int *y = NULL;
	unsigned char rec[2 + CIFAR_PIXELS];
	float scale[256];
	size_t n_label = cifar100 ? 2 : 1, rec_size = n_label + CIFAR_PIXELS;
	unsigned n_classes = cifar100 ? CIFAR100_CLASSES : CIFAR10_CLASSES;
	size_t n = 0, f, i, j, s;
	int rc = LAT_OK;

	counts = n_paths ? calloc(n_paths, sizeof *counts) : NULL;
	if (n_paths && !counts) {
		rc = lat_err_set(err, LAT_ENOMEM, "CIFAR: out of memory for %zu file names", n_paths);
		goto out;
	}
	rc = cifar_count(paths, n_paths, cifar100, counts, &n, err);
	if (rc)
		goto out;
	/* only the first n records are read */
	if (limit && limit < n)
		n = limit;

	x = malloc(n * CIFAR_PIXELS * sizeof *x);
	y = malloc(n * sizeof *y);
	if (!x || !y) {
		rc = lat_err_set(err, LAT_ENOMEM, "CIFAR: out of memory for %zu images", n);
		goto out;
	}
	pixel_table(scale);
	s = 0;
	for (f = 0; f < n_paths && s < n; f++) {
		rc = lat_file_open(paths[f], &fp, NULL, err);
		if (rc)
			goto out;
		for (i = 0; i < counts[f] && s < n; i++, s++) {
			unsigned label;
			if (fread(rec, 1, rec_size, fp) != rec_size) {
				rc = lat_err_set(err, LAT_EIO, "%s: record %zu: read failed (file changed?)",
						 paths[f], i);
				goto out;
			}
			if (cifar100 && rec[0] >= CIFAR100_COARSE) {
				rc = lat_err_set(err, LAT_ECONFIG,
						 "%s: record %zu: expected a coarse label < %d, got %u",
						 paths[f], i, CIFAR100_COARSE, rec[0]);
				goto out;
			}
			label = rec[n_label - 1];
			if (label >= n_classes) {
				rc = lat_err_set(err, LAT_ECONFIG,
						 "%s: record %zu: expected a %slabel < %u, got %u", paths[f],
						 i, cifar100 ? "fine " : "", n_classes, label);
				goto out;
			}
			y[s] = (int)label;
			for (j = 0; j < CIFAR_PIXELS; j++)
				x[s * CIFAR_PIXELS + j] = scale[rec[n_label + j]];
		}
		fclose(fp);
		fp = NULL;
	}

	lat_dataset_clear(d);
	d->n = n;
	d->c = CIFAR_CHANNELS;
	d->h = d->w = CIFAR_SIDE;
	d->n_classes = n_classes;
	d->x = x;
	d->y = y;
	x = NULL;
	y = NULL;
out:
	if (fp)
		fclose(fp);
	free(y);
	free(x);
	free(counts);
	return rc;
}

void lat_data_stats(const lat_dataset *d, double *mean, double *std)
{
	size_t plane = d->h * d->w, count = d->n * plane, ch, i, j;

	for (ch = 0; ch < d->c; ch++) {
		double sum = 0.0, ss = 0.0, m;
		if (count == 0) {
			mean[ch] = std[ch] = 0.0;
			continue;
		}
		/* two passes: the one-pass sum of squares loses digits when |mean| >> std */
		for (i = 0; i < d->n; i++) {
			const float *p = d->x + (i * d->c + ch) * plane;
			for (j = 0; j < plane; j++)
				sum += p[j];
		}
		m = sum / (double)count;
		for (i = 0; i < d->n; i++) {
			const float *p = d->x + (i * d->c + ch) * plane;
			for (j = 0; j < plane; j++)
				ss += (p[j] - m) * (p[j] - m);
		}
		mean[ch] = m;
		std[ch] = sqrt(ss / (double)count);
	}
}

void lat_data_normalize(lat_dataset *d, const double *mean, const double *std)
{
	size_t plane = d->h * d->w, ch, i, j;

	for (ch = 0; ch < d->c; ch++) {
		double s = std[ch] != 0.0 ? std[ch] : 1.0;
		for (i = 0; i < d->n; i++) {
			float *p = d->x + (i * d->c + ch) * plane;
			for (j = 0; j < plane; j++)
				p[j] = (float)((p[j] - mean[ch]) / s);
		}
	}
}

/* mt19937 seed for stream `stream` of a user seed. GSL's mt19937 keeps only the low 32 bits of its seed (and
 * maps 0 to 4357), so both inputs are mixed (splitmix64 finaliser) before truncating. */
static unsigned long stream_seed(unsigned long seed, uint64_t stream)
{
	uint64_t z = (uint64_t)seed;
	int round;

	for (round = 0; round < 2; round++) {
		z += UINT64_C(0x9e3779b97f4a7c15);
		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		z ^= z >> 31;
		z ^= stream;
	}
	return (unsigned long)(z & UINT64_C(0xffffffff));
}

int lat_data_place(lat_dataset *d, size_t canvas, const size_t off[4], unsigned long seed, char *err)
{
	size_t plane, per, total;
	float *x = NULL;
	gsl_rng *r = NULL;
	int status = LAT_OK;

	if (off[0] > off[1] || off[2] > off[3])
		return lat_err_set(err, LAT_EINVAL, "canvas offsets: x range [%zu, %zu] or y range [%zu, %zu] is reversed",
				   off[0], off[1], off[2], off[3]);
	if (canvas < d->w || canvas < d->h || off[1] > canvas - d->w || off[3] > canvas - d->h)
		return lat_err_set(err, LAT_EINVAL,
				   "canvas of %zu: %zux%zu images at offsets up to (%zu, %zu) do not fit (the largest "
				   "offsets are %zu in x and %zu in y)",
				   canvas, d->h, d->w, off[1], off[3], canvas >= d->w ? canvas - d->w : 0,
				   canvas >= d->h ? canvas - d->h : 0);
	if (lat_size_mul(canvas, canvas, &plane) || lat_size_mul(plane, d->c, &per) || lat_size_mul(per, d->n, &total) ||
	    !(x = calloc(total + 1, sizeof *x)) || !(r = lat_gsl_rng_alloc())) {
		status = lat_err_set(err, LAT_ENOMEM, "out of memory for %zu images on a canvas of %zu", d->n, canvas);
		goto out;
	}
	gsl_rng_set(r, seed);
	for (size_t i = 0; i < d->n; i++) {
		size_t ox = off[0] + gsl_rng_uniform_int(r, off[1] - off[0] + 1);
		size_t oy = off[2] + gsl_rng_uniform_int(r, off[3] - off[2] + 1);
		for (size_t ch = 0; ch < d->c; ch++)
			for (size_t row = 0; row < d->h; row++)
				memcpy(x + i * per + ch * plane + (oy + row) * canvas + ox,
				       d->x + ((i * d->c + ch) * d->h + row) * d->w, d->w * sizeof *x);
	}
	free(d->x);
	d->x = x;
	x = NULL;
	d->h = d->w = canvas;
out:
	gsl_rng_free(r);
	free(x);
	return status;
}

int lat_data_split(lat_dataset *d, size_t n_val, unsigned long seed, lat_dataset *val, char *err)
{
	gsl_rng *r = NULL;
	size_t *idx = NULL;
	unsigned char *pick = NULL;
	float *xk = NULL, *xv = NULL;
	int *yk = NULL, *yv = NULL;
	size_t size = d->c * d->h * d->w, n = d->n, n_keep, i, a = 0, b = 0;
	int rc = LAT_OK;

	if (n_val > n) {
		rc = lat_err_set(err, LAT_EINVAL, "split: expected at most %zu validation samples, got %zu",
				 n, n_val);
		goto out;
	}
	n_keep = n - n_val;
	if (n > 0) {
		r = lat_gsl_rng_alloc();
		idx = malloc(n * sizeof *idx);
		pick = calloc(n, 1);
		if (!r || !idx || !pick)
			goto nomem;
	}
	if (n_keep > 0) {
		xk = malloc(n_keep * size * sizeof *xk);
		yk = malloc(n_keep * sizeof *yk);
		if (!xk || !yk)
			goto nomem;
	}
	if (n_val > 0) {
		xv = malloc(n_val * size * sizeof *xv);
		yv = malloc(n_val * sizeof *yv);
		if (!xv || !yv)
			goto nomem;
	}
	if (n > 0) {
		gsl_rng_set(r, stream_seed(seed, SPLIT_STREAM));
		for (i = 0; i < n; i++)
			idx[i] = i;
		gsl_ran_shuffle(r, idx, n, sizeof *idx);
		for (i = 0; i < n_val; i++)
			pick[idx[i]] = 1;
	}
	for (i = 0; i < n; i++) {
		const float *src = d->x + i * size;
		if (pick[i]) {
			memcpy(xv + b * size, src, size * sizeof *src);
			yv[b++] = d->y[i];
		} else {
			memcpy(xk + a * size, src, size * sizeof *src);
			yk[a++] = d->y[i];
		}
	}

	lat_dataset_clear(val);
	val->n = n_val;
	val->c = d->c;
	val->h = d->h;
	val->w = d->w;
	val->n_classes = d->n_classes;
	val->x = xv;
	val->y = yv;
	free(d->x);
	free(d->y);
	d->n = n_keep;
	d->x = xk;
	d->y = yk;
	xk = xv = NULL;
	yk = yv = NULL;
	goto out;
nomem:
	rc = lat_err_set(err, LAT_ENOMEM, "split: out of memory for %zu samples", n);
out:
	free(yv);
	free(xv);
	free(yk);
	free(xk);
	free(pick);
	free(idx);
	gsl_rng_free(r);
	return rc;
}

lat_batcher *lat_batcher_alloc(const lat_dataset *d, const lat_batch_opts *o, char *err)
{
	lat_batcher *b = NULL;
	size_t per_batch, floats;

	if (d->n == 0 || !d->x || !d->y) {
		lat_err_set(err, LAT_EINVAL, "batcher: expected a non-empty dataset");
		goto out;
	}
	if (o->batch == 0 || o->repeats == 0) {
		lat_err_set(err, LAT_EINVAL, "batcher: expected batch >= 1 and repeats >= 1, got %zu and %zu",
			    o->batch, o->repeats);
		goto out;
	}
	if (o->pad >= d->h || o->pad >= d->w) {
		lat_err_set(err, LAT_EINVAL, "batcher: expected pad < image size %zu x %zu, got %zu", d->h,
			    d->w, o->pad);
		goto out;
	}
	if (!mul_within(o->batch, o->repeats, SIZE_MAX / sizeof(int), &per_batch) ||
	    !mul_within(per_batch, d->c * d->h * d->w, SIZE_MAX / sizeof(float), &floats)) {
		lat_err_set(err, LAT_EINVAL, "batcher: batch %zu x repeats %zu samples overflow", o->batch,
			    o->repeats);
		goto out;
	}
	b = calloc(1, sizeof *b);
	if (!b)
		goto nomem;
	b->d = d;
	b->o = *o;
	b->size = d->c * d->h * d->w;
	b->order = malloc(d->n * sizeof *b->order);
	b->r = lat_gsl_rng_alloc();
	if (!b->order || !b->r)
		goto nomem;
	lat_batcher_epoch(b, 0);
	goto out;
nomem:
	lat_err_set(err, LAT_ENOMEM, "batcher: out of memory");
	lat_batcher_free(b);
	b = NULL;
out:
	return b;
}

void lat_batcher_free(lat_batcher *b)
{
	if (!b)
		return;
	gsl_rng_free(b->r);
	free(b->order);
	free(b);
}

void lat_batcher_epoch(lat_batcher *b, size_t epoch)
{
	size_t i;

	gsl_rng_set(b->r, stream_seed(b->o.seed, (uint64_t)epoch));
	for (i = 0; i < b->d->n; i++)
		b->order[i] = i;
	if (b->o.shuffle)
		gsl_ran_shuffle(b->r, b->order, b->d->n, sizeof *b->order);
	b->pos = 0;
}

/* dst = src translated by (dx, dy) pixels (dst[row][col] = src[row - dy][col - dx]), zero outside. Requires
 * |dx| < w. */
static void shift_copy(const float *src, float *dst, size_t c, size_t h, size_t w, ptrdiff_t dx, ptrdiff_t dy)
{
	size_t ch, row;
	size_t lo = dx > 0 ? (size_t)dx : 0;	    /* first destination column with a source pixel */
	size_t hi = dx < 0 ? w - (size_t)(-dx) : w; /* one past the last such column */
	size_t src_col = (size_t)((ptrdiff_t)lo - dx);

	for (ch = 0; ch < c; ch++) {
		for (row = 0; row < h; row++) {
			float *out = dst + (ch * h + row) * w;
			ptrdiff_t sr = (ptrdiff_t)row - dy;
			if (sr < 0 || sr >= (ptrdiff_t)h) {
				memset(out, 0, w * sizeof *out);
				continue;
			}
			memset(out, 0, lo * sizeof *out);
			memcpy(out + lo, src + (ch * h + (size_t)sr) * w + src_col, (hi - lo) * sizeof *out);
			memset(out + hi, 0, (w - hi) * sizeof *out);
		}
	}
}

size_t lat_batcher_next(lat_batcher *b, float *x, int *y)
{
	const lat_dataset *d = b->d;
	size_t k, i, rep, out = 0;

	if (b->pos >= d->n)
		return 0;
	k = d->n - b->pos < b->o.batch ? d->n - b->pos : b->o.batch;
	for (i = 0; i < k; i++) {
		size_t s = b->order[b->pos + i];
		for (rep = 0; rep < b->o.repeats; rep++, out++) {
			ptrdiff_t dx = 0, dy = 0;
			if (b->o.pad > 0) {
				unsigned long span = 2 * (unsigned long)b->o.pad + 1;
				dx = (ptrdiff_t)gsl_rng_uniform_int(b->r, span) - (ptrdiff_t)b->o.pad;
				dy = (ptrdiff_t)gsl_rng_uniform_int(b->r, span) - (ptrdiff_t)b->o.pad;
			}
			shift_copy(d->x + s * b->size, x + out * b->size, d->c, d->h, d->w, dx, dy);
			y[out] = d->y[s];
		}
	}
	b->pos += k;
	return out;
}

size_t lat_batcher_count(const lat_batcher *b)
{
	return b->d->n / b->o.batch + (b->d->n % b->o.batch != 0);
}
