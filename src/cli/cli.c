/* cli.c: option parsing, model loading and the embedded texts of the subcommands. */
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

/* What the positional argument of cmd is. */
static const char *arg_name(const char *cmd)
{
	return !strcmp(cmd, "train") ? "EXPERIMENT" : !strcmp(cmd, "eval") ? "CHECKPOINT" : "MODEL";
}

static void usage(FILE *fp, const char *cmd, const char *summary, const char *default_outdir,
		  int model_required, const cli_extra *extra)
{
	/* what the positional argument is, an example override, and the footer, per command */
	int training = !strcmp(cmd, "train") || !strcmp(cmd, "eval");
	const char *arg = arg_name(cmd);

	fprintf(fp, "Usage: lateral %s %s%s%s [options]\n\n%s\n\nOptions:\n", cmd, model_required ? "" : "[", arg,
		model_required ? "" : "]", summary);
	if (default_outdir)
		fprintf(fp, "  -o, --output DIR       output directory (default: %s)\n", default_outdir);
	fprintf(fp, "  -s, --set SEC.KEY=VAL  override one %s key (repeatable), e.g. --set %s\n",
		training ? "experiment" : "model", training ? "train.lr=0.01" : "circuit.alpha=100");
	for (const cli_extra *e = extra; e && e->name; e++)
		fprintf(fp, "      --%s%s%*s%s\n", e->name, e->has_arg ? " ARG" : "",
			(int)(17 - strlen(e->name) - (e->has_arg ? 4 : 0)) > 0
			    ? (int)(17 - strlen(e->name) - (e->has_arg ? 4 : 0))
			    : 1,
			"", e->help);
	if (default_outdir) {
		fprintf(fp, "      --force            write into an output directory that is not empty, removing\n"
			    "                         the files lateral wrote there before (without it, such a\n"
			    "                         directory is refused%s)\n",
			strcmp(cmd, "run") && strcmp(cmd, "sweep") && strcmp(cmd, "train") ? "" : " unless --resume");
		fprintf(fp, "      --no-plot          write the data files only (no gnuplot)\n");
		fprintf(fp, "      --plot-format FMT  png (default), pdf or svg\n");
		fprintf(fp, "  -q, --quiet            no progress table on stdout, no gnuplot warnings on stderr\n");
		fprintf(fp, "      --solver-log       show the ODE solver's own diagnostics on stderr\n");
		fprintf(fp, "      --max-memory SIZE  refuse to start when the planned memory exceeds SIZE "
			    "(e.g. 4G,\n"
			    "                         512M; default: the memory available when the command "
			    "starts)\n");
	}
	fprintf(fp, "  -h, --help             this help\n");
	if (!strcmp(cmd, "train"))
		fprintf(fp, "\nWithout EXPERIMENT the built-in one is used (the reference network on Fashion-MNIST);\n"
			    "`lateral check --print --experiment` shows every key with its default value.\n");
	else if (!training)
		fprintf(fp, "\nWithout MODEL the built-in default model is used; `lateral check --print` shows every key\n"
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

/* The long options of a command into longopts (32 entries): --set and --help, the output options when the
 * command writes a directory, and the command's own (extra), numbered from 1000. */
static void long_options(struct option *longopts, int writes_dir, const cli_extra *extra)
{
	size_t n_long = 0, n_extra = 0;

	longopts[n_long++] = (struct option){"set", required_argument, NULL, 's'};
	longopts[n_long++] = (struct option){"help", no_argument, NULL, 'h'};
	if (writes_dir) {
		longopts[n_long++] = (struct option){"output", required_argument, NULL, 'o'};
		longopts[n_long++] = (struct option){"quiet", no_argument, NULL, 'q'};
		longopts[n_long++] = (struct option){"no-plot", no_argument, NULL, 'P'};
		longopts[n_long++] = (struct option){"solver-log", no_argument, NULL, 'L'};
		longopts[n_long++] = (struct option){"max-memory", required_argument, NULL, 'M'};
		longopts[n_long++] = (struct option){"force", no_argument, NULL, 'F'};
		longopts[n_long++] = (struct option){"plot-format", required_argument, NULL, 'G'};
	}
	for (const cli_extra *e = extra; e && e->name && n_long < 30; e++, n_extra++)
		longopts[n_long++] = (struct option){e->name, e->has_arg ? required_argument : no_argument, NULL,
						     1000 + (int)n_extra};
	longopts[n_long] = (struct option){NULL, 0, NULL, 0};
}

int cli_parse(int argc, char **argv, const char *cmd, const char *summary, const char *default_outdir,
	      int model_required, const cli_extra *extra, int (*on_extra)(const char *, const char *, void *),
	      void *ctx, cli_opts *o)
{
	struct option longopts[32];
	int c, idx;

	memset(o, 0, sizeof *o);
	o->cmd = cmd;
	o->outdir = default_outdir;
	long_options(longopts, default_outdir != NULL, extra);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, default_outdir ? "o:s:qh" : "s:h", longopts, &idx)) != -1) {
		switch (c) {
		case 'o':
			if (!*optarg) {
				fprintf(stderr,
					"lateral %s: -o: expected a directory name, got an empty string\n",
					cmd);
				return CLI_USAGE;
			}
			o->outdir = optarg;
			break;
		case 's':
			if (o->n_sets == CLI_MAX_SETS) {
				fprintf(stderr, "lateral %s: too many --set options (at most %d)\n", cmd,
					CLI_MAX_SETS);
				return CLI_USAGE;
			}
			o->sets[o->n_sets++] = optarg;
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'P':
			o->no_plot = 1;
			break;
		case 'L':
			o->solver_log = 1;
			break;
		case 'F':
			o->force = 1;
			break;
		case 'G':
			if (!strcmp(optarg, "png") || !strcmp(optarg, "pdf") || !strcmp(optarg, "svg")) {
				o->plot_format = !strcmp(optarg, "png") ? 0 : !strcmp(optarg, "pdf") ? 1 : 2;
				break;
			}
			fprintf(stderr, "lateral %s: --plot-format %s: expected png, pdf or svg\n", cmd, optarg);
			return CLI_USAGE;
		case 'M':
			if (parse_size(optarg, &o->max_memory)) {
				fprintf(stderr,
					"lateral %s: --max-memory %s: expected a size > 0 in bytes with an "
					"optional K, M, G "
					"or T suffix (powers of 1024), e.g. 4G\n",
					cmd, optarg);
				return CLI_USAGE;
			}
			break;
		case 'h':
			usage(stdout, cmd, summary, default_outdir, model_required, extra);
			return -1;
		case '?':
		case ':':
			if (optopt)
				fprintf(stderr, "lateral %s: option -%c %s\n", cmd, optopt,
					c == ':' || strchr("os", optopt) ? "needs an argument"
									 : "is unknown");
			else
				fprintf(stderr, "lateral %s: option '%s' is unknown or needs an argument\n",
					cmd, argv[optind - 1]);
			fprintf(stderr, "Try 'lateral %s --help'.\n", cmd);
			return CLI_USAGE;
		default:
			if (c >= 1000 && !strcmp(extra[c - 1000].name, "resume"))
				o->resume = 1;
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
		fprintf(stderr, "lateral %s: unexpected argument '%s' (one %s at most)\n", cmd, argv[optind],
			arg_name(cmd));
		return CLI_USAGE;
	}
	if (model_required && !o->model_path) {
		fprintf(stderr, "lateral %s: missing %s file\nTry 'lateral %s --help'.\n", cmd, arg_name(cmd), cmd);
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

unsigned long long cli_hash_more(unsigned long long h, const char *p, size_t len)
{
	return lat_hash(h, p, len);
}

unsigned long long cli_hash(const char *p, size_t len)
{
	return cli_hash_more(CLI_HASH_START, p, len);
}

static char last_error[LAT_ERRLEN + 256];
static int errors_quiet;

void cli_errors_quiet(int on)
{
	errors_quiet = on;
}

const char *cli_last_error(void)
{
	return last_error;
}

void cli_report(const char *cmd, const char *msg)
{
	snprintf(last_error, sizeof last_error, "lateral %s: %s", cmd, msg);
	if (!errors_quiet)
		fprintf(stderr, "%s\n", last_error);
}

int cli_fail(const char *cmd, int code, const char *msg)
{
	cli_report(cmd, msg && *msg ? msg : lat_strerror(code));
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
