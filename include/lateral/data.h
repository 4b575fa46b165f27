/* data.h: image datasets (IDX / CIFAR binary loading, normalisation, splits) and augmented mini-batches. */
#ifndef LATERAL_DATA_H
#define LATERAL_DATA_H

#include <stddef.h>

/* Thread safety: loaders and statistics are reentrant on distinct datasets; a batcher belongs to one thread. */

#ifdef __cplusplus
extern "C" {
#endif

/* Data set file formats, and their names in enum order, NULL-terminated ("idx", "cifar10", "cifar100"). */
typedef enum { LAT_DATA_IDX, LAT_DATA_CIFAR10, LAT_DATA_CIFAR100 } lat_data_format;
extern const char *const lat_data_format_names[];

/* A labelled image set. Images are stored NCHW: pixel (ch, row, col) of sample i is
 * x[((i*c + ch)*h + row)*w + col]. */
typedef struct {
	size_t n, c, h, w; /* samples and shape of one sample */
	size_t n_classes;
	float *x; /* n x c x h x w, owned */
	int *y;	  /* n labels in [0, n_classes), owned */
} lat_dataset;

/* Makes d an empty dataset (all fields zero, no memory owned). */
void lat_dataset_init(lat_dataset *d);
/* Frees what d owns and re-initialises it; safe on an initialised or already cleared dataset. */
void lat_dataset_clear(lat_dataset *d);

/* What a data set's headers (IDX) or file sizes (CIFAR) announce: n samples of c x h x w. */
typedef struct {
	size_t n, c, h, w;
} lat_data_shape;

/* Loads an IDX pair (MNIST / Fashion-MNIST): images is an idx3-ubyte file (magic 0x00000803, then big-endian
 * n, h, w), labels an idx1-ubyte file (magic 0x00000801, then n). Each may be plain or gzip (recognised by
 * its 0x1f 0x8b magic; one or more gzip members, decompressed with zlib as they are read). Only the first
 * limit samples are read and kept (limit 0: all of them); the rest of the files is then not read, so
 * memory and time follow the limit, not what the header announces. Pixels become floats in [0, 1]
 * (byte / 255), c = 1, and n_classes = max label read + 1 but at least 10.
 * d must be initialised; on success its previous contents are freed and replaced, on failure it is left
 * untouched. Errors (message names the file and what was expected vs found): LAT_EIO for a file that cannot
 * be opened or read, or is not a regular file (lat_file_open: a FIFO is refused, not waited on);
 * LAT_ECONFIG for wrong magic, zero dimensions, image/label count mismatch, truncated files, trailing bytes
 * (after the announced data, or after the end of the gzip data), corrupt gzip data, dimensions whose pixel
 * count would exceed 4 GiB of floats, or a header announcing more data than the file can hold (checked
 * before allocating: the file size, or 1032 times it for gzip); LAT_ENOMEM. */
int lat_data_load_idx(const char *images, const char *labels, size_t limit, lat_dataset *d, char *err);

/* The shape an IDX pair announces, with every check lat_data_load_idx makes before reading pixels (same
 * errors), reading only the headers: plan memory with it before loading. */
int lat_data_probe_idx(const char *images, const char *labels, lat_data_shape *s, char *err);

/* Loads CIFAR binary batches: paths[0..n_paths-1] (borrowed; n_paths >= 1) are concatenated, each a sequence
 * of records <label byte(s)><3072 pixel bytes> (1024 R, 1024 G, 1024 B, row-major 32x32). cifar100 = 0: one
 * label byte in [0, 10), n_classes = 10; cifar100 = 1: a coarse byte in [0, 20) then a fine byte in
 * [0, 100), the fine label is used and n_classes = 100. Pixels become byte / 255, c = 3, h = w = 32. Only
 * the first limit records are read (limit 0: all).
 * d must be initialised; replaced on success, untouched on failure. Errors: LAT_EINVAL (no paths),
 * LAT_EIO (unreadable or not a regular file), LAT_ECONFIG (empty file, size not a multiple of the record
 * size, label out of range), LAT_ENOMEM. */
int lat_data_load_cifar(const char *const *paths, size_t n_paths, int cifar100, size_t limit, lat_dataset *d,
			char *err);

/* The shape of CIFAR files from their sizes (same checks and errors as lat_data_load_cifar before it
 * reads records). */
int lat_data_probe_cifar(const char *const *paths, size_t n_paths, int cifar100, lat_data_shape *s, char *err);

/* Per-channel population mean and standard deviation over all samples and pixels of d, written to
 * mean[0..c-1] and std[0..c-1] (caller-provided). An empty dataset gives mean 0 and std 0. */
void lat_data_stats(const lat_dataset *d, double *mean, double *std);

/* In place: x = (x - mean[ch]) / std[ch] for every pixel of channel ch; a std of 0 is treated as 1. mean
 * and std (c entries each) are borrowed. */
void lat_data_normalize(lat_dataset *d, const double *mean, const double *std);

/* Moves n_val samples, chosen by a shuffle seeded with seed (mt19937), from d into val. Both d and val keep
 * the samples in their original relative order; val gets d's shape and n_classes (n_val = 0 gives an empty
 * val). val must be initialised and distinct from d; its previous contents are freed on success. Errors:
 * LAT_EINVAL (n_val > d->n), LAT_ENOMEM; on failure neither d nor val is changed. */
int lat_data_split(lat_dataset *d, size_t n_val, unsigned long seed, lat_dataset *val, char *err);

/* Places every image of d on a zero canvas of side canvas (at least d's h and w) at an offset drawn per
 * image, uniformly and independently, from [off[0], off[1]] in x and [off[2], off[3]] in y (both ends
 * included; the top-left corner's column and row), with an mt19937 generator seeded with seed. Labels
 * keep their order. LAT_EINVAL (message naming what) when an offset range is reversed or the image does
 * not fit the canvas at its largest offsets; LAT_ENOMEM. d is unchanged on error. */
int lat_data_place(lat_dataset *d, size_t canvas, const size_t off[4], unsigned long seed, char *err);

/* Mini-batches with augmentation. */
typedef struct {
	size_t batch; /* images per batch before repetition */
	size_t pad; /* random translations: shift uniformly in [-pad, pad] in x and y, zero fill (0 = none) */
	size_t repeats; /* each image appears this many times per batch with independent shifts (>= 1) */
	int shuffle;	/* reshuffle every epoch */
	unsigned long seed;
} lat_batch_opts;

typedef struct lat_batcher lat_batcher;

/* Returns a new batcher over d (borrowed: it must outlive the batcher and not change), positioned at the
 * start of epoch 0; free with lat_batcher_free. o is copied. Output batches have up to batch*repeats
 * samples. Returns NULL with err set for an empty dataset, batch = 0, repeats = 0, pad >= h or pad >= w,
 * sizes that overflow, or out of memory. */
lat_batcher *lat_batcher_alloc(const lat_dataset *d, const lat_batch_opts *o, char *err);
/* Frees b; NULL is a no-op. */
void lat_batcher_free(lat_batcher *b);

/* Starts epoch `epoch`: the sample order (a permutation if shuffle, else the dataset order) and every shift
 * of the epoch are drawn from an mt19937 seeded from (seed, epoch) alone, so restarting at an epoch
 * reproduces its batches exactly. */
void lat_batcher_epoch(lat_batcher *b, size_t epoch);

/* Writes the next batch of the epoch into x (room for batch*repeats*c*h*w floats) and y (batch*repeats
 * ints) and returns the number of samples written: k*repeats where k = min(batch, images left), 0 at the
 * end of the epoch. The repeats of one image are consecutive; each is the image shifted by an independent
 * (dx, dy) in [-pad, pad]^2 with zero fill (identical copies when pad = 0). */
size_t lat_batcher_next(lat_batcher *b, float *x, int *y);

/* Number of batches per epoch: ceil(n / batch). */
size_t lat_batcher_count(const lat_batcher *b);

#ifdef __cplusplus
}
#endif

#endif
