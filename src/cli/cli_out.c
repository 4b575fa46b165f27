/* cli_out.c: summary.json and the gnuplot figures. */
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

void cli_json_put_string(FILE *fp, const char *v)
{
	fputc('"', fp);
	for (const char *p = v; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if ((unsigned char)*p < 0x20)
			fprintf(fp, "\\u%04x", (unsigned char)*p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

void cli_json_str(cli_json *j, const char *key, const char *v)
{
	json_key(j, key);
	cli_json_put_string(j->fp, v);
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

static char plot_caption[512];

void cli_plot_caption(const char *text)
{
	snprintf(plot_caption, sizeof plot_caption, "%s", text ? text : "");
}

/* Writes the script text to fp with its "set terminal pngcairo size W,H ..." line replaced by the
 * terminal of format (0 png, 1 pdf at 100 pixels per inch, 2 svg), followed by the caption label. */
static void put_script(FILE *fp, const char *text, int format)
{
	const char *t = strstr(text, "set terminal pngcairo size "), *eol;
	char quoted[1100];
	int w = 1000, h = 420;

	if (!t) {
		fputs(text, fp);
		return;
	}
	eol = strchr(t, '\n');
	sscanf(t, "set terminal pngcairo size %d,%d", &w, &h);
	fwrite(text, 1, (size_t)(t - text), fp);
	if (format == 1)
		fprintf(fp, "set terminal pdfcairo size %.2fin,%.2fin enhanced font 'sans,8'\n", w / 100.0, h / 100.0);
	else if (format == 2)
		fprintf(fp, "set terminal svg size %d,%d dynamic enhanced font 'sans,10'\n", w, h);
	else
		fprintf(fp, "%.*s\n", eol ? (int)(eol - t) : (int)strlen(t), t);
	if (plot_caption[0])
		fprintf(fp, "set label 999 %s at screen 0.995,0.012 right font ',8' tc rgb 'gray35' front noenhanced\n",
			cli_gp_quote(quoted, sizeof quoted, plot_caption));
	if (eol)
		fputs(eol + 1, fp);
}

int cli_plot(const cli_opts *o, const char *script, const char *png, const char *const *assign,
	     size_t n_assign)
{
	const char *text = cli_embedded_text(script), *prog = gnuplot_program();
	char tmp[4200], quoted[4300], out[4096];
	size_t len = strlen(png);
	int fds[2] = {-1, -1}, status = 0, rc = CLI_OK;
	pid_t pid;
	FILE *fp;

	if (o->no_plot)
		return CLI_OK;
	if (!text)
		return cli_fail(o->cmd, LAT_EINVAL, "internal error: plot script missing");
	snprintf(out, sizeof out, "%.*s%s", (int)(len > 4 && o->plot_format ? len - 4 : len), png,
		 o->plot_format == 1 ? ".pdf" : o->plot_format == 2 ? ".svg" : "");
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
		/* gnuplot's own chatter must not mix with lateral's stdout, nor show under -q */
		if (o->quiet) {
			int null = open("/dev/null", O_WRONLY);
			if (null >= 0) {
				dup2(null, 2);
				close(null);
			}
		}
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
	fprintf(fp, "out = %s\n", cli_gp_quote(quoted, sizeof quoted, tmp));
	put_script(fp, text, o->plot_format);
	fputc('\n', fp);
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
		fprintf(stderr, "lateral %s: cannot rename %s to %s: %s\n", o->cmd, tmp, out,
			strerror(errno));
		remove(tmp);
		rc = CLI_FAIL;
	}
	return rc;
}
