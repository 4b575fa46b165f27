/* cmd_check.c: `lateral check`: load and validate a model or experiment file without simulating. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <stdlib.h>

#include "cli.h"
#include "train.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"

/* bit 0: --print, bit 1: --experiment */
static int on_extra(const char *name, const char *arg, void *ctx)
{
	(void)arg;
	*(int *)ctx |= !strcmp(name, "print") ? 1 : 2;
	return 0;
}

/* An experiment file (or the built-in experiment): checked like `train` would, printed with --print. */
static int check_experiment(const cli_opts *o, int print)
{
	lat_experiment e;
	int rc = train_load_experiment(o, &e);

	if (rc)
		goto out;
	if (print) {
		if (lat_experiment_write(&e, stdout) || fflush(stdout) != 0) {
			char err[LAT_ERRLEN];
			lat_err_sys(err, "stdout", "write");
			fprintf(stderr, "lateral check: %s\n", err);
			rc = CLI_FAIL;
		}
	} else {
		printf("%s: ok (experiment: %zu layers%s, %zu epochs, batch %zu, sharing %s)\n",
		       e.source ? e.source : "<built-in experiment>", e.n_layers,
		       e.locally_connected ? ", locally connected" : "", e.epochs, e.batch,
		       lat_share_mode_name(e.share_mode));
	}
out:
	lat_experiment_clear(&e);
	return rc;
}

/* 1 when path holds an experiment rather than a model (an unreadable file is left to the model loader,
 * whose message names it). */
static int is_experiment(const char *path)
{
	char *text = NULL, err[LAT_ERRLEN];
	int yes = !lat_text_read(path, "file", &text, err) && lat_experiment_detect(text);

	free(text);
	return yes;
}

int cmd_check(int argc, char **argv)
{
	static const char summary[] =
	    "Loads MODEL (a model or an experiment file: one with a data, network, train or sharing\n"
	    "section is an experiment), applies the --set overrides and checks every key, size and\n"
	    "referenced file, without simulating. With --print, writes the complete resolved file (every\n"
	    "key) to stdout. Without MODEL the built-in default model is checked, or with --experiment the\n"
	    "built-in experiment of `lateral train`.";
	static const cli_extra extra[] = {{"print", 0, "print the resolved model or experiment in libconfig syntax"},
					  {"experiment", 0, "MODEL is an experiment file (the default when it has one of its sections)"},
					  {NULL, 0, NULL}};
	cli_opts o;
	lat_model m;
	int flags = 0, print, rc = cli_parse(argc, argv, "check", summary, NULL, 0, extra, on_extra, &flags, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	print = flags & 1;
	if ((flags & 2) || (o.model_path && is_experiment(o.model_path)))
		return check_experiment(&o, print);
	rc = cli_load_model(&o, NULL, NULL, 0, &m);
	if (rc)
		goto out;
	if (print) {
		if (lat_model_write(&m, stdout) || fflush(stdout) != 0) {
			char err[LAT_ERRLEN];
			lat_err_sys(err, "stdout", "write");
			fprintf(stderr, "lateral check: %s\n", err);
			rc = CLI_FAIL;
		}
	} else {
		printf("%s: ok (N = %zu, d = %zu, alpha = %g, gamma = %g, solver %s, %zu presentations)\n",
		       m.source, m.neurons, m.inputs, m.alpha, m.gamma, lat_method_name(m.method),
		       m.presentations);
	}
out:
	lat_model_clear(&m);
	return rc;
}
