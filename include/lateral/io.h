/* io.h: numeric TSV files and atomic output (temporary file, fsync, rename). */
#ifndef LATERAL_IO_H
#define LATERAL_IO_H

#include <stddef.h>
#include <stdio.h>

/* Thread safety: reentrant on distinct files and objects; a lat_afile belongs to one thread. */

#ifdef __cplusplus
extern "C" {
#endif

/* Opens path for reading when it is a regular file. Anything else is refused without blocking: a FIFO
 * or socket (whose reads can wait forever for a writer), a device (whose data may never end) and a
 * directory. On success *fp is a new stream (close with fclose) and *size (may be NULL) receives the
 * file's size in bytes. Errors: LAT_EIO "PATH: cannot read: REASON", REASON being the system's (e.g. "No
 * such file or directory", "Is a directory") or e.g. "a FIFO (named pipe), not a regular file". */
int lat_file_open(const char *path, FILE **fp, size_t *size, char *err);

/* Reads a matrix of numbers separated by tabs or spaces; blank lines and lines starting with '#' are
 * skipped. Every row must have the same number of columns and every value must be finite. Only a
 * regular file is read (lat_file_open): a pipe could feed it rows without end. On success
 * *data is a new row-major array (free with free()), *rows and *cols its shape. Errors name the file and
 * line (LAT_EIO for unreadable files, LAT_ECONFIG for malformed content). */
int lat_tsv_read(const char *path, double **data, size_t *rows, size_t *cols, char *err);

/* An output file that appears under its final name only when complete. */
typedef struct lat_afile lat_afile;

/* Opens a temporary file beside path, named "DIR/.BASE.PID.XXXXXX" (PID: this process) so that a
 * cleanup can tell a dead writer's leftovers from a live writer's file. Returns a new handle or NULL with
 * err set (the message gives the system's reason). */
lat_afile *lat_afile_open(const char *path, char *err);
/* The stream to write to (borrowed from the handle). */
FILE *lat_afile_fp(lat_afile *f);
/* Flushes, fsyncs and renames onto the final name (then syncs the directory), then frees f (even on
 * failure). */
int lat_afile_commit(lat_afile *f, char *err);
/* Removes the temporary file and frees f; NULL is a no-op. */
void lat_afile_abort(lat_afile *f);

/* Writes a matrix atomically as TSV with full precision (%.17g); header (may be NULL) is written as a
 * '#'-prefixed first line. */
int lat_tsv_write(const char *path, const char *header, const double *data, size_t rows, size_t cols,
		  char *err);

/* Reads a whole text file into a new NUL-terminated buffer (*text, free with free()). A NUL byte in the
 * file is LAT_ECONFIG "FILE:LINE: binary data (a NUL byte): not a WHAT"; unreadable files and anything
 * but a regular file (lat_file_open) LAT_EIO. */
int lat_text_read(const char *path, const char *what, char **text, char *err);

/* The memory budget of a run in bytes: max_memory when it is > 0, else the memory the machine has
 * available now (MemAvailable of /proc/meminfo; free physical pages where that is missing; SIZE_MAX
 * when neither is known). *what (may be NULL) receives a phrase naming the source for messages. */
size_t lat_mem_limit(size_t max_memory, const char **what);
/* Line (1-based) of the first libconfig @include directive in text (a line starting, after blanks, with
 * "@include"), or 0 when there is none. libconfig 1.5 opens included files itself and exits the process
 * when one cannot be read (a directory) or hangs on a FIFO, so the loaders refuse includes. */
size_t lat_text_include_line(const char *text);

/* 64-bit FNV-1a over n bytes at p, continuing hash h (start with LAT_HASH_START). Not cryptographic:
 * for telling apart states and files that should be equal. */
#define LAT_HASH_START 14695981039346656037ULL
unsigned long long lat_hash(unsigned long long h, const void *p, size_t n);

/* Creates directory path (and missing parents) if it does not exist. */
int lat_mkdir_p(const char *path, char *err);

#ifdef __cplusplus
}
#endif

#endif
