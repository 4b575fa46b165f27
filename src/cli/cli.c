/* cli.c: option parsing, model loading, output files, JSON and gnuplot plumbing for the subcommands. */
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

const char *cli_embedded_text(const char *name)
{
	for (const cli_embedded *e = cli_embedded_files; e->name; e++)
		if (!strcmp(e->name, name))
			return e->text;
	return NULL;
}

static void usage(FILE *fp, const char *cmd, const char *summary, const char *default_outdir,
		  int model_required, const cli_extra *extra)
{
	fprintf(fp, "Usage: lateral %s %s [options]\n\n%s\n\nOptions:\n", cmd, model_required ? "MODEL" : "[MODEL]",
		summary);
	if (default_outdir)
		fprintf(fp, "  -o, --output DIR       output directory (default: %s)\n", default_outdir);
	fprintf(fp, "  -s, --set SEC.KEY=VAL  override one model key (repeatable), e.g. --set circuit.alpha=100\n");
	for (const cli_extra *e = extra; e && e->name; e++)
		fprintf(fp, "      --%s%s%*s%s\n", e->name, e->has_arg ? " ARG" : "",
			(int)(17 - strlen(e->name) - (e->has_arg ? 4 : 0)) > 0
			    ? (int)(17 - strlen(e->name) - (e->has_arg ? 4 : 0))
			    : 1,
			"", e->help);
	if (default_outdir) {
		fprintf(fp, "      --no-plot          write the data files only (no gnuplot)\n");
		fprintf(fp, "  -q, --quiet            no progress table on stdout\n");
		fprintf(fp, "      --solver-log       show the ODE solver's own diagnostics on stderr\n");
		fprintf(fp, "      --max-memory SIZE  refuse to start when the planned memory exceeds SIZE (e.g. 4G,\n"
			    "                         512M; default: the memory available when the command starts)\n");
	}
	fprintf(fp, "  -h, --help             this help\n\n"
		    "Without MODEL the built-in default model is used; `lateral check --print` shows every key\n"
		    "with its default value (the same as models/default.cfg).\n");
}

/* "4G", "512M", "1.5G", "100000" (bytes); suffixes K, M, G, T are powers of 1024, with an optional
 * "iB" or "B". */
static int parse_size(const char *s, size_t *bytes)
{
	static const char units[] = "KMGT", lower[] = "kmgt";
	char *end;
	double v, scale = 1;
	const char *u;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno || !(v > 0))
		return -1;
	if (*end && strchr(lower, *end))
		u = units + (strchr(lower, *end) - lower);
	else
		u = *end ? strchr(units, *end) : NULL;
	if (u) {
		for (const char *q = units; q <= u; q++)
			scale *= 1024;
		end++;
		if (!strcmp(end, "iB") || !strcmp(end, "B"))
			end += strlen(end);
	} else if (!strcmp(end, "B")) {
		end++;
	}
	if (*end || !(v * scale >= 1) || v * scale >= 0x1p63)
		return -1;
	*bytes = (size_t)(v * scale);
	return 0;
}

int cli_parse(int argc, char **argv, const char *cmd, const char *summary, const char *default_outdir,
	      int model_required, const cli_extra *extra, int (*on_extra)(const char *, const char *, void *),
	      void *ctx, cli_opts *o)
{
	struct option longopts[32];
	size_t n_long = 0, n_extra = 0;
	int c, idx;

	memset(o, 0, sizeof *o);
	o->cmd = cmd;
	o->outdir = default_outdir;
	longopts[n_long++] = (struct option){"set", required_argument, NULL, 's'};
	longopts[n_long++] = (struct option){"help", no_argument, NULL, 'h'};
	if (default_outdir) {
		longopts[n_long++] = (struct option){"output", required_argument, NULL, 'o'};
		longopts[n_long++] = (struct option){"quiet", no_argument, NULL, 'q'};
		longopts[n_long++] = (struct option){"no-plot", no_argument, NULL, 'P'};
		longopts[n_long++] = (struct option){"solver-log", no_argument, NULL, 'L'};
		longopts[n_long++] = (struct option){"max-memory", required_argument, NULL, 'M'};
	}
	for (const cli_extra *e = extra; e && e->name && n_long < 30; e++, n_extra++)
		longopts[n_long++] = (struct option){e->name, e->has_arg ? required_argument : no_argument, NULL,
						     1000 + (int)n_extra};
	longopts[n_long] = (struct option){NULL, 0, NULL, 0};

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, default_outdir ? "o:s:qh" : "s:h", longopts, &idx)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg) {
				fprintf(stderr, "lateral %s: -o: expected a directory name, got an empty string\n", cmd);
				return CLI_USAGE;
			}
			o->outdir = optarg;
			break;
		case 's':
			if (o->n_sets == CLI_MAX_SETS) {
				fprintf(stderr, "lateral %s: too many --set options (at most %d)\n", cmd, CLI_MAX_SETS);
				return CLI_USAGE;
			}
			o->sets[o->n_sets++] = optarg;
			break;
		case 'q': o->quiet = 1; break;
		case 'P': o->no_plot = 1; break;
		case 'L': o->solver_log = 1; break;
		case 'M':
			if (parse_size(optarg, &o->max_memory)) {
				fprintf(stderr,
					"lateral %s: --max-memory %s: expected a size > 0 in bytes with an optional K, M, G "
					"or T suffix (powers of 1024), e.g. 4G\n",
					cmd, optarg);
				return CLI_USAGE;
			}
			break;
		case 'h': usage(stdout, cmd, summary, default_outdir, model_required, extra); return -1;
		case '?':
		case ':':
			if (optopt)
				fprintf(stderr, "lateral %s: option -%c %s\n", cmd, optopt,
					c == ':' || strchr("os", optopt) ? "needs an argument" : "is unknown");
			else
				fprintf(stderr, "lateral %s: option '%s' is unknown or needs an argument\n", cmd,
					argv[optind - 1]);
			fprintf(stderr, "Try 'lateral %s --help'.\n", cmd);
			return CLI_USAGE;
		default:
			if (c >= 1000 && on_extra) {
				int rc = on_extra(extra[c - 1000].name, optarg, ctx);
				if (rc)
					return rc;
			}
			break;
		}
	}
	if (optind < argc)
		o->model_path = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "lateral %s: unexpected argument '%s' (one MODEL at most)\n",
			cmd, argv[optind]);
		return CLI_USAGE;
	}
	if (model_required && !o->model_path) {
		fprintf(stderr, "lateral %s: missing MODEL file\nTry 'lateral %s --help'.\n", cmd, cmd);
		return CLI_USAGE;
	}
	return 0;
}

char *cli_model_text(const lat_model *m, size_t *len)
{
	char *text = NULL;
	FILE *fp = open_memstream(&text, len);
	if (!fp)
		return NULL;
	lat_model_write(m, fp);
	fclose(fp);
	return text;
}

unsigned long long cli_hash(const char *p, size_t len)
{
	unsigned long long h = 14695981039346656037ULL;
	for (size_t k = 0; k < len; k++) {
		h ^= (unsigned char)p[k];
		h *= 1099511628211ULL;
	}
	return h;
}

int cli_fail(const char *cmd, int code, const char *msg)
{
	fprintf(stderr, "lateral %s: %s\n", cmd, msg && *msg ? msg : lat_strerror(code));
	return code == LAT_ECONFIG || code == LAT_EINVAL ? CLI_USAGE : CLI_FAIL;
}

int cli_load_model(const cli_opts *o, const char *fallback, const char **extra_sets, size_t n_extra,
		   lat_model *m)
{
	char err[LAT_ERRLEN] = "";
	int rc = LAT_OK;

	lat_model_init(m);
	if (o->model_path) {
		rc = lat_model_load(m, o->model_path, err);
	} else if (fallback) {
		char name[128];
		const char *text = cli_embedded_text(fallback);
		snprintf(name, sizeof name, "<built-in %s>", fallback);
		rc = text ? lat_model_load_string(m, text, name, err)
			  : lat_err_set(err, LAT_EINVAL, "no built-in model %s", fallback);
	}
	for (size_t k = 0; !rc && k < n_extra; k++)
		rc = lat_model_set(m, extra_sets[k], err);
	for (size_t k = 0; !rc && k < o->n_sets; k++)
		rc = lat_model_set(m, o->sets[k], err);
	if (!rc)
		rc = lat_model_finalize(m, err);
	if (rc) {
		/* Every failure here is the user's input: a file that cannot be read counts too. */
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
		return CLI_USAGE;
	}
	return CLI_OK;
}

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

int cli_outdir(const cli_opts *o)
{
	char err[LAT_ERRLEN], path[4096], text[32];
	char *top = NULL;
	long holder;
	int fd = -1, rc;

	if (lock_fd >= 0) {
		/* a folder inside the locked one (a sweep's runs) */
		rc = lat_mkdir_p(o->outdir, err);
		if (rc)
			return cli_fail(o->cmd, LAT_EIO, err);
		return CLI_OK;
	}
	top = first_missing(o->outdir);
	rc = lat_mkdir_p(o->outdir, err);
	if (rc) {
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
		rc = CLI_USAGE;
		goto out;
	}
	fd = open(cli_path(path, sizeof path, o->outdir, CLI_LOCK_FILE), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  0666);
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
				"lateral %s: %s: the output directory is in use by another lateral command%s; wait for "
				"it to finish or choose another directory with -o\n",
				o->cmd, o->outdir, text);
			rc = CLI_USAGE;
			goto out;
		}
		/* a file system without locks: go on, but say what is not guarded */
		lat_err_sys(err, path, "lock");
		fprintf(stderr, "lateral %s: note: %s; nothing stops a second command from writing into %s at the same "
			"time\n", o->cmd, err, o->outdir);
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

static volatile sig_atomic_t interrupted;

static void on_stop_signal(int sig)
{
	if (interrupted) {
		/* Second request: stop now, as the default action would. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	interrupted = sig;
}

void cli_signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_interrupted(void)
{
	return (int)interrupted;
}

const char *cli_signal_name(int sig)
{
	static char buf[32];
	if (sig == SIGINT)
		return "SIGINT";
	if (sig == SIGTERM)
		return "SIGTERM";
	snprintf(buf, sizeof buf, "signal %d", sig);
	return buf;
}

/* Writes s for a POSIX shell: as it is when every character is safe, else in single quotes. */
static void shell_word(FILE *fp, const char *s)
{
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./,:=+@%-") == strlen(s)) {
		fputs(s, fp);
		return;
	}
	fputc('\'', fp);
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", fp);
		else
			fputc(*s, fp);
	fputc('\'', fp);
}

void cli_rerun_hint(int argc, char **argv, const char *what, const char *const *sets, size_t n_sets, int resume)
{
	int has_resume = 0;

	fprintf(stderr, "lateral %s: %s: lateral", argv[0], what);
	for (int k = 0; k < argc; k++) {
		fputc(' ', stderr);
		shell_word(stderr, argv[k]);
		has_resume |= !strcmp(argv[k], "--resume");
	}
	for (size_t k = 0; k < n_sets; k++) {
		fputs(" --set ", stderr);
		shell_word(stderr, sets[k]);
	}
	if (resume && !has_resume)
		fputs(" --resume", stderr);
	fputc('\n', stderr);
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
	if (end == rest || *end != '.' || errno || pid <= 0 || (afile ? strlen(end + 1) != 6 : strcmp(end + 1, suffix)))
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
			int plot_tmp = !strncmp(dn, *nm, len) && dn[len] == '.' && tmp_owner_gone(dn + len + 1, 0);
			if (afile_tmp || plot_tmp) {
				unlink(cli_path(path, sizeof path, dir, dn));
				break;
			}
		}
	}
	closedir(d);
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_json_begin(cli_json *j, FILE *fp)
{
	j->fp = fp;
	j->n = 0;
	fputs("{", fp);
}

static void json_key(cli_json *j, const char *key)
{
	fprintf(j->fp, "%s\n  \"%s\": ", j->n++ ? "," : "", key);
}

void cli_json_num(cli_json *j, const char *key, double v)
{
	json_key(j, key);
	if (isfinite(v)) {
		/* the shortest of %.15g..%.17g that reads back to the same double */
		char buf[40];
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(buf, sizeof buf, "%.*g", prec, v);
			if (strtod(buf, NULL) == v)
				break;
		}
		fputs(buf, j->fp);
	} else {
		fputs("null", j->fp);
	}
}

void cli_json_int(cli_json *j, const char *key, long v)
{
	json_key(j, key);
	fprintf(j->fp, "%ld", v);
}

void cli_json_str(cli_json *j, const char *key, const char *v)
{
	json_key(j, key);
	fputc('"', j->fp);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(j->fp, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			fprintf(j->fp, "\\u%04x", (unsigned char)*p);
		else
			fputc(*p, j->fp);
	}
	fputc('"', j->fp);
}

void cli_json_end(cli_json *j)
{
	fputs("\n}\n", j->fp);
}

char *cli_gp_quote(char *buf, size_t size, const char *s)
{
	size_t k = 0;
	if (size < 3)
		return NULL;
	buf[k++] = '\'';
	for (; *s && k + 3 < size; s++) {
		if (*s == '\'')
			buf[k++] = '\''; /* gnuplot: '' inside single quotes is one quote */
		buf[k++] = *s;
	}
	buf[k++] = '\'';
	buf[k] = 0;
	return buf;
}

/* The gnuplot program: $LATERAL_GNUPLOT, else the one configure found, else "gnuplot" on PATH. */
static const char *gnuplot_program(void)
{
	const char *env = getenv("LATERAL_GNUPLOT");
	if (env)
		return env;
#ifdef GNUPLOT_PATH
	if (access(GNUPLOT_PATH, X_OK) == 0)
		return GNUPLOT_PATH;
#endif
	return "gnuplot";
}

int cli_plot(const cli_opts *o, const char *script, const char *out, const char *const *assign, size_t n_assign)
{
	const char *text = cli_embedded_text(script), *prog = gnuplot_program();
	char tmp[4096], quoted[4200];
	int fds[2] = {-1, -1}, status = 0, rc = CLI_OK;
	pid_t pid;
	FILE *fp;

	if (o->no_plot)
		return CLI_OK;
	if (!text)
		return cli_fail(o->cmd, LAT_EINVAL, "internal error: plot script missing");
	snprintf(tmp, sizeof tmp, "%s.%ld.tmp", out, (long)getpid());
	if (pipe(fds))
		return cli_fail(o->cmd, LAT_EIO, "cannot start gnuplot (pipe failed)");
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return cli_fail(o->cmd, LAT_EIO, "cannot start gnuplot (fork failed)");
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		/* gnuplot's own chatter must not mix with lateral's stdout. */
		dup2(2, 1);
		execlp(prog, prog, "-", (char *)NULL);
		_exit(127);
	}
	close(fds[0]);
	signal(SIGPIPE, SIG_IGN);
	fp = fdopen(fds[1], "w");
	if (!fp) {
		close(fds[1]);
		waitpid(pid, &status, 0);
		return cli_fail(o->cmd, LAT_EIO, "cannot talk to gnuplot");
	}
	for (size_t k = 0; k < n_assign; k++)
		fprintf(fp, "%s\n", assign[k]);
	fprintf(fp, "out = %s\n%s\n", cli_gp_quote(quoted, sizeof quoted, tmp), text);
	fclose(fp);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		fprintf(stderr,
				"lateral %s: note: gnuplot not found (install gnuplot-nox); %s was not drawn\n",
				o->cmd, out);
		remove(tmp);
		return CLI_OK;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "lateral %s: gnuplot failed to draw %s\n", o->cmd, out);
		remove(tmp);
		return CLI_FAIL;
	}
	/* gnuplot does not sync: a PNG renamed before it reaches the disk could be empty after a crash. */
	{
		int fd = open(tmp, O_RDONLY);
		if (fd < 0 || fsync(fd) != 0) {
			fprintf(stderr, "lateral %s: cannot sync %s: %s\n", o->cmd, tmp, strerror(errno));
			if (fd >= 0)
				close(fd);
			remove(tmp);
			return CLI_FAIL;
		}
		close(fd);
	}
	if (rename(tmp, out)) {
		fprintf(stderr, "lateral %s: cannot rename %s to %s: %s\n", o->cmd, tmp, out, strerror(errno));
		remove(tmp);
		rc = CLI_FAIL;
	}
	return rc;
}
