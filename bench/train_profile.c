/* train_profile.c: where a training step spends its time, per layer (forward, backward-weights,
 * backward-data), in the optimiser and in zeroing the gradients.
 *
 * Usage: bench/train_profile [EXPERIMENT | -] [SEC.KEY=VAL ...]
 * Builds the network of EXPERIMENT (- or nothing: the built-in reference network on Fashion-MNIST) with
 * the assignments applied as `lateral train --set` does (e.g. network.locally_connected=true
 * train.threads=1), takes one batch of its training images, then times each part REPEATS times
 * (environment REPEATS, default 10) after one warm-up and prints the median milliseconds per batch.
 * backward-weights is a backward with din = NULL (parameters' gradients only), backward-data the full
 * backward minus that. Then a trainer of the same experiment (data limited to REPEATS + 1 batches)
 * times whole lat_trainer_step calls; what a step spends beyond the parts above (drawing and copying the
 * batch, the loss, the finiteness checks) is printed as "rest of a step". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lateral/data.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/net.h"
#include "lateral/optim.h"
#include "lateral/trainer.h"
#include "bench_args.h"

#define MAX_REPEATS 101
#define DATA "/usr/share/datasets/fashion-mnist/"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
	const char *reps_env = getenv("REPEATS");
	int reps = reps_env ? atoi(reps_env) : 10, status = 2;
	char err[LAT_ERRLEN] = "";
	lat_experiment e;
	lat_dataset d;
	lat_net *net = NULL;
	lat_optim *opt = NULL;
	float *act[LAT_MAX_LAYERS] = {NULL}, *grad[LAT_MAX_LAYERS] = {NULL};
	static double fwd[LAT_MAX_LAYERS][MAX_REPEATS], bw[LAT_MAX_LAYERS][MAX_REPEATS],
	    bd[LAT_MAX_LAYERS][MAX_REPEATS], topt[MAX_REPEATS], tzero[MAX_REPEATS];
	double total = 0;
	size_t n_layers = 0, batch;

	lat_experiment_init(&e);
	lat_dataset_init(&d);
	if (reps < 1 || reps > MAX_REPEATS - 1) {
		fprintf(stderr, "train_profile: REPEATS must be 1 to %d\n", MAX_REPEATS - 1);
		goto out;
	}
	if (bench_experiment(argc, argv, &e, err))
		goto out;
	batch = e.batch;
	/* as lateral train does: OpenMP threads in the layers, OpenBLAS single-threaded inside them */
	openblas_set_num_threads(1);
#ifdef _OPENMP
	omp_set_num_threads(e.threads ? (int)e.threads : omp_get_num_procs());
#endif
	if (lat_data_load_idx(e.train_images, e.train_labels, batch, &d, err))
		goto out;
	status = 1;
	if (d.n < batch) {
		lat_err_set(err, LAT_EINVAL, "only %zu images for a batch of %zu", d.n, batch);
		goto out;
	}
	{
		lat_net_opts o;
		lat_optim_opts oo;
		lat_experiment_net_opts(&e, &o);
		lat_experiment_optim_opts(&e, &oo);
		net = lat_net_alloc(&o, (lat_shape){d.c, d.h, d.w}, d.n_classes, batch, err);
		if (!net || lat_net_init(net, 1, err))
			goto out;
		opt = lat_optim_alloc(&oo, lat_net_n_params(net), err);
		if (!opt)
			goto out;
		/* per layer: its output and its input's gradient (both layer-sized, owned here) */
		n_layers = lat_net_n_layers(net);
		for (size_t i = 0; i < n_layers; i++) {
			lat_layer *l = lat_net_layer(net, i);
			act[i] = calloc(lat_shape_size(l->out) * batch, sizeof(float));
			grad[i] = calloc(lat_shape_size(l->in) * batch, sizeof(float));
			if (!act[i] || !grad[i]) {
				lat_err_set(err, LAT_ENOMEM, "out of memory");
				goto out;
			}
		}
	}
	/* repetition 0 warms up (first touch of every page, OpenMP threads) and is not counted */
	for (int r = 0; r <= reps; r++) {
		double t0;
		for (size_t i = 0; i < n_layers; i++) {
			lat_layer *l = lat_net_layer(net, i);
			t0 = now();
			if (l->type->forward(l, i ? act[i - 1] : d.x, act[i], batch, 1)) {
				lat_err_set(err, LAT_EINVAL, "layer %zu: forward failed", i + 1);
				goto out;
			}
			fwd[i][r] = now() - t0;
		}
		t0 = now();
		memset(lat_net_grads(net), 0, lat_net_n_params(net) * sizeof(float));
		tzero[r] = now() - t0;
		for (size_t i = n_layers; i-- > 0;) {
			lat_layer *l = lat_net_layer(net, i);
			const float *in = i ? act[i - 1] : d.x;
			/* the last layer's dout: its own output (any values do for timing) */
			const float *dout = i + 1 < n_layers ? grad[i + 1] : act[i];
			/* weights only (din NULL), then the full backward; back_data is the difference */
			t0 = now();
			if (l->type->backward(l, in, act[i], dout, NULL, batch))
				goto bad;
			bw[i][r] = now() - t0;
			t0 = now();
			if (i > 0 && l->type->backward(l, in, act[i], dout, grad[i], batch))
				goto bad;
			bd[i][r] = i > 0 ? now() - t0 - bw[i][r] : 0;
			continue;
		bad:
			lat_err_set(err, LAT_EINVAL, "layer %zu: backward failed", i + 1);
			goto out;
		}
		t0 = now();
		lat_optim_step(opt, lat_net_params(net), lat_net_grads(net), 1e-3);
		topt[r] = now() - t0;
	}
	printf("# %s, batch %zu, %d threads, median of %d repeats (ms per batch)\n",
	       argc > 1 && !strchr(argv[1], '=') ? argv[1] : "built-in experiment", batch,
#ifdef _OPENMP
	       omp_get_max_threads(),
#else
	       1,
#endif
	       reps);
	printf("%-3s %-8s %10s %12s %12s %10s\n", "#", "layer", "forward", "back_weights", "back_data", "sum");
	for (size_t i = 0; i < n_layers; i++) {
		double f = median(fwd[i] + 1, reps), w = median(bw[i] + 1, reps), dd = median(bd[i] + 1, reps);
		total += f + w + dd;
		printf("%-3zu %-8s %10.2f %12.2f %12.2f %10.2f\n", i + 1, lat_net_layer(net, i)->type->name,
		       1e3 * f, 1e3 * w, 1e3 * dd, 1e3 * (f + w + dd));
	}
	{
		double o = median(topt + 1, reps), z = median(tzero + 1, reps);
		total += o + z;
		printf("%-12s %47.2f\n", "optimizer", 1e3 * o);
		printf("%-12s %47.2f\n", "zero_grads", 1e3 * z);
		printf("%-12s %47.2f   (%.0f images/s; %zu parameters)\n", "total", 1e3 * total,
		       (double)batch / total, lat_net_n_params(net));
	}
	/* whole steps of a trainer of the same experiment: the first warms up, the rest are timed */
	lat_optim_free(opt);
	opt = NULL;
	lat_net_free(net);
	net = NULL;
	{
		lat_trainer *t;
		double steps[MAX_REPEATS], step;
		e.limit_train = batch * (size_t)(reps + 1);
		e.limit_test = batch;
		e.share_mode = LAT_SHARE_NONE;
		t = lat_experiment_trainer_alloc(&e, NULL, err);
		if (!t)
			goto out;
		lat_trainer_begin_epoch(t);
		for (int r = 0; r <= reps; r++) {
			double t0 = now();
			if (lat_trainer_step(t, err) != 1) {
				lat_trainer_free(t);
				goto out;
			}
			steps[r] = now() - t0;
		}
		lat_trainer_free(t);
		step = median(steps + 1, reps);
		printf("%-12s %47.2f\n", "rest of a step", 1e3 * (step - total));
		printf("%-12s %47.2f   (%.0f images/s)\n", "trainer step", 1e3 * step, (double)batch / step);
	}
	status = 0;
out:
	if (status)
		fprintf(stderr, "train_profile: %s\n", err);
	for (size_t i = 0; i < n_layers; i++) {
		free(act[i]);
		free(grad[i]);
	}
	lat_optim_free(opt);
	lat_net_free(net);
	lat_dataset_clear(&d);
	lat_experiment_clear(&e);
	return status;
}
