/* ckpt.c: the state-file container (ckpt.h): streaming writer with CRC-32, strict reader, mt19937 state. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "gslguard.h"
#include "lateral/ckpt.h"
#include "lateral/err.h"
#include "lateral/io.h"

#define MAGIC "LATSTATE"
#define MAGIC_LEN 8
#define HEADER_LEN 20	      /* magic, format version, kind, kind version */
#define SECTION_HEADER_LEN 16 /* tag, type, length */
#define END_TAG LAT_CKPT_TAG('E', 'N', 'D', '!')
#define CRC_LEN 4
#define MT_N 624 /* words of mt19937's state */
#define CHUNK 4096

struct lat_ckpt_writer {
	lat_afile *file; /* NULL for a borrowed stream */
	char *path;	 /* the file's name, NULL for a stream */
	FILE *fp;
	uLong crc;
	int failed;
	int type;    /* the open section's value type (lat_ckpt_put_begin) */
	size_t left; /* values the open section still expects */
};

struct lat_ckpt {
	unsigned char *buf;
	size_t len;
	char *name;
};

/* GSL's mt19937 state (gsl/rng/mt.c); checked against the library at run time by mt_layout_ok. */
typedef struct {
	unsigned long mt[MT_N];
	int mti;
} mt_state;

static int host_le(void)
{
	const uint16_t one = 1;
	unsigned char b;
	memcpy(&b, &one, 1);
	return b == 1;
}

static void put_le(unsigned char *p, uint64_t v, size_t bytes)
{
	for (size_t k = 0; k < bytes; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

static uint64_t get_le(const unsigned char *p, size_t bytes)
{
	uint64_t v = 0;
	for (size_t k = 0; k < bytes; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static size_t type_size(int type)
{
	switch (type) {
	case LAT_CKPT_U64:
	case LAT_CKPT_F64:
		return 8;
	case LAT_CKPT_F32:
		return 4;
	case LAT_CKPT_BYTES:
	case LAT_CKPT_NESTED:
		return 1;
	default:
		return 0;
	}
}

static const char *type_name(uint32_t type)
{
	static const char *const names[] = {"?",       "bytes",	 "64-bit integers",
					    "doubles", "floats", "a nested state"};
	return type >= 1 && type <= 5 ? names[type] : "an unknown type";
}

/* The kind's name in messages. */
static const char *kind_name(uint32_t kind)
{
	switch (kind) {
	case LAT_CKPT_RUN:
		return "the state of `lateral run`";
	case LAT_CKPT_SIM:
		return "a simulation state";
	case LAT_CKPT_TRAIN:
		return "a checkpoint of `lateral train`";
	case LAT_CKPT_SWEEP:
		return "the state of `lateral sweep`";
	default:
		return NULL;
	}
}

/* Four characters of a tag, printable ones as they are and others as '?', into buf (5 bytes). */
static const char *tag_text(uint32_t tag, char *buf)
{
	for (int k = 0; k < 4; k++) {
		unsigned char ch = (unsigned char)(tag >> (8 * k));
		buf[k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	buf[4] = 0;
	return buf;
}

/* ---- writer ---- */

static void w_write(lat_ckpt_writer *w, const void *p, size_t n)
{
	const unsigned char *b = p;
	if (w->failed || n == 0)
		return;
	if (fwrite(p, 1, n, w->fp) != n) {
		w->failed = errno ? errno : EIO;
		return;
	}
	while (n > 0) {
		uInt part = n > (size_t)UINT_MAX ? UINT_MAX : (uInt)n;
		w->crc = crc32(w->crc, b, part);
		b += part;
		n -= part;
	}
}

static lat_ckpt_writer *writer_start(lat_afile *file, const char *path, FILE *fp, uint32_t kind,
				     uint32_t version, char *err)
{
	lat_ckpt_writer *w = calloc(1, sizeof *w);
	unsigned char h[HEADER_LEN];

	if (w && path)
		w->path = strdup(path);
	if (!w || (path && !w->path)) {
		lat_afile_abort(file);
		free(w);
		lat_err_set(err, LAT_ENOMEM, "out of memory");
		return NULL;
	}
	w->file = file;
	w->fp = fp;
	w->crc = crc32(0L, Z_NULL, 0);
	memcpy(h, MAGIC, MAGIC_LEN);
	put_le(h + 8, LAT_CKPT_VERSION, 4);
	put_le(h + 12, kind, 4);
	put_le(h + 16, version, 4);
	w_write(w, h, sizeof h);
	return w;
}

lat_ckpt_writer *lat_ckpt_writer_open(const char *path, uint32_t kind, uint32_t version, char *err)
{
	lat_afile *f = lat_afile_open(path, err);
	return f ? writer_start(f, path, lat_afile_fp(f), kind, version, err) : NULL;
}

lat_ckpt_writer *lat_ckpt_writer_stream(FILE *fp, uint32_t kind, uint32_t version, char *err)
{
	return writer_start(NULL, NULL, fp, kind, version, err);
}

int lat_ckpt_put_begin(lat_ckpt_writer *w, uint32_t tag, int type, size_t n)
{
	size_t size = type_size(type);
	unsigned char h[SECTION_HEADER_LEN];

	if (size == 0 || n > SIZE_MAX / size || w->left) {
		w->failed = EINVAL;
		return LAT_EINVAL;
	}
	put_le(h, tag, 4);
	put_le(h + 4, (uint64_t)type, 4);
	put_le(h + 8, (uint64_t)(n * size), 8);
	w_write(w, h, sizeof h);
	w->type = type;
	w->left = n;
	return w->failed ? LAT_EIO : LAT_OK;
}

int lat_ckpt_put_more(lat_ckpt_writer *w, const void *data, size_t n)
{
	size_t size = type_size(w->type);

	if (n > w->left || (n > 0 && !data)) {
		w->failed = EINVAL;
		return LAT_EINVAL;
	}
	w->left -= n;
	if (size == 1 || host_le()) {
		w_write(w, data, n * size);
	} else {
		/* a big-endian host: values in chunks, byte-reversed */
		unsigned char chunk[CHUNK];
		const unsigned char *src = data;
		for (size_t done = 0; done < n * size;) {
			size_t part = n * size - done < CHUNK ? n * size - done : CHUNK;
			for (size_t k = 0; k < part; k += size)
				for (size_t b = 0; b < size; b++)
					chunk[k + b] = src[done + k + size - 1 - b];
			w_write(w, chunk, part);
			done += part;
		}
	}
	return w->failed ? LAT_EIO : LAT_OK;
}

int lat_ckpt_put(lat_ckpt_writer *w, uint32_t tag, int type, const void *data, size_t n)
{
	int rc;

	if (n > 0 && !data) {
		w->failed = EINVAL;
		return LAT_EINVAL;
	}
	rc = lat_ckpt_put_begin(w, tag, type, n);
	return rc ? rc : lat_ckpt_put_more(w, data, n);
}

/* 1 when GSL's mt19937 state is laid out as mt_state: the words of seed 4357 and the index after one
 * draw are where mt_state puts them. */
static int mt_layout_ok(void)
{
	gsl_rng *r = lat_gsl_rng_alloc();
	mt_state st;
	unsigned long second = (1812433253UL * (4357UL ^ (4357UL >> 30)) + 1UL) & 0xffffffffUL;
	int ok = 0;

	if (r && gsl_rng_size(r) == sizeof st) {
		gsl_rng_set(r, 4357);
		memcpy(&st, gsl_rng_state(r), sizeof st);
		ok = st.mt[0] == 4357 && st.mt[1] == second && st.mti == MT_N;
		gsl_rng_get(r);
		memcpy(&st, gsl_rng_state(r), sizeof st);
		ok = ok && st.mti == 1;
	}
	gsl_rng_free(r);
	return ok;
}

int lat_ckpt_put_rng(lat_ckpt_writer *w, uint32_t tag, const gsl_rng *r, char *err)
{
	uint64_t v[MT_N + 1];
	mt_state st;

	if (r->type != gsl_rng_mt19937 || !mt_layout_ok()) {
		w->failed = EINVAL;
		return lat_err_set(err, LAT_EINVAL,
				   "cannot save the random generator: not GSL's mt19937 layout");
	}
	memcpy(&st, r->state, sizeof st);
	for (size_t k = 0; k < MT_N; k++)
		v[k] = st.mt[k];
	v[MT_N] = (uint64_t)st.mti;
	return lat_ckpt_put(w, tag, LAT_CKPT_U64, v, MT_N + 1);
}

static void writer_free(lat_ckpt_writer *w)
{
	free(w->path);
	free(w);
}

int lat_ckpt_writer_commit(lat_ckpt_writer *w, char *err)
{
	unsigned char end[SECTION_HEADER_LEN], crc[CRC_LEN];
	int rc = LAT_OK;

	if (!w)
		return lat_err_set(err, LAT_EINVAL, "no state file to commit");
	if (w->left) /* a section short of its values */
		w->failed = EINVAL;
	put_le(end, END_TAG, 4);
	memset(end + 4, 0, sizeof end - 4);
	w_write(w, end, sizeof end);
	put_le(crc, w->crc, CRC_LEN);
	if (!w->failed && fwrite(crc, 1, CRC_LEN, w->fp) != CRC_LEN)
		w->failed = errno ? errno : EIO;
	if (w->failed) {
		rc = lat_err_set(err, LAT_EIO, "%s: write failed: %s", w->path ? w->path : "state",
				 strerror(w->failed));
		lat_afile_abort(w->file);
	} else if (w->file) {
		rc = lat_afile_commit(w->file, err);
	}
	writer_free(w);
	return rc;
}

void lat_ckpt_writer_abort(lat_ckpt_writer *w)
{
	if (!w)
		return;
	lat_afile_abort(w->file);
	writer_free(w);
}

/* ---- reader ---- */

static const char *legacy_format(const unsigned char *b, size_t len)
{
	static const char *const stems[] = {"LATSIM0", "LATRUN0", "LATCKPT"};
	if (len < MAGIC_LEN || b[7] < '0' || b[7] > '9')
		return NULL;
	for (size_t k = 0; k < sizeof stems / sizeof stems[0]; k++)
		if (!memcmp(b, stems[k], 7))
			return stems[k];
	return NULL;
}

static uint32_t crc_of(const unsigned char *b, size_t n)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	while (n > 0) {
		uInt part = n > (size_t)UINT_MAX ? UINT_MAX : (uInt)n;
		crc = crc32(crc, b, part);
		b += part;
		n -= part;
	}
	return (uint32_t)crc;
}

void lat_ckpt_reseal(unsigned char *buf, size_t len)
{
	if (len >= CRC_LEN)
		put_le(buf + len - CRC_LEN, crc_of(buf, len - CRC_LEN), CRC_LEN);
}

/* Checks the container in c and fills secs. */
/* The frame of c: not an older format, the magic, the container version, the sections up to the end
 * marker, the checksum and no trailing bytes. *end: the offset just after the end marker. */
static int check_frame(const lat_ckpt *c, const char *want, size_t *end_out, char *err)
{
	const unsigned char *b = c->buf;
	const char *name = c->name, *old = legacy_format(b, c->len);
	size_t len = c->len, off = HEADER_LEN, end = 0;
	uint32_t v;
	char t1[5];

	if (old)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: written by an older lateral (format %.8s), which this lateral does not read; "
		    "delete it or rerun without --resume",
		    name, (const char *)b);
	if (len < MAGIC_LEN || memcmp(b, MAGIC, MAGIC_LEN))
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: not a lateral state file (%s; it does not begin with %s)", name,
				   want ? want : "a state", MAGIC);
	if (len < HEADER_LEN + CRC_LEN)
		return lat_err_set(err, LAT_ECONFIG, "%s: truncated (%zu bytes, less than a header)", name,
				   len);
	v = (uint32_t)get_le(b + 8, 4);
	if (v != LAT_CKPT_VERSION)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: state file format version %u; this lateral reads version %u (a newer lateral "
		    "wrote it?)",
		    name, v, LAT_CKPT_VERSION);
	/* Walk the sections to the end marker: where the checksum must be. */
	for (;;) {
		uint64_t slen;
		if (len - off < SECTION_HEADER_LEN)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: truncated or corrupt (%zu bytes; no end marker)", name, len);
		slen = get_le(b + off + 8, 8);
		if (get_le(b + off, 4) == END_TAG) {
			end = off + SECTION_HEADER_LEN;
			if (get_le(b + off + 4, 4) != 0 || slen != 0)
				return lat_err_set(err, LAT_ECONFIG, "%s: corrupt end marker at byte %zu",
						   name, off);
			break;
		}
		if (slen > len - off - SECTION_HEADER_LEN)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: truncated or corrupt: section %s at byte %zu announces %llu "
					   "bytes, %zu follow",
					   name, tag_text((uint32_t)get_le(b + off, 4), t1), off,
					   (unsigned long long)slen, len - off - SECTION_HEADER_LEN);
		off += SECTION_HEADER_LEN + (size_t)slen;
	}
	if (len - end < CRC_LEN)
		return lat_err_set(err, LAT_ECONFIG, "%s: truncated (the checksum is missing)", name);
	if (crc_of(b, end) != (uint32_t)get_le(b + end, CRC_LEN))
		return lat_err_set(err, LAT_ECONFIG, "%s: checksum mismatch: the file is corrupt", name);
	if (len - end > CRC_LEN)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: %zu bytes of trailing data after the end of the state", name,
				   len - end - CRC_LEN);
	*end_out = end;
	return LAT_OK;
}

/* The kind and its version in c's header against what the caller reads. */
static int check_kind(const lat_ckpt *c, uint32_t kind, uint32_t version, const char *want, char *err)
{
	const unsigned char *b = c->buf;
	const char *name = c->name, *kn;
	uint32_t k, kv;
	char t1[5];

	k = (uint32_t)get_le(b + 12, 4);
	kv = (uint32_t)get_le(b + 16, 4);
	kn = kind_name(k);
	if (k != kind)
		return kn ? lat_err_set(err, LAT_ECONFIG, "%s: %s, not %s", name, kn,
					want ? want : "the expected kind")
			  : lat_err_set(err, LAT_ECONFIG, "%s: a state of unknown kind %s", name,
					tag_text(k, t1));
	if (kv != version)
		return lat_err_set(err, LAT_ECONFIG, "%s: %s of version %u; this lateral reads version %u%s",
				   name, kn, kv, version, kv > version ? " (a newer lateral wrote it?)" : "");
	return LAT_OK;
}

/* Points each of the n_secs expected sections at its data in c (between the header and end): every
 * section known, once, of the expected type and count; none missing. */
static int map_sections(const lat_ckpt *c, size_t end, lat_ckpt_section *secs, size_t n_secs, char *err)
{
	const unsigned char *b = c->buf;
	const char *name = c->name;
	size_t off;
	char t1[5];

	for (size_t i = 0; i < n_secs; i++) {
		secs[i].data = NULL;
		secs[i].n = 0;
	}
	for (off = HEADER_LEN; off + SECTION_HEADER_LEN < end;) {
		uint32_t tag = (uint32_t)get_le(b + off, 4), type = (uint32_t)get_le(b + off + 4, 4);
		size_t slen = (size_t)get_le(b + off + 8, 8), i, size;
		lat_ckpt_section *s = NULL;
		for (i = 0; i < n_secs && !s; i++)
			if (secs[i].tag == tag)
				s = &secs[i];
		if (!s)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: unknown section %s at byte %zu (a newer lateral wrote it?)",
					   name, tag_text(tag, t1), off);
		if (s->data)
			return lat_err_set(err, LAT_ECONFIG, "%s: section %s (%s) appears twice", name,
					   tag_text(tag, t1), s->name);
		if (type != (uint32_t)s->type)
			return lat_err_set(err, LAT_ECONFIG, "%s: section %s (%s) holds %s, expected %s",
					   name, tag_text(tag, t1), s->name, type_name(type),
					   type_name((uint32_t)s->type));
		size = type_size(s->type);
		if (slen % size)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: section %s (%s): %zu bytes, not a whole number of values",
					   name, tag_text(tag, t1), s->name, slen);
		if (s->count != LAT_CKPT_ANY && slen / size != s->count)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: section %s (%s) holds %zu values, expected %zu", name,
					   tag_text(tag, t1), s->name, slen / size, s->count);
		s->data = b + off + SECTION_HEADER_LEN;
		s->n = slen / size;
		off += SECTION_HEADER_LEN + slen;
	}
	for (size_t i = 0; i < n_secs; i++)
		if (!secs[i].data)
			return lat_err_set(err, LAT_ECONFIG, "%s: section %s (%s) is missing", name,
					   tag_text(secs[i].tag, t1), secs[i].name);
	return LAT_OK;
}

static int parse(const lat_ckpt *c, uint32_t kind, uint32_t version, lat_ckpt_section *secs, size_t n_secs,
		 char *err)
{
	const char *want = kind_name(kind);
	size_t end = 0;
	int rc = check_frame(c, want, &end, err);

	if (!rc)
		rc = check_kind(c, kind, version, want, err);
	if (!rc)
		rc = map_sections(c, end, secs, n_secs, err);
	return rc;
}

/* Takes ownership of buf (len bytes) and parses it into a new lat_ckpt. */
static int finish(unsigned char *buf, size_t len, const char *name, uint32_t kind, uint32_t version,
		  lat_ckpt_section *secs, size_t n_secs, lat_ckpt **out, char *err)
{
	lat_ckpt *c = calloc(1, sizeof *c);
	int rc;

	*out = NULL;
	if (c)
		c->name = strdup(name);
	if (!c || !c->name) {
		free(buf);
		lat_ckpt_free(c);
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory", name);
	}
	c->buf = buf;
	c->len = len;
	rc = parse(c, kind, version, secs, n_secs, err);
	if (rc) {
		for (size_t i = 0; i < n_secs; i++)
			secs[i].data = NULL;
		lat_ckpt_free(c);
		return rc;
	}
	*out = c;
	return LAT_OK;
}

int lat_ckpt_load_buffer(const void *buf, size_t len, const char *name, uint32_t kind, uint32_t version,
			 lat_ckpt_section *secs, size_t n_secs, lat_ckpt **c, char *err)
{
	unsigned char *copy = malloc(len + 1);
	*c = NULL;
	if (!copy)
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory", name);
	if (len)
		memcpy(copy, buf, len);
	return finish(copy, len, name, kind, version, secs, n_secs, c, err);
}

int lat_ckpt_load_stream(FILE *fp, const char *name, uint32_t kind, uint32_t version, lat_ckpt_section *secs,
			 size_t n_secs, lat_ckpt **c, char *err)
{
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;

	*c = NULL;
	for (;;) {
		size_t got;
		if (cap - len < CHUNK) {
			unsigned char *p = cap > SIZE_MAX / 2 - CHUNK ? NULL : realloc(buf, 2 * cap + CHUNK);
			if (!p) {
				free(buf);
				return lat_err_set(err, LAT_ENOMEM, "%s: out of memory", name);
			}
			buf = p;
			cap = 2 * cap + CHUNK;
		}
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(fp)) {
		free(buf);
		return lat_err_set(err, LAT_EIO, "%s: cannot read: %s", name, strerror(errno ? errno : EIO));
	}
	return finish(buf, len, name, kind, version, secs, n_secs, c, err);
}

int lat_ckpt_load(const char *path, uint32_t kind, uint32_t version, lat_ckpt_section *secs, size_t n_secs,
		  lat_ckpt **c, char *err)
{
	/* O_NONBLOCK: opening a FIFO without a writer must not hang; it is refused below. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	unsigned char *buf = NULL;
	struct stat st;
	size_t len, got = 0;

	*c = NULL;
	if (fd < 0)
		return lat_err_set(err, LAT_EIO, "%s: cannot open %s: %s", path,
				   kind_name(kind) ? kind_name(kind) : "the state file", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return lat_err_set(err, LAT_ECONFIG, "%s: not a regular file", path);
	}
	if ((uintmax_t)st.st_size >= SIZE_MAX) {
		close(fd);
		return lat_err_set(err, LAT_ENOMEM, "%s: too large (%jd bytes)", path, (intmax_t)st.st_size);
	}
	len = (size_t)st.st_size;
	buf = malloc(len + 1);
	if (!buf) {
		close(fd);
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory for %zu bytes", path, len);
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	if (got != len) {
		free(buf);
		return lat_err_set(err, LAT_EIO, "%s: cannot read (%zu of %zu bytes)", path, got, len);
	}
	return finish(buf, len, path, kind, version, secs, n_secs, c, err);
}

void lat_ckpt_free(lat_ckpt *c)
{
	if (!c)
		return;
	free(c->buf);
	free(c->name);
	free(c);
}

const char *lat_ckpt_name(const lat_ckpt *c)
{
	return c->name;
}

uint64_t lat_ckpt_u64(const lat_ckpt_section *s, size_t i)
{
	return get_le(s->data + 8 * i, 8);
}

double lat_ckpt_f64(const lat_ckpt_section *s, size_t i)
{
	uint64_t u = get_le(s->data + 8 * i, 8);
	double v;
	memcpy(&v, &u, sizeof v);
	return v;
}

float lat_ckpt_f32(const lat_ckpt_section *s, size_t i)
{
	uint32_t u = (uint32_t)get_le(s->data + 4 * i, 4);
	float v;
	memcpy(&v, &u, sizeof v);
	return v;
}

void lat_ckpt_get_f64(const lat_ckpt_section *s, double *out)
{
	if (host_le()) {
		memcpy(out, s->data, s->n * sizeof *out);
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		out[i] = lat_ckpt_f64(s, i);
}

void lat_ckpt_get_f32(const lat_ckpt_section *s, float *out)
{
	if (host_le()) {
		memcpy(out, s->data, s->n * sizeof *out);
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		out[i] = lat_ckpt_f32(s, i);
}

int lat_ckpt_check_finite(const lat_ckpt *c, const lat_ckpt_section *s, char *err)
{
	char t[5];
	for (size_t i = 0; i < s->n; i++) {
		double v = s->type == LAT_CKPT_F32 ? (double)lat_ckpt_f32(s, i) : lat_ckpt_f64(s, i);
		if (!isfinite(v))
			return lat_err_set(err, LAT_ECONFIG, "%s: section %s (%s): value %zu of %zu is %g",
					   c->name, tag_text(s->tag, t), s->name, i + 1, s->n, v);
	}
	return LAT_OK;
}

int lat_ckpt_get_rng(const lat_ckpt *c, const lat_ckpt_section *s, gsl_rng *r, char *err)
{
	mt_state st;
	uint64_t any = 0;
	char t[5];

	memset(&st, 0, sizeof st);
	if (s->type != LAT_CKPT_U64 || s->n != MT_N + 1)
		return lat_err_set(err, LAT_ECONFIG, "%s: section %s (%s): not an mt19937 state", c->name,
				   tag_text(s->tag, t), s->name);
	if (r->type != gsl_rng_mt19937 || !mt_layout_ok())
		return lat_err_set(err, LAT_EINVAL,
				   "cannot restore the random generator: not GSL's mt19937 layout");
	for (size_t k = 0; k < MT_N; k++) {
		uint64_t word = lat_ckpt_u64(s, k);
		if (word > 0xffffffffu)
			return lat_err_set(
			    err, LAT_ECONFIG, "%s: section %s (%s): word %zu is %llu, not a 32-bit value",
			    c->name, tag_text(s->tag, t), s->name, k, (unsigned long long)word);
		st.mt[k] = (unsigned long)word;
		/* only the top bit of word 0 is part of the state */
		any |= k ? word : word & 0x80000000u;
	}
	if (lat_ckpt_u64(s, MT_N) > MT_N)
		return lat_err_set(err, LAT_ECONFIG, "%s: section %s (%s): index %llu, expected 0 to %d",
				   c->name, tag_text(s->tag, t), s->name,
				   (unsigned long long)lat_ckpt_u64(s, MT_N), MT_N);
	if (!any)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: section %s (%s): the all-zero state (it would draw only zeros)",
				   c->name, tag_text(s->tag, t), s->name);
	st.mti = (int)lat_ckpt_u64(s, MT_N);
	memcpy(r->state, &st, sizeof st);
	return LAT_OK;
}
