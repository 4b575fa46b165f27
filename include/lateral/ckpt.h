/* ckpt.h: lateral's one state-file container: magic, version, kind, typed and tagged sections, CRC-32. */
#ifndef LATERAL_CKPT_H
#define LATERAL_CKPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <gsl/gsl_rng.h>

/* Thread safety: reentrant on distinct writers and readers; one writer or reader belongs to one thread. */

#ifdef __cplusplus
extern "C" {
#endif

/* Layout (every integer little-endian):
 *
 *   offset 0   8 bytes  magic "LATSTATE"
 *          8   u32      container format version (LAT_CKPT_VERSION)
 *         12   u32      kind: four characters, e.g. "RUNS" (see below)
 *         16   u32      version of that kind's sections (each kind has its own)
 *         20   sections, each: u32 tag (four characters), u32 type (LAT_CKPT_*), u64 length in bytes,
 *              then the data (values little-endian, floats IEEE 754, no padding)
 *              the end marker: tag "END!", type 0, length 0
 *    size - 4  u32      CRC-32 (zlib's) of every byte before it
 *
 * A reader refuses anything it does not understand: another magic (a file of an older lateral is named
 * as such), another container or kind version, a bad checksum, a truncated file, bytes after the
 * checksum, an unknown, duplicate or missing section, and a section whose type or length disagrees with
 * what the caller expects. Semantic validation of the values is the caller's. */

#define LAT_CKPT_VERSION 1u
#define LAT_CKPT_TAG(a, b, c, d)                                                                             \
	((uint32_t)(unsigned char)(a) | (uint32_t)(unsigned char)(b) << 8 |                                  \
	 (uint32_t)(unsigned char)(c) << 16 | (uint32_t)(unsigned char)(d) << 24)

/* The kinds of state file (the kind field). */
#define LAT_CKPT_RUN LAT_CKPT_TAG('R', 'U', 'N', 'S')	/* run_state.bin of `lateral run` */
#define LAT_CKPT_SIM LAT_CKPT_TAG('S', 'I', 'M', 'S')	/* a simulation (lat_sim_save) */
#define LAT_CKPT_TRAIN LAT_CKPT_TAG('T', 'R', 'N', 'C') /* checkpoint.bin of `lateral train` */
#define LAT_CKPT_SWEEP LAT_CKPT_TAG('S', 'W', 'P', 'S') /* sweep_state.bin of `lateral sweep` */

/* Section types. */
enum {
	LAT_CKPT_BYTES = 1, /* opaque bytes or text */
	LAT_CKPT_U64 = 2,   /* unsigned 64-bit integers */
	LAT_CKPT_F64 = 3,   /* doubles */
	LAT_CKPT_F32 = 4,   /* floats */
	LAT_CKPT_NESTED = 5 /* a complete container of another kind (e.g. the simulation inside a run) */
};

/* ---- writing ---- */

typedef struct lat_ckpt_writer lat_ckpt_writer;

/* Starts a container of kind and version in a temporary file beside path that lat_ckpt_writer_commit
 * renames onto path (so path holds the old or the new state, never a part). Returns a new writer or NULL
 * with err (LAT_EIO, LAT_ENOMEM). */
lat_ckpt_writer *lat_ckpt_writer_open(const char *path, uint32_t kind, uint32_t version, char *err);
/* The same on fp (borrowed, e.g. a memory stream; the writer never closes it). */
lat_ckpt_writer *lat_ckpt_writer_stream(FILE *fp, uint32_t kind, uint32_t version, char *err);

/* Appends a section: n values of the type (BYTES and NESTED: n bytes). Borrows data during the call.
 * Returns LAT_OK or LAT_EIO; a failed write is also reported by lat_ckpt_writer_commit. */
int lat_ckpt_put(lat_ckpt_writer *w, uint32_t tag, int type, const void *data, size_t n);
/* The same in pieces, for a section too large to hold at once: lat_ckpt_put_begin announces n values,
 * then lat_ckpt_put_more calls append them (data borrowed during each call) until all n are written;
 * another section, or the commit, before that is an error (LAT_EINVAL, and the commit fails). */
int lat_ckpt_put_begin(lat_ckpt_writer *w, uint32_t tag, int type, size_t n);
int lat_ckpt_put_more(lat_ckpt_writer *w, const void *data, size_t n);

/* Appends the state of an mt19937 generator r as a U64 section of 625 values (the 624 words, then the
 * index). LAT_EINVAL when r is not mt19937 or GSL's state layout is not the one this code knows. */
int lat_ckpt_put_rng(lat_ckpt_writer *w, uint32_t tag, const gsl_rng *r, char *err);

/* Writes the end marker and the checksum; for a file, flushes, syncs and renames it onto its name. Frees
 * w in every case. LAT_EIO (message names the file) when any write failed. */
int lat_ckpt_writer_commit(lat_ckpt_writer *w, char *err);
/* Discards w (the temporary file of lat_ckpt_writer_open is removed); NULL is a no-op. */
void lat_ckpt_writer_abort(lat_ckpt_writer *w);

/* ---- reading ---- */

/* What the caller expects of one section; lat_ckpt_load fills data and n. */
typedef struct {
	uint32_t tag;
	int type;
	size_t count;	  /* values expected, or LAT_CKPT_ANY */
	const char *name; /* what it holds, for messages ("weights") */
	/* filled in: */
	const unsigned char *data; /* borrowed from the lat_ckpt, little-endian */
	size_t n;		   /* values found */
} lat_ckpt_section;
#define LAT_CKPT_ANY SIZE_MAX

typedef struct lat_ckpt lat_ckpt;

/* Reads the regular file path (a FIFO, directory or device is refused without blocking), checks the
 * container and finds the n_secs sections that secs describe (each must be present exactly once, with
 * its type and, unless LAT_CKPT_ANY, its count; no other section may be present). Names path in every
 * message. On success *c is a new object that owns the bytes secs[i].data point into (free with
 * lat_ckpt_free) and LAT_OK; otherwise LAT_ECONFIG (malformed, foreign, older or newer file), LAT_EIO
 * (cannot be read) or LAT_ENOMEM, with *c NULL. */
int lat_ckpt_load(const char *path, uint32_t kind, uint32_t version, lat_ckpt_section *secs, size_t n_secs,
		  lat_ckpt **c, char *err);
/* The same for the bytes that remain in fp (read to its end), named name in messages. */
int lat_ckpt_load_stream(FILE *fp, const char *name, uint32_t kind, uint32_t version, lat_ckpt_section *secs,
			 size_t n_secs, lat_ckpt **c, char *err);
/* The same for len bytes at buf, which are copied. */
int lat_ckpt_load_buffer(const void *buf, size_t len, const char *name, uint32_t kind, uint32_t version,
			 lat_ckpt_section *secs, size_t n_secs, lat_ckpt **c, char *err);
void lat_ckpt_free(lat_ckpt *c);

/* Value i (< s->n) of a U64, F64 or F32 section, decoded. */
uint64_t lat_ckpt_u64(const lat_ckpt_section *s, size_t i);
double lat_ckpt_f64(const lat_ckpt_section *s, size_t i);
float lat_ckpt_f32(const lat_ckpt_section *s, size_t i);
/* Decodes all s->n values of an F64 / F32 section into out (s->n values). */
void lat_ckpt_get_f64(const lat_ckpt_section *s, double *out);
void lat_ckpt_get_f32(const lat_ckpt_section *s, float *out);

/* LAT_OK when every value of the F64 or F32 section s is finite; else LAT_ECONFIG with err
 * "NAME: section TAG (s->name): value K of N is V". */
int lat_ckpt_check_finite(const lat_ckpt *c, const lat_ckpt_section *s, char *err);

/* Restores r (an mt19937 generator) from a section written by lat_ckpt_put_rng after checking it: every
 * word below 2^32, the index within 0..624, not the all-zero state. r is unchanged on error
 * (LAT_ECONFIG naming the file). */
int lat_ckpt_get_rng(const lat_ckpt *c, const lat_ckpt_section *s, gsl_rng *r, char *err);

/* The name the container was loaded under (the path). */
const char *lat_ckpt_name(const lat_ckpt *c);

/* Writes the CRC-32 of buf[0 .. len-4) into its last 4 bytes (len >= 4): for tests and fuzzers that
 * change a valid file and must get past the checksum to the semantic checks. */
void lat_ckpt_reseal(unsigned char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif
