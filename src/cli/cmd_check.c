/* cmd_check.c: `lateral check`: load and validate a model file without simulating. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lateral/err.h"

static int on_extra(const char *name, const char *arg, void *ctx)
{
	(void)arg;
	if (!strcmp(name, "print"))
		*(int *)ctx = 1;
	return 0;
}

int cmd_check(int argc, char **argv)
{
	static const char summary[] =
	    "Loads MODEL, applies the --set overrides and checks every key, size and referenced file,\n"
	    "without simulating. With --print, writes the complete resolved model (every key) to stdout;\n"
	    "`lateral check --print` without MODEL prints the built-in default model.";
	static const cli_extra extra[] = {{"print", 0, "print the resolved model in libconfig syntax"},
					  {NULL, 0, NULL}};
	cli_opts o;
	lat_model m;
	int print = 0, rc = cli_parse(argc, argv, "check", summary, NULL, 0, extra, on_extra, &print, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	if (!o.model_path && !print) {
		fprintf(stderr, "lateral check: missing MODEL file\nTry 'lateral check --help'.\n");
		return CLI_USAGE;
	}
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
