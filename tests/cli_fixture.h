/* cli_fixture.h: runs the built lateral binary from a test, capturing its exit status, stdout and stderr. */
#ifndef LATERAL_TEST_CLI_FIXTURE_H
#define LATERAL_TEST_CLI_FIXTURE_H

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CLI_FIXTURE_BUF 65536

/* What the last cli_fixture_run printed (NUL-terminated, truncated to the buffer). */
static char cli_out_text[CLI_FIXTURE_BUF], cli_err_text[CLI_FIXTURE_BUF];

/* A hang guard, not a time limit: when nonzero, the command gets SIGALRM after this many seconds (its
 * status is then -1), so that a command that blocks fails its test instead of stopping make check. */
static unsigned cli_fixture_alarm;

/* The build directory holding ./lateral: $top_builddir under make check, else ".". */
static inline const char *cli_fixture_builddir(void)
{
	const char *s = getenv("top_builddir");
	return s && *s ? s : ".";
}

static inline void cli_fixture_slurp(const char *path, char *buf)
{
	FILE *fp = fopen(path, "r");
	size_t n = fp ? fread(buf, 1, CLI_FIXTURE_BUF - 1, fp) : 0;
	buf[n] = 0;
	if (fp)
		fclose(fp);
}

/* Runs lateral with the n arguments of argv (scratch files for its output go to scratch, a directory);
 * returns its exit status, or -1 when it did not exit normally, and fills cli_out_text / cli_err_text. */
static inline int cli_fixture_runv(const char *scratch, size_t n, const char *const *args)
{
	char exe[512], outp[600], errp[600];
	const char *argv[64];
	int status = 0;
	pid_t pid;

	snprintf(exe, sizeof exe, "%s/lateral", cli_fixture_builddir());
	snprintf(outp, sizeof outp, "%s/stdout", scratch);
	snprintf(errp, sizeof errp, "%s/stderr", scratch);
	argv[0] = exe;
	for (size_t i = 0; i < n && i < 62; i++)
		argv[i + 1] = args[i];
	argv[n < 62 ? n + 1 : 63] = NULL;
	pid = fork();
	if (pid == 0) {
		int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fo, 1);
		dup2(fe, 2);
		if (cli_fixture_alarm)
			alarm(cli_fixture_alarm);
		execv(exe, (char *const *)argv);
		_exit(126);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	cli_fixture_slurp(outp, cli_out_text);
	cli_fixture_slurp(errp, cli_err_text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* cli_fixture_runv with a NULL-terminated argument list. */
static inline int cli_fixture_run(const char *scratch, const char *arg, ...)
{
	const char *args[62];
	size_t n = 0;
	va_list ap;

	va_start(ap, arg);
	for (const char *a = arg; a && n < 62; a = va_arg(ap, const char *))
		args[n++] = a;
	va_end(ap);
	return cli_fixture_runv(scratch, n, args);
}

#endif
