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

#include "lateral/data.h"
#include "lateral/err.h"
#include "size.h"

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
#define GZ_BUFFER 131072 /* zlib input buffer (bytes); the default 8 KiB is slow on 26 MB files */

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

/* A sequential reader over a plain or gzip file (zlib's gzread passes non-gzip files through unchanged). */
typedef struct {
	gzFile gz;
	const char *path;
	size_t pos; /* (decompressed) bytes consumed so far */
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

/* Turns the zlib error state of f into a status code and message. */
static int gz_fail(const idx_file *f, char *err)
{
	int errnum = Z_OK;
	const char *msg = gzerror(f->gz, &errnum);
	size_t len = strlen(f->path);

	if (errnum == Z_ERRNO)
		return lat_err_set(err, LAT_EIO, "%s: read error: %s", f->path, strerror(errno));
	if (errnum == Z_MEM_ERROR)
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory while decompressing", f->path);
	/* zlib prefixes its message with the path it was opened with */
	if (strncmp(msg, f->path, len) == 0 && strncmp(msg + len, ": ", 2) == 0)
		msg += len + 2;
	return lat_err_set(err, LAT_ECONFIG, "%s: corrupt gzip data: %s", f->path, msg);
}

static int idx_open(idx_file *f, const char *path, char *err)
{
	f->path = path;
	f->pos = 0;
	errno = 0;
	f->gz = gzopen(path, "rb");
	if (!f->gz) {
		if (errno == 0)
			return lat_err_set(err, LAT_ENOMEM, "%s: out of memory opening the file", path);
		return lat_err_set(err, LAT_EIO, "%s: cannot open: %s", path, strerror(errno));
	}
	/* a failure here only leaves the default buffer size */
	gzbuffer(f->gz, GZ_BUFFER);
	return LAT_OK;
}

/* Reads up to len bytes, fewer only at end of file; *got receives the count. */
static int idx_read(idx_file *f, unsigned char *buf, size_t len, size_t *got, char *err)
{
	*got = 0;
	while (*got < len) {
		size_t want = len - *got;
		int r, errnum = Z_OK;

		if (want > READ_CHUNK)
			want = READ_CHUNK;
		r = gzread(f->gz, buf + *got, (unsigned)want);
		if (r < 0)
			return gz_fail(f, err);
		if (r == 0) {
			/* a gzip stream cut short (Z_BUF_ERROR) reads as end of file, not as -1 */
			gzerror(f->gz, &errnum);
			if (errnum != Z_OK)
				return gz_fail(f, err);
			break;
		}
		*got += (size_t)r;
		f->pos += (size_t)r;
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
				   expected, f->pos, gzdirect(f->gz) ? "" : " (uncompressed)");
	return LAT_OK;
}

/* Checks that f is at its end (all expected bytes consumed), counting any trailing bytes for the message;
 * scratch holds READ_CHUNK bytes. */
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
				   f->path, expected, f->pos, gzdirect(f->gz) ? "" : " (uncompressed)");
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
 * times its size. Pipes and other non-regular files are left to the reading checks. */
static int idx_fits(const idx_file *f, size_t expected, char *err)
{
	struct stat st;
	size_t size, cap;

	if (stat(f->path, &st) != 0 || !S_ISREG(st.st_mode))
		return LAT_OK;
	size = (uintmax_t)st.st_size > SIZE_MAX ? SIZE_MAX : (size_t)st.st_size;
	if (gzdirect(f->gz)) {
		if (size < expected)
			return lat_err_set(err, LAT_ECONFIG, "%s: truncated: expected %zu bytes, got %zu",
					   f->path, expected, size);
		return LAT_OK;
	}
	cap = size > SIZE_MAX / DEFLATE_MAX_RATIO ? SIZE_MAX : size * DEFLATE_MAX_RATIO;
	if (cap < expected)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: the header announces %zu bytes (uncompressed) but a %zu-byte gzip file "
		    "holds at most %zu",
		    f->path, expected, size, cap);
	return LAT_OK;
}

int lat_data_load_idx(const char *images, const char *labels, lat_dataset *d, char *err)
{
	idx_file fi = {NULL, images, 0}, fl = {NULL, labels, 0};
	unsigned char hi[IDX_IMAGES_HEADER], hl[IDX_LABELS_HEADER];
	unsigned char *buf = NULL;
	float *x = NULL;
	int *y = NULL;
	float scale[256];
	size_t n, h, w, n_lab, plane, n_pix, done, k, i, expected, max_label = 0;
	int rc;

	rc = idx_open(&fi, images, err);
	if (rc)
		goto out;
	rc = idx_open(&fl, labels, err);
	if (rc)
		goto out;
	rc = idx_header(&fi, hi, sizeof hi, IDX_IMAGES_MAGIC, "idx3-ubyte images", err);
	if (rc)
		goto out;
	rc = idx_header(&fl, hl, sizeof hl, IDX_LABELS_MAGIC, "idx1-ubyte labels", err);
	if (rc)
		goto out;
	n = be32(hi + 4);
	h = be32(hi + 8);
	w = be32(hi + 12);
	n_lab = be32(hl + 4);
	if (n == 0 || h == 0 || w == 0) {
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s: expected nonzero dimensions, got %zu images of %zu x %zu", images, n, h,
				 w);
		goto out;
	}
	if (!mul_within(h, w, DATA_MAX_FLOATS, &plane) || !mul_within(n, plane, DATA_MAX_FLOATS, &n_pix) ||
	    n_pix > SIZE_MAX / sizeof *x) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: %zu images of %zu x %zu exceed the limit of %zu pixels (4 GiB of floats)", images, n,
		    h, w, DATA_MAX_FLOATS);
		goto out;
	}
	if (n_lab != n) {
		rc = lat_err_set(err, LAT_ECONFIG, "%s: expected %zu labels (the image count of %s), got %zu",
				 labels, n, images, n_lab);
		goto out;
	}
	rc = idx_fits(&fi, IDX_IMAGES_HEADER + n_pix, err);
	if (rc)
		goto out;
	rc = idx_fits(&fl, IDX_LABELS_HEADER + n, err);
	if (rc)
		goto out;

	buf = malloc(READ_CHUNK);
	x = malloc(n_pix * sizeof *x);
	y = malloc(n * sizeof *y);
	if (!buf || !x || !y) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory for %zu images of %zu x %zu", images, n,
				 h, w);
		goto out;
	}

	pixel_table(scale);
	expected = IDX_IMAGES_HEADER + n_pix;
	for (done = 0; done < n_pix; done += k) {
		k = n_pix - done < READ_CHUNK ? n_pix - done : READ_CHUNK;
		rc = idx_need(&fi, buf, k, expected, err);
		if (rc)
			goto out;
		for (i = 0; i < k; i++)
			x[done + i] = scale[buf[i]];
	}
	rc = idx_finish(&fi, buf, expected, err);
	if (rc)
		goto out;

	/* labels are single bytes, so < 256 holds by construction */
	expected = IDX_LABELS_HEADER + n;
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
	rc = idx_finish(&fl, buf, expected, err);
	if (rc)
		goto out;

	lat_dataset_clear(d);
	d->n = n;
	d->c = 1;
	d->h = h;
	d->w = w;
	d->n_classes = max_label + 1 > IDX_MIN_CLASSES ? max_label + 1 : IDX_MIN_CLASSES;
	d->x = x;
	d->y = y;
	x = NULL;
	y = NULL;
out:
	free(y);
	free(x);
	free(buf);
	if (fl.gz)
		gzclose(fl.gz);
	if (fi.gz)
		gzclose(fi.gz);
	return rc;
}

/* Size in bytes of a regular file. */
static int file_size(const char *path, size_t *size, char *err)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return lat_err_set(err, LAT_EIO, "%s: cannot open: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return lat_err_set(err, LAT_EIO, "%s: not a regular file", path);
	if ((uintmax_t)st.st_size > SIZE_MAX)
		return lat_err_set(err, LAT_ENOMEM, "%s: file too large", path);
	*size = (size_t)st.st_size;
	return LAT_OK;
}

int lat_data_load_cifar(const char *const *paths, size_t n_paths, int cifar100, lat_dataset *d, char *err)
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

	if (!paths || n_paths == 0) {
		rc = lat_err_set(err, LAT_EINVAL, "CIFAR: expected at least one file, got none");
		goto out;
	}
	counts = calloc(n_paths, sizeof *counts);
	if (!counts) {
		rc = lat_err_set(err, LAT_ENOMEM, "CIFAR: out of memory for %zu file names", n_paths);
		goto out;
	}
	for (f = 0; f < n_paths; f++) {
		size_t size = 0;
		rc = file_size(paths[f], &size, err);
		if (rc)
			goto out;
		if (size == 0 || size % rec_size != 0) {
			rc = lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: expected a nonzero multiple of the %zu-byte CIFAR-%d record, got %zu bytes",
			    paths[f], rec_size, cifar100 ? 100 : 10, size);
			goto out;
		}
		counts[f] = size / rec_size;
		if (counts[f] > DATA_MAX_FLOATS / CIFAR_PIXELS - n) {
			rc = lat_err_set(err, LAT_ECONFIG,
					 "%s: more than %zu records in total exceed 4 GiB of floats",
					 paths[f], DATA_MAX_FLOATS / CIFAR_PIXELS);
			goto out;
		}
		n += counts[f];
	}

	x = malloc(n * CIFAR_PIXELS * sizeof *x);
	y = malloc(n * sizeof *y);
	if (!x || !y) {
		rc = lat_err_set(err, LAT_ENOMEM, "CIFAR: out of memory for %zu images", n);
		goto out;
	}
	pixel_table(scale);
	s = 0;
	for (f = 0; f < n_paths; f++) {
		fp = fopen(paths[f], "rb");
		if (!fp) {
			rc = lat_err_set(err, LAT_EIO, "%s: cannot open: %s", paths[f], strerror(errno));
			goto out;
		}
		for (i = 0; i < counts[f]; i++, s++) {
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
		r = gsl_rng_alloc(gsl_rng_mt19937);
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
	b->r = gsl_rng_alloc(gsl_rng_mt19937);
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
