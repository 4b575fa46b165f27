/* fuzz_setint.c: libFuzzer harness for the integer reader: integer-ish literals (huge, negative, hex, with
 * or without L, with an exponent or a fraction, or raw bytes) for every integer key of the model, experiment
 * and layer tables, given with --set, --vary or in a file. Aborts when a value is accepted that is not the
 * literal's mathematical value or lies outside the key's range, when an integer literal within the range
 * is refused, or when an out-of-range literal is refused without the key, the range and the literal as
 * written ("KEY: expected an integer >= MIN and <= MAX, got LITERAL").
 *
 * Input: byte 0 picks the key (index modulo the number of integer keys; 0xFF: the key's name follows,
 * ended by a newline, e.g. "circuit.neurons" or "layer.kernel"), byte 1 how it is given (modulo 3: --set,
 * --vary, a file; layer keys always in a file), byte 2 the literal's form: bit 7 raw (the rest of the input
 * is the literal), else bits 0-1 sign (none, -, +, -), bit 2 hex, bits 3-4 suffix (none, L, LL, none), bit
 * 5 an exponent, bit 6 a fraction; byte 3 the number of digits (modulo 30, plus 1), then the digits (each
 * byte modulo 10, or 22 over "0-9a-fA-F"), then the exponent's byte. */
#include <config.h>

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "fuzz_common.h"
#include "lateral/experiment.h"
#include "lateral/model.h"

/* Longest literal the harness builds (raw ones are cut there). */
#define SETINT_LITLEN 96
/* Messages quote literals of at most this many characters in full (src/config/cfg.c: LITLEN - 1). */
#define SETINT_QUOTED 63
/* More integer keys than the three tables hold. */
#define SETINT_MAX_TARGETS 64

enum { SETINT_MODEL, SETINT_EXPERIMENT, SETINT_LAYER };
enum { SETINT_SET, SETINT_VARY, SETINT_FILE };

/* One integer key: its table and its row. */
typedef struct {
	int table;
	const lat_cfg_key *k;
} setint_target;

/* A literal and its mathematical value as this harness reads it, independently of src/config/cfg.c. */
typedef struct {
	char text[SETINT_LITLEN + 1]; /* as given, without surrounding blanks */
	int plain;     /* an integer literal of libconfig: [-+]?[0-9]+ or 0[xX][0-9a-fA-F]+, L or LL */
	int neg, over; /* over: the magnitude exceeds 2^64 - 1 */
	unsigned long long mag;
} setint_lit;

/* Harness-private state: libFuzzer runs one input at a time in one thread. */
static setint_target setint_targets[SETINT_MAX_TARGETS];
static size_t setint_n_targets;

static int setint_is_int(lat_cfg_type t)
{
	return t == LAT_CFG_SIZE || t == LAT_CFG_LONG || t == LAT_CFG_ULONG || t == LAT_CFG_SIZES;
}

static void setint_collect(void)
{
	const lat_cfg_schema *tables[3] = {lat_model_schema(), lat_experiment_schema(), lat_layer_schema()};

	if (setint_n_targets)
		return;
	for (int t = 0; t < 3; t++)
		for (size_t i = 0; i < tables[t]->n_keys; i++)
			if (setint_is_int(tables[t]->keys[i].type)) {
				if (setint_n_targets == SETINT_MAX_TARGETS)
					fuzz_die("fuzz_setint: more integer keys than SETINT_MAX_TARGETS");
				setint_targets[setint_n_targets++] = (setint_target){t, &tables[t]->keys[i]};
			}
}

/* The integers key k of its C type accepts: the table's bounds within the field's range and within int64
 * (the reader's documented range). */
static void setint_range(const lat_cfg_key *k, long long *min, long long *max)
{
	double lo = k->type == LAT_CFG_LONG ? (double)LONG_MIN : 0, hi = 0x1p63;

	if (k->flags & LAT_CFG_GE)
		lo = fmax(lo, ceil(k->min));
	if (k->flags & LAT_CFG_GT)
		lo = fmax(lo, floor(k->min) + 1);
	if (k->flags & LAT_CFG_LE)
		hi = fmin(hi, floor(k->max));
	if (k->flags & LAT_CFG_LT)
		hi = fmin(hi, ceil(k->max) - 1);
	/* the tables' bounds are integers far below 2^53, so these are exact */
	*min = lo <= -0x1p63 ? LLONG_MIN : (long long)lo;
	*max = hi >= 0x1p63 ? LLONG_MAX : (long long)hi;
}

/* Whether the integer -mag (neg) or mag lies in [min, max], without overflow. */
static int setint_in(int neg, unsigned long long mag, long long min, long long max)
{
	if (!neg || mag == 0)
		return max >= 0 && mag <= (unsigned long long)max &&
		       (min <= 0 || mag >= (unsigned long long)min);
	return min < 0 && mag <= 0 - (unsigned long long)min &&
	       (max >= 0 || mag >= 0 - (unsigned long long)max);
}

static int setint_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Sets l->plain, neg, over and mag from l->text. */
static void setint_parse(setint_lit *l)
{
	const char *p = l->text;
	unsigned base = 10;
	size_t n_digits = 0;

	l->plain = l->neg = l->over = 0;
	l->mag = 0;
	if (*p == '-' || *p == '+')
		l->neg = *p++ == '-';
	if (p == l->text && p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && setint_hex(p[2]) >= 0) {
		base = 16;
		p += 2;
	}
	for (; setint_hex(*p) >= 0 && (unsigned)setint_hex(*p) < base; p++, n_digits++) {
		unsigned d = (unsigned)setint_hex(*p);
		if (l->mag > (ULLONG_MAX - d) / base)
			l->over = 1;
		else
			l->mag = l->mag * base + d;
	}
	if (*p == 'L')
		p += p[1] == 'L' ? 2 : 1;
	l->plain = n_digits > 0 && *p == '\0';
}

/* Builds the literal from the form bytes d[0..n). */
static void setint_make(const uint8_t *d, size_t n, setint_lit *l)
{
	static const char *const signs[] = {"", "-", "+", "-"}, *const suffixes[] = {"", "L", "LL", ""};
	static const char hex[] = "0123456789abcdefABCDEF";
	uint8_t f = n ? d[0] : 0;
	size_t len = 0, n_digits, i;

	if (f & 0x80) {
		const char *b = (const char *)d + 1, *e = (const char *)d + n;
		/* as the CLI trims an assignment's value; an argument ends at a NUL byte */
		e = memchr(b, '\0', (size_t)(e - b)) ? memchr(b, '\0', (size_t)(e - b)) : e;
		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
			e--;
		len = (size_t)(e - b) < SETINT_LITLEN ? (size_t)(e - b) : SETINT_LITLEN;
		memcpy(l->text, b, len);
	} else {
		len += (size_t)snprintf(l->text + len, sizeof l->text - len, "%s%s", signs[f & 3],
					f & 4 ? "0x" : "");
		n_digits = n > 1 ? d[1] % 30 + 1 : 1;
		for (i = 0; i < n_digits && len < 60; i++) {
			uint8_t b = n > 2 + i ? d[2 + i] : 0;
			l->text[len++] = f & 4 ? hex[b % 22] : (char)('0' + b % 10);
		}
		if (f & 0x40)
			len += (size_t)snprintf(l->text + len, sizeof l->text - len, ".%d",
						n > 2 + i ? d[2 + i] % 100 : 5);
		if (f & 0x20)
			len += (size_t)snprintf(l->text + len, sizeof l->text - len, "e%d",
						n > 3 + i ? (int)(int8_t)d[3 + i] : 3);
		len += (size_t)snprintf(l->text + len, sizeof l->text - len, "%s", suffixes[(f >> 3) & 3]);
	}
	l->text[len] = '\0';
	setint_parse(l);
}

/* The layer that holds a layer key and the other members it needs, as network.layers text, and the index
 * of that layer. */
static const char *setint_layers(const char *key, const char *lit, char *buf, size_t size, size_t *index)
{
	static const char linear[] = "{ type = \"linear\"; outputs = 10; }";

	*index = 0;
	if (!strcmp(key, "channels"))
		snprintf(buf, size, "( { type = \"lc\"; channels = %s; kernel = 3; }, %s )", lit, linear);
	else if (!strcmp(key, "kernel"))
		snprintf(buf, size, "( { type = \"lc\"; channels = 2; kernel = %s; }, %s )", lit, linear);
	else if (!strcmp(key, "stride"))
		snprintf(buf, size, "( { type = \"lc\"; channels = 2; kernel = 3; stride = %s; }, %s )", lit,
			 linear);
	else if (!strcmp(key, "size"))
		snprintf(buf, size, "( { type = \"maxpool\"; size = %s; }, %s )", lit, linear);
	else if (!strcmp(key, "outputs"))
		snprintf(buf, size, "( { type = \"linear\"; outputs = %s; } )", lit);
	else
		fuzz_die("fuzz_setint: a layer key the harness does not know; add it to setint_layers");
	return buf;
}

/* The first value the read stored in the field of k at base as sign and magnitude; returns the number of
 * values (1, or an array's count). */
static size_t setint_stored(const lat_cfg_key *k, const char *base, unsigned long long *mag, int *neg)
{
	const char *field = base + k->offset;
	long v;

	*neg = 0;
	switch (k->type) {
	case LAT_CFG_SIZE:
		*mag = *(const size_t *)field;
		return 1;
	case LAT_CFG_ULONG:
		*mag = *(const unsigned long *)field;
		return 1;
	case LAT_CFG_SIZES:
		*mag = ((const size_t *)field)[0];
		return *(const size_t *)(base + k->count_offset);
	case LAT_CFG_LONG:
		v = *(const long *)field;
		*neg = v < 0;
		*mag = v < 0 ? 0 - (unsigned long long)v : (unsigned long long)v;
		return 1;
	default:
		return 0;
	}
}

/* Applies the literal to the key as mode says; on success checks the stored value against the literal and
 * the range. Returns the status of the read (message in err) and the key's name for messages in what. */
static int setint_apply(const setint_target *t, int mode, const setint_lit *l, char *what, size_t what_size,
			char *err)
{
	const lat_cfg_key *k = t->k;
	const char *open = k->type == LAT_CFG_SIZES ? "[" : "", *close = k->type == LAT_CFG_SIZES ? "]" : "";
	char text[4 * SETINT_LITLEN + 256], layers[2 * SETINT_LITLEN + 256];
	unsigned long long mag = 0;
	int rc, neg = 0;
	size_t index = 0, stored = 0;
	lat_experiment e;
	lat_model m;

	err[0] = '\0';
	if (t->table == SETINT_LAYER) {
		setint_layers(k->name, l->text, layers, sizeof layers, &index);
		snprintf(what, what_size, "network.layers[%zu].%s", index, k->name);
		snprintf(text, sizeof text, "network = { layers = %s; };\n", layers);
	} else {
		snprintf(what, what_size, "%s.%s%s", k->section, k->name,
			 k->type == LAT_CFG_SIZES ? "[0]" : "");
		if (mode == SETINT_FILE)
			snprintf(text, sizeof text, "%s = { %s = %s%s%s; };\n", k->section, k->name, open,
				 l->text, close);
		else
			snprintf(text, sizeof text, "%s.%s=%s%s%s", k->section, k->name, open, l->text,
				 close);
	}
	if (t->table == SETINT_MODEL) {
		lat_model_init(&m);
		if (mode == SETINT_FILE)
			rc = lat_model_load_string(&m, text, "setint.cfg", err);
		else if (mode == SETINT_VARY)
			rc = lat_model_set_as(&m, "--vary", text, err);
		else
			rc = lat_model_set(&m, text, err);
		if (!rc)
			stored = setint_stored(k, (const char *)&m, &mag, &neg);
		lat_model_clear(&m);
	} else {
		lat_experiment_init(&e);
		if (mode == SETINT_FILE || t->table == SETINT_LAYER)
			rc = lat_experiment_load(
			    &e, fuzz_file(0, "setint.cfg", (const uint8_t *)text, strlen(text)), err);
		else
			rc = lat_experiment_set(&e, text, err);
		if (!rc)
			stored = setint_stored(
			    k, t->table == SETINT_LAYER ? (const char *)&e.layers[index] : (const char *)&e,
			    &mag, &neg);
		lat_experiment_clear(&e);
	}
	fuzz_check_error(rc, err, NULL);
	if (!rc) {
		long long min, max;

		setint_range(k, &min, &max);
		/* a raw value may be an empty or a longer array: [] or [1, 2] */
		if (stored != 1 && !l->plain)
			return rc;
		/* the stored value against the range */
		if (stored != 1 || !setint_in(neg, mag, min, max)) {
			fprintf(stderr, "fuzz_setint: %s = '%s' accepted as %s%llu, outside [%lld, %lld]\n",
				what, l->text, neg ? "-" : "", mag, min, max);
			abort();
		}
		/* the stored value against the literal (a zero magnitude has no sign) */
		if (l->plain && (l->over || l->mag != mag || (l->neg && l->mag) != neg)) {
			fprintf(stderr, "fuzz_setint: %s = '%s' accepted as %s%llu\n", what, l->text,
				neg ? "-" : "", mag);
			abort();
		}
		if (!l->plain && !(l->text[0] == '\0' || strpbrk(l->text, "/#\"{}()[];,=:\\ \t\n\r\f\v"))) {
			/* without whitespace, comments or punctuation a value must be a plain literal to be
			 * an integer */
			fprintf(stderr,
				"fuzz_setint: %s = '%s' (not an integer literal) accepted as %s%llu\n", what,
				l->text, neg ? "-" : "", mag);
			abort();
		}
	}
	return rc;
}

/* Checks the status of a plain literal (one that libconfig scans as one integer token) against its value. */
static void setint_check_plain(const setint_target *t, const setint_lit *l, int rc, const char *what,
			       const char *err)
{
	long long min, max;
	char want[LAT_ERRLEN];

	setint_range(t->k, &min, &max);
	if (!l->over && setint_in(l->neg, l->mag, min, max)) {
		/* an even kernel is in the table's range but refused: kernels are centred */
		int even_kernel =
		    t->table == SETINT_LAYER && !strcmp(t->k->name, "kernel") && l->mag % 2 == 0;
		if (rc == LAT_OK && !even_kernel)
			return;
		snprintf(want, sizeof want, "%s: expected an odd integer", what);
		if (even_kernel && rc == LAT_ECONFIG && strstr(err, want))
			return;
		fprintf(stderr, "fuzz_setint: %s = '%s' (in [%lld, %lld]) refused: %s\n", what, l->text, min,
			max, err);
		abort();
	}
	if (rc != LAT_ECONFIG) {
		fprintf(stderr, "fuzz_setint: %s = '%s' (outside [%lld, %lld]) got status %d: %s\n", what,
			l->text, min, max, rc, err);
		abort();
	}
	snprintf(want, sizeof want, "%s: expected an integer >= %lld and <= %lld, got %.*s", what, min, max,
		 SETINT_QUOTED - 3, l->text);
	if (!strstr(err, want)) {
		fprintf(stderr, "fuzz_setint: refusal of %s = '%s' does not say '%s': %s\n", what, l->text,
			want, err);
		abort();
	}
}

/* One input (see the top of the file). Returns the status of the read, message in err. */
static int fuzz_setint_run(const uint8_t *data, size_t size, char *err)
{
	char what[128];
	const setint_target *t = NULL;
	setint_lit lit;
	int mode, rc;

	setint_collect();
	err[0] = '\0';
	if (size < 2)
		return LAT_OK;
	if (data[0] == 0xFF) {
		const uint8_t *nl = memchr(data + 1, '\n', size - 1);
		size_t len = nl ? (size_t)(nl - data - 1) : 0;
		for (size_t i = 0; nl && i < setint_n_targets && !t; i++) {
			const lat_cfg_key *k = setint_targets[i].k;
			char name[128];
			snprintf(name, sizeof name, "%s.%s", k->section, k->name);
			if (strlen(name) == len && !memcmp(name, data + 1, len))
				t = &setint_targets[i];
		}
		if (!t)
			return LAT_OK; /* not an input the harness understands */
		size -= len + 2;
		data += len + 2;
		if (size < 1)
			return LAT_OK;
	} else {
		t = &setint_targets[data[0] % setint_n_targets];
		data++;
		size--;
	}
	mode = data[0] % 3;
	setint_make(data + 1, size - 1, &lit);
	rc = setint_apply(t, mode, &lit, what, sizeof what, err);
	/* a plain literal with blanks or comments around is not scanned alone; raw forms are checked above */
	if (lit.plain)
		setint_check_plain(t, &lit, rc, what, err);
	return rc;
}

FUZZ_ENTRY(fuzz_setint_run)
