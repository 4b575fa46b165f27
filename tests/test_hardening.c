/* test_hardening.c: the output-directory lock, memory-bounded data loading, non-regular inputs, output locations. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cblas.h>
#include <zlib.h>

#include "cli_fixture.h"
#include "idx_fixture.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/trainer.h"
#include "size.h"
#include "runner.h"

/* Hang guard for commands that must not block (a FIFO input): seconds before SIGALRM ends them. */
#define HANG_GUARD 60
/* Epochs of the first of two concurrent trainings: enough JSON lines to fill a one-page pipe. */
#define LONG_EPOCHS 40
/* The smallest pipe (one page): the first training blocks on it until the test reads its output. */
#define PIPE_BYTES 4096
/* The compressed bomb: images of 28 x 28 it announces (and holds, as zeros), and 1 MiB gzip members. */
#define BOMB_IMAGES 200000
#define BOMB_SIDE 28
#define BOMB_MEMBER (1 << 20)
/* Peak resident memory allowed for a command on the bomb (KiB): as floats, its images take 1.2 GB. */
#define BOMB_PEAK_KIB (48 * 1024)

static char scratch[256], exp_path[600];

static char *in_scratch(char *buf, size_t size, const char *name)
{
	snprintf(buf, size, "%s/%s", scratch, name);
	return buf;
}

static int exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static void touch(const char *path)
{
	FILE *fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fclose(fp);
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs(text, fp);
	fclose(fp);
}

/* The pid of a process that has ended (a child that exited and was reaped). */
static long dead_pid(void)
{
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(waitpid(pid, NULL, 0) == pid);
	return (long)pid;
}

static void expect_status(int rc, int want, const char *msg)
{
	CU_ASSERT_EQUAL(rc, want);
	if (rc != want || !strstr(cli_err_text, msg)) {
		fprintf(stderr, "\nstatus %d (expected %d)\n  got: %s\n  expected: %s\n", rc, want, cli_err_text, msg);
		CU_FAIL("wrong status or message");
	}
}

/* While the test holds the lock of a folder, every writing command is refused with exit 2, names the folder
 * and the holder's pid and leaves the folder as it was (a dead writer's temporary file included). Once the
 * lock is free, a command removes only the temporary files whose writer is gone. */
static void test_lock_held(void)
{
	char dir[600], lock[700], dead_tmp[700], live_tmp[700], other_tmp[700], expect[900];
	long dead = dead_pid();
	int fd, rc;

	in_scratch(dir, sizeof dir, "held");
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0777), 0);
	snprintf(lock, sizeof lock, "%s/.lateral.lock", dir);
	fd = open(lock, O_RDWR | O_CREAT, 0666);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL_FATAL(flock(fd, LOCK_EX | LOCK_NB), 0);
	CU_ASSERT_FATAL(dprintf(fd, "%ld\n", (long)getpid()) > 0);
	/* temporary files of run's outputs: one of a dead writer, one of a live one (this process) */
	snprintf(dead_tmp, sizeof dead_tmp, "%s/.metrics.tsv.%ld.Ab12Cd", dir, dead);
	snprintf(live_tmp, sizeof live_tmp, "%s/.summary.json.%ld.Ef34Gh", dir, (long)getpid());
	snprintf(other_tmp, sizeof other_tmp, "%s/snr.png.%ld.tmp", dir, dead);
	touch(dead_tmp);
	touch(live_tmp);
	touch(other_tmp);
	snprintf(expect, sizeof expect,
		 "%s: the output directory is in use by another lateral command (pid %ld); wait for it to finish or "
		 "choose another directory with -o",
		 dir, (long)getpid());

	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", dir, "--set", "run.presentations=2", NULL),
		      2, expect);
	expect_status(cli_fixture_run(scratch, "trace", "--no-plot", "-o", dir, "--set", "run.trace_presentations=1",
				      NULL),
		      2, expect);
	expect_status(cli_fixture_run(scratch, "validate", "--no-plot", "-o", dir, NULL), 2, expect);
	expect_status(cli_fixture_run(scratch, "sweep", "-q", "--no-plot", "-o", dir, "--vary", "circuit.neurons=2,3",
				      "--set", "run.presentations=2", NULL),
		      2, expect);
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", dir, exp_path, "--set", "train.epochs=1",
				      NULL),
		      2, expect);
	/* nothing was written or cleaned up */
	CU_ASSERT(exists(dead_tmp));
	CU_ASSERT(exists(live_tmp));
	CU_ASSERT(exists(other_tmp));
	{
		char p[700];
		snprintf(p, sizeof p, "%s/metrics.tsv", dir);
		CU_ASSERT(!exists(p));
		snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
		CU_ASSERT(!exists(p));
	}

	close(fd);
	rc = cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", dir, "--set", "run.presentations=2", NULL);
	CU_ASSERT_EQUAL(rc, 0);
	CU_ASSERT(!exists(dead_tmp));
	CU_ASSERT(!exists(other_tmp));
	CU_ASSERT(exists(live_tmp));
	test_remove_tree(dir);
}

/* Reads one line of fd (up to size - 1 bytes); returns its length, 0 at the end of the data. */
static size_t read_line_fd(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char c;

	while (n + 1 < size && read(fd, &c, 1) == 1) {
		buf[n++] = c;
		if (c == '\n')
			break;
	}
	buf[n] = '\0';
	return n;
}

/* Two trainings on one folder: the first one writes a checkpoint every epoch and blocks on its stdout (a
 * one-page pipe the test reads slowly), so it surely runs while the second one starts. The second is refused
 * with exit 2 naming the first one's pid, and the first one finishes with a complete checkpoint. */
static void test_two_trainings(void)
{
	char dir[600], errp[700], epochs[64], expect[900], line[4096], ckpt[700], err[LAT_ERRLEN] = "";
	char exe[600];
	int fds[2], status = 0, drained = 0;
	pid_t first;
	lat_experiment e;
	lat_trainer *t = NULL;

	in_scratch(dir, sizeof dir, "busy");
	in_scratch(errp, sizeof errp, "first.err");
	snprintf(epochs, sizeof epochs, "train.epochs=%d", LONG_EPOCHS);
	snprintf(exe, sizeof exe, "%s/lateral", cli_fixture_builddir());
	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	CU_ASSERT_FATAL(fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES) == PIPE_BYTES);
	first = fork();
	CU_ASSERT_FATAL(first >= 0);
	if (first == 0) {
		int fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fds[1], 1);
		dup2(fe, 2);
		close(fds[0]);
		close(fds[1]);
		execl(exe, exe, "train", "-q", "--no-plot", "-o", dir, exp_path, "--set", epochs, "--set",
		      "train.checkpoint_every=1", (char *)NULL);
		_exit(126);
	}
	close(fds[1]);
	/* its first epoch line: it holds the lock from before it read its data until it exits, and it cannot
	 * exit before the test has read all its lines */
	CU_ASSERT_FATAL(read_line_fd(fds[0], line, sizeof line) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "{\"epoch\": 1,"));

	snprintf(expect, sizeof expect, "%s: the output directory is in use by another lateral command (pid %ld)", dir,
		 (long)first);
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", dir, exp_path, "--set", "train.epochs=2",
				      NULL),
		      2, expect);
	/* a run is refused the same way */
	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", dir, "--set", "run.presentations=2", NULL),
		      2, expect);

	while (read_line_fd(fds[0], line, sizeof line) > 0)
		drained++;
	close(fds[0]);
	CU_ASSERT_EQUAL(drained, LONG_EPOCHS - 1);
	CU_ASSERT_EQUAL_FATAL(waitpid(first, &status, 0), first);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cli_fixture_slurp(errp, cli_err_text);
	CU_ASSERT_PTR_NULL(strstr(cli_err_text, "cannot"));

	/* its checkpoint is complete: it loads and holds every epoch */
	snprintf(ckpt, sizeof ckpt, "%s/checkpoint.bin", dir);
	lat_experiment_init(&e);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_load(&e, exp_path, err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_finalize(&e, err), LAT_OK);
	t = lat_experiment_trainer_alloc(&e, NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(lat_trainer_load(t, ckpt, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_trainer_epoch(t), LONG_EPOCHS);
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	test_remove_tree(dir);
}

/* Appends one gzip member holding len bytes of data to fp. Returns 0 or -1. */
static int gz_member(FILE *fp, const unsigned char *data, size_t len)
{
	z_stream zs;
	unsigned char *out;
	size_t cap;
	int ok;

	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
		return -1;
	cap = deflateBound(&zs, (uLong)len);
	out = malloc(cap);
	zs.next_in = (unsigned char *)data;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	ok = out && deflate(&zs, Z_FINISH) == Z_STREAM_END &&
	     fwrite(out, 1, cap - zs.avail_out, fp) == cap - zs.avail_out;
	deflateEnd(&zs);
	free(out);
	return ok ? 0 : -1;
}

/* A valid gzip IDX pair of BOMB_IMAGES zero images: a header member, then 1 MiB members of zeros (a
 * member compressed once and repeated), about 150 KB on disk for 157 MB of pixels. */
static void write_bomb(const char *images, const char *labels)
{
	unsigned char hdr[16] = {0, 0, 8, 3}, *zeros = calloc(BOMB_MEMBER, 1);
	char *member = NULL;
	size_t left = (size_t)BOMB_IMAGES * BOMB_SIDE * BOMB_SIDE, member_len = 0;
	FILE *fi = fopen(images, "wb"), *fl = fopen(labels, "wb"), *mem;

	CU_ASSERT_FATAL(fi && fl && zeros);
	hdr[4] = (unsigned char)(BOMB_IMAGES >> 24);
	hdr[5] = (unsigned char)(BOMB_IMAGES >> 16);
	hdr[6] = (unsigned char)(BOMB_IMAGES >> 8);
	hdr[7] = (unsigned char)BOMB_IMAGES;
	hdr[11] = hdr[15] = BOMB_SIDE;
	CU_ASSERT_FATAL(gz_member(fi, hdr, sizeof hdr) == 0);
	mem = open_memstream(&member, &member_len);
	CU_ASSERT_FATAL(mem && gz_member(mem, zeros, BOMB_MEMBER) == 0);
	fclose(mem);
	for (; left >= BOMB_MEMBER; left -= BOMB_MEMBER)
		CU_ASSERT_FATAL(fwrite(member, 1, member_len, fi) == member_len);
	CU_ASSERT_FATAL(gz_member(fi, zeros, left) == 0);
	hdr[3] = 1; /* labels: magic 0x801, the count, then the labels */
	CU_ASSERT_FATAL(gz_member(fl, hdr, 8) == 0);
	CU_ASSERT_FATAL(gz_member(fl, zeros, BOMB_IMAGES) == 0);
	fclose(fi);
	fclose(fl);
	free(member);
	free(zeros);
}

/* Runs lateral with args in a child process of its own and returns its exit status; *peak_kib receives
 * the largest resident set of the command (getrusage RUSAGE_CHILDREN in that child, whose only child is
 * the command). stderr goes to cli_err_text. */
static int run_measured(size_t n, const char *const *args, long *peak_kib)
{
	long res[2] = {-1, -1};
	int fds[2];
	pid_t pid;
	char errp[700];

	CU_ASSERT_EQUAL_FATAL(pipe(fds), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rusage ru;
		close(fds[0]);
		res[0] = cli_fixture_runv(scratch, n, args);
		getrusage(RUSAGE_CHILDREN, &ru);
		res[1] = ru.ru_maxrss;
		_exit(write(fds[1], res, sizeof res) == (ssize_t)sizeof res ? 0 : 1);
	}
	close(fds[1]);
	CU_ASSERT(read(fds[0], res, sizeof res) == (ssize_t)sizeof res);
	close(fds[0]);
	waitpid(pid, NULL, 0);
	cli_fixture_slurp(in_scratch(errp, sizeof errp, "stderr"), cli_err_text);
	*peak_kib = res[1];
	return (int)res[0];
}

/* A compressed bomb (valid gzip IDX of 150 KB that inflate to 157 MB of pixels, 628 MB as floats, used
 * as training and as test set) under --max-memory 64M: the
 * plan from the headers is refused with exit 2 before anything is inflated; with data.limit_train and
 * data.limit_test only the first images are read. Either way the peak stays far below what the files
 * announce. */
static void test_bomb_memory(void)
{
	char im[600], lb[600], cfg[600], out[600], text[4096], expect[512];
	/* both splits, as floats and int labels */
	double need = 2.0 * BOMB_IMAGES * (BOMB_SIDE * BOMB_SIDE * sizeof(float) + sizeof(int));
	long peak = -1;

	in_scratch(im, sizeof im, "bomb-images.gz");
	in_scratch(lb, sizeof lb, "bomb-labels.gz");
	in_scratch(cfg, sizeof cfg, "bomb.cfg");
	in_scratch(out, sizeof out, "bomb-out");
	write_bomb(im, lb);
	snprintf(text, sizeof text,
		 "data = { train_images = \"%s\"; train_labels = \"%s\"; test_images = \"%s\"; test_labels = \"%s\"; };\n"
		 "network = { layers = ( { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
		 "  { type = \"maxpool\"; size = 2; }, { type = \"linear\"; outputs = 10; } ); };\n"
		 "train = { epochs = 1; batch = 4; threads = 1; };\nsharing = { mode = \"none\"; };\n",
		 im, lb, im, lb);
	write_text(cfg, text);
	{
		const char *args[] = {"train", "-q", "--no-plot", "-o", out, cfg, "--max-memory", "64M"};
		CU_ASSERT_EQUAL(run_measured(sizeof args / sizeof args[0], args, &peak), 2);
		char need_text[32];
		snprintf(expect, sizeof expect,
			 "bomb.cfg: the data alone need %s (%d training and %d test images) before loading, more "
			 "than the --max-memory limit (64.0 MiB)",
			 lat_size_text(need_text, sizeof need_text, need), BOMB_IMAGES, BOMB_IMAGES);
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, expect));
		CU_ASSERT(peak > 0 && peak < BOMB_PEAK_KIB);
		CU_ASSERT(!exists(out));
		if (!(peak > 0 && peak < BOMB_PEAK_KIB))
			fprintf(stderr, "\npeak %ld KiB: %s\n", peak, cli_err_text);
	}
	{
		const char *args[] = {"train",	"--no-plot", "-o", out, cfg, "--max-memory", "64M", "--set",
				      "data.limit_train=16", "--set", "data.limit_test=16"};
		CU_ASSERT_EQUAL(run_measured(sizeof args / sizeof args[0], args, &peak), 0);
		CU_ASSERT_PTR_NOT_NULL(strstr(cli_err_text, "16 training and 16 test images"));
		CU_ASSERT(peak > 0 && peak < BOMB_PEAK_KIB);
		if (!(peak > 0 && peak < BOMB_PEAK_KIB))
			fprintf(stderr, "\npeak %ld KiB: %s\n", peak, cli_err_text);
	}
	test_remove_tree(out);
}

/* A FIFO without a writer as a model, a TSV or an IDX file is refused at once (exit 2, the file named),
 * not waited on: a command that blocked would be ended by the hang guard and fail. */
static void test_fifo_inputs(void)
{
	char fifo[600], cfg[600], out[600], text[1024], set[800], expect[800];

	in_scratch(fifo, sizeof fifo, "fifo");
	in_scratch(cfg, sizeof cfg, "fifo-input.cfg");
	in_scratch(out, sizeof out, "fifo-out");
	CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0666), 0);
	snprintf(expect, sizeof expect, "%s: cannot read: a FIFO (named pipe), not a regular file", fifo);
	cli_fixture_alarm = HANG_GUARD;

	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, fifo, NULL), 2, expect);
	expect_status(cli_fixture_run(scratch, "check", fifo, NULL), 2, expect);
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, fifo, NULL), 2, expect);
	snprintf(text, sizeof text, "circuit = { neurons = 2; inputs = 2; };\ninput = { file = \"%s\"; };\n", fifo);
	write_text(cfg, text);
	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, cfg, NULL), 2, expect);
	snprintf(text, sizeof text, "circuit = { neurons = 2; inputs = 2; };\nweights = { file = \"%s\"; };\n", fifo);
	write_text(cfg, text);
	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", out, cfg, NULL), 2, expect);
	snprintf(set, sizeof set, "data.train_images=\"%s\"", fifo);
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, exp_path, "--set", set, NULL), 2,
		      expect);
	snprintf(set, sizeof set, "data.test_labels=\"%s\"", fifo);
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", out, exp_path, "--set", set, NULL), 2,
		      expect);
	/* a character device that never ends is refused the same way */
	expect_status(cli_fixture_run(scratch, "check", "/dev/zero", NULL), 2,
		      "/dev/zero: cannot read: a character device, not a regular file");
	cli_fixture_alarm = 0;
	CU_ASSERT(!exists(out));
	unlink(fifo);
}

/* An impossible or unwritable output location is refused with exit 2 before any work (a training with
 * bad data reports the location, not the data), and so is -o ''. A refused training removes the folders
 * it created. */
static void test_output_location(void)
{
	char file[600], sub[700], lockdir[600], lockpath[700], deep[700], top[600], bad[4096], expect[800];

	in_scratch(file, sizeof file, "plain-file");
	touch(file);
	snprintf(sub, sizeof sub, "%s/sub", file);
	snprintf(expect, sizeof expect, "%s: cannot create directory: Not a directory", file);
	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", sub, "--set", "run.presentations=2", NULL),
		      2, expect);
	/* the location comes first: the truncated data are not looked at */
	snprintf(bad, sizeof bad, "%s/tests/bad/experiment/data_truncated.cfg", test_srcdir());
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", sub, bad, NULL), 2, expect);
	CU_ASSERT_PTR_NULL(strstr(cli_err_text, "truncated"));

	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", "", NULL), 2,
		      "lateral run: -o: expected a directory name, got an empty string");
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", "", exp_path, NULL), 2,
		      "lateral train: -o: expected a directory name, got an empty string");

	/* a folder in which the lock file cannot be created (here: a directory is in its place) */
	in_scratch(lockdir, sizeof lockdir, "nolock");
	snprintf(lockpath, sizeof lockpath, "%s/.lateral.lock", lockdir);
	CU_ASSERT_EQUAL_FATAL(mkdir(lockdir, 0777), 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(lockpath, 0777), 0);
	snprintf(expect, sizeof expect, "%s: cannot write in the output directory: Is a directory", lockdir);
	expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", lockdir, "--set", "run.presentations=2",
				      NULL),
		      2, expect);
	rmdir(lockpath);
	if (geteuid() != 0) { /* root writes anywhere */
		CU_ASSERT_EQUAL(chmod(lockdir, 0555), 0);
		snprintf(expect, sizeof expect, "%s: cannot write in the output directory: Permission denied", lockdir);
		expect_status(cli_fixture_run(scratch, "run", "-q", "--no-plot", "-o", lockdir, "--set",
					      "run.presentations=2", NULL),
			      2, expect);
		chmod(lockdir, 0755);
	}
	rmdir(lockdir);

	/* bad data after the folders were made: all three levels are removed again */
	in_scratch(top, sizeof top, "a");
	snprintf(deep, sizeof deep, "%s/b/c", top);
	expect_status(cli_fixture_run(scratch, "train", "-q", "--no-plot", "-o", deep, bad, NULL), 2, "truncated");
	CU_ASSERT(!exists(top));
}

static int setup(void)
{
	char text[2048];
	FILE *fp;

	openblas_set_num_threads(1);
	snprintf(scratch, sizeof scratch, "/tmp/lateral-test-hardening-XXXXXX");
	if (!mkdtemp(scratch))
		return -1;
	if (idx_write_pair(scratch, "train", 16, 1) || idx_write_pair(scratch, "test", 8, 2))
		return -1;
	snprintf(text, sizeof text,
		 "data = { train_images = \"%s/train-images\"; train_labels = \"%s/train-labels\";\n"
		 "  test_images = \"%s/test-images\"; test_labels = \"%s/test-labels\"; };\n"
		 "network = { layers = ( { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
		 "  { type = \"linear\"; outputs = 10; } ); };\n"
		 "train = { epochs = 2; batch = 4; threads = 1; };\nsharing = { mode = \"none\"; };\n",
		 scratch, scratch, scratch, scratch);
	snprintf(exp_path, sizeof exp_path, "%s/exp.cfg", scratch);
	fp = fopen(exp_path, "w");
	if (!fp)
		return -1;
	fputs(text, fp);
	return fclose(fp) == 0 ? 0 : -1;
}

static int teardown(void)
{
	test_remove_tree(scratch);
	return 0;
}

int main(void)
{
	CU_TestInfo tests[] = {{"a held lock refuses every writing command, exit 2", test_lock_held},
			       {"two trainings on one folder: the second refused, the first complete", test_two_trainings},
			       {"compressed bomb: peak memory bounded under --max-memory", test_bomb_memory},
			       {"FIFO and device inputs refused at once", test_fifo_inputs},
			       {"output location checked first; -o ''", test_output_location},
			       CU_TEST_INFO_NULL};
	CU_SuiteInfo suites[] = {{"hardening", setup, teardown, NULL, NULL, tests}, CU_SUITE_INFO_NULL};
	return test_run(suites);
}
