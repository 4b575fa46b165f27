/* cmd_eval.c: `lateral eval`: a checkpoint's accuracy on the test set. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"
#include "train.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"
#include "lateral/optim.h"
#include "lateral/trainer.h"
#include "size.h"

static int on_eval_extra(const char *name, const char *arg, void *ctx)
{
	(void)name;
	*(const char **)ctx = arg;
	return 0;
}

int cmd_eval(int argc, char **argv)
{
	static const char summary[] =
	    "Evaluates CHECKPOINT (from `lateral train`) on the test set of the experiment it was trained\n"
	    "with: give that experiment with --experiment FILE (default: the built-in one) and the same "
	    "--set\n"
	    "overrides that change the network. Prints one JSON line: test_acc, test_loss.";
	static const cli_extra extra[] = {{"experiment", 1, "the experiment file of the training run"},
					  {NULL, 0, NULL}};
	const char *experiment = NULL;
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	char err[LAT_ERRLEN];
	double acc, loss;
	int status, rc;

	rc = cli_parse(argc, argv, "eval", summary, NULL, 1, extra, on_eval_extra, &experiment, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	lat_experiment_init(&e);
	lat_experiment_clear(&e);
	{
		/* The positional argument is the checkpoint; the experiment comes from --experiment. */
		cli_opts eo = o;
		eo.model_path = experiment;
		rc = train_load_experiment(&eo, &e);
	}
	if (rc)
		goto out;
	train_set_threads(&e);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	if (!t) {
		rc = train_fail(o.cmd, status, err);
		goto out;
	}
	if (lat_trainer_load(t, o.model_path, err) || lat_trainer_evaluate(t, 0, &acc, &loss, err)) {
		rc = train_fail(o.cmd, LAT_ECONFIG, err);
		goto out;
	}
	printf("{\"checkpoint\": \"%s\", \"epochs\": %zu, \"test_acc\": %.4f, \"test_loss\": %.6f}\n",
	       o.model_path, lat_trainer_epoch(t), acc, loss);
out:
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	return rc;
}
