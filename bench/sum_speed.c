/* sum_speed.c: lateral's sum over ranks for large vectors (cli_ring_sum, which cli_mpi_sum_float runs
 * from 1024 values on) against MPI_Allreduce with MPI_SUM, the MPI library's own collective, on the same
 * vector in one run.
 *
 * Usage: mpirun -np P bench/sum_speed [N (10731402: the reference LC network's gradients)] [REPEATS (9)]
 * Every repeat refills both vectors and times each sum between barriers; the values where the two results
 * differ are counted (none on 2 ranks, where a sum of two terms has one order). Prints the medians in
 * milliseconds (rank 0). */
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

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10731402, differ = 0;
	int repeats = argc > 2 ? atoi(argv[2]) : 9, rank, size, status = 1;
	double t_ring[MAX_REPEATS], t_mpi[MAX_REPEATS];
	float *a = NULL, *b = NULL;
	void *scratch = NULL;

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
	a = malloc(n * sizeof *a);
	b = malloc(n * sizeof *b);
	scratch = malloc(CLI_RING_SEG_BYTES);
	if (!a || !b || !scratch) {
		fprintf(stderr, "sum_speed: out of memory for 2 x %zu floats\n", n);
		goto out;
	}
	for (int k = 0; k < repeats; k++) {
		double t0;
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = (float)(i % 1000) * 1e-3f + 0.37f * (float)rank;
		MPI_Barrier(MPI_COMM_WORLD);
		t0 = MPI_Wtime();
		if (cli_ring_sum(MPI_COMM_WORLD, a, n, 0, scratch))
			goto out;
		MPI_Barrier(MPI_COMM_WORLD);
		t_ring[k] = MPI_Wtime() - t0;
		t0 = MPI_Wtime();
		MPI_Allreduce(MPI_IN_PLACE, b, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		MPI_Barrier(MPI_COMM_WORLD);
		t_mpi[k] = MPI_Wtime() - t0;
		differ = 0;
		for (size_t i = 0; i < n; i++)
			differ += memcmp(&a[i], &b[i], sizeof *a) != 0;
	}
	qsort(t_ring, (size_t)repeats, sizeof *t_ring, cmp_double);
	qsort(t_mpi, (size_t)repeats, sizeof *t_mpi, cmp_double);
	if (rank == 0) {
		printf("# %d ranks, %zu floats (%.1f MiB), median of %d\n", size, n, (double)n * 4 / 1048576, repeats);
		printf("lateral sum (ring)   %8.2f ms\n", 1e3 * t_ring[repeats / 2]);
		printf("MPI_Allreduce        %8.2f ms\n", 1e3 * t_mpi[repeats / 2]);
		printf("values that differ   %8zu (rank 0, last repeat; 3 or more ranks sum in another order)\n", differ);
	}
	status = 0;
out:
	free(a);
	free(b);
	free(scratch);
	MPI_Finalize();
	return status;
}
