/* cli_prov.c: what produced an output folder: the resolved input file and provenance.jsonl. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>
#include <gsl/gsl_version.h>
#include <libconfig.h>
#include <zlib.h>

#include "cli.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/layer.h"
#include "lateral/ode.h"

/* The invocation being recorded; dir is empty until a command begins the record. */
static struct {
	int argc;
	char **argv;
	time_t start;
	char dir[CLI_PATHLEN];
	char *before; /* provenance.jsonl as it was (earlier invocations), owned */
	int off;      /* another rank records this invocation */
} prov;

void cli_provenance_off(void)
{
	prov.off = 1;
}

void cli_provenance_start(int argc, char **argv)
{
	prov.argc = argc;
	prov.argv = argv;
	prov.start = time(NULL);
}

static void put_time(FILE *fp, time_t t)
{
	char buf[32];
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	cli_json_put_string(fp, buf);
}

/* This invocation as one JSON line; ended = 0: still running. */
static void put_record(FILE *fp, int status, int ended)
{
	struct utsname u;
	char cwd[CLI_PATHLEN], lc[32];

	fputs("{\"lateral\": ", fp);
	cli_json_put_string(fp, PACKAGE_VERSION);
	fputs(", \"argv\": [", fp);
	for (int i = 0; i < prov.argc; i++) {
		fputs(i ? ", " : "", fp);
		cli_json_put_string(fp, prov.argv[i]);
	}
	fputs("], \"cwd\": ", fp);
	cli_json_put_string(fp, getcwd(cwd, sizeof cwd) ? cwd : "");
	fputs(", \"start\": ", fp);
	put_time(fp, prov.start);
	fputs(", \"end\": ", fp);
	if (ended)
		put_time(fp, time(NULL));
	else
		fputs("null", fp);
	if (ended)
		fprintf(fp, ", \"exit_status\": %d", status);
	else
		fputs(", \"exit_status\": \"running\"", fp);
	if (uname(&u) == 0) {
		fputs(", \"host\": ", fp);
		cli_json_put_string(fp, u.nodename);
		fputs(", \"system\": ", fp);
		char sys[3 * sizeof u.sysname + 4];
		snprintf(sys, sizeof sys, "%s %s %s", u.sysname, u.release, u.machine);
		cli_json_put_string(fp, sys);
	}
	snprintf(lc, sizeof lc, "%d.%d.%d", LIBCONFIG_VER_MAJOR, LIBCONFIG_VER_MINOR, LIBCONFIG_VER_REVISION);
	fputs(", \"gsl\": ", fp);
	cli_json_put_string(fp, gsl_version);
	fputs(", \"sundials\": ", fp);
	cli_json_put_string(fp, lat_ode_sundials_version());
	fputs(", \"libconfig\": ", fp);
	cli_json_put_string(fp, lc);
	fputs(", \"openblas\": ", fp);
	cli_json_put_string(fp, openblas_get_config());
	fputs(", \"conv_gemm\": ", fp);
	cli_json_put_string(fp, lat_conv_gemm_name());
	fputs(", \"zlib\": ", fp);
	cli_json_put_string(fp, zlibVersion());
	if (cli_mpi_size() > 1)
		fprintf(fp, ", \"mpi_ranks\": %d", cli_mpi_size());
	fputs("}\n", fp);
}

/* Rewrites DIR/provenance.jsonl: the earlier lines, then this invocation's. */
static int write_log(int status, int ended, char *err)
{
	char path[CLI_PATHLEN];
	lat_afile *f = lat_afile_open(cli_path(path, sizeof path, prov.dir, "provenance.jsonl"), err);

	if (!f)
		return LAT_EIO;
	if (prov.before)
		fputs(prov.before, lat_afile_fp(f));
	put_record(lat_afile_fp(f), status, ended);
	return lat_afile_commit(f, err);
}

int cli_provenance_begin(const cli_opts *o, const char *name, const char *text, size_t len)
{
	char path[CLI_PATHLEN], err[LAT_ERRLEN];
	int rc;

	if (prov.dir[0] || prov.off)
		return CLI_OK; /* one record per invocation: the first folder (a sweep's runs are inside it) */
	if (cli_outdir_clear(o))
		return CLI_FAIL;
	rc = cli_write_text(cli_path(path, sizeof path, o->outdir, name), text, len, err);
	if (!rc) {
		snprintf(prov.dir, sizeof prov.dir, "%s", o->outdir);
		cli_path(path, sizeof path, o->outdir, "provenance.jsonl");
		/* a missing log is a new folder; a log that cannot be read is reported by the write below */
		if (access(path, F_OK) == 0)
			rc = lat_text_read(path, "provenance log", &prov.before, err);
	}
	if (!rc)
		rc = write_log(0, 0, err);
	if (rc) {
		prov.dir[0] = '\0';
		return cli_fail(o->cmd, rc, err);
	}
	return CLI_OK;
}

void cli_provenance_end(int status)
{
	char err[LAT_ERRLEN];

	if (prov.dir[0] && write_log(status, 1, err))
		fprintf(stderr, "lateral: %s\n", err);
	free(prov.before);
	prov.before = NULL;
	prov.dir[0] = '\0';
}
