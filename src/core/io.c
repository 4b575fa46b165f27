/* io.c: strict numeric TSV reading, full-precision TSV writing, atomic output files and mkdir -p. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "lateral/err.h"
#include "lateral/io.h"

/* Largest model or experiment file, and longest line of a TSV file, in bytes. */
#define LAT_TEXT_MAX (64 << 20)
#define LAT_TSV_LINE_MAX (64 << 20)

/* Initial capacity (values) of the matrix buffer of lat_tsv_read; it doubles when full. */
#define TSV_INITIAL_CAPACITY 256

struct lat_afile {
	FILE *fp;
	char *path; /* final name */
	char *tmp;  /* temporary name in the same directory */
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parses one data line (NUL-terminated, no newline) into values appended at buf[*n]; *ncol receives the
 * number of values on the line. */
static int tsv_parse_line(const char *path, size_t lineno, char *line, double **buf, size_t *n, size_t *cap,
			  size_t *ncol, char *err)
{
	char *p = line;
	size_t col = 0;

	while (*p) {
		char *tok, *end;
		double v;

		while (is_blank(*p))
			p++;
		if (!*p)
			break;
		tok = p;
		while (*p && !is_blank(*p))
			p++;
		if (*p)
			*p++ = '\0';
		col++;
		errno = 0;
		v = strtod(tok, &end);
		if (end == tok || *end)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s:%zu: column %zu: expected a number, got '%.40s'", path, lineno,
					   col, tok);
		if (!isfinite(v))
			return lat_err_set(err, LAT_ECONFIG,
					   "%s:%zu: column %zu: expected a finite number, got '%.40s'", path,
					   lineno, col, tok);
		if (*n == *cap) {
			size_t newcap = *cap ? 2 * *cap : TSV_INITIAL_CAPACITY;
			double *tmp;
			if (newcap < *cap || newcap > SIZE_MAX / sizeof **buf)
				return lat_err_set(err, LAT_ENOMEM, "%s:%zu: too many values", path, lineno);
			tmp = realloc(*buf, newcap * sizeof **buf);
			if (!tmp)
				return lat_err_set(err, LAT_ENOMEM, "%s:%zu: out of memory", path, lineno);
			*buf = tmp;
			*cap = newcap;
		}
		(*buf)[(*n)++] = v;
	}
	*ncol = col;
	return LAT_OK;
}

#define READ_LINE_LONG ((ssize_t)-2)

/* getline with a bound: the next line (with its newline, NUL bytes kept) into *line, growing it;
 * a NUL byte also ends the line; returns its length, -1 at the end of the file, on a read error or out of memory, READ_LINE_LONG
 * beyond max bytes, so that a device without newlines (/dev/zero) cannot exhaust memory. */
static ssize_t read_line(FILE *fp, char **line, size_t *cap, size_t max)
{
	size_t len = 0;
	int ch = EOF;

	while ((ch = getc_unlocked(fp)) != EOF) {
		if (len + 2 > *cap) {
			size_t newcap = *cap ? 2 * *cap : 256;
			char *tmp = realloc(*line, newcap);
			if (!tmp)
				return -1;
			*line = tmp;
			*cap = newcap;
		}
		(*line)[len++] = (char)ch;
		/* a NUL byte ends the line early: the caller reports binary data at once */
		if (ch == '\n' || ch == '\0')
			break;
		if (len > max)
			return READ_LINE_LONG;
	}
	if (len == 0)
		return -1;
	(*line)[len] = '\0';
	return (ssize_t)len;
}

/* Why a file of mode `mode` is not read, or NULL for a regular file. */
static const char *not_regular(mode_t mode)
{
	if (S_ISREG(mode))
		return NULL;
	if (S_ISDIR(mode))
		return strerror(EISDIR);
	if (S_ISFIFO(mode))
		return "a FIFO (named pipe), not a regular file";
	if (S_ISSOCK(mode))
		return "a socket, not a regular file";
	if (S_ISCHR(mode))
		return "a character device, not a regular file";
	if (S_ISBLK(mode))
		return "a block device, not a regular file";
	return "not a regular file";
}

int lat_file_open(const char *path, FILE **fp, size_t *size, char *err)
{
	struct stat st;
	const char *why;
	int fd, flags, rc = LAT_OK;

	*fp = NULL;
	/* O_NONBLOCK: opening a FIFO that has no writer returns at once instead of waiting for one */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = lat_err_sys(err, path, "read");
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		rc = lat_err_sys(err, path, "read");
		goto out;
	}
	why = not_regular(st.st_mode);
	if (why) {
		rc = lat_err_set(err, LAT_EIO, "%s: cannot read: %s", path, why);
		goto out;
	}
	if ((uintmax_t)st.st_size > SIZE_MAX) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: cannot read: %jd bytes do not fit in memory", path,
				 (intmax_t)st.st_size);
		goto out;
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0 || !(*fp = fdopen(fd, "rb"))) {
		rc = lat_err_sys(err, path, "read");
		goto out;
	}
	fd = -1;
	if (size)
		*size = (size_t)st.st_size;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int lat_tsv_read(const char *path, double **data, size_t *rows, size_t *cols, char *err)
{
	FILE *fp = NULL;
	char *line = NULL;
	size_t linecap = 0, lineno = 0, first_line = 0;
	double *buf = NULL;
	size_t n = 0, cap = 0, nrows = 0, ncols = 0;
	ssize_t len;
	int rc = LAT_OK;

	*data = NULL;
	*rows = *cols = 0;
	rc = lat_file_open(path, &fp, NULL, err);
	if (rc)
		goto out;
	errno = 0;
	while ((len = read_line(fp, &line, &linecap, LAT_TSV_LINE_MAX)) != -1) {
		char *p = line;
		size_t ncol = 0;

		lineno++;
		if (len == READ_LINE_LONG) {
			rc = lat_err_set(err, LAT_ECONFIG, "%s:%zu: line longer than %d MiB: not a table of numbers",
					 path, lineno, LAT_TSV_LINE_MAX >> 20);
			goto out;
		}
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if ((size_t)len != strlen(line)) {
			rc = lat_err_set(err, LAT_ECONFIG, "%s:%zu: binary data (NUL byte)", path, lineno);
			goto out;
		}
		while (is_blank(*p))
			p++;
		if (!*p || *p == '#')
			continue;
		rc = tsv_parse_line(path, lineno, p, &buf, &n, &cap, &ncol, err);
		if (rc)
			goto out;
		if (nrows == 0) {
			ncols = ncol;
			first_line = lineno;
		} else if (ncol != ncols) {
			rc = lat_err_set(err, LAT_ECONFIG,
					 "%s:%zu: row has %zu columns, expected %zu (as on line %zu)", path,
					 lineno, ncol, ncols, first_line);
			goto out;
		}
		nrows++;
		errno = 0;
	}
	if (ferror(fp)) {
		rc = lat_err_set(err, LAT_EIO, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
		goto out;
	}
	if (nrows == 0) {
		rc = lat_err_set(err, LAT_ECONFIG, "%s:%zu: no data rows (only blank lines or comments)",
				 path, lineno);
		goto out;
	}
	*data = buf;
	buf = NULL;
	*rows = nrows;
	*cols = ncols;
out:
	free(buf);
	free(line);
	if (fp)
		fclose(fp);
	return rc;
}

lat_afile *lat_afile_open(const char *path, char *err)
{
	lat_afile *f = NULL;
	const char *slash, *base;
	size_t size;
	mode_t mask;
	int fd = -1, rc = LAT_OK;

	if (!path || !*path) {
		rc = lat_err_set(err, LAT_EINVAL, "output file name is empty");
		goto out;
	}
	f = calloc(1, sizeof *f);
	size = strlen(path) + sizeof "/...XXXXXX" + 3 * sizeof(long);
	if (f) {
		f->path = strdup(path);
		f->tmp = malloc(size);
	}
	if (!f || !f->path || !f->tmp) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* Temporary name "<dir>/.<base>.<pid>.XXXXXX": same directory, so rename() is atomic; the pid tells
	 * a later cleanup whether the writer is gone. */
	slash = strrchr(path, '/');
	base = slash ? slash + 1 : path;
	snprintf(f->tmp, size, "%.*s.%s.%ld.XXXXXX", (int)(base - path), path, base, (long)getpid());
	fd = mkstemp(f->tmp);
	if (fd < 0) {
		rc = lat_err_sys(err, path, "create a temporary file");
		goto out;
	}
	/* mkstemp creates mode 0600; give the final file the usual 0666 & ~umask. */
	mask = umask(0);
	umask(mask);
	if (fchmod(fd, 0666 & ~mask) != 0) {
		rc = lat_err_sys(err, f->tmp, "set permissions");
		goto out;
	}
	f->fp = fdopen(fd, "w");
	if (!f->fp) {
		rc = lat_err_sys(err, f->tmp, "open");
		goto out;
	}
out:
	if (rc && f) {
		if (fd >= 0) {
			close(fd);
			unlink(f->tmp);
		}
		free(f->tmp);
		free(f->path);
		free(f);
		f = NULL;
	}
	return f;
}

FILE *lat_afile_fp(lat_afile *f)
{
	return f->fp;
}

/* Makes the rename of a file in the directory of path durable. Only a crash of the machine, not of
 * the process, could lose it, and some file systems cannot sync directories: errors are ignored. */
static void sync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	int fd = dir ? open(dir, O_RDONLY | O_DIRECTORY) : -1;

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(dir);
}

static void afile_free(lat_afile *f)
{
	free(f->tmp);
	free(f->path);
	free(f);
}

int lat_afile_commit(lat_afile *f, char *err)
{
	int rc = LAT_OK, closed;

	if (!f)
		return lat_err_set(err, LAT_EINVAL, "no output file to commit");
	if (fflush(f->fp) != 0 || ferror(f->fp)) {
		rc = lat_err_sys(err, f->path, "write");
		goto out;
	}
	if (fsync(fileno(f->fp)) != 0) {
		rc = lat_err_sys(err, f->path, "sync");
		goto out;
	}
	closed = fclose(f->fp);
	f->fp = NULL;
	if (closed != 0) {
		rc = lat_err_sys(err, f->path, "close");
		goto out;
	}
	if (rename(f->tmp, f->path) != 0) {
		char what[4200];
		snprintf(what, sizeof what, "rename %s onto it", f->tmp);
		rc = lat_err_sys(err, f->path, what);
		goto out;
	}
	sync_dir(f->path);
out:
	if (rc) {
		if (f->fp)
			fclose(f->fp);
		unlink(f->tmp);
	}
	afile_free(f);
	return rc;
}

void lat_afile_abort(lat_afile *f)
{
	if (!f)
		return;
	if (f->fp)
		fclose(f->fp);
	unlink(f->tmp);
	afile_free(f);
}

/* Writes the header as '#'-prefixed lines (one '#' per line of header). */
static void write_header(FILE *fp, const char *header)
{
	const char *p = header;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(fp, "#%.*s\n", (int)len, p);
		p += len;
		if (*p == '\n')
			p++;
	}
}

int lat_tsv_write(const char *path, const char *header, const double *data, size_t rows, size_t cols,
		  char *err)
{
	lat_afile *f = NULL;
	FILE *fp;
	size_t i, j;
	int rc = LAT_OK;

	f = lat_afile_open(path, err);
	if (!f) {
		rc = LAT_EIO;
		goto out;
	}
	fp = lat_afile_fp(f);
	if (header && *header)
		write_header(fp, header);
	for (i = 0; i < rows; i++)
		for (j = 0; j < cols; j++)
			fprintf(fp, "%.17g%c", data[i * cols + j], j + 1 < cols ? '\t' : '\n');
	rc = lat_afile_commit(f, err);
	f = NULL;
out:
	lat_afile_abort(f);
	return rc;
}

int lat_mkdir_p(const char *path, char *err)
{
	char *buf = NULL;
	char *p;
	struct stat st;
	int rc = LAT_OK;

	if (!path || !*path) {
		rc = lat_err_set(err, LAT_EINVAL, "directory name is empty");
		goto out;
	}
	buf = strdup(path);
	if (!buf) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	/* Create every prefix ending before a '/', then the full path. */
	for (p = buf + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(buf, 0777) != 0) {
			int e = errno;
			/* EEXIST, but also EACCES or EROFS on an existing parent, is fine for a directory. */
			if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) {
				rc = lat_err_set(err, LAT_EIO, "%s: cannot create directory: %s", buf,
						 strerror(e == EEXIST ? ENOTDIR : e));
				goto out;
			}
		}
		*p = c;
		if (!c)
			break;
		while (p[1] == '/')
			p++;
		if (!p[1])
			break;
	}
out:
	free(buf);
	return rc;
}

/* libconfig's own reader calls exit() on a read error (e.g. when path is a directory), so model and
 * experiment files are read here and parsed from memory. */
int lat_text_read(const char *path, const char *what, char **text, char *err)
{
	FILE *fp = NULL;
	char *buf = NULL, *nul;
	size_t len = 0, cap = 0;
	int rc = LAT_OK;

	*text = NULL;
	rc = lat_file_open(path, &fp, NULL, err);
	if (rc)
		goto out;
	for (;;) {
		size_t got;
		if (cap - len < 2) {
			size_t newcap = cap ? 2 * cap : 4096;
			char *tmp = newcap > cap ? realloc(buf, newcap) : NULL;
			if (!tmp) {
				rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
				goto out;
			}
			buf = tmp;
			cap = newcap;
		}
		got = fread(buf + len, 1, cap - len - 1, fp);
		/* stop early on binary input (a device such as /dev/zero never ends) */
		if (got && memchr(buf + len, '\0', got)) {
			len += got;
			break;
		}
		len += got;
		if (got == 0)
			break;
		if (len > LAT_TEXT_MAX) {
			rc = lat_err_set(err, LAT_ECONFIG, "%s: more than %d MiB: too large for a %s", path,
					 LAT_TEXT_MAX >> 20, what);
			goto out;
		}
	}
	if (ferror(fp)) {
		rc = lat_err_set(err, LAT_EIO, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
		goto out;
	}
	buf[len] = '\0';
	nul = memchr(buf, '\0', len);
	if (nul) {
		size_t line = 1;
		const char *p;
		for (p = buf; p < nul; p++)
			line += *p == '\n';
		rc = lat_err_set(err, LAT_ECONFIG, "%s:%zu: binary data (a NUL byte): not %s %s", path, line,
				 strchr("aeiou", what[0]) ? "an" : "a", what);
		goto out;
	}
	*text = buf;
	buf = NULL;
out:
	free(buf);
	if (fp)
		fclose(fp);
	return rc;
}

size_t lat_mem_limit(size_t max_memory, const char **what)
{
	FILE *fp;
	char line[256];
	unsigned long long kib = 0;
	long pages, page;

	if (what)
		*what = "the --max-memory limit";
	if (max_memory)
		return max_memory;
	if (what)
		*what = "the memory available on this machine";
	fp = fopen("/proc/meminfo", "r");
	while (fp && fgets(line, sizeof line, fp))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	if (fp)
		fclose(fp);
	if (kib)
		return kib > SIZE_MAX / 1024 ? SIZE_MAX : (size_t)(kib * 1024);
	pages = sysconf(_SC_AVPHYS_PAGES);
	page = sysconf(_SC_PAGESIZE);
	if (pages > 0 && page > 0 && (unsigned long)pages <= SIZE_MAX / (unsigned long)page)
		return (size_t)pages * (size_t)page;
	return SIZE_MAX;
}

size_t lat_text_include_line(const char *text)
{
	const char *p = text;
	size_t line = 1;

	for (;;) {
		const char *q = p;
		while (is_blank(*q))
			q++;
		if (strncmp(q, "@include", 8) == 0)
			return line;
		p = strchr(p, '\n');
		if (!p)
			return 0;
		p++;
		line++;
	}
}

unsigned long long lat_hash(unsigned long long h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ULL;
	return h;
}
