/* test_io.c: TSV reading and writing, atomic output files and lat_mkdir_p, in a temporary directory. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lateral/err.h"
#include "lateral/io.h"
#include "runner.h"

/* A fresh directory under /tmp per test, removed (with the files the test left in it) afterwards. */
static char tmpdir[64];

static void setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lat_test_io.XXXXXX");
	if (!mkdtemp(tmpdir))
		snprintf(tmpdir, sizeof tmpdir, "/nonexistent");
}

static void teardown(void)
{
	test_remove_tree(tmpdir);
}

static void tmp_path(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", tmpdir, name);
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "wb");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL(fwrite(text, 1, len, fp), len);
	fclose(fp);
}

/* Number of entries in the temporary directory (without . and ..). */
static int count_entries(void)
{
	DIR *dir = opendir(tmpdir);
	struct dirent *de;
	int n = 0;

	if (!dir)
		return -1;
	while ((de = readdir(dir)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dir);
	return n;
}

static void test_round_trip(void)
{
	/* Values that only survive with 17 significant digits, extremes, subnormals and a negative zero. */
	const double a[] = {0.1,
			    1.0 / 3.0,
			    -2.0 / 3.0,
			    1e-300,
			    -1e300,
			    DBL_MAX,
			    DBL_MIN,
			    5e-324,
			    -0.0,
			    0.0,
			    123456789.123456789,
			    -7.0,
			    M_PI,
			    -M_E,
			    1e22,
			    1e23,
			    0.30000000000000004,
			    1 - DBL_EPSILON};
	const size_t rows = 6, cols = 3;
	char path[128], err[LAT_ERRLEN] = "";
	double *back = NULL;
	size_t r = 0, c = 0;
	FILE *fp;
	char first[64] = "";

	tmp_path(path, sizeof path, "rt.tsv");
	CU_ASSERT_EQUAL_FATAL(lat_tsv_write(path, "a\tb\tc", a, rows, cols, err), 0);
	CU_ASSERT_EQUAL(count_entries(), 1);
	fp = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_PTR_NOT_NULL(fgets(first, sizeof first, fp));
	fclose(fp);
	CU_ASSERT_STRING_EQUAL(first, "#a\tb\tc\n");
	CU_ASSERT_EQUAL_FATAL(lat_tsv_read(path, &back, &r, &c, err), 0);
	CU_ASSERT_EQUAL(r, rows);
	CU_ASSERT_EQUAL(c, cols);
	CU_ASSERT(memcmp(a, back, sizeof a) == 0);
	free(back);

	/* Without a header; a single value. */
	CU_ASSERT_EQUAL_FATAL(lat_tsv_write(path, NULL, a + 1, 1, 1, err), 0);
	CU_ASSERT_EQUAL_FATAL(lat_tsv_read(path, &back, &r, &c, err), 0);
	CU_ASSERT_EQUAL(r, 1);
	CU_ASSERT_EQUAL(c, 1);
	CU_ASSERT(memcmp(back, a + 1, sizeof *back) == 0);
	free(back);
}

static void test_comments_and_blanks(void)
{
	static const char text[] = "# header line\n"
				   "\n"
				   "1 2\t3\n"
				   "   # an indented comment\n"
				   "\t \n"
				   "  4\t\t5   6  \r\n"
				   "#7 8 9\n"
				   "-1e-3 +2.5 0x10";
	char path[128], err[LAT_ERRLEN] = "";
	double *d = NULL;
	size_t r = 0, c = 0;

	tmp_path(path, sizeof path, "c.tsv");
	write_text(path, text, sizeof text - 1);
	CU_ASSERT_EQUAL_FATAL(lat_tsv_read(path, &d, &r, &c, err), 0);
	CU_ASSERT_EQUAL(r, 3);
	CU_ASSERT_EQUAL(c, 3);
	CU_ASSERT_EQUAL(d[0], 1.0);
	CU_ASSERT_EQUAL(d[2], 3.0);
	CU_ASSERT_EQUAL(d[3], 4.0);
	CU_ASSERT_EQUAL(d[5], 6.0);
	CU_ASSERT_EQUAL(d[6], -1e-3);
	CU_ASSERT_EQUAL(d[7], 2.5);
	CU_ASSERT_EQUAL(d[8], 16.0);
	free(d);
}

/* Many rows, so that the buffer grows several times. */
static void test_large(void)
{
	const size_t rows = 5000, cols = 7;
	double *a = malloc(rows * cols * sizeof *a), *back = NULL;
	char path[128], err[LAT_ERRLEN] = "";
	size_t i, r = 0, c = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	for (i = 0; i < rows * cols; i++)
		a[i] = sin((double)i) * pow(10.0, (double)(i % 41) - 20.0);
	tmp_path(path, sizeof path, "large.tsv");
	CU_ASSERT_EQUAL_FATAL(lat_tsv_write(path, "line one\nline two", a, rows, cols, err), 0);
	CU_ASSERT_EQUAL_FATAL(lat_tsv_read(path, &back, &r, &c, err), 0);
	CU_ASSERT_EQUAL(r, rows);
	CU_ASSERT_EQUAL(c, cols);
	CU_ASSERT(memcmp(a, back, rows * cols * sizeof *a) == 0);
	free(back);
	free(a);
}

/* Reads text from a file called name and expects code and a message containing expect (after the path). */
static void expect_error(const char *name, const char *text, size_t len, int code, const char *expect)
{
	char path[128], want[256], err[LAT_ERRLEN] = "";
	double *d = (double *)&d;
	size_t r = 99, c = 99;
	int rc;

	tmp_path(path, sizeof path, name);
	if (text)
		write_text(path, text, len);
	snprintf(want, sizeof want, "%s%s", path, expect);
	rc = lat_tsv_read(path, &d, &r, &c, err);
	CU_ASSERT_EQUAL(rc, code);
	if (!strstr(err, want)) {
		fprintf(stderr, "\n%s\n  got: %s\n  expected: %s\n", name, err, want);
		CU_FAIL("tsv error message");
	}
	CU_ASSERT_PTR_NULL(d);
	CU_ASSERT_EQUAL(r, 0);
	CU_ASSERT_EQUAL(c, 0);
	unlink(path);
}

#define TEXT(s) s, sizeof s - 1

static void test_malformed(void)
{
	char dir[128], err[LAT_ERRLEN] = "";
	double *d = NULL;
	size_t r, c;

	expect_error("ragged.tsv", TEXT("# x\n1 2 3\n4 5 6\n\n7 8\n"), LAT_ECONFIG,
		     ":5: row has 2 columns, expected 3 (as on line 2)");
	expect_error("ragged_long.tsv", TEXT("1 2\n3 4 5\n"), LAT_ECONFIG,
		     ":2: row has 3 columns, expected 2");
	expect_error("word.tsv", TEXT("1 2\n3 abc\n"), LAT_ECONFIG,
		     ":2: column 2: expected a number, got 'abc'");
	expect_error("suffix.tsv", TEXT("1.5e\n"), LAT_ECONFIG,
		     ":1: column 1: expected a number, got '1.5e'");
	expect_error("comma.tsv", TEXT("1,2\n"), LAT_ECONFIG, ":1: column 1: expected a number, got '1,2'");
	expect_error("inline_comment.tsv", TEXT("1 2 # note\n"), LAT_ECONFIG,
		     ":1: column 3: expected a number, got '#'");
	expect_error("nan.tsv", TEXT("1 2\n3 nan\n"), LAT_ECONFIG,
		     ":2: column 2: expected a finite number, got 'nan'");
	expect_error("nan2.tsv", TEXT("NAN 2\n"), LAT_ECONFIG,
		     ":1: column 1: expected a finite number, got 'NAN'");
	expect_error("inf.tsv", TEXT("-inf\n"), LAT_ECONFIG,
		     ":1: column 1: expected a finite number, got '-inf'");
	expect_error("overflow.tsv", TEXT("1e999\n"), LAT_ECONFIG, ":1: column 1: expected a finite number");
	expect_error("empty.tsv", TEXT(""), LAT_ECONFIG, ":0: no data rows");
	expect_error("comments.tsv", TEXT("# only\n\n# comments\n"), LAT_ECONFIG, ":3: no data rows");
	expect_error("nul.tsv", TEXT("1 2\n3\0 4\n"), LAT_ECONFIG, ":2: binary data");
	expect_error("missing.tsv", NULL, 0, LAT_EIO, ": cannot read: No such file or directory");

	/* A directory is an I/O error, not an empty file. */
	tmp_path(dir, sizeof dir, "adir");
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	CU_ASSERT_EQUAL(lat_tsv_read(dir, &d, &r, &c, err), LAT_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "adir: cannot read: Is a directory"));
	rmdir(dir);
}

static void test_afile(void)
{
	char path[128], err[LAT_ERRLEN] = "", buf[64] = "";
	lat_afile *f;
	struct stat st;
	mode_t mask;
	FILE *fp;

	tmp_path(path, sizeof path, "out.txt");
	/* Abort: nothing is left behind. */
	f = lat_afile_open(path, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(fputs("partial\n", lat_afile_fp(f)) >= 0, 1);
	CU_ASSERT_EQUAL(count_entries(), 1); /* the temporary file */
	lat_afile_abort(f);
	CU_ASSERT_EQUAL(count_entries(), 0);
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0);
	lat_afile_abort(NULL);

	/* Commit: exactly the final file, with the content and the usual permissions. */
	f = lat_afile_open(path, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("first\n", lat_afile_fp(f));
	CU_ASSERT_NOT_EQUAL(access(path, F_OK), 0); /* not visible before the commit */
	CU_ASSERT_EQUAL(lat_afile_commit(f, err), 0);
	CU_ASSERT_EQUAL(count_entries(), 1);
	fp = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof buf, fp));
	fclose(fp);
	CU_ASSERT_STRING_EQUAL(buf, "first\n");
	mask = umask(0);
	umask(mask);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0666 & ~mask);

	/* Commit over an existing file replaces it; an aborted rewrite keeps the old one. */
	f = lat_afile_open(path, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("second\n", lat_afile_fp(f));
	lat_afile_abort(f);
	f = lat_afile_open(path, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("third\n", lat_afile_fp(f));
	CU_ASSERT_EQUAL(lat_afile_commit(f, err), 0);
	CU_ASSERT_EQUAL(count_entries(), 1);
	fp = fopen(path, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_PTR_NOT_NULL(fgets(buf, sizeof buf, fp));
	fclose(fp);
	CU_ASSERT_STRING_EQUAL(buf, "third\n");

	/* A file in a missing directory cannot be opened; the message names it. */
	tmp_path(path, sizeof path, "no/such/dir/x.tsv");
	CU_ASSERT_PTR_NULL(lat_afile_open(path, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	CU_ASSERT_EQUAL(lat_tsv_write(path, NULL, NULL, 0, 0, err), LAT_EIO);
	CU_ASSERT_PTR_NULL(lat_afile_open("", err));
}

static void test_mkdir_p(void)
{
	char path[128], file[128], err[LAT_ERRLEN] = "";
	struct stat st;

	tmp_path(path, sizeof path, "a/b//c/d/");
	CU_ASSERT_EQUAL(lat_mkdir_p(path, err), 0);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT(S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(lat_mkdir_p(path, err), 0); /* already there */
	CU_ASSERT_EQUAL(lat_mkdir_p(tmpdir, err), 0);
	CU_ASSERT_EQUAL(lat_mkdir_p("/", err), 0);
	/* A path through a regular file fails and names the component. */
	tmp_path(file, sizeof file, "a/f");
	write_text(file, "x", 1);
	tmp_path(path, sizeof path, "a/f/g");
	CU_ASSERT_EQUAL(lat_mkdir_p(path, err), LAT_EIO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, file));
	CU_ASSERT_EQUAL(lat_mkdir_p(file, err), LAT_EIO);
	CU_ASSERT_EQUAL(lat_mkdir_p("", err), LAT_EINVAL);
	/* Relative paths work from the working directory. */
	{
		char cwd[512];
		CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
		CU_ASSERT_EQUAL_FATAL(chdir(tmpdir), 0);
		CU_ASSERT_EQUAL(lat_mkdir_p("rel/x", err), 0);
		CU_ASSERT_EQUAL(stat("rel/x", &st), 0);
		CU_ASSERT_EQUAL_FATAL(chdir(cwd), 0);
	}
}

/* Endless input (a device) is refused before it is read: only regular files are read. */
static void test_endless_device(void)
{
	char err[LAT_ERRLEN] = "", *text = NULL;
	double *data = NULL;
	size_t rows = 0, cols = 0;

	CU_ASSERT_EQUAL(lat_text_read("/dev/zero", "model file", &text, err), LAT_EIO);
	CU_ASSERT_PTR_NULL(text);
	CU_ASSERT_STRING_EQUAL(err, "/dev/zero: cannot read: a character device, not a regular file");
	CU_ASSERT_EQUAL(lat_tsv_read("/dev/zero", &data, &rows, &cols, err), LAT_EIO);
	CU_ASSERT_PTR_NULL(data);
	CU_ASSERT_STRING_EQUAL(err, "/dev/zero: cannot read: a character device, not a regular file");
}

/* lat_file_open: a regular file opens with its size; a FIFO without a writer is refused at once (a hang
 * here would stop the test, not pass it); a directory and a missing file give the system's reason. */
static void test_file_open(void)
{
	char path[128], fifo[128], err[LAT_ERRLEN] = "", expect[256], *text = NULL;
	FILE *fp = NULL;
	size_t size = 0;

	tmp_path(path, sizeof path, "regular.txt");
	write_text(path, "12345", 5);
	CU_ASSERT_EQUAL(lat_file_open(path, &fp, &size, err), LAT_OK);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL(size, 5);
	CU_ASSERT_EQUAL(fgetc(fp), '1');
	fclose(fp);

	tmp_path(fifo, sizeof fifo, "fifo");
	CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
	CU_ASSERT_EQUAL(lat_file_open(fifo, &fp, &size, err), LAT_EIO);
	CU_ASSERT_PTR_NULL(fp);
	snprintf(expect, sizeof expect, "%s: cannot read: a FIFO (named pipe), not a regular file", fifo);
	CU_ASSERT_STRING_EQUAL(err, expect);
	CU_ASSERT_EQUAL(lat_text_read(fifo, "model file", &text, err), LAT_EIO);
	CU_ASSERT_PTR_NULL(text);
	CU_ASSERT_STRING_EQUAL(err, expect);
	CU_ASSERT_EQUAL(lat_file_open(tmpdir, &fp, NULL, err), LAT_EIO);
	snprintf(expect, sizeof expect, "%s: cannot read: Is a directory", tmpdir);
	CU_ASSERT_STRING_EQUAL(err, expect);
	tmp_path(path, sizeof path, "missing");
	CU_ASSERT_EQUAL(lat_file_open(path, &fp, NULL, err), LAT_EIO);
	snprintf(expect, sizeof expect, "%s: cannot read: No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err, expect);
}

/* lat_err_sys: the reason of the failed call, EIO's when errno is 0. */
static void test_err_sys(void)
{
	char err[LAT_ERRLEN] = "";

	errno = ENOSPC;
	CU_ASSERT_EQUAL(lat_err_sys(err, "out/x.tsv", "write"), LAT_EIO);
	CU_ASSERT_STRING_EQUAL(err, "out/x.tsv: cannot write: No space left on device");
	errno = 0;
	lat_err_sys(err, "f", "sync");
	CU_ASSERT_STRING_EQUAL(err, "f: cannot sync: Input/output error");
}

/* FNV-1a against the published test vectors (the empty string is the offset basis), and continuing a
 * hash over a second piece equals hashing the whole. */
static void test_hash(void)
{
	CU_ASSERT_EQUAL(lat_hash(LAT_HASH_START, "", 0), 0xcbf29ce484222325ULL);
	CU_ASSERT_EQUAL(lat_hash(LAT_HASH_START, "a", 1), 0xaf63dc4c8601ec8cULL);
	CU_ASSERT_EQUAL(lat_hash(LAT_HASH_START, "foobar", 6), 0x85944171f73967e8ULL);
	CU_ASSERT_EQUAL(lat_hash(lat_hash(LAT_HASH_START, "foo", 3), "bar", 3), 0x85944171f73967e8ULL);
}

static CU_TestInfo io_tests[] = {
    {"tsv write then read is bit-exact", test_round_trip},
    {"comments and blank lines are skipped", test_comments_and_blanks},
    {"large files grow the buffer", test_large},
    {"malformed files name file and line", test_malformed},
    {"atomic files: abort and commit", test_afile},
    {"mkdir -p", test_mkdir_p},
    {"endless devices are refused", test_endless_device},
    {"lat_file_open: regular files only, FIFO refused at once", test_file_open},
    {"lat_err_sys: the system's reason", test_err_sys},
    {"lat_hash: FNV-1a test vectors", test_hash},
    CU_TEST_INFO_NULL,
};

static CU_SuiteInfo suites[] = {
    {.pName = "io", .pSetUpFunc = setup, .pTearDownFunc = teardown, .pTests = io_tests},
    CU_SUITE_INFO_NULL,
};

int main(void)
{
	return test_run(suites);
}
