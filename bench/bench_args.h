/* bench_args.h: the command line the C benchmarks share: [EXPERIMENT | -] [SEC.KEY=VAL ...]. */
#ifndef LATERAL_BENCH_ARGS_H
#define LATERAL_BENCH_ARGS_H

#include <string.h>

#include "lateral/err.h"
#include "lateral/experiment.h"

/* Fills e (initialised by the caller) from argv: an experiment file first unless it holds '=' (- or
 * nothing: the built-in experiment), then the assignments as `lateral train --set` applies them, then
 * finalises it. An IDX data set (MNIST, Fashion-MNIST) is required. Returns LAT_OK or an error with err. */
static inline int bench_experiment(int argc, char **argv, lat_experiment *e, char *err)
{
	int first = 1, rc = LAT_OK;

	if (argc > 1 && !strchr(argv[1], '=')) {
		first = 2;
		if (strcmp(argv[1], "-") != 0 && (rc = lat_experiment_load(e, argv[1], err)))
			return rc;
	}
	for (int i = first; i < argc; i++)
		if ((rc = lat_experiment_set(e, argv[i], err)))
			return rc;
	if ((rc = lat_experiment_finalize(e, err)))
		return rc;
	if (e->format != LAT_DATA_IDX)
		return lat_err_set(err, LAT_EINVAL, "only IDX data (MNIST, Fashion-MNIST) is used here");
	return LAT_OK;
}

#endif
