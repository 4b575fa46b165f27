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

int cmd_eval(int argc, char **argv)
{
	static const char summary[] =
	    "Evaluates CHECKPOINT (from `lateral train`) on the test set of its training run. The checkpoint\n"
	    "holds that run's resolved experiment and input normalisation, so nothing else is needed and the\n"
	    "accuracy is the one its training log shows. --set changes keys of that experiment (e.g.\n"
	    "--set data.test_images=FILE --set data.test_labels=FILE to evaluate on other data); --experiment\n"
	    "FILE replaces it. Prints one JSON line: checkpoint, epochs, test_acc, test_loss.";
	const char *experiment = NULL;
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	char err[LAT_ERRLEN];
	double acc, loss, *norm = NULL;
	int rc;

	rc = cli_parse(argc, argv, "eval", summary, NULL, 1, train_checkpoint_options, train_on_value, &experiment, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = train_from_checkpoint(&o, experiment, &e, &norm, &t);
	if (rc)
		goto out;
	if (lat_trainer_evaluate(t, 0, &acc, &loss, err)) {
		rc = train_fail(o.cmd, LAT_ECONFIG, err);
		goto out;
	}
	printf("{\"checkpoint\": ");
	cli_json_put_string(stdout, o.model_path);
	printf(", \"epochs\": %zu, \"test_acc\": %.4f, \"test_loss\": %.6f}\n", lat_trainer_epoch(t), acc, loss);
out:
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	free(norm);
	return rc;
}
