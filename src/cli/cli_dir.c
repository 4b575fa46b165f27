/* cli_dir.c: the output directory: its lock, its files written whole, stale temporaries and the memory plan.
 */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "size.h"

int cli_write_text(const char *path, const char *text, size_t len, char *err)
{
	lat_afile *f = lat_afile_open(path, err);
	if (!f)
		return LAT_EIO;
	if (len && fwrite(text, 1, len, lat_afile_fp(f)) != len) {
		int rc = lat_err_sys(err, path, "write");
		lat_afile_abort(f);
		return rc;
	}
	return lat_afile_commit(f, err);
}

int cli_memory_check(const cli_opts *o, size_t planned, const char *change)
{
	const char *what;
	char p[32], l[32];
	size_t limit = lat_mem_limit(o->max_memory, &what);

	if (planned <= limit)
		return CLI_OK;
	fprintf(stderr, "lateral %s: planned memory %s is more than %s (%s); %s, or raise --max-memory\n",
		o->cmd, lat_size_text(p, sizeof p, (double)planned), what,
		lat_size_text(l, sizeof l, (double)limit), change);
	return CLI_USAGE;
}

/* The output folder this process has locked (the descriptor of DIR/.lateral.lock, held open until the
 * process ends), and the topmost directory cli_outdir had to create for it (NULL: it existed). */
static int lock_fd = -1;
static int adopted; /* another rank holds the lock of the folder this process writes into */
static char *made_dir;

/* The topmost missing directory on the way to path (a new string), or NULL when path exists. */
static char *first_missing(const char *path)
{
	char *p = strdup(path), *top = NULL;
	struct stat st;

	while (p && *p && stat(p, &st) != 0 && errno == ENOENT) {
		char *slash = strrchr(p, '/');
		free(top);
		top = strdup(p);
		if (!slash || slash == p)
			break;
		*slash = '\0';
	}
	free(p);
	return top;
}

/* Removes dir and its parents up to top (a prefix of dir: the topmost one created for it); rmdir keeps a
 * directory that is not empty, and so stops there. */
static void remove_created(const char *dir, const char *top)
{
	char path[4096];
	size_t top_len = strlen(top);
	char *slash;

	snprintf(path, sizeof path, "%s", dir);
	while (strlen(path) >= top_len && rmdir(path) == 0 && strlen(path) > top_len) {
		slash = strrchr(path, '/');
		if (!slash)
			break;
		*slash = '\0';
	}
}

/* The files lateral writes at the top of an output folder (sweep also writes sweep_NN.png and run_NNN/). */
static const char *const known_outputs[] = {
    "metrics.tsv",	"trace.tsv",	  "summary.json",    "snr.png",	      "trace.png",    "inputs.tsv",
    "weights_init.tsv", "weights_final.tsv", "closed_form.tsv", "sweep.tsv",  "epochs.jsonl", "checkpoint.bin",
    "training.png",	"model.cfg",	  "experiment.cfg",  "provenance.jsonl", "run_state.bin", "sweep_state.bin",
    "weights.png",	"w_vs_wstar.tsv", "index.json",	     "input_norm.npy", "kernels.tsv", "kernels.png",
    NULL};

static int is_known_output(const char *name)
{
	size_t n = strlen(name);
	char png[256];

	/* a figure in another --plot-format is known by its PNG name */
	if (n > 4 && n < sizeof png && (!strcmp(name + n - 4, ".pdf") || !strcmp(name + n - 4, ".svg"))) {
		snprintf(png, sizeof png, "%.*s.png", (int)(n - 4), name);
		name = png;
	}

	for (const char *const *k = known_outputs; *k; k++)
		if (!strcmp(name, *k))
			return 1;
	return (n > 10 && !strncmp(name, "sweep_", 6) && !strcmp(name + n - 4, ".png")) ||
	       (n == 19 && !strncmp(name, "weights_", 8) && !strcmp(name + n - 4, ".tsv") &&
		strspn(name + 8, "0123456789") == 7);
}

/* "NAME.PID.tmp" with NAME one of lateral's outputs: a plot being written. */
static int is_plot_tmp(const char *nm)
{
	const char *dot = strchr(nm, '.'), *end = strrchr(nm, '.');
	char name[256];

	if (!dot || !end || strcmp(end, ".tmp"))
		return 0;
	dot = strchr(dot + 1, '.'); /* NAME has one dot ("snr.png") */
	if (!dot || dot == end || (size_t)(dot - nm) >= sizeof name)
		return 0;
	memcpy(name, nm, (size_t)(dot - nm));
	name[dot - nm] = '\0';
	for (const char *p = dot + 1; p < end; p++)
		if (*p < '0' || *p > '9')
			return 0;
	return is_known_output(name);
}

/* An output folder that existed. Without --resume or --force, one that holds anything but a lock file is
 * refused before anything is written (CLI_USAGE, the folder as it was); with --force (remove = 1, once
 * the folder is locked) the files lateral writes there are removed, so that no stale plot or state stays
 * beside the new results (other files and folders are kept). */
static int claim_existing(const cli_opts *o, int remove)
{
	DIR *d;
	struct dirent *de;
	char path[4096], first[256] = "", err[LAT_ERRLEN];
	size_t n = 0;
	int rc = CLI_OK;

	d = opendir(o->outdir);
	if (!d) {
		lat_err_sys(err, o->outdir, "read");
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
		return CLI_USAGE;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		/* the lock, and temporary files (".NAME.PID.XXXXXX" of the atomic writer, "NAME.PID.tmp" of a
		 * plot), are not results: cli_remove_stale cleans up those of writers that are gone */
		if (nm[0] == '.' || is_plot_tmp(nm))
			continue;
		if (remove) {
			if (is_known_output(nm) && unlink(cli_path(path, sizeof path, o->outdir, nm)) != 0 &&
			    errno != ENOENT) {
				lat_err_sys(err, path, "remove");
				fprintf(stderr, "lateral %s: --force: %s\n", o->cmd, err);
				rc = CLI_FAIL;
				break;
			}
			continue;
		}
		if (!n++)
			snprintf(first, sizeof first, "%s", nm);
	}
	closedir(d);
	if (!rc && n) {
		fprintf(stderr,
			"lateral %s: %s is not empty (%zu entr%s, e.g. %s): it holds the results of an earlier command, "
			"which were left as they are; choose a new directory with -o, %sor replace them with --force\n",
			o->cmd, o->outdir, n, n == 1 ? "y" : "ies", first,
			strcmp(o->cmd, "run") && strcmp(o->cmd, "sweep") && strcmp(o->cmd, "train")
			    ? ""
			    : "continue that command with --resume, ");
		rc = CLI_USAGE;
	}
	return rc;
}

/* The pid written into a lock file, or 0 when it cannot be read. */
static long lock_holder(int fd)
{
	char buf[32];
	ssize_t got = pread(fd, buf, sizeof buf - 1, 0);
	long pid;

	if (got <= 0)
		return 0;
	buf[got] = '\0';
	return sscanf(buf, "%ld", &pid) == 1 && pid > 0 ? pid : 0;
}

/* 1 when dir's lock file exists and another process holds it (the file is not created). */
static int lock_held(const char *dir)
{
	char path[4096];
	int fd = open(cli_path(path, sizeof path, dir, CLI_LOCK_FILE), O_RDONLY | O_CLOEXEC | O_NOFOLLOW), held;

	if (fd < 0)
		return 0;
	held = flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

int cli_outdir_clear(const cli_opts *o)
{
	return o->force && !o->resume ? claim_existing(o, 1) : CLI_OK;
}

void cli_outdir_adopt(void)
{
	adopted = 1;
}

int cli_outdir(const cli_opts *o)
{
	char err[LAT_ERRLEN], path[4096], text[32];
	struct stat st;
	char *top = NULL;
	long holder;
	int fd = -1, rc;

	if (lock_fd >= 0 || adopted) {
		/* a folder inside the locked one (a sweep's runs) */
		rc = lat_mkdir_p(o->outdir, err);
		if (rc)
			return cli_fail(o->cmd, LAT_EIO, err);
		return CLI_OK;
	}
	top = first_missing(o->outdir);
	/* a folder that existed must be empty, resumed or given up with --force; checked before the lock
	 * file is made, so that a refusal leaves it as it was (a folder another command holds is reported
	 * as in use, below) */
	if (!top && !o->resume && !o->force && stat(o->outdir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    !lock_held(o->outdir)) {
		rc = claim_existing(o, 0);
		if (rc)
			goto out;
	}
	rc = lat_mkdir_p(o->outdir, err);
	if (rc) {
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
		rc = CLI_USAGE;
		goto out;
	}
	fd = open(cli_path(path, sizeof path, o->outdir, CLI_LOCK_FILE),
		  O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (fd < 0) {
		lat_err_sys(err, o->outdir, "write in the output directory");
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
		rc = CLI_USAGE;
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		if (errno == EWOULDBLOCK) {
			holder = lock_holder(fd);
			if (holder)
				snprintf(text, sizeof text, " (pid %ld)", holder);
			else
				text[0] = '\0';
			fprintf(stderr,
				"lateral %s: %s: the output directory is in use by another lateral "
				"command%s; wait for "
				"it to finish or choose another directory with -o\n",
				o->cmd, o->outdir, text);
			rc = CLI_USAGE;
			goto out;
		}
		/* a file system without locks: go on, but say what is not guarded */
		lat_err_sys(err, path, "lock");
		fprintf(
		    stderr,
		    "lateral %s: note: %s; nothing stops a second command from writing into %s at the same "
		    "time\n",
		    o->cmd, err, o->outdir);
	}
	/* the pid is for the message of a refused command: failing to write it loses only that */
	snprintf(text, sizeof text, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, text, strlen(text), 0) < 0) {
	}
	lock_fd = fd;
	fd = -1;
	made_dir = top;
	top = NULL;
	rc = CLI_OK;
out:
	if (fd >= 0)
		close(fd);
	/* a refusal leaves no directory of its own behind */
	if (rc && top)
		remove_created(o->outdir, top);
	free(top);
	return rc;
}

void cli_outdir_discard(const cli_opts *o)
{
	char path[4096];

	if (lock_fd < 0)
		return;
	if (made_dir) {
		unlink(cli_path(path, sizeof path, o->outdir, CLI_LOCK_FILE));
		remove_created(o->outdir, made_dir);
	}
	close(lock_fd);
	lock_fd = -1;
	free(made_dir);
	made_dir = NULL;
}

char *cli_path(char *buf, size_t size, const char *dir, const char *name)
{
	snprintf(buf, size, "%s/%s", dir, name);
	return buf;
}

/* Whether the temporary file name `rest` (what follows "NAME." in it) belongs to a process that is gone:
 * "PID.XXXXXX" (lat_afile) or "PID.tmp" (cli_plot) with no process PID, or the older pid-less
 * forms "XXXXXX" and "tmp". afile selects the form. */
static int tmp_owner_gone(const char *rest, int afile)
{
	const char *suffix = afile ? NULL : "tmp";
	char *end;
	long pid;

	if (afile ? strlen(rest) == 6 && !strchr(rest, '.') : !strcmp(rest, suffix))
		return 1;
	errno = 0;
	pid = strtol(rest, &end, 10);
	if (end == rest || *end != '.' || errno || pid <= 0 ||
	    (afile ? strlen(end + 1) != 6 : strcmp(end + 1, suffix)))
		return 0;
	/* this process's own files are in flight; EPERM means the process exists */
	if (pid == (long)getpid())
		return 0;
	return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

void cli_remove_stale(const char *dir, const char *const *names)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		for (const char *const *nm = names; *nm; nm++) {
			size_t len = strlen(*nm);
			const char *dn = de->d_name;
			int afile_tmp = dn[0] == '.' && !strncmp(dn + 1, *nm, len) && dn[len + 1] == '.' &&
					tmp_owner_gone(dn + len + 2, 1);
			int plot_tmp =
			    !strncmp(dn, *nm, len) && dn[len] == '.' && tmp_owner_gone(dn + len + 1, 0);
			if (afile_tmp || plot_tmp) {
				unlink(cli_path(path, sizeof path, dir, dn));
				break;
			}
		}
	}
	closedir(d);
}
