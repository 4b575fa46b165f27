/* shard_memory.c: memory per rank and the losses of a network whose lc layers are split by location
 * over the MPI ranks (lat_lc_alloc_part), against the same network whole on one rank.
 *
 * Usage: mpirun -np P bench/shard_memory [EXPERIMENT | -] [SEC.KEY=VAL ...]   environment: STEPS=5
 * Builds the network of EXPERIMENT (- or nothing: the built-in one) with the assignments applied as
 * `lateral train --set` does (e.g. network.locally_connected=true), split into P parts (every lc layer
 * outside residual blocks; with network.shard=rows in strips of rows, the activations too), loads one
 * batch of its training images, and trains STEPS steps (AdamW, the
 * experiment's batch and learning rate) on that batch: forward (each lc part's outputs summed with
 * MPI_Allreduce), loss, backward (input gradients summed), optimiser step on the rank's own parameters.
 * Rank 0 prints the loss of every step (the same to float rounding for every P) and, per rank, the
 * parameters it holds, its maximum RSS before the network was built (program, libraries, MPI, the
 * batch) and at the end, and the difference: the network, its gradients, AdamW's moments, activations
 * and workspaces of this rank. Exit status 0, 1 on a failure (printed), 2 on bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <mpi.h>
#include <sys/resource.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "lateral/data.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/loss.h"
#include "lateral/net.h"
#include "lateral/optim.h"
#include "bench_args.h"

#define MAX_STEPS 1000

/* The net's sum over the parts: an allreduce over MPI_COMM_WORLD. */
static int mpi_sum(void *ctx, float *v, size_t n)
{
	(void)ctx;
	return n > (size_t)0x7fffffff || MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
}

static double max_rss_mib(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_SELF, &ru) ? -1 : (double)ru.ru_maxrss / 1024.0;
}

int main(int argc, char **argv)
{
	const char *steps_env = getenv("STEPS");
	int rank = 0, size = 1, status = 2, steps = steps_env ? atoi(steps_env) : 5;
	char err[LAT_ERRLEN] = "";
	lat_experiment e;
	lat_dataset d;
	lat_net *net = NULL;
	lat_optim *opt = NULL;
	float *dlogits = NULL;
	double losses[MAX_STEPS], rss0, rss1, mine[3], *all = NULL;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	lat_experiment_init(&e);
	lat_dataset_init(&d);
	if (steps < 1 || steps > MAX_STEPS) {
		lat_err_set(err, LAT_EINVAL, "STEPS must be 1 to %d, got %s", MAX_STEPS, steps_env);
		goto out;
	}
	if (bench_experiment(argc, argv, &e, err))
		goto out;
	openblas_set_num_threads(1);
#ifdef _OPENMP
	omp_set_num_threads(e.threads ? (int)e.threads : 1);
#endif
	if (lat_data_load_idx(e.train_images, e.train_labels, e.batch, &d, err))
		goto out;
	status = 1;
	if (d.n < e.batch) {
		lat_err_set(err, LAT_EINVAL, "only %zu images for a batch of %zu", d.n, e.batch);
		goto out;
	}
	rss0 = max_rss_mib();
	{
		lat_net_opts o;
		lat_optim_opts oo;
		lat_experiment_net_opts(&e, &o);
		lat_experiment_optim_opts(&e, &oo);
		o.shard_part = (size_t)rank;
		o.shard_parts = (size_t)size;
		o.shard_rows = e.shard == LAT_SHARD_ROWS; /* network.shard = "rows": in strips of rows */
		net = lat_net_alloc(&o, (lat_shape){d.c, d.h, d.w}, d.n_classes, e.batch, err);
		if (!net || lat_net_init(net, 1, err))
			goto out;
		lat_net_set_sum(net, mpi_sum, NULL);
		opt = lat_optim_alloc(&oo, lat_net_n_params(net), err);
		dlogits = malloc(e.batch * d.n_classes * sizeof *dlogits);
		if (!opt || !dlogits) {
			if (opt)
				lat_err_set(err, LAT_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (int s = 0; s < steps; s++) {
		const float *z = lat_net_forward(net, d.x, e.batch, 1, err);
		if (!z || lat_loss_softmax_xent(z, d.y, e.batch, d.n_classes, dlogits, &losses[s], NULL, err) ||
		    lat_net_backward(net, dlogits, e.batch, err))
			goto out;
		if (lat_optim_step(opt, lat_net_params(net), lat_net_grads(net), e.lr)) {
			lat_err_set(err, LAT_EDIVERGE, "step %d: a parameter became non-finite", s + 1);
			goto out;
		}
	}
	rss1 = max_rss_mib();
	mine[0] = (double)lat_net_n_params(net);
	mine[1] = rss0;
	mine[2] = rss1;
	all = rank == 0 ? malloc((size_t)size * sizeof mine) : NULL;
	if (rank == 0 && !all) {
		lat_err_set(err, LAT_ENOMEM, "out of memory");
		goto out;
	}
	MPI_Gather(mine, 3, MPI_DOUBLE, all, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD);
	if (rank == 0) {
		printf("# %d rank(s), lc layers split by location; batch %zu, %d steps on one batch\n", size, e.batch,
		       steps);
		printf("# loss per step:");
		for (int s = 0; s < steps; s++)
			printf(" %.7f", losses[s]);
		printf("\n%-5s %12s %14s %14s %14s\n", "rank", "parameters", "rss_before_MiB", "max_rss_MiB",
		       "network_MiB");
		for (int r = 0; r < size; r++)
			printf("%-5d %12.0f %14.1f %14.1f %14.1f\n", r, all[3 * r], all[3 * r + 1], all[3 * r + 2],
			       all[3 * r + 2] - all[3 * r + 1]);
	}
	status = 0;
out:
	if (status)
		fprintf(stderr, "shard_memory (rank %d of %d): %s\n", rank, size, err);
	free(all);
	free(dlogits);
	lat_optim_free(opt);
	lat_net_free(net);
	lat_dataset_clear(&d);
	lat_experiment_clear(&e);
	if (status)
		MPI_Abort(MPI_COMM_WORLD, status);
	MPI_Finalize();
	return status;
}
