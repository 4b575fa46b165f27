/* cli_signal.c: SIGINT and SIGTERM, the command line to resume or rerun with, and the wall clock. */
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
	if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./,:=+@%-") ==
		      strlen(s)) {
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

void cli_rerun_hint(int argc, char **argv, const char *what, const char *const *sets, size_t n_sets,
		    int resume)
{
	int has_resume = 0;

	fprintf(stderr, "lateral %s: %s: ", argv[0], what);
	/* the same launch (a checkpoint or sweep state also continues with any other number of ranks) */
	if (cli_mpi_size() > 1)
		fprintf(stderr, "mpirun -np %d ", cli_mpi_size());
	fputs("lateral", stderr);
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

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
