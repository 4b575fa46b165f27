/* cfg.c: strict, table-driven reading of libconfig text and --set overrides into plain C structs. */
#include <config.h>

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "lateral/err.h"
#include "lateral/io.h"

/* Longest key or section name for which "did you mean" suggestions are computed. */
#define MAX_NAME 64
/* Size of the scratch buffers that hold one message fragment, and of the lists of known names. */
#define MSGLEN 256
/* Size of a buffer for one number. */
#define NUMLEN 40
/* Longest literal quoted in full in a message; a longer one is cut to LITLEN - 4 characters and "...". */
#define LITLEN 64
/* The index token of literal i: the integer 2^62 + i, or the float -(2^52 + i), exact and far from the
 * numbers people write, so that a literal the scanner missed cannot pass for an index. */
#define INDEX_INT 4611686018427387904LL
#define INDEX_FLOAT 4503599627370496.0

/* One number literal of a config text, as written, and its value. libconfig 1.5 reads an integer
 * without an L suffix as a 32-bit int (4294967306 becomes 10, silently), a hex literal through
 * strtoul into an int, and 1e-400 as 0; so the text is rewritten before libconfig parses it: literal i
 * becomes an index token (INDEX_INT, INDEX_FLOAT), and the readers take the value from entry i of this
 * table, which holds the literal as the user wrote it. */
typedef struct {
	const char *text; /* in the text that was scanned (not NUL-terminated), e.g. "-0x1FL", "1e-400" */
	size_t len;
	int is_float;  /* a float literal (a '.' or an exponent) */
	int fits;      /* an integer in the int64 range, held by iv */
	long long iv;
	double dv;     /* the value as a double (inf beyond its range) */
	int underflow; /* a float literal with a nonzero digit whose value is 0 */
} literal;

/* The literals of one text, in text order. */
typedef struct {
	literal *lit;
	size_t n;
} literals;

struct lat_cfg_ctx {
	const lat_cfg_schema *sc;
	const char *name;     /* message prefix: the file name, or "--set ASSIGNMENT" */
	int lines;	      /* prefix messages about a setting with its line: "NAME:LINE: " */
	const char *path_dir; /* see lat_cfg_read */
	const literals *nums; /* the number literals of the text being read */
};

/* ---- numbers as written ------------------------------------------------------------------------------ */

static int is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int hex_value(char ch)
{
	if (is_digit(ch))
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '*';
}

static int is_name_char(char ch)
{
	return is_name_start(ch) || is_digit(ch) || ch == '-' || ch == '_';
}

/* Length of libconfig's L or LL suffix at p. */
static size_t suffix_len(const char *p)
{
	return p[0] != 'L' ? 0 : p[1] == 'L' ? 2 : 1;
}

/* Length of an exponent [eE][-+]?[0-9]+ at p, 0 when there is none. */
static size_t exponent_len(const char *p)
{
	size_t i = 1;

	if (p[0] != 'e' && p[0] != 'E')
		return 0;
	if (p[i] == '+' || p[i] == '-')
		i++;
	if (!is_digit(p[i]))
		return 0;
	while (is_digit(p[i]))
		i++;
	return i;
}

/* Length of the number token of libconfig 1.5's scanner at p, 0 when none starts there: flex's longest
 * match of its rules integer [-+]?[0-9]+, integer64 (the same with L or LL), hex 0[Xx][0-9A-Fa-f]+, hex64
 * and float [-+]?[0-9]*\.[0-9]*([eE][-+]?[0-9]+)? | [-+]?[0-9]+(\.[0-9]*)?[eE][-+]?[0-9]+. *is_float
 * tells whether the float rule matched. */
static size_t number_len(const char *p, int *is_float)
{
	size_t sign, end, best = 0, f;

	*is_float = 0;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && hex_value(p[2]) >= 0) {
		for (end = 3; hex_value(p[end]) >= 0; end++)
			;
		return end + suffix_len(p + end);
	}
	sign = p[0] == '+' || p[0] == '-';
	for (end = sign; is_digit(p[end]); end++)
		;
	if (end > sign)
		best = end + suffix_len(p + end);
	if (p[end] == '.') {
		for (f = end + 1; is_digit(p[f]); f++)
			;
		f += exponent_len(p + f);
	} else {
		f = end > sign && exponent_len(p + end) ? end + exponent_len(p + end) : 0;
	}
	if (f > best) {
		best = f;
		*is_float = 1;
	}
	return best;
}

/* Fills in the value of literal l (text and len set) exactly: an integer's magnitude is accumulated with
 * an overflow check, independent of strto* saturation. Returns LAT_ENOMEM when out of memory. */
static int literal_parse(literal *l)
{
	const char *p = l->text, *end = l->text + l->len;
	unsigned long long mag = 0;
	int neg = 0, base = 10, over = 0, nonzero = 0;
	char *copy;

	while (end > p && end[-1] == 'L' && !l->is_float)
		end--;
	copy = strndup(p, (size_t)(end - p));
	if (!copy)
		return LAT_ENOMEM;
	l->dv = strtod(copy, NULL);
	free(copy);
	if (l->is_float) {
		for (; p < end && *p != 'e' && *p != 'E'; p++)
			nonzero |= *p >= '1' && *p <= '9';
		l->underflow = nonzero && l->dv == 0;
		return LAT_OK;
	}
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (; p < end; p++) {
		unsigned d = (unsigned)hex_value(*p);
		if (mag > (ULLONG_MAX - d) / (unsigned)base)
			over = 1;
		else
			mag = mag * (unsigned)base + d;
	}
	l->fits = !over && mag <= (neg ? (unsigned long long)LLONG_MAX + 1 : (unsigned long long)LLONG_MAX);
	if (l->fits && !neg)
		l->iv = (long long)mag;
	else if (l->fits)
		l->iv = mag > (unsigned long long)LLONG_MAX ? LLONG_MIN : -(long long)mag;
	return LAT_OK;
}

/* Walks text as libconfig's scanner does (comments, strings, names, numbers) and counts its number
 * literals; with out (room bytes, see numbers_scan) it also writes the text with every literal replaced by
 * its index token, and with lits it records each literal (text and kind). Newlines are kept, so the lines
 * libconfig reports are the lines of text. */
static size_t scan_numbers(const char *text, char *out, size_t room, literal *lits)
{
	const char *p = text;
	size_t n = 0, used = 0, len;
	int is_float;

	while (*p) {
		const char *start = p;
		if (p[0] == '/' && p[1] == '*') {
			const char *close = strstr(p + 2, "*/");
			p = close ? close + 2 : p + strlen(p);
		} else if (p[0] == '#' || (p[0] == '/' && p[1] == '/')) {
			p += strcspn(p, "\n");
		} else if (p[0] == '"') {
			for (p++; *p && *p != '"'; p++)
				if (p[0] == '\\' && (p[1] == '"' || p[1] == '\\'))
					p++;
			if (*p)
				p++;
		} else if (is_name_start(*p)) {
			for (p++; is_name_char(*p); p++)
				;
		} else if ((len = number_len(p, &is_float)) > 0) {
			if (lits)
				lits[n] = (literal){.text = p, .len = len, .is_float = is_float};
			if (out)
				used += (size_t)(is_float ? snprintf(out + used, room - used, " -%.1f ",
								     INDEX_FLOAT + (double)n)
							  : snprintf(out + used, room - used, " %lldL ",
								     INDEX_INT + (long long)n));
			n++;
			p += len;
			continue;
		} else {
			p++;
		}
		if (out) {
			memcpy(out + used, start, (size_t)(p - start));
			used += (size_t)(p - start);
		}
	}
	if (out)
		out[used] = '\0';
	return n;
}

static void numbers_clear(literals *t)
{
	free(t->lit);
	t->lit = NULL;
	t->n = 0;
}

/* Scans text into t (literals point into text, which must outlive t) and sets *out to the rewritten text
 * for libconfig (free it). Returns LAT_OK or LAT_ENOMEM (then *out is NULL and t empty). */
static int numbers_scan(const char *text, literals *t, char **out)
{
	/* an index token is at most 19 digits and 5 more characters; each replaces at least 1 */
	const size_t token = 24;
	size_t n = scan_numbers(text, NULL, 0, NULL), len = strlen(text), room, i;

	*out = NULL;
	t->n = 0;
	t->lit = NULL;
	/* the float tokens are exact below 2^52 literals */
	if (n > (SIZE_MAX - len - 1) / token || (double)n >= INDEX_FLOAT)
		return LAT_ENOMEM;
	room = len + n * token + 1;
	t->lit = n ? calloc(n, sizeof *t->lit) : NULL;
	*out = malloc(room);
	if ((n && !t->lit) || !*out)
		goto fail;
	t->n = scan_numbers(text, *out, room, t->lit);
	for (i = 0; i < t->n; i++)
		if (literal_parse(&t->lit[i]))
			goto fail;
	return LAT_OK;
fail:
	numbers_clear(t);
	free(*out);
	*out = NULL;
	return LAT_ENOMEM;
}

/* The literal behind number setting s (an integer or a float of the rewritten text). */
static const literal *literal_of(const lat_cfg_ctx *c, const config_setting_t *s)
{
	size_t n = c->nums ? c->nums->n : 0, index = n;

	if (config_setting_type(s) == CONFIG_TYPE_FLOAT) {
		double v = -config_setting_get_float(s) - INDEX_FLOAT;
		if (v >= 0 && v < (double)n && v == floor(v))
			index = (size_t)v;
	} else {
		long long v = config_setting_get_int64(s);
		if (v >= INDEX_INT && (unsigned long long)(v - INDEX_INT) < n)
			index = (size_t)(v - INDEX_INT);
	}
	/* every number libconfig parsed is an index token of scan_numbers */
	assert(index < n);
	return &c->nums->lit[index];
}

/* The literal as written, cut to LITLEN - 4 characters and "..." when longer, into buf (LITLEN bytes). */
static const char *literal_text(const literal *l, char *buf)
{
	if (l->len < LITLEN)
		snprintf(buf, LITLEN, "%.*s", (int)l->len, l->text);
	else
		snprintf(buf, LITLEN, "%.*s...", LITLEN - 4, l->text);
	return buf;
}

/* ---- messages ---------------------------------------------------------------------------------------- */

int lat_cfg_error(const lat_cfg_ctx *c, const config_setting_t *s, char *err, const char *fmt, ...)
{
	char msg[LAT_ERRLEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s && c->lines && config_setting_source_line(s) > 0) {
		const char *file = config_setting_source_file(s);
		return lat_err_set(err, LAT_ECONFIG, "%s:%u: %s", file ? file : c->name,
				   (unsigned)config_setting_source_line(s), msg);
	}
	return lat_err_set(err, LAT_ECONFIG, "%s: %s", c->name, msg);
}

/* Formats v in the fewest of 6, 15 or 17 significant digits that read back as v ("1e+12", "0.999999"),
 * into buf (NUMLEN bytes); with ".0" added when as_float is set and it would look like an integer. */
static void number_text(double v, int as_float, char *buf)
{
	int prec;

	for (prec = 6; prec <= 17; prec = prec == 6 ? 15 : prec + 2) {
		snprintf(buf, NUMLEN, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	if (as_float && !strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
}

void lat_cfg_describe(const lat_cfg_ctx *c, const config_setting_t *s, char *buf, size_t size)
{
	char num[LITLEN];

	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		snprintf(buf, size, "an integer (%s)", literal_text(literal_of(c, s), num));
		break;
	case CONFIG_TYPE_FLOAT:
		snprintf(buf, size, "a float (%s)", literal_text(literal_of(c, s), num));
		break;
	case CONFIG_TYPE_STRING:
		snprintf(buf, size, "a string (\"%.40s\")", config_setting_get_string(s));
		break;
	case CONFIG_TYPE_BOOL:
		snprintf(buf, size, "a boolean (%s)", config_setting_get_bool(s) ? "true" : "false");
		break;
	case CONFIG_TYPE_GROUP:
		snprintf(buf, size, "a group { ... }");
		break;
	case CONFIG_TYPE_ARRAY:
		snprintf(buf, size, "an array [ ... ]");
		break;
	case CONFIG_TYPE_LIST:
		snprintf(buf, size, "a list ( ... )");
		break;
	default:
		snprintf(buf, size, "a setting of unknown type");
		break;
	}
}

/* "what: expected PHRASE BOUNDS, got WHAT S HOLDS". */
static int type_error(const lat_cfg_ctx *c, const config_setting_t *s, const char *what, const char *phrase,
		      const char *bounds, char *err)
{
	char got[MSGLEN];

	lat_cfg_describe(c, s, got, sizeof got);
	return lat_cfg_error(c, s, err, "%s: expected %s%s, got %s", what, phrase, bounds, got);
}

/* " > 0", " >= 0 and < 1", or "" when the number key k has no bounds. */
static void bounds_text(const lat_cfg_key *k, char *buf, size_t size)
{
	char lo[NUMLEN], hi[NUMLEN];
	int n = 0;

	number_text(k->min, 0, lo);
	number_text(k->max, 0, hi);
	buf[0] = '\0';
	if (k->flags & (LAT_CFG_GE | LAT_CFG_GT))
		n = snprintf(buf, size, " %s %s", k->flags & LAT_CFG_GT ? ">" : ">=", lo);
	if (n >= 0 && (size_t)n < size && (k->flags & (LAT_CFG_LE | LAT_CFG_LT)))
		snprintf(buf + n, size - (size_t)n, "%s %s %s", n ? " and" : "",
			 k->flags & LAT_CFG_LT ? "<" : "<=", hi);
}

/* v, an integer-valued double, as a long long (saturated at the int64 range). */
static long long to_int64(double v)
{
	return v >= 0x1p63 ? LLONG_MAX : v <= -0x1p63 ? LLONG_MIN : (long long)v;
}

/* The integers [*min, *max] that integer key k allows in a field of range [lo, hi], within the int64
 * range of the reader. */
static void integer_range(const lat_cfg_key *k, long long lo, unsigned long long hi, long long *min,
			  long long *max)
{
	long long b;

	*min = lo;
	*max = hi > (unsigned long long)LLONG_MAX ? LLONG_MAX : (long long)hi;
	b = to_int64(k->flags & LAT_CFG_GT ? floor(k->min) + 1 : ceil(k->min));
	if ((k->flags & (LAT_CFG_GE | LAT_CFG_GT)) && b > *min)
		*min = b;
	b = to_int64(k->flags & LAT_CFG_LT ? ceil(k->max) - 1 : floor(k->max));
	if ((k->flags & (LAT_CFG_LE | LAT_CFG_LT)) && b < *max)
		*max = b;
}

static int in_bounds(const lat_cfg_key *k, double v)
{
	if ((k->flags & LAT_CFG_GE) && !(v >= k->min))
		return 0;
	if ((k->flags & LAT_CFG_GT) && !(v > k->min))
		return 0;
	if ((k->flags & LAT_CFG_LE) && !(v <= k->max))
		return 0;
	if ((k->flags & LAT_CFG_LT) && !(v < k->max))
		return 0;
	return 1;
}

/* Levenshtein distance of two short names (MAX_NAME or more characters count as far apart). */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t row[MAX_NAME + 1];

	if (la >= MAX_NAME || lb >= MAX_NAME)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* Appends candidate to a ", "-separated list in buf (silently truncated). */
static void list_append(char *buf, size_t size, const char *candidate)
{
	size_t len = strlen(buf);

	if (len < size)
		snprintf(buf + len, size - len, "%s%s", len ? ", " : "", candidate);
}

/* Fills known (MSGLEN bytes) with the names of the n keys, or with their sections when sections is set,
 * and hint (MSGLEN bytes, if not NULL) with " (did you mean X?)" when one is within two edits of name. */
static void known_names(const lat_cfg_key *keys, size_t n, int sections, const char *name, char *known,
			char *hint)
{
	const char *best = NULL;
	size_t best_dist = 3, i;

	known[0] = '\0';
	for (i = 0; i < n; i++) {
		const char *cand = sections ? keys[i].section : keys[i].name;
		size_t dist;

		if (sections && i > 0 && strcmp(keys[i - 1].section, cand) == 0)
			continue;
		list_append(known, MSGLEN, cand);
		dist = edit_distance(name, cand);
		if (dist < best_dist && dist < strlen(name)) {
			best = cand;
			best_dist = dist;
		}
	}
	if (hint && best)
		snprintf(hint, MSGLEN, " (did you mean %s?)", best);
}

/* The keys of section (adjacent in the table): the first one, with *n set to their number (0: unknown). */
static const lat_cfg_key *section_keys(const lat_cfg_schema *sc, const char *section, size_t *n)
{
	size_t i = 0, j;

	while (i < sc->n_keys && strcmp(sc->keys[i].section, section) != 0)
		i++;
	for (j = i; j < sc->n_keys && strcmp(sc->keys[j].section, section) == 0; j++)
		;
	*n = j - i;
	return sc->keys + i;
}

static const lat_cfg_key *find_key(const lat_cfg_key *keys, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* Message for an unknown key name of the n keys named PREFIX.*, with a hint at a close name of these keys
 * or at a key of that name in another section. */
static int unknown_key(const lat_cfg_ctx *c, const config_setting_t *s, const lat_cfg_key *keys, size_t n,
		       const char *prefix, const char *name, char *err)
{
	char known[MSGLEN], hint[MSGLEN] = "";
	const lat_cfg_key *other = find_key(c->sc->keys, c->sc->n_keys, name);

	known_names(keys, n, 0, name, known, hint);
	if (!hint[0] && other)
		snprintf(hint, sizeof hint, " (did you mean %s.%s?)", other->section, other->name);
	return lat_cfg_error(c, s, err, "%s.%s: unknown key%s (known: %s)", prefix, name, hint, known);
}

static int unknown_section(const lat_cfg_ctx *c, const config_setting_t *s, const char *name, char *err)
{
	char known[MSGLEN], hint[MSGLEN] = "";

	known_names(c->sc->keys, c->sc->n_keys, 1, name, known, hint);
	return lat_cfg_error(c, s, err, "%s: unknown section%s (known: %s)", name, hint, known);
}

/* ---- reading one setting ----------------------------------------------------------------------------- */

static int is_number(const config_setting_t *s)
{
	int type = config_setting_type(s);
	return type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64 || type == CONFIG_TYPE_FLOAT;
}

/* Reads a finite number within k's bounds; a literal that underflows to 0 is refused. */
static int read_number(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s,
		       const char *what, double *out, char *err)
{
	char bounds[MSGLEN], num[LITLEN];
	const literal *l;
	double v;

	bounds_text(k, bounds, sizeof bounds);
	if (!is_number(s))
		return type_error(c, s, what, "a number", bounds, err);
	l = literal_of(c, s);
	if (l->underflow)
		return lat_cfg_error(c, s, err,
				     "%s: %s is too small for a double and would be read as 0 (the smallest nonzero "
				     "magnitude is about 4.9e-324); write 0 if 0 is meant",
				     what, literal_text(l, num));
	v = l->dv;
	number_text(v, 0, num);
	if (!isfinite(v) || !in_bounds(k, v))
		return lat_cfg_error(c, s, err, "%s: expected a %snumber%s, got %s", what,
				     isfinite(v) ? "" : "finite ", bounds, num);
	*out = v;
	return LAT_OK;
}

/* Reads an integer within k's bounds and within [lo, hi] (the range of the C field), as the literal says:
 * a value outside the range, beyond 64 bits included, is LAT_ECONFIG naming the literal as written and the
 * allowed range. */
static int read_integer(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s,
			const char *what, long long lo, unsigned long long hi, long long *out, char *err)
{
	char bounds[MSGLEN], num[LITLEN];
	int type = config_setting_type(s);
	long long min, max;
	const literal *l;

	integer_range(k, lo, hi, &min, &max);
	snprintf(bounds, sizeof bounds, " >= %lld and <= %lld", min, max);
	if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64)
		return type_error(c, s, what, "an integer", bounds, err);
	l = literal_of(c, s);
	if (!l->fits || l->iv < min || l->iv > max)
		return lat_cfg_error(c, s, err, "%s: expected an integer%s, got %s", what, bounds,
				     literal_text(l, num));
	*out = l->iv;
	return LAT_OK;
}

char *lat_cfg_path(const char *dir_name, const char *file)
{
	char *dir = NULL, *res = NULL;
	size_t size;

	if (file[0] == '/' || !file[0] || !dir_name)
		return strdup(file);
	dir = dir_name[0] ? strdup(dir_name) : getcwd(NULL, 0);
	if (!dir)
		goto out;
	size = strlen(dir) + strlen(file) + 2;
	res = malloc(size);
	if (res)
		snprintf(res, size, "%s/%s", dir, file);
out:
	free(dir);
	return res;
}

/* The index of str in names, or -1 (also when str is NULL). */
static int find_name(const char *const *names, const char *str)
{
	for (int i = 0; str && names[i]; i++)
		if (strcmp(names[i], str) == 0)
			return i;
	return -1;
}

/* "what: expected one of "a", "b", got WHAT S HOLDS", for a key with names. */
static int names_error(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s,
		       const char *what, char *err)
{
	char allowed[MSGLEN] = "", got[MSGLEN];

	for (const char *const *e = k->names; *e; e++) {
		char quoted[MAX_NAME];
		snprintf(quoted, sizeof quoted, "\"%s\"", *e);
		list_append(allowed, sizeof allowed, quoted);
	}
	lat_cfg_describe(c, s, got, sizeof got);
	return lat_cfg_error(c, s, err, "%s: expected one of %s, got %s", what, allowed, got);
}

/* Reads a string, or a file name, into the new string *out (NULL for "" when k says so). */
static int read_path(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, const char *what,
		     char **out, char *err)
{
	const char *str = config_setting_get_string(s);
	const char *phrase = k->type == LAT_CFG_STRING	     ? "a string"
			     : k->flags & LAT_CFG_EMPTY_NONE ? "a file name (a string, \"\" for none)"
							     : "a file name (a string)";

	*out = NULL;
	if (k->names && find_name(k->names, str) < 0)
		return names_error(c, k, s, what, err);
	if (!str)
		return type_error(c, s, what, phrase, "", err);
	if (!*str && (k->flags & LAT_CFG_EMPTY_NONE))
		return LAT_OK;
	*out = k->type == LAT_CFG_STRING ? strdup(str) : lat_cfg_path(c->path_dir, str);
	return *out ? LAT_OK : lat_err_set(err, LAT_ENOMEM, "%s: out of memory", what);
}

/* Reads an array setting element by element; the count must not exceed cap (0: any). */
static int read_array(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, const char *what,
		      char *field, size_t *count, char *err)
{
	char elem[MSGLEN + 24];
	double *vals = NULL;
	size_t i, n;
	int rc = LAT_OK;

	if (!config_setting_is_array(s) && !config_setting_is_list(s))
		return type_error(c, s, what,
				  k->type == LAT_CFG_DOUBLES ? "an array of numbers [ ... ] ([] for none)"
							     : "an array [ ... ]",
				  "", err);
	n = (size_t)config_setting_length(s);
	if (k->cap && n > k->cap)
		return lat_cfg_error(c, s, err, "%s: at most %zu entries, got %zu", what, k->cap, n);
	if (k->type == LAT_CFG_DOUBLES && n > 0) {
		vals = malloc(n * sizeof *vals);
		if (!vals)
			return lat_err_set(err, LAT_ENOMEM, "%s: out of memory", what);
	}
	for (i = 0; i < n && !rc; i++) {
		const config_setting_t *el = config_setting_get_elem(s, (unsigned)i);
		long long iv;
		char *str;

		snprintf(elem, sizeof elem, "%s[%zu]", what, i);
		if (k->type == LAT_CFG_DOUBLES) {
			rc = read_number(c, k, el, elem, &vals[i], err);
		} else if (k->type == LAT_CFG_SIZES) {
			rc = read_integer(c, k, el, elem, 0, SIZE_MAX, &iv, err);
			if (!rc)
				((size_t *)field)[i] = (size_t)iv;
		} else {
			rc = read_path(c, k, el, elem, &str, err);
			if (!rc)
				((char **)field)[i] = str;
		}
	}
	if (rc) {
		free(vals);
		return rc;
	}
	if (k->type == LAT_CFG_DOUBLES)
		*(double **)field = vals;
	for (i = n; k->type == LAT_CFG_PATHS && i < k->cap; i++)
		((char **)field)[i] = NULL;
	*count = n;
	return LAT_OK;
}

/* Reads setting s for key k into obj. New owned values replace the old ones without freeing them: obj is the
 * scratch copy of apply, whose old values the original still holds (apply releases the discarded side). */
int lat_cfg_read_key(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, const char *what,
		     void *obj, char *err)
{
	char *field = (char *)obj + k->offset;
	long long iv;
	double dv;
	char *str;
	int rc = LAT_OK, index;

	switch (k->type) {
	case LAT_CFG_SIZE:
		rc = read_integer(c, k, s, what, 0, SIZE_MAX, &iv, err);
		if (!rc)
			*(size_t *)field = (size_t)iv;
		break;
	case LAT_CFG_LONG:
		rc = read_integer(c, k, s, what, LONG_MIN, LONG_MAX, &iv, err);
		if (!rc)
			*(long *)field = (long)iv;
		break;
	case LAT_CFG_ULONG:
		rc = read_integer(c, k, s, what, 0, ULONG_MAX, &iv, err);
		if (!rc)
			*(unsigned long *)field = (unsigned long)iv;
		break;
	case LAT_CFG_DOUBLE:
		rc = read_number(c, k, s, what, &dv, err);
		if (!rc)
			*(double *)field = dv;
		break;
	case LAT_CFG_BOOL:
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			return type_error(c, s, what, "true or false", "", err);
		*(int *)field = config_setting_get_bool(s);
		break;
	case LAT_CFG_ENUM:
		index = find_name(k->names, config_setting_get_string(s));
		if (index < 0)
			return names_error(c, k, s, what, err);
		*(int *)field = index;
		break;
	case LAT_CFG_STRING:
	case LAT_CFG_PATH:
		rc = read_path(c, k, s, what, &str, err);
		if (!rc)
			*(char **)field = str;
		break;
	case LAT_CFG_DOUBLES:
	case LAT_CFG_SIZES:
	case LAT_CFG_PATHS:
		rc = read_array(c, k, s, what, field, (size_t *)((char *)obj + k->count_offset), err);
		break;
	case LAT_CFG_CUSTOM:
		rc = c->sc->custom(c, k, s, obj, err);
		break;
	}
	return rc;
}

int lat_cfg_read_group(const lat_cfg_ctx *c, const lat_cfg_key *keys, size_t n, const char *prefix,
		       const config_setting_t *g, void *obj, char *err)
{
	int i, n_member = config_setting_length(g), rc = LAT_OK;

	for (i = 0; i < n_member && !rc; i++) {
		const config_setting_t *s = config_setting_get_elem(g, (unsigned)i);
		const char *name = config_setting_name(s);
		const lat_cfg_key *k = find_key(keys, n, name);
		char what[2 * MSGLEN];

		if (!k)
			return unknown_key(c, s, keys, n, prefix, name, err);
		snprintf(what, sizeof what, "%s.%s", prefix, name);
		rc = lat_cfg_read_key(c, k, s, what, obj, err);
	}
	return rc;
}

/* ---- whole reads ------------------------------------------------------------------------------------- */

/* Frees the owned values of drop that keep (NULL: nothing) does not share, and NULLs them when keep is NULL.
 */
static void release(const lat_cfg_schema *sc, const void *keep, void *drop)
{
	size_t i, j;

	for (i = 0; i < sc->n_keys; i++) {
		const lat_cfg_key *k = &sc->keys[i];
		char *d = (char *)drop + k->offset;
		const char *kp = keep ? (const char *)keep + k->offset : NULL;

		if (k->type == LAT_CFG_DOUBLES) {
			double **slot = (double **)d;
			if (!kp || *slot != *(double *const *)kp)
				free(*slot);
			if (!kp)
				*slot = NULL;
		}
		if (k->type != LAT_CFG_STRING && k->type != LAT_CFG_PATH && k->type != LAT_CFG_PATHS)
			continue;
		for (j = 0; j < (k->type == LAT_CFG_PATHS ? k->cap : 1); j++) {
			char **slot = (char **)d + j;
			if (!kp || *slot != ((char *const *)kp)[j])
				free(*slot);
			if (!kp)
				*slot = NULL;
		}
	}
}

void lat_cfg_free(const lat_cfg_schema *sc, void *obj)
{
	release(sc, NULL, obj);
}

void lat_cfg_defaults(const lat_cfg_schema *sc, void *obj)
{
	size_t i;

	for (i = 0; i < sc->n_keys; i++) {
		const lat_cfg_key *k = &sc->keys[i];
		char *field = (char *)obj + k->offset;

		switch (k->type) {
		case LAT_CFG_SIZE:
			*(size_t *)field = (size_t)k->def;
			break;
		case LAT_CFG_LONG:
			*(long *)field = (long)k->def;
			break;
		case LAT_CFG_ULONG:
			*(unsigned long *)field = (unsigned long)k->def;
			break;
		case LAT_CFG_DOUBLE:
			*(double *)field = k->def;
			break;
		case LAT_CFG_BOOL:
		case LAT_CFG_ENUM:
			*(int *)field = (int)k->def;
			break;
		default:
			break;
		}
	}
}

/* Applies every section of root to obj, or none of them: values go to a scratch copy first. */
static int apply(const lat_cfg_ctx *c, const config_setting_t *root, void *obj, char *err)
{
	const lat_cfg_schema *sc = c->sc;
	int i, n_sec = config_setting_length(root), rc = LAT_OK;
	void *trial = malloc(sc->size);

	if (!trial)
		return lat_err_set(err, LAT_ENOMEM, "%s: out of memory", c->name);
	memcpy(trial, obj, sc->size);
	for (i = 0; i < n_sec && !rc; i++) {
		const config_setting_t *sec = config_setting_get_elem(root, (unsigned)i);
		const char *sname = config_setting_name(sec);
		int group = config_setting_type(sec) == CONFIG_TYPE_GROUP;
		size_t n;
		const lat_cfg_key *keys = section_keys(sc, sname, &n);

		if (!group) {
			const lat_cfg_key *k = find_key(sc->keys, sc->n_keys, sname);
			char hint[MSGLEN] = "", got[MSGLEN];
			if (k)
				snprintf(hint, sizeof hint, "; did you mean %s = { %s = ...; }?", k->section,
					 k->name);
			lat_cfg_describe(c, sec, got, sizeof got);
			rc = lat_cfg_error(c, sec, err,
					   "%s: expected a section %s = { key = value; ... }, got %s%s",
					   sname, sname, got, hint);
		} else if (!n) {
			rc = unknown_section(c, sec, sname, err);
		} else {
			rc = lat_cfg_read_group(c, keys, n, sname, sec, trial, err);
		}
	}
	if (rc) {
		release(sc, obj, trial);
	} else {
		release(sc, trial, obj);
		memcpy(obj, trial, sc->size);
	}
	free(trial);
	return rc;
}

/* Formats the libconfig error of cfg (the text of c->name did not parse) and returns its status. */
static int parse_error(const lat_cfg_ctx *c, const config_t *cfg, char *err)
{
	const char *file = config_error_file(cfg) ? config_error_file(cfg) : c->name;
	const char *text = config_error_text(cfg) ? config_error_text(cfg) : "unknown error";
	int line = config_error_line(cfg);

	if (config_error_type(cfg) == CONFIG_ERR_FILE_IO)
		return lat_err_set(err, LAT_EIO, "%s: cannot read: %s", file, text);
	if (strcmp(text, "duplicate setting name") == 0)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s:%d: duplicate setting: this key (or section) is already set earlier in "
		    "the same group",
		    file, line);
	if (strcmp(text, "mismatched element type in array") == 0)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s:%d: syntax error: mismatched element type in array (write every element "
		    "as a float, e.g. 1.0)",
		    file, line);
	if (strcmp(text, "syntax error") == 0)
		return lat_err_set(err, LAT_ECONFIG, "%s:%d: syntax error", file, line);
	return lat_err_set(err, LAT_ECONFIG, "%s:%d: syntax error: %s", file, line, text);
}

int lat_cfg_read(const lat_cfg_schema *sc, void *obj, const char *text, const char *name,
		 const char *include_dir, const char *path_dir, char *err)
{
	literals nums = {NULL, 0};
	lat_cfg_ctx c = {sc, name, 1, path_dir, &nums};
	char *parsed = NULL;
	config_t cfg;
	int rc;

	config_init(&cfg);
	if (include_dir)
		config_set_include_dir(&cfg, include_dir);
	/* libconfig 1.5 exits the process when an included file cannot be scanned (a directory) */
	if (lat_text_include_line(text))
		rc = lat_err_set(err, LAT_ECONFIG, "%s:%zu: @include is not supported: put every setting in this file",
				 name, lat_text_include_line(text));
	else if (numbers_scan(text, &nums, &parsed))
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", name);
	else if (config_read_string(&cfg, parsed) != CONFIG_TRUE)
		rc = parse_error(&c, &cfg, err);
	else if (config_setting_length(config_root_setting(&cfg)) == 0)
		rc = lat_err_set(err, LAT_ECONFIG,
				 "%s: the file has no settings (leave it out to use the built-in %s)", name,
				 sc->kind);
	else
		rc = apply(&c, config_root_setting(&cfg), obj, err);
	config_destroy(&cfg);
	numbers_clear(&nums);
	free(parsed);
	return rc;
}

/* ---- overrides --------------------------------------------------------------------------------------- */

/* Copies the libconfig escape of character ch into out (at most 5 bytes with the NUL). */
static void escape_char(unsigned char ch, char *out)
{
	if (ch == '"' || ch == '\\')
		snprintf(out, 5, "\\%c", ch);
	else if (ch < 0x20 || ch == 0x7f)
		snprintf(out, 5, "\\x%02x", ch);
	else
		snprintf(out, 5, "%c", ch);
}

void lat_cfg_put_string(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		char e[5];
		escape_char((unsigned char)*s, e);
		fputs(e, fp);
	}
	fputc('"', fp);
}

/* s as a quoted libconfig string: a new string, or NULL when out of memory. */
static char *quote(const char *s)
{
	char *q = malloc(4 * strlen(s) + 3), *p;

	if (!q)
		return NULL;
	p = q;
	*p++ = '"';
	for (; *s; s++) {
		char e[5];
		escape_char((unsigned char)*s, e);
		p = stpcpy(p, e);
	}
	*p++ = '"';
	*p = '\0';
	return q;
}

/* Copies [b, e) without surrounding blanks into a new string. */
static char *copy_span(const char *b, const char *e)
{
	char *s;

	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	s = malloc((size_t)(e - b) + 1);
	if (s) {
		memcpy(s, b, (size_t)(e - b));
		s[e - b] = '\0';
	}
	return s;
}

/* The libconfig text "section = { key = value; };" of an override, as a new string (NULL when out of
 * memory). Strings may be given bare (solver.method=bdf): they are quoted unless they already are. */
static char *assignment_text(const lat_cfg_key *k, const char *section, const char *key, const char *value)
{
	char *quoted = NULL, *text;
	const char *val = value;
	size_t size;

	if ((k->type == LAT_CFG_ENUM || k->type == LAT_CFG_STRING || k->type == LAT_CFG_PATH) && value[0] != '"') {
		quoted = quote(value);
		if (!quoted)
			return NULL;
		val = quoted;
	}
	size = strlen(section) + strlen(key) + strlen(val) + sizeof " = {  = ; };";
	text = malloc(size);
	if (text)
		snprintf(text, size, "%s = { %s = %s; };", section, key, val);
	free(quoted);
	return text;
}

int lat_cfg_set(const lat_cfg_schema *sc, void *obj, const char *option, const char *assignment,
		const char *path_dir, char *err)
{
	literals nums = {NULL, 0};
	lat_cfg_ctx c = {sc, NULL, 0, path_dir, &nums};
	const char *eq = strchr(assignment, '='), *ex = sc->example ? ", e.g. " : "";
	const char *example = sc->example ? sc->example : "";
	char *label = NULL, *lhs = NULL, *value = NULL, *text = NULL, *parsed = NULL, *dot;
	const lat_cfg_key *k = NULL, *keys;
	const config_setting_t *root, *sec;
	size_t size = strlen(option) + strlen(assignment) + 2, n;
	config_t cfg;
	int rc = LAT_OK;

	config_init(&cfg);
	label = malloc(size);
	if (!label) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s %s: out of memory", option, assignment);
		goto out;
	}
	snprintf(label, size, "%s %s", option, assignment);
	c.name = label;
	if (!eq) {
		rc = lat_cfg_error(&c, NULL, err, "expected section.key=value%s%s", ex, example);
		goto out;
	}
	lhs = copy_span(assignment, eq);
	value = copy_span(eq + 1, eq + 1 + strlen(eq + 1));
	if (!lhs || !value) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", label);
		goto out;
	}
	dot = strchr(lhs, '.');
	if (!dot || dot == lhs || !dot[1]) {
		rc = lat_cfg_error(&c, NULL, err, "expected section.key=value (no section in '%s')%s%s", lhs,
				   ex, example);
		goto out;
	}
	*dot = '\0';
	keys = section_keys(sc, lhs, &n);
	if (n)
		k = find_key(keys, n, dot + 1);
	if (k && k->type == LAT_CFG_CUSTOM) {
		rc = lat_cfg_error(&c, NULL, err, "%s.%s cannot be overridden; edit the file", lhs, dot + 1);
		goto out;
	}
	if (!k) {
		rc = n ? unknown_key(&c, NULL, keys, n, lhs, dot + 1, err)
		       : unknown_section(&c, NULL, lhs, err);
		goto out;
	}
	if (!*value) {
		rc = lat_cfg_error(&c, NULL, err, "%s.%s: missing value", lhs, dot + 1);
		goto out;
	}
	text = assignment_text(k, lhs, dot + 1, value);
	if (!text) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", label);
		goto out;
	}
	if (lat_text_include_line(text)) {
		rc = lat_cfg_error(&c, NULL, err, "%s.%s: @include is not supported in a value", lhs, dot + 1);
		goto out;
	}
	if (numbers_scan(text, &nums, &parsed)) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", label);
		goto out;
	}
	if (config_read_string(&cfg, parsed) != CONFIG_TRUE) {
		rc = lat_cfg_error(&c, NULL, err, "%s.%s: cannot parse the value '%s' (libconfig: %s)", lhs,
				   dot + 1, value,
				   config_error_text(&cfg) ? config_error_text(&cfg) : "error");
		goto out;
	}
	/* The value must not smuggle in further settings ("1; neurons = 5"). */
	root = config_root_setting(&cfg);
	sec = config_setting_length(root) == 1 ? config_setting_get_elem(root, 0) : NULL;
	if (!sec || config_setting_type(sec) != CONFIG_TYPE_GROUP || config_setting_length(sec) != 1) {
		rc = lat_cfg_error(&c, NULL, err, "%s.%s: expected a single value", lhs, dot + 1);
		goto out;
	}
	rc = apply(&c, root, obj, err);
out:
	config_destroy(&cfg);
	numbers_clear(&nums);
	free(parsed);
	free(text);
	free(value);
	free(lhs);
	free(label);
	return rc;
}

char *lat_cfg_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
}

const char *lat_cfg_enum_name(const lat_cfg_key *k, int v)
{
	for (int i = 0; k->names && k->names[i]; i++)
		if (i == v)
			return k->names[i];
	return NULL;
}

/* ---- writing ----------------------------------------------------------------------------------------- */

/* Writes v so that libconfig reads it back as the same float: the shortest of %.15g, %.16g and %.17g that
 * round-trips, with ".0" added when it would otherwise look like an integer. */
static void put_double(FILE *fp, double v)
{
	char buf[64];
	int prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v && signbit(strtod(buf, NULL)) == signbit(v))
			break;
	}
	if (!strpbrk(buf, ".eEn"))
		strcat(buf, ".0");
	fputs(buf, fp);
}

/* Integers beyond 32 bits need libconfig's L suffix (without it they silently wrap). */
static void put_integer(FILE *fp, long long v, unsigned long long u, int is_unsigned)
{
	if (is_unsigned)
		fprintf(fp, "%llu%s", u, u > INT_MAX ? "L" : "");
	else
		fprintf(fp, "%lld%s", v, v > INT_MAX || v < INT_MIN ? "L" : "");
}

void lat_cfg_put_doubles(FILE *fp, const double *a, size_t n, size_t row)
{
	fputc('[', fp);
	for (size_t i = 0; i < n; i++) {
		if (row > 1 && i % row == 0)
			fputs("\n\t\t", fp);
		put_double(fp, a[i]);
		if (i + 1 < n)
			fputs(row > 1 && (i + 1) % row == 0 ? "," : ", ", fp);
	}
	if (row > 1 && n > 0)
		fputs("\n\t", fp);
	fputc(']', fp);
}

int lat_cfg_put_value(FILE *fp, const lat_cfg_key *k, const void *obj)
{
	const char *field = (const char *)obj + k->offset;
	size_t n = k->count_offset ? *(const size_t *)((const char *)obj + k->count_offset) : 0;

	switch (k->type) {
	case LAT_CFG_SIZE:
		put_integer(fp, 0, *(const size_t *)field, 1);
		break;
	case LAT_CFG_LONG:
		put_integer(fp, *(const long *)field, 0, 0);
		break;
	case LAT_CFG_ULONG:
		put_integer(fp, 0, *(const unsigned long *)field, 1);
		break;
	case LAT_CFG_DOUBLE:
		put_double(fp, *(const double *)field);
		break;
	case LAT_CFG_BOOL:
		fputs(*(const int *)field ? "true" : "false", fp);
		break;
	case LAT_CFG_ENUM: {
		const char *name = lat_cfg_enum_name(k, *(const int *)field);
		lat_cfg_put_string(fp, name ? name : "unknown");
		break;
	}
	case LAT_CFG_STRING:
	case LAT_CFG_PATH: {
		const char *v = *(char *const *)field;
		lat_cfg_put_string(fp, v ? v : "");
		break;
	}
	case LAT_CFG_DOUBLES:
		lat_cfg_put_doubles(fp, *(double *const *)field, *(double *const *)field ? n : 0, 0);
		break;
	case LAT_CFG_SIZES:
		fputc('[', fp);
		for (size_t i = 0; i < n; i++) {
			put_integer(fp, 0, ((const size_t *)field)[i], 1);
			fputs(i + 1 < n ? ", " : "", fp);
		}
		fputc(']', fp);
		break;
	case LAT_CFG_PATHS:
		fputc('[', fp);
		for (size_t i = 0; i < n; i++) {
			lat_cfg_put_string(fp, ((char *const *)field)[i]);
			fputs(i + 1 < n ? ", " : "", fp);
		}
		fputc(']', fp);
		break;
	case LAT_CFG_CUSTOM:
		return LAT_EINVAL;
	}
	return ferror(fp) ? LAT_EIO : LAT_OK;
}

int lat_cfg_write(const lat_cfg_schema *sc, const void *obj, FILE *fp, const char *heading,
		  int (*put)(FILE *fp, const lat_cfg_key *k, const void *obj))
{
	for (size_t i = 0; i < sc->n_keys; i++) {
		const lat_cfg_key *k = &sc->keys[i];
		int rc;

		if (i == 0)
			fprintf(fp, "# %s\n", heading);
		if (i == 0 || strcmp(sc->keys[i - 1].section, k->section) != 0)
			fprintf(fp, "%s%s = {\n", i ? "};\n\n" : "\n", k->section);
		/* a path that is not set is written "" where that reads back as none, else left out */
		if (k->type == LAT_CFG_PATH && !*(char *const *)((const char *)obj + k->offset) &&
		    !(k->flags & LAT_CFG_EMPTY_NONE))
			continue;
		fprintf(fp, "\t%s = ", k->name);
		rc = put ? put(fp, k, obj) : 0;
		if (rc == 0)
			rc = lat_cfg_put_value(fp, k, obj);
		else if (rc > 0)
			rc = LAT_OK;
		if (rc)
			return rc;
		fputs(";\n", fp);
	}
	if (sc->n_keys)
		fputs("};\n", fp);
	return ferror(fp) ? LAT_EIO : LAT_OK;
}
