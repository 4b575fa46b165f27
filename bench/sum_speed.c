/* sum_speed.c: lateral's sums over ranks for large vectors (cli_shm_sum, which cli_mpi_sum_float runs
 * from 1024 values on when all ranks share the machine, and cli_ring_sum, which it runs otherwise)
 * against MPI_Allreduce with MPI_SUM, the MPI library's own collective, on the same vector in one run.
 *
 * Usage: mpirun -np P bench/sum_speed [N (10731402: the reference LC network's gradients)] [REPEATS (9)]
 * Every repeat refills the vectors and times each sum between barriers (and the shared-memory sum's
 * halves, the split optimiser step's exchanges, on the summed vector); the values where a result
 * differs from MPI_Allreduce's are counted (none on 2 ranks, where a sum of two terms has one order).
 * Prints the medians in milliseconds (rank 0). */
#include <config.h>

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/cli.h"
#include "../src/cli/cli_ring.h"

#define MAX_REPEATS 101

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Milliseconds of one sum f of v between barriers (the slowest rank's). */
static double timed(int (*f)(void *ctx, float *v, size_t n), void *ctx, float *v, size_t n)
{
	double t0;
	MPI_Barrier(MPI_COMM_WORLD);
	t0 = MPI_Wtime();
	if (f(ctx, v, n))
		MPI_Abort(MPI_COMM_WORLD, 1);
	MPI_Barrier(MPI_COMM_WORLD);
	return 1e3 * (MPI_Wtime() - t0);
}

static int ring(void *ctx, float *v, size_t n)
{
	return cli_ring_sum(MPI_COMM_WORLD, v, n, 0, ctx);
}

static int shm(void *ctx, float *v, size_t n)
{
	return cli_shm_sum(ctx, v, n, 0);
}

static int shm_rs(void *ctx, float *v, size_t n)
{
	return cli_shm_reduce_scatter(ctx, v, n, 0);
}

static int shm_ag(void *ctx, float *v, size_t n)
{
	return cli_shm_allgather(ctx, v, n, 0);
}

static int mpi(void *ctx, float *v, size_t n)
{
	(void)ctx;
	return MPI_Allreduce(MPI_IN_PLACE, v, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS;
}

/* values of a and b whose bits differ */
static size_t count_differ(const float *a, const float *b, size_t n)
{
	size_t d = 0;
	for (size_t i = 0; i < n; i++)
		d += memcmp(&a[i], &b[i], sizeof *a) != 0;
	return d;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10731402, d_ring = 0, d_shm = 0;
	int repeats = argc > 2 ? atoi(argv[2]) : 9, rank, size, status = 1;
	double t[5][MAX_REPEATS];
	float *v[3] = {NULL, NULL, NULL};
	void *scratch = NULL;
	cli_shm *sh = NULL;

	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 1;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (size < 2) {
		fprintf(stderr, "sum_speed: run it under mpirun with 2 or more ranks\n");
		status = 2;
		goto out;
	}
	if (n < 1 || n > (size_t)1 << 31 || repeats < 1 || repeats > MAX_REPEATS) {
		fprintf(stderr, "sum_speed: N in 1 .. 2^31 and REPEATS in 1 .. %d\n", MAX_REPEATS);
		status = 2;
		goto out;
	}
	for (int j = 0; j < 3; j++)
		v[j] = malloc(n * sizeof *v[j]);
	scratch = malloc(CLI_RING_SEG_BYTES);
	if (!v[0] || !v[1] || !v[2] || !scratch || cli_shm_alloc(MPI_COMM_WORLD, &sh)) {
		fprintf(stderr, "sum_speed: out of memory for 3 x %zu floats\n", n);
		goto out;
	}
	if (!sh) {
		fprintf(stderr, "sum_speed: the ranks are not all on one machine (no shared memory)\n");
		status = 2;
		goto out;
	}
	for (int k = 0; k < repeats; k++) {
		for (size_t i = 0; i < n; i++)
			v[0][i] = v[1][i] = v[2][i] = (float)(i % 1000) * 1e-3f + 0.37f * (float)rank;
		t[0][k] = timed(shm, sh, v[0], n);
		t[1][k] = timed(ring, scratch, v[1], n);
		t[2][k] = timed(mpi, NULL, v[2], n);
		d_shm = count_differ(v[0], v[2], n);
		d_ring = count_differ(v[1], v[2], n);
		t[3][k] = timed(shm_rs, sh, v[0], n);
		t[4][k] = timed(shm_ag, sh, v[0], n);
	}
	for (int j = 0; j < 5; j++)
		qsort(t[j], (size_t)repeats, sizeof *t[j], cmp_double);
	if (rank == 0) {
		printf("# %d ranks, %zu floats (%.1f MiB), median of %d\n", size, n, (double)n * 4 / 1048576, repeats);
		printf("lateral sum (shared memory) %8.2f ms\n", t[0][repeats / 2]);
		printf("lateral sum (ring)          %8.2f ms\n", t[1][repeats / 2]);
		printf("MPI_Allreduce               %8.2f ms\n", t[2][repeats / 2]);
		printf("  its halves, shared memory: reduce-scatter %.2f ms, allgather %.2f ms\n", t[3][repeats / 2],
		       t[4][repeats / 2]);
		printf("values unlike MPI_Allreduce's: shared memory %zu, ring %zu (rank 0, last repeat; 3 or more "
		       "ranks sum in other orders)\n", d_shm, d_ring);
	}
	status = 0;
out:
	cli_shm_free(sh);
	for (int j = 0; j < 3; j++)
		free(v[j]);
	free(scratch);
	MPI_Finalize();
	return status;
}
