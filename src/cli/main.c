/* main.c: the lateral command line: dispatches subcommands and sets process-wide policy. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <gsl/gsl_errno.h>

#include "cli.h"

typedef struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} command;

static const command commands[] = {
    {"run", cmd_run, "convergence study of one pool: metrics, traces, summary, plots"},
    {"trace", cmd_trace, "dense rate trajectories of the first presentations"},
    {"validate", cmd_validate, "learned weights vs the closed-form W*, steady states vs analytic"},
    {"sweep", cmd_sweep, "the study over a grid of model keys (--vary section.key=v1,v2,...)"},
    {"check", cmd_check, "load and validate a model file (--print shows every resolved key)"},
    {"train", cmd_train, "train an LC or conv network on images, with weight-sharing phases"},
    {"eval", cmd_eval, "test accuracy of a training checkpoint"},
    {"export", cmd_export, "a training checkpoint's tensors as NumPy .npy files with a JSON index"},
    {NULL, NULL, NULL}};

static void help(FILE *fp)
{
	fprintf(fp, "Usage: lateral COMMAND [options] [MODEL]\n\n"
		    "Rate-circuit simulator for dynamic weight sharing: can pools of neurons become\n"
		    "convolutional through lateral inhibition and a local anti-Hebbian rule?\n\nCommands:\n");
	for (const command *c = commands; c->name; c++)
		fprintf(fp, "  %-9s %s\n", c->name, c->summary);
	fprintf(fp, "  help      this text; `lateral help COMMAND` for one command's options\n"
		    "\nOptions: --version, --help. MODEL is a libconfig file (see models/); without it the\n"
		    "built-in default model runs (N = 100, d = 9, tau = tau_inh = 30, alpha = 10, b = 1, gamma = 0.1).\n"
		    "Exit status: 0 success, 1 runtime failure, 2 usage or input error.\n");
}

static int dispatch(int argc, char **argv)
{
	const char *name;

	if (argc < 2) {
		help(stderr);
		return CLI_USAGE;
	}
	name = argv[1];
	if (!strcmp(name, "--version") || !strcmp(name, "version")) {
		printf("lateral %s\n", PACKAGE_VERSION);
		return CLI_OK;
	}
	if (!strcmp(name, "help") || !strcmp(name, "--help") || !strcmp(name, "-h")) {
		if (argc > 2 && strcmp(name, "help") == 0) {
			for (const command *c = commands; c->name; c++)
				if (!strcmp(c->name, argv[2])) {
					char *sub[] = {argv[2], "--help", NULL};
					return c->run(2, sub);
				}
			fprintf(stderr, "lateral: unknown command '%s'\n", argv[2]);
			return CLI_USAGE;
		}
		help(stdout);
		return CLI_OK;
	}
	for (const command *c = commands; c->name; c++)
		if (!strcmp(c->name, name)) {
			int rc;
			/* several ranks: a sweep shares out its runs and train its batches; anything else
			 * would run P copies */
			if (cli_mpi_size() > 1 && strcmp(name, "sweep") != 0 && strcmp(name, "train") != 0) {
				if (cli_mpi_rank() == 0)
					fprintf(stderr,
						"lateral %s: runs as one process: under mpirun only `lateral sweep` and "
						"`lateral train` spread their work over the ranks (start %s without mpirun, "
						"or with -np 1)\n",
						name, name);
				return CLI_USAGE;
			}
			cli_provenance_start(argc, argv);
			if (cli_mpi_rank() != 0)
				cli_provenance_off();
			rc = c->run(argc - 1, argv + 1);
			cli_provenance_end(rc);
			return rc;
		}
	fprintf(stderr, "lateral: unknown command '%s'\n", name);
	help(stderr);
	return CLI_USAGE;
}

int main(int argc, char **argv)
{
	int rc;

	/* GSL aborts on errors by default; lateral checks every status instead. */
	gsl_set_error_handler_off();
	if (cli_mpi_init(&argc, &argv))
		return CLI_FAIL;
	rc = dispatch(argc, argv);
	cli_mpi_finalize();
	return rc;
}
