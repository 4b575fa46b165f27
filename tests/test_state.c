/* test_state.c: the state-file container (ckpt.h) and every state file corrupted at many offsets. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>
#include <zlib.h>

#include "cli_fixture.h"
#include "lateral/ckpt.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/model.h"
#include "lateral/sim.h"
#include "lateral/state.h"
#include "lateral/trainer.h"
#include "runner.h"

/* Byte positions corrupted besides every byte of the container header and first section header, and
 * truncation lengths besides the header's: a stride giving about this many. */
#define N_STRIDE 32
#define N_CUTS 10
#define CONTAINER_HEAD 36 /* 20-byte header + 16-byte first section header */

static char tmpdir[256];

static char *tmp(char *buf, const char *sub)
{
	snprintf(buf, 512, "%s/%s", tmpdir, sub);
	return buf;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	long n;
	*len = 0;
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, fp) == (size_t)n)
		*len = (size_t)n;
	fclose(fp);
	return buf;
}

static void spit(const char *path, const unsigned char *b, size_t len)
{
	FILE *fp = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL(fwrite(b, 1, len, fp), len);
	fclose(fp);
}

static uint64_t le(const unsigned char *p, size_t bytes)
{
	uint64_t v = 0;
	for (size_t k = 0; k < bytes; k++)
		v |= (uint64_t)p[k] << (8 * k);
	return v;
}

static void put_le(unsigned char *p, uint64_t v, size_t bytes)
{
	for (size_t k = 0; k < bytes; k++)
		p[k] = (unsigned char)(v >> (8 * k));
}

/* Offset of the data of section tag (4 characters) in a container, by walking it as ckpt.h documents;
 * *n receives its length in bytes. */
static size_t section_at(const unsigned char *b, size_t len, const char *tag, size_t *n)
{
	size_t off = 20;
	while (off + 16 <= len && memcmp(b + off, "END!", 4)) {
		size_t slen = (size_t)le(b + off + 8, 8);
		if (!memcmp(b + off, tag, 4)) {
			*n = slen;
			return off + 16;
		}
		off += 16 + slen;
	}
	CU_FAIL("section not found");
	*n = 0;
	return 0;
}

/* The CRC-32 of all but the last 4 bytes, written into them (zlib, independently of lat_ckpt_reseal). */
static void reseal(unsigned char *b, size_t len)
{
	put_le(b + len - 4, crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4)), 4);
}

/* A listing of every file below dir with its size and a hash of its bytes (sorted by name). */
static void snapshot(const char *dir, char *out, size_t size)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	size_t used = strlen(out);
	for (int i = 0; i < n; i++) {
		char p[1024];
		struct stat st;
		/* the lock file (cli.c) records which command holds the folder, not its contents */
		if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..") &&
		    strcmp(names[i]->d_name, ".lateral.lock")) {
			snprintf(p, sizeof p, "%s/%s", dir, names[i]->d_name);
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
				snprintf(out + used, size - used, "%s/\n", names[i]->d_name);
				snapshot(p, out, size);
			} else {
				size_t len;
				unsigned char *b = slurp(p, &len);
				unsigned long h = b ? crc32(crc32(0L, Z_NULL, 0), b, (uInt)len) : 0;
				snprintf(out + used, size - used, "%s %zu %08lx\n", names[i]->d_name, len, h);
				free(b);
			}
			used = strlen(out);
		}
		free(names[i]);
	}
	free(names);
}

/* ---- the container ---- */

#define TAG_A LAT_CKPT_TAG('A', 'A', 'A', 'A')
#define TAG_B LAT_CKPT_TAG('B', 'B', 'B', 'B')
#define TAG_C LAT_CKPT_TAG('C', 'C', 'C', 'C')
#define TAG_D LAT_CKPT_TAG('D', 'D', 'D', 'D')
#define KIND LAT_CKPT_TAG('T', 'E', 'S', 'T')

static const uint64_t u[3] = {1, 0xfedcba9876543210ull, 42};
static const double dv[2] = {-0.5, 1e300};
static const float fv[4] = {1.5f, -2.0f, 0.0f, 3e-38f};

static void expect(lat_ckpt_section *s)
{
	const lat_ckpt_section t[4] = {{TAG_A, LAT_CKPT_U64, 3, "a", NULL, 0},
				       {TAG_B, LAT_CKPT_F64, LAT_CKPT_ANY, "b", NULL, 0},
				       {TAG_C, LAT_CKPT_F32, 4, "c", NULL, 0},
				       {TAG_D, LAT_CKPT_BYTES, LAT_CKPT_ANY, "d", NULL, 0}};
	memcpy(s, t, sizeof t);
}

/* Writes the test container (kind version kv) to path, with an extra section when extra is set. */
static void write_test(const char *path, uint32_t kv, int extra)
{
	char err[LAT_ERRLEN] = "";
	lat_ckpt_writer *w = lat_ckpt_writer_open(path, KIND, kv, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3), LAT_OK);
	CU_ASSERT_EQUAL(lat_ckpt_put(w, TAG_B, LAT_CKPT_F64, dv, 2), LAT_OK);
	CU_ASSERT_EQUAL(lat_ckpt_put(w, TAG_C, LAT_CKPT_F32, fv, 4), LAT_OK);
	CU_ASSERT_EQUAL(lat_ckpt_put(w, TAG_D, LAT_CKPT_BYTES, "hello", 5), LAT_OK);
	if (extra)
		CU_ASSERT_EQUAL(lat_ckpt_put(w, LAT_CKPT_TAG('X', 'T', 'R', 'A'), LAT_CKPT_BYTES, "x", 1),
				LAT_OK);
	CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
}

static int load_test(const char *path, uint32_t kv, lat_ckpt_section *s, char *err)
{
	lat_ckpt *c = NULL;
	int rc;
	expect(s);
	rc = lat_ckpt_load(path, KIND, kv, s, 4, &c, err);
	CU_ASSERT(rc == LAT_OK ? c != NULL : c == NULL);
	lat_ckpt_free(c);
	return rc;
}

/* The bytes at documented offsets, then the values back. */
static void test_round_trip(void)
{
	char p[512], err[LAT_ERRLEN] = "";
	lat_ckpt_section s[4];
	lat_ckpt *c = NULL;
	unsigned char *b;
	size_t len;
	double d[2];
	float f[4];

	write_test(tmp(p, "t.bin"), 7, 0);
	b = slurp(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	/* header 20, four sections (16 + 24, 16 + 16, 16 + 16, 16 + 5), end marker 16, CRC 4 */
	CU_ASSERT_EQUAL(len, 20 + 40 + 32 + 32 + 21 + 16 + 4);
	CU_ASSERT_EQUAL(memcmp(b, "LATSTATE", 8), 0);
	CU_ASSERT_EQUAL(le(b + 8, 4), 1);
	CU_ASSERT_EQUAL(memcmp(b + 12, "TEST", 4), 0);
	CU_ASSERT_EQUAL(le(b + 16, 4), 7);
	CU_ASSERT_EQUAL(memcmp(b + 20, "AAAA", 4), 0);
	CU_ASSERT_EQUAL(le(b + 24, 4), LAT_CKPT_U64);
	CU_ASSERT_EQUAL(le(b + 28, 8), 24);
	CU_ASSERT_EQUAL(le(b + 36 + 8, 8), 0xfedcba9876543210ull);
	CU_ASSERT_EQUAL(memcmp(b + len - 20, "END!", 4), 0);
	CU_ASSERT_EQUAL(le(b + len - 4, 4), crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4)));
	free(b);

	expect(s);
	CU_ASSERT_EQUAL_FATAL(lat_ckpt_load(p, KIND, 7, s, 4, &c, err), LAT_OK);
	CU_ASSERT_EQUAL(s[0].n, 3);
	CU_ASSERT_EQUAL(lat_ckpt_u64(&s[0], 1), 0xfedcba9876543210ull);
	CU_ASSERT_EQUAL(lat_ckpt_u64(&s[0], 2), 42);
	CU_ASSERT_EQUAL(s[1].n, 2);
	lat_ckpt_get_f64(&s[1], d);
	CU_ASSERT(d[0] == -0.5 && d[1] == 1e300);
	lat_ckpt_get_f32(&s[2], f);
	CU_ASSERT_EQUAL(memcmp(f, fv, sizeof f), 0);
	CU_ASSERT(lat_ckpt_f32(&s[2], 3) == 3e-38f);
	CU_ASSERT_EQUAL(s[3].n, 5);
	CU_ASSERT_EQUAL(memcmp(s[3].data, "hello", 5), 0);
	CU_ASSERT_EQUAL(lat_ckpt_check_finite(c, &s[1], err), LAT_OK);
	CU_ASSERT_STRING_EQUAL(lat_ckpt_name(c), p);
	lat_ckpt_free(c);

	/* the same through a memory stream */
	{
		char *mem = NULL;
		size_t mlen = 0;
		FILE *fp = open_memstream(&mem, &mlen);
		lat_ckpt_writer *w = lat_ckpt_writer_stream(fp, KIND, 7, err);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3);
		lat_ckpt_put(w, TAG_B, LAT_CKPT_F64, dv, 0);
		lat_ckpt_put(w, TAG_C, LAT_CKPT_F32, fv, 4);
		lat_ckpt_put(w, TAG_D, LAT_CKPT_BYTES, "", 0);
		CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
		fclose(fp);
		expect(s);
		CU_ASSERT_EQUAL(lat_ckpt_load_buffer(mem, mlen, "mem", KIND, 7, s, 4, &c, err), LAT_OK);
		CU_ASSERT_EQUAL(s[1].n, 0);
		CU_ASSERT_EQUAL(s[3].n, 0);
		lat_ckpt_free(c);
		free(mem);
	}
}

/* The test container into memory, section C's four floats written in pieces of sizes cut[0..n_cut-1]
 * (none: with lat_ckpt_put); returns the commit's status, the bytes in *mem (free them). */
static int write_pieces(const size_t *cut, size_t n_cut, char **mem, size_t *len)
{
	char err[LAT_ERRLEN] = "";
	FILE *fp = open_memstream(mem, len);
	lat_ckpt_writer *w = lat_ckpt_writer_stream(fp, KIND, 7, err);
	size_t done = 0;
	int rc;

	lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3);
	if (!n_cut) {
		lat_ckpt_put(w, TAG_C, LAT_CKPT_F32, fv, 4);
	} else {
		lat_ckpt_put_begin(w, TAG_C, LAT_CKPT_F32, 4);
		for (size_t k = 0; k < n_cut; done += cut[k++])
			lat_ckpt_put_more(w, fv + done, cut[k]);
	}
	lat_ckpt_put(w, TAG_D, LAT_CKPT_BYTES, "hello", 5);
	rc = lat_ckpt_writer_commit(w, err);
	fclose(fp);
	return rc;
}

/* A section written in pieces (lat_ckpt_put_begin / _more) is byte for byte the one lat_ckpt_put
 * writes; one short of its values, or given more, fails the commit. */
static void test_pieces(void)
{
	const size_t whole[] = {4}, parts[] = {1, 0, 2, 1}, fewer[] = {1, 2}, more[] = {3, 2};
	char *ref = NULL, *mem = NULL;
	size_t ref_len = 0, len = 0;

	CU_ASSERT_EQUAL_FATAL(write_pieces(NULL, 0, &ref, &ref_len), LAT_OK);
	CU_ASSERT_EQUAL(write_pieces(whole, 1, &mem, &len), LAT_OK);
	CU_ASSERT(len == ref_len && !memcmp(mem, ref, len));
	free(mem);
	CU_ASSERT_EQUAL(write_pieces(parts, 4, &mem, &len), LAT_OK);
	CU_ASSERT(len == ref_len && !memcmp(mem, ref, len));
	free(mem);
	CU_ASSERT_EQUAL(write_pieces(fewer, 2, &mem, &len), LAT_EIO);
	free(mem);
	CU_ASSERT_EQUAL(write_pieces(more, 2, &mem, &len), LAT_EIO);
	free(mem);
	free(ref);
}

/* Every truncation, every single-bit flip, bytes appended: refused, naming the file. */
static void test_corrupt_container(void)
{
	char p[512], q[512], err[LAT_ERRLEN] = "";
	lat_ckpt_section s[4];
	unsigned char *b, *x;
	size_t len, refused = 0, tried = 0;

	write_test(tmp(p, "t.bin"), 1, 0);
	b = slurp(p, &len);
	x = malloc(len + 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tmp(q, "bad.bin");
	for (size_t cut = 0; cut < len; cut++) {
		spit(q, b, cut);
		tried++;
		refused += load_test(q, 1, s, err) == LAT_ECONFIG && strstr(err, q) != NULL;
	}
	for (size_t bit = 0; bit < 8 * len; bit++) {
		memcpy(x, b, len);
		x[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		spit(q, x, len);
		tried++;
		refused += load_test(q, 1, s, err) == LAT_ECONFIG && strstr(err, q) != NULL;
	}
	CU_ASSERT_EQUAL(refused, tried);
	memcpy(x, b, len);
	memcpy(x + len, "junk", 4);
	spit(q, x, len + 4);
	CU_ASSERT_EQUAL(load_test(q, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "4 bytes of trailing data after the end of the state"));
	x[len - 1] ^= 1;
	spit(q, x, len);
	CU_ASSERT_EQUAL(load_test(q, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "checksum mismatch"));
	spit(q, b, 30);
	CU_ASSERT_EQUAL(load_test(q, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_OK);
	free(x);
	free(b);
}

/* Versions, kinds, tags, types and counts: each refused with its own message. */
static void test_container_schema(void)
{
	char p[512], err[LAT_ERRLEN] = "";
	lat_ckpt_section s[4];
	lat_ckpt *c = NULL;
	unsigned char *b;
	size_t len;

	write_test(tmp(p, "v.bin"), 1, 0);
	b = slurp(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	put_le(b + 8, 2, 4);
	reseal(b, len);
	spit(p, b, len);
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "state file format version 2; this lateral reads version 1"));
	free(b);
	write_test(p, 3, 0);
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "of version 3; this lateral reads version 1 (a newer lateral wrote it?)"));
	expect(s);
	CU_ASSERT_EQUAL(lat_ckpt_load(p, LAT_CKPT_RUN, 3, s, 4, &c, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "a state of unknown kind TEST"));
	write_test(p, 1, 1);
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown section XTRA"));
	/* missing, duplicate, wrong type, wrong count */
	{
		lat_ckpt_writer *w = lat_ckpt_writer_open(p, KIND, 1, err);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3);
		lat_ckpt_put(w, TAG_B, LAT_CKPT_F64, dv, 2);
		lat_ckpt_put(w, TAG_D, LAT_CKPT_BYTES, "x", 1);
		CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
		CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "section CCCC (c) is missing"));
		w = lat_ckpt_writer_open(p, KIND, 1, err);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3);
		CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
		CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "section AAAA (a) appears twice"));
		w = lat_ckpt_writer_open(p, KIND, 1, err);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_F64, dv, 2);
		CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
		CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(err, "section AAAA (a) holds doubles, expected 64-bit integers"));
		w = lat_ckpt_writer_open(p, KIND, 1, err);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 2);
		CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
		CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "section AAAA (a) holds 2 values, expected 3"));
	}
	/* older formats, foreign files, a directory, a FIFO (refused without blocking) */
	spit(p, (const unsigned char *)"LATRUN02 and the rest of an old state", 37);
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(
	    strstr(err, "written by an older lateral (format LATRUN02), which this lateral does not "
			"read; delete it or rerun without --resume"));
	spit(p, (const unsigned char *)"PK\003\004", 4);
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a lateral state file"));
	CU_ASSERT_EQUAL(load_test(tmpdir, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	CU_ASSERT_EQUAL_FATAL(mkfifo(tmp(p, "fifo"), 0600), 0);
	CU_ASSERT_EQUAL(load_test(p, 1, s, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a regular file"));
	CU_ASSERT_EQUAL(load_test(tmp(p, "missing.bin"), 1, s, err), LAT_EIO);
	/* a non-finite value, named */
	{
		static const double bad[3] = {1, 2, NAN};
		lat_ckpt_writer *w = lat_ckpt_writer_open(tmp(p, "nan.bin"), KIND, 1, err);
		lat_ckpt_put(w, TAG_A, LAT_CKPT_U64, u, 3);
		lat_ckpt_put(w, TAG_B, LAT_CKPT_F64, bad, 3);
		lat_ckpt_put(w, TAG_C, LAT_CKPT_F32, fv, 4);
		lat_ckpt_put(w, TAG_D, LAT_CKPT_BYTES, "x", 1);
		CU_ASSERT_EQUAL(lat_ckpt_writer_commit(w, err), LAT_OK);
		expect(s);
		CU_ASSERT_EQUAL_FATAL(lat_ckpt_load(p, KIND, 1, s, 4, &c, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_ckpt_check_finite(c, &s[1], err), LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "nan.bin: section BBBB (b): value 3 of 3 is nan"));
		lat_ckpt_free(c);
	}
}

/* mt19937 through the container: the same draws after a restore; a bad index, a word of more than 32
 * bits and the all-zero state are refused and leave the generator as it was. */
static void test_rng(void)
{
	char p[512], err[LAT_ERRLEN] = "";
	gsl_rng *a = gsl_rng_alloc(gsl_rng_mt19937), *b = gsl_rng_alloc(gsl_rng_mt19937);
	lat_ckpt_section s = {LAT_CKPT_TAG('R', 'N', 'G', ' '), LAT_CKPT_U64, 625, "generator", NULL, 0};
	lat_ckpt *c = NULL;
	lat_ckpt_writer *w;
	unsigned char *bytes;
	size_t len, off, n;

	gsl_rng_set(a, 12345);
	for (int k = 0; k < 1000; k++)
		gsl_rng_get(a);
	w = lat_ckpt_writer_open(tmp(p, "rng.bin"), KIND, 1, err);
	CU_ASSERT_EQUAL(lat_ckpt_put_rng(w, s.tag, a, err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_ckpt_writer_commit(w, err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_ckpt_load(p, KIND, 1, &s, 1, &c, err), LAT_OK);
	/* 1000 = 624 + 376 draws: the index is 376 */
	CU_ASSERT_EQUAL(lat_ckpt_u64(&s, 624), 376);
	gsl_rng_set(b, 1);
	CU_ASSERT_EQUAL(lat_ckpt_get_rng(c, &s, b, err), LAT_OK);
	lat_ckpt_free(c);
	for (int k = 0; k < 2000; k++)
		CU_ASSERT_EQUAL_FATAL(gsl_rng_get(a), gsl_rng_get(b));

	bytes = slurp(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(bytes);
	off = section_at(bytes, len, "RNG ", &n);
	CU_ASSERT_EQUAL(n, 625 * 8);
	gsl_rng_set(b, 99);
	for (int v = 0; v < 4; v++) {
		unsigned char *x = malloc(len);
		gsl_rng *d = gsl_rng_clone(b);
		memcpy(x, bytes, len);
		if (v == 0)
			put_le(x + off + 624 * 8, 625, 8);
		else if (v == 1)
			put_le(x + off + 624 * 8, 0xffffffff80000000ull,
			       8); /* the probe's crash: a negative index */
		else if (v == 2)
			put_le(x + off + 17 * 8, 1ull << 32, 8);
		else
			for (size_t k = 0; k < 624; k++)
				put_le(x + off + k * 8, k ? 0 : 0x7fffffff, 8);
		reseal(x, len);
		CU_ASSERT_EQUAL_FATAL(lat_ckpt_load_buffer(x, len, "rng", KIND, 1, &s, 1, &c, err), LAT_OK);
		CU_ASSERT_EQUAL(lat_ckpt_get_rng(c, &s, b, err), LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, v < 2    ? "index"
						   : v == 2 ? "word 17 is 4294967296"
							    : "all-zero"));
		lat_ckpt_free(c);
		for (int k = 0; k < 3; k++)
			CU_ASSERT_EQUAL(gsl_rng_get(b), gsl_rng_get(d));
		gsl_rng_free(d);
		free(x);
	}
	free(bytes);
	gsl_rng_free(a);
	gsl_rng_free(b);
}

/* ---- state files ---- */

/* One corrupted copy of orig (len bytes) per variant: every byte of the container's head and a stride
 * over the rest, each changed by a bit flip, 0x00 or 0xFF in turn (variants that change nothing are
 * skipped), truncations at the head's lengths and a stride, and junk appended. try(ctx, bytes, n)
 * returns 1 when the variant was refused as it must be; every variant must be. Returns the count. */
static size_t corrupt_all(const unsigned char *orig, size_t len,
			  int (*try)(void *, const unsigned char *, size_t), void *ctx)
{
	unsigned char *x = malloc(2 * len + 16);
	size_t tried = 0, refused = 0, k = 0, stride = len / N_STRIDE + 1, cut_stride = len / N_CUTS + 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	for (size_t pos = 0; pos < len; pos += pos < CONTAINER_HEAD ? 1 : stride, k++) {
		memcpy(x, orig, len);
		x[pos] = k % 3 == 0 ? x[pos] ^ (unsigned char)(1u << (k % 8)) : k % 3 == 1 ? 0x00 : 0xff;
		if (x[pos] == orig[pos])
			x[pos] ^= 0x80;
		tried++;
		if (try(ctx, x, len))
			refused++;
		else
			fprintf(stderr, "\naccepted: byte %zu set to 0x%02x\n", pos, x[pos]);
	}
	for (size_t cut = 0; cut < len; cut += cut < CONTAINER_HEAD ? 3 : cut_stride) {
		tried++;
		if (try(ctx, orig, cut))
			refused++;
		else
			fprintf(stderr, "\naccepted: truncated to %zu bytes\n", cut);
	}
	memcpy(x, orig, len);
	memcpy(x + len, "\n", 1);
	tried++;
	refused += try(ctx, x, len + 1);
	memcpy(x + len, orig, len);
	tried++;
	refused += try(ctx, x, 2 * len);
	CU_ASSERT_EQUAL(refused, tried);
	free(x);
	return tried;
}

/* A command resumed from a corrupted state file in dir: exit 2, a message naming the file, and every
 * file in dir as it was. */
typedef struct {
	const char *dir, *file;
	const char *const *args;
	size_t n_args;
} cli_case;

static int cli_try(void *ctx, const unsigned char *b, size_t len)
{
	const cli_case *cc = ctx;
	static char before[65536], after[65536];
	char p[1024];
	int rc;

	snprintf(p, sizeof p, "%s/%s", cc->dir, cc->file);
	spit(p, b, len);
	before[0] = after[0] = 0;
	snapshot(cc->dir, before, sizeof before);
	rc = cli_fixture_runv(tmpdir, cc->n_args, cc->args);
	snapshot(cc->dir, after, sizeof after);
	if (rc != 2 || !strstr(cli_err_text, p) || strcmp(before, after)) {
		fprintf(stderr, "\nexit %d: %s", rc, cli_err_text);
		return 0;
	}
	return 1;
}

/* Runs cc on every corruption of dir/file, after checking that the intact file resumes (exit 0). */
static void cli_corrupt(const cli_case *cc)
{
	char p[1024];
	unsigned char *orig;
	size_t len, n;

	snprintf(p, sizeof p, "%s/%s", cc->dir, cc->file);
	orig = slurp(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	CU_ASSERT_FATAL(len > 100);
	n = corrupt_all(orig, len, cli_try, (void *)cc);
	CU_ASSERT(n >= 75);
	spit(p, orig, len);
	CU_ASSERT_EQUAL(cli_fixture_runv(tmpdir, cc->n_args, cc->args), 0);
	free(orig);
}

/* run_state.bin of a run whose presentation 32 fails (eta = 1): resumed with run.presentations = 31. */
static void test_run_state(void)
{
	char dir[512], p[1024], err[LAT_ERRLEN] = "";
	const char *make[] = {
	    "run", "-q", "--no-plot", "-o", dir, "--set", "circuit.neurons=10", "--set", "plasticity.eta=1"};
	const char *resume[] = {"run",
				"-q",
				"--no-plot",
				"-o",
				dir,
				"--set",
				"circuit.neurons=10",
				"--set",
				"plasticity.eta=1",
				"--set",
				"run.presentations=31",
				"--resume"};
	cli_case cc = {dir, "run_state.bin", resume, sizeof resume / sizeof resume[0]};
	unsigned char *orig, *x;
	size_t len, off, n;
	lat_model m;
	lat_sim *sim;
	lat_run_state rs;

	tmp(dir, "run");
	CU_ASSERT_EQUAL_FATAL(cli_fixture_runv(tmpdir, sizeof make / sizeof make[0], make), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "the last good state (after presentation 31)"));
	snprintf(p, sizeof p, "%s/run_state.bin", dir);
	orig = slurp(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	cli_corrupt(&cc);

	/* Semantic checks, behind a valid checksum: the library loader the CLI uses. */
	lat_model_init(&m);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "circuit.neurons=10", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "plasticity.eta=1", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m, err), LAT_OK);
	sim = lat_model_sim_alloc(&m, NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
	x = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	for (int v = 0; v < 6; v++) {
		static const char *const what[] = {
		    "2001 presentations are done, more than the 2000 of this study",
		    "presentations since the last record",
		    "corrupt state: t0 is nan",
		    "the rows of trace.tsv",
		    "the rows of metrics.tsv",
		    "record 2 is presentation 0.5"};
		memcpy(x, orig, len);
		off = section_at(x, len,
				 v < 2	  ? "RCNT"
				 : v == 2 ? "RSUM"
				 : v == 3 ? "TRAC"
				 : v == 4 ? "METR"
					  : "RECP",
				 &n);
		if (v == 0)
			put_le(x + off, 2001, 8);
		else if (v == 1)
			put_le(x + off + 8, 5, 8);
		else if (v == 2)
			memcpy(x + off + 6 * 8, &(double){NAN}, 8);
		else if (v == 3 || v == 4)
			memset(x + off + 40, 0xff, 16); /* the probe's 0xFF bytes */
		else
			memcpy(x + off + 8, &(double){0.5}, 8);
		reseal(x, len);
		spit(tmp(p, "rs.bin"), x, len);
		CU_ASSERT_EQUAL(lat_run_state_load(p, m.presentations, sim, &rs, err), LAT_ECONFIG);
		if (!strstr(err, what[v]))
			fprintf(stderr, "\nvariant %d: %s\n", v, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, what[v]));
		CU_ASSERT_PTR_NULL(rs.model);
	}
	/* the intact state loads, and the simulation continues from presentation 31 */
	spit(p, orig, len);
	CU_ASSERT_EQUAL(lat_run_state_load(p, m.presentations, sim, &rs, err), LAT_OK);
	CU_ASSERT_EQUAL(rs.s.done, 31);
	CU_ASSERT_EQUAL(rs.s.n_rec, 4); /* presentations 0, 10, 20, 30 */
	CU_ASSERT_EQUAL(rs.s.since, 1);
	lat_run_state_clear(&rs);
	free(x);
	free(orig);
	lat_sim_free(sim);
	lat_model_clear(&m);
}

/* The simulation state (lat_sim_save) corrupted: lat_sim_load refuses each copy and leaves the
 * simulation as it was (it saves the same bytes as before); behind a valid checksum the counters, the
 * generator and the values are checked. */
typedef struct {
	lat_sim *sim;
	const unsigned char *saved;
	size_t saved_len;
} sim_case;

static int sim_bytes_equal(lat_sim *s, const unsigned char *b, size_t len)
{
	char *mem = NULL, err[LAT_ERRLEN];
	size_t n = 0;
	FILE *fp = open_memstream(&mem, &n);
	int same;
	lat_sim_save(s, fp, err);
	fclose(fp);
	same = n == len && !memcmp(mem, b, len);
	free(mem);
	return same;
}

static int sim_try(void *ctx, const unsigned char *b, size_t len)
{
	sim_case *sc = ctx;
	char err[LAT_ERRLEN] = "";
	FILE *fp = fmemopen((void *)(uintptr_t)(len ? b : (const unsigned char *)"x"), len ? len : 1, "rb");
	int rc;
	if (!len)
		fgetc(fp);
	rc = lat_sim_load(sc->sim, fp, "sim.bin", err);
	fclose(fp);
	return rc == LAT_ECONFIG && strstr(err, "sim.bin") &&
	       sim_bytes_equal(sc->sim, sc->saved, sc->saved_len);
}

static void test_sim_state(void)
{
	lat_model m;
	lat_sim *a, *b;
	char *mem = NULL, err[LAT_ERRLEN] = "";
	size_t len = 0, off, n;
	FILE *fp;
	unsigned char *x;
	sim_case sc;

	lat_model_init(&m);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "circuit.neurons=6", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "input.count=5", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "plasticity.update=\"batch\"", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m, err), LAT_OK);
	a = lat_model_sim_alloc(&m, NULL, err);
	b = lat_model_sim_alloc(&m, NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (int k = 0; k < 12; k++)
		CU_ASSERT_EQUAL_FATAL(lat_sim_present(a, NULL, NULL, err), LAT_OK);
	fp = open_memstream(&mem, &len);
	CU_ASSERT_EQUAL_FATAL(lat_sim_save(a, fp, err), LAT_OK);
	fclose(fp);
	x = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);

	/* b after 3 presentations: what every refused load must leave */
	for (int k = 0; k < 3; k++)
		CU_ASSERT_EQUAL_FATAL(lat_sim_present(b, NULL, NULL, err), LAT_OK);
	{
		char *ref = NULL;
		size_t ref_len = 0;
		fp = open_memstream(&ref, &ref_len);
		lat_sim_save(b, fp, err);
		fclose(fp);
		sc = (sim_case){b, (unsigned char *)ref, ref_len};
		corrupt_all((unsigned char *)mem, len, sim_try, &sc);
		/* counters, generator and values behind a valid checksum */
		for (int v = 0; v < 6; v++) {
			static const char *const tags[] = {"SHDR", "SHDR", "SHDR", "RNGI", "WGHT", "ACCU"};
			static const char *const what[] = {
			    "the rule's counters (batch updates) after 13 presentations",
			    "the rule's counters (batch updates) after 12 presentations",
			    "a pending input that cannot be",
			    "index 4294967295",
			    "weights): value 4 of",
			    "accumulator): value 1 of"};
			memcpy(x, mem, len);
			off = section_at(x, len, tags[v], &n);
			if (v == 0)
				put_le(x + off + 8 * 6, 13,
				       8); /* presentations 13: 13 % 5 accumulated, not 2 */
			else if (v == 1)
				put_le(x + off + 8 * 9, 1ull << 63, 8); /* updates */
			else if (v == 2)
				put_le(x + off + 8 * 7, 1, 8); /* a pending input with fixed inputs */
			else if (v == 3)
				put_le(x + off + 624 * 8, 0xffffffffu, 8);
			else if (v == 4)
				memcpy(x + off + 3 * 8, &(double){INFINITY}, 8);
			else
				memcpy(x + off, &(double){NAN}, 8);
			reseal(x, len);
			CU_ASSERT(sim_try(&sc, x, len));
			fp = fmemopen(x, len, "rb");
			CU_ASSERT_EQUAL(lat_sim_load(b, fp, "sim.bin", err), LAT_ECONFIG);
			fclose(fp);
			if (!strstr(err, what[v]))
				fprintf(stderr, "\nvariant %d: %s\n", v, err);
			CU_ASSERT_PTR_NOT_NULL(strstr(err, what[v]));
		}
		free(ref);
	}
	/* the intact state loads and continues like a */
	fp = fmemopen(mem, len, "rb");
	CU_ASSERT_EQUAL(lat_sim_load(b, fp, "sim.bin", err), LAT_OK);
	fclose(fp);
	CU_ASSERT_EQUAL(lat_sim_present(a, NULL, NULL, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_sim_present(b, NULL, NULL, err), LAT_OK);
	CU_ASSERT_EQUAL(
	    memcmp(lat_sim_weights(a), lat_sim_weights(b), 6 * lat_sim_inputs(a) * sizeof(double)), 0);
	free(x);
	free(mem);
	lat_sim_free(a);
	lat_sim_free(b);
	lat_model_clear(&m);
}

/* checkpoint.bin of tests/smoke/tiny_experiment.cfg (2 epochs), resumed; NaN and Inf parameters and an
 * epoch of 2^63 behind a valid checksum are refused by `lateral eval` and --resume. */
static void test_checkpoint(void)
{
	char dir[512], cfg[512], p[1024], q[1024];
	const char *make[] = {"train", "-q", "--no-plot", "-o", dir, cfg};
	const char *resume[] = {"train", "-q", "--no-plot", "-o", dir, cfg, "--resume"};
	cli_case cc = {dir, "checkpoint.bin", resume, sizeof resume / sizeof resume[0]};
	unsigned char *orig, *x;
	size_t len, off, n;

	snprintf(cfg, sizeof cfg, "%s/tests/smoke/tiny_experiment.cfg", test_srcdir());
	tmp(dir, "train");
	CU_ASSERT_EQUAL_FATAL(cli_fixture_runv(tmpdir, sizeof make / sizeof make[0], make), 0);
	cli_corrupt(&cc);
	snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
	orig = slurp(p, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(orig);
	x = malloc(len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(x);
	tmp(q, "semantic.bin");
	for (int v = 0; v < 6; v++) {
		static const char *const what[] = {
		    "corrupt checkpoint: layer 1 (lc): parameter 7 of",
		    "corrupt checkpoint: layer 4 (linear): parameter ",
		    "more than train.epochs can be (100000)",
		    "corrupt checkpoint: optimiser steps and batches differ",
		    "corrupt checkpoint: optimiser state 3300 of 6420 is -1",
		    "corrupt checkpoint: statistics of an epoch at its boundary"};
		char dirv[512];
		const char *eval[] = {"eval", "--experiment", cfg, q};
		const char *res[] = {"train",	 "-q",	  "--no-plot",	   "-o", dirv, cfg,
				     "--resume", "--set", "train.epochs=5"};
		char before[4096] = "", after[4096] = "";
		memcpy(x, orig, len);
		off = section_at(x, len,
				 v < 2 || v == 4 ? (v == 4 ? "OPTS" : "PARM")
				 : v == 5	 ? "TSTA"
						 : "THDR",
				 &n);
		if (v == 0)
			memcpy(x + off + 7 * 4, &(float){NAN}, 4);
		else if (v == 1)
			memcpy(x + off + n - 4, &(float){INFINITY}, 4); /* the last one */
		else if (v == 2)
			put_le(x + off + 3 * 8, 1ull << 63, 8); /* epoch */
		else if (v == 3)
			put_le(x + off + 6 * 8, 1ull << 63, 8); /* optimiser steps */
		else if (v == 4)
			memcpy(x + off + 3300 * 4, &(float){-1}, 4); /* adamw's second moment */
		else
			memcpy(x + off, &(double){0.25}, 8); /* a loss sum at an epoch boundary */
		reseal(x, len);
		spit(q, x, len);
		CU_ASSERT_EQUAL(cli_fixture_runv(tmpdir, 4, eval), 2);
		if (!strstr(cli_err_text, what[v]))
			fprintf(stderr, "\nvariant %d: %s\n", v, cli_err_text);
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, what[v]));
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, q));
		/* --resume: the same refusal, and the folder as it was */
		snprintf(dirv, sizeof dirv, "%s/train_v", tmpdir);
		mkdir(dirv, 0755);
		snprintf(p, sizeof p, "%s/checkpoint.bin", dirv);
		spit(p, x, len);
		snapshot(dirv, before, sizeof before);
		CU_ASSERT_EQUAL(cli_fixture_runv(tmpdir, sizeof res / sizeof res[0], res), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, what[v]));
		snapshot(dirv, after, sizeof after);
		CU_ASSERT_STRING_EQUAL(before, after);
	}
	/* a checkpoint past this run's end is not resumed */
	{
		const char *res[] = {"train",	 "-q",	  "--no-plot",	   "-o", dir, cfg,
				     "--resume", "--set", "train.epochs=1"};
		CU_ASSERT_EQUAL(cli_fixture_runv(tmpdir, sizeof res / sizeof res[0], res), 2);
		CU_ASSERT_PTR_NOT_NULL(
		    strstr(cli_err_text, "taken after 2 epochs (and 0 batches), more than train.epochs = 1"));
	}
	free(x);
	free(orig);
}

/* sweep_state.bin of a finished two-point sweep, resumed. */
static void test_sweep_state(void)
{
	char dir[512], p[1024], err[LAT_ERRLEN] = "";
	const char *make[] = {"sweep",
			      "-q",
			      "--no-plot",
			      "-o",
			      dir,
			      "--set",
			      "circuit.neurons=6",
			      "--set",
			      "run.presentations=100",
			      "--vary",
			      "plasticity.gamma=0.1,0.3"};
	const char *resume[] = {"sweep",
				"-q",
				"--no-plot",
				"-o",
				dir,
				"--set",
				"circuit.neurons=6",
				"--set",
				"run.presentations=100",
				"--vary",
				"plasticity.gamma=0.1,0.3",
				"--resume"};
	cli_case cc = {dir, "sweep_state.bin", resume, sizeof resume / sizeof resume[0]};
	static const lat_sweep_column cols[3] = {
	    {"ratio", LAT_SWEEP_RATIO}, {"p50", LAT_SWEEP_PRESENTATION}, {"steps", LAT_SWEEP_NONNEG}};
	const unsigned long long hash[2] = {11, 22};
	const size_t pres[2] = {100, 100};
	int done[2] = {1, 1};
	double vals[6] = {NAN, NAN, 0, INFINITY, 100, 3.5};
	size_t n_done = 0;

	tmp(dir, "sweep");
	CU_ASSERT_EQUAL_FATAL(cli_fixture_runv(tmpdir, sizeof make / sizeof make[0], make), 0);
	cli_corrupt(&cc);

	/* the columns' ranges behind a valid checksum; NaN where a column may hold it */
	tmp(p, "sw.bin");
	CU_ASSERT_EQUAL_FATAL(lat_sweep_state_save(p, 2, 3, done, hash, vals, err), LAT_OK);
	done[0] = done[1] = 0;
	CU_ASSERT_EQUAL(lat_sweep_state_load(p, 2, 3, cols, hash, pres, done, vals, &n_done, err), LAT_OK);
	CU_ASSERT(done[0] && done[1] && n_done == 2);
	CU_ASSERT(isnan(vals[0]) && isnan(vals[1]) && isinf(vals[3]) && vals[5] == 3.5);
	for (int v = 0; v < 5; v++) {
		static const double bad[5][6] = {{-1, 0, 0, 0, 0, 0},
						 {0, 0, NAN, 0, 0, 0},
						 {0, 101, 0, 0, 0, 0},
						 {0, 0.5, 0, 0, 0, 0},
						 {0, 0, 0, 0, 0, INFINITY}};
		static const char *const what[] = {"run 1: ratio is -1", "run 1: steps is nan",
						   "run 1: p50 is 101", "run 1: p50 is 0.5",
						   "run 2: steps is inf"};
		double got[6] = {7, 7, 7, 7, 7, 7};
		int d[2] = {1, 1};
		CU_ASSERT_EQUAL_FATAL(lat_sweep_state_save(p, 2, 3, d, hash, bad[v], err), LAT_OK);
		d[0] = d[1] = 0;
		n_done = 9;
		CU_ASSERT_EQUAL(lat_sweep_state_load(p, 2, 3, cols, hash, pres, d, got, &n_done, err),
				LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, what[v]));
		CU_ASSERT(d[0] == 0 && d[1] == 0 && n_done == 9 && got[0] == 7);
	}
	{
		const unsigned long long other[2] = {11, 23};
		int d[2] = {0, 0};
		double got[6];
		CU_ASSERT_EQUAL(lat_sweep_state_load(p, 2, 3, cols, other, pres, d, got, &n_done, err),
				LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "run 2 was made with another model"));
		CU_ASSERT_EQUAL(lat_sweep_state_load(p, 3, 3, cols, other, pres, d, got, &n_done, err),
				LAT_ECONFIG);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "the state of a sweep of 2 runs; this grid has 3"));
	}
	/* the sweep_state.tsv of an older lateral is named */
	{
		char q[1024];
		snprintf(p, sizeof p, "%s/sweep_state.bin", dir);
		snprintf(q, sizeof q, "%s/sweep_state.tsv", dir);
		CU_ASSERT_EQUAL(rename(p, q), 0);
		CU_ASSERT_EQUAL(cli_fixture_runv(tmpdir, sizeof resume / sizeof resume[0], resume), 2);
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "sweep_state.tsv: written by an older lateral"));
	}
}

/* LAT_EPOCHS_MAX is the range of train.epochs. */
static void test_epochs_max(void)
{
	lat_experiment e;
	char set[64], err[LAT_ERRLEN] = "";
	lat_experiment_init(&e);
	snprintf(set, sizeof set, "train.epochs=%d", LAT_EPOCHS_MAX);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, set, err), LAT_OK);
	snprintf(set, sizeof set, "train.epochs=%d", LAT_EPOCHS_MAX + 1);
	CU_ASSERT_NOT_EQUAL(lat_experiment_set(&e, set, err), LAT_OK);
	lat_experiment_clear(&e);
}

static int setup(void)
{
	/* a few hundred short commands: no BLAS thread pool to start in each */
	setenv("OPENBLAS_NUM_THREADS", "1", 0);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lateral-test-state-XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void)
{
	test_remove_tree(tmpdir);
	return 0;
}

static CU_TestInfo container_tests[] = {
    {"round trip and documented layout", test_round_trip},
    {"a section written in pieces", test_pieces},
    {"every truncation and bit flip refused", test_corrupt_container},
    {"versions, kinds, sections, old and foreign files", test_container_schema},
    {"mt19937 state restored and checked", test_rng},
    CU_TEST_INFO_NULL};
static CU_TestInfo state_tests[] = {{"run_state.bin: corrupted, resume refused", test_run_state},
				    {"simulation state: corrupted, load refused", test_sim_state},
				    {"checkpoint.bin: corrupted, NaN, epoch 2^63", test_checkpoint},
				    {"sweep_state.bin: corrupted, column ranges", test_sweep_state},
				    {"LAT_EPOCHS_MAX is train.epochs' range", test_epochs_max},
				    CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {
    {.pName = "container", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = container_tests},
    {.pName = "state files", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = state_tests},
    CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
