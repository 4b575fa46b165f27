/* cfg.h: strict, table-driven reading of libconfig text and --set overrides into plain C structs (internal).
 */
#ifndef LATERAL_CFG_H
#define LATERAL_CFG_H

#include <stddef.h>
#include <stdio.h>

#include <libconfig.h>

/* What a key holds in the file, and the C type of the field at its offset. */
typedef enum {
	LAT_CFG_SIZE,	/* size_t: an integer */
	LAT_CFG_LONG,	/* long: an integer */
	LAT_CFG_ULONG,	/* unsigned long: an integer */
	LAT_CFG_DOUBLE, /* double: a number (an integer is accepted; a float where an integer is meant is not)
			 */
	LAT_CFG_BOOL,	/* int 0 or 1: true or false */
	LAT_CFG_ENUM,	/* int-sized enum: one of the strings of names */
	LAT_CFG_STRING, /* owned char *: a string (one of the strings of names, when names is not NULL) */
	LAT_CFG_PATH,	/* owned char *: a file name, joined to the path_dir of the read */
	LAT_CFG_DOUBLES, /* owned double * with its size_t count at count_offset: [numbers]; [] gives NULL */
	LAT_CFG_SIZES,	 /* size_t[cap] in the struct, count at count_offset: [integers] */
	LAT_CFG_PATHS,	 /* owned char *[cap] in the struct, count at count_offset: [file names] */
	LAT_CFG_CUSTOM	 /* read by the schema's custom function; cannot be set with --set */
} lat_cfg_type;

/* Key flags: which of min and max bound a number (or every element of an array), and whether strictly;
 * LAT_CFG_EMPTY_NONE makes the file name "" of a LAT_CFG_PATH mean none (NULL). */
enum { LAT_CFG_GE = 1, LAT_CFG_GT = 2, LAT_CFG_LE = 4, LAT_CFG_LT = 8, LAT_CFG_EMPTY_NONE = 16 };

/* One key of a table. Every field of a row is given (the table reads as a table); unused ones are 0. */
typedef struct {
	const char *section, *name;
	lat_cfg_type type;
	size_t offset;		   /* of the field in the struct */
	unsigned flags;		   /* LAT_CFG_GE ... LAT_CFG_EMPTY_NONE */
	double min, max;	   /* bounds, as flags says */
	double def;		   /* default of numbers, booleans and enums (the value, not the name) */
	const char *const *names; /* LAT_CFG_ENUM, LAT_CFG_STRING: the allowed strings, NULL-terminated; an
				     enum's value is its index (the table of the module that owns the enum) */
	size_t count_offset;	   /* arrays: of the size_t that holds the number of elements */
	size_t cap;		   /* LAT_CFG_SIZES, LAT_CFG_PATHS: capacity of the array in the struct */
} lat_cfg_key;

/* Where a read is: the schema, the message prefix and the folder of relative file names. */
typedef struct lat_cfg_ctx lat_cfg_ctx;

/* A table of keys for one struct type. The keys of one section must be adjacent. */
typedef struct {
	const lat_cfg_key *keys;
	size_t n_keys;
	size_t size;	  /* sizeof the struct the offsets refer to */
	const char *kind; /* what the files hold ("model"): the empty-file message names the built-in one */
	const char *example; /* an assignment shown in --set usage messages ("circuit.tau=20"), or NULL */
	/* Reads a LAT_CFG_CUSTOM key from setting s into obj (NULL when the table has none). Messages go
	 * through lat_cfg_error; obj is the scratch copy that the read commits only on success. */
	int (*custom)(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, void *obj,
		      char *err);
} lat_cfg_schema;

/* Path_dir value that makes relative file names absolute, relative to the working directory. */
#define LAT_CFG_CWD ""

/* Sets every number, boolean and enum key of obj to its default; strings, paths and arrays are left. */
void lat_cfg_defaults(const lat_cfg_schema *sc, void *obj);

/* Frees the owned strings and arrays of obj that sc names and sets them to NULL. */
void lat_cfg_free(const lat_cfg_schema *sc, void *obj);

/* Parses libconfig text and applies every setting to obj, or none: values go to a scratch copy that
 * replaces obj only when all of them are valid (replaced owned values are then freed). Unknown
 * sections and keys, wrong types and out-of-range values are LAT_ECONFIG "NAME:LINE: section.key:
 * expected ..., got ...", with "did you mean" hints for misspelt names; a text without any setting is
 * LAT_ECONFIG "NAME: the file has no settings (leave it out to use the built-in KIND)". Numbers are read
 * from the literals as written, not through libconfig's 32-bit int: an integer outside its key's range
 * (beyond 64 bits, hex and L suffix included) is "expected an integer >= MIN and <= MAX, got LITERAL",
 * and a float literal that underflows to 0 is refused. name: the file
 * name for messages; include_dir: folder of @include files (NULL: the working directory); path_dir:
 * folder that relative LAT_CFG_PATH(S) values are joined to (NULL: kept as written; LAT_CFG_CWD: made
 * absolute). Borrows everything. Syntax errors are LAT_ECONFIG; an unreadable @include file is LAT_EIO.
 */
int lat_cfg_read(const lat_cfg_schema *sc, void *obj, const char *text, const char *name,
		 const char *include_dir, const char *path_dir, char *err);

/* Applies one override "section.key=value" given with the command-line option option ("--set"): the value
 * is libconfig syntax (3, 2.5, [1.0, 2.0]) or a bare string for string, path and enum keys. Validated like a
 * file, all or nothing; messages start with "OPTION section.key=value: " (no line). path_dir as for
 * lat_cfg_read. */
int lat_cfg_set(const lat_cfg_schema *sc, void *obj, const char *option, const char *assignment,
		const char *path_dir, char *err);

/* For custom readers. Formats "PREFIX: message" into err and returns LAT_ECONFIG; the prefix names the
 * file and the line of s (when s is not NULL and the read counts lines) or the --set assignment. */
int lat_cfg_error(const lat_cfg_ctx *c, const config_setting_t *s, char *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* For custom readers: reads setting s as key k into the struct obj (k's offsets are relative to it),
 * naming it what in messages. An owned value (string, path, array) is replaced without freeing the old
 * one: lat_cfg_read and lat_cfg_set commit or discard the keys of their schema, so keys with owned values
 * belong there, not in tables of sub-structs. */
int lat_cfg_read_key(const lat_cfg_ctx *c, const lat_cfg_key *k, const config_setting_t *s, const char *what,
		     void *obj, char *err);

/* For custom readers: reads every member of group g, each of which must be one of the n keys, into
 * obj; members are named "PREFIX.name" in messages (unknown ones list the n keys). */
int lat_cfg_read_group(const lat_cfg_ctx *c, const lat_cfg_key *keys, size_t n, const char *prefix,
		       const config_setting_t *g, void *obj, char *err);

/* For custom readers: what setting s (of the read c) holds, for "expected X, got Y": "an integer (3)" (the
 * literal as written), "a string ("abc")", "a list ( ... )", ... into buf (truncated to size). */
void lat_cfg_describe(const lat_cfg_ctx *c, const config_setting_t *s, char *buf, size_t size);

/* The string of enum key k for value v, or NULL when v has none. */
const char *lat_cfg_enum_name(const lat_cfg_key *k, int v);

/* The file name file as written when it is absolute, "" or dir is NULL, else joined to the folder dir
 * (LAT_CFG_CWD: the working directory, so the result is absolute). Returns a new string or NULL. */
char *lat_cfg_path(const char *dir, const char *file);

/* The folder part of path ("models" for "models/x.cfg", "/" for "/x.cfg"): a new string, or NULL when
 * path has none or memory ran out. */
char *lat_cfg_dir_of(const char *path);

/* Writes s as a quoted libconfig string (with escapes) to fp. */
void lat_cfg_put_string(FILE *fp, const char *s);

/* Writes a numbers as a libconfig list "[1.0, 2.5]" that reads back to the same doubles; row > 1 breaks
 * the line every row numbers (a matrix). */
void lat_cfg_put_doubles(FILE *fp, const double *a, size_t n, size_t row);

/* Writes the value of key k of the struct obj (not its name) as libconfig text that lat_cfg_read takes
 * back to the same value: exact doubles, L-suffixed integers beyond 32 bits, quoted strings, enum names.
 * LAT_EINVAL for LAT_CFG_CUSTOM keys; LAT_EIO when fp reports an error. */
int lat_cfg_put_value(FILE *fp, const lat_cfg_key *k, const void *obj);

/* Writes every key of sc from obj as a libconfig file: "# heading", then one group per section in table
 * order. Unset paths are left out. put, when not NULL, is asked first for each key: it returns 0 to let
 * lat_cfg_put_value write the value, > 0 when it wrote the value itself (custom keys must), < 0 (an
 * error code) to stop. Returns LAT_OK, put's error, or LAT_EIO when fp reports an error. */
int lat_cfg_write(const lat_cfg_schema *sc, const void *obj, FILE *fp, const char *heading,
		  int (*put)(FILE *fp, const lat_cfg_key *k, const void *obj));

/* The tables of model files (model.c), of experiment files and of one entry of network.layers
 * (experiment.c), for tests and fuzzers that walk every key. Static; never freed. */
const lat_cfg_schema *lat_model_schema(void);
const lat_cfg_schema *lat_experiment_schema(void);
const lat_cfg_schema *lat_layer_schema(void);

#endif
