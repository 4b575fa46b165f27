/* mpi_sums.c: the command line's sums over MPI ranks (cli_ring.c) against sums known by hand; run by
 * test_mpi.sh under mpirun with 2 and 3 ranks (CUnit on every rank; the exit status is nonzero on any
 * rank's failure, so mpirun's is too).
 *
 * Rank r's value i is (r + 1) (i mod 7) + r, so a sum over p ranks is (i mod 7) p (p + 1) / 2 + p (p - 1) / 2
 * exactly, in any order. A second pattern, (r + 1) / 10 + i / 1000, rounds: the shared-memory sums must
 * add in rank order, bit for bit (each rank regenerates every rank's values to add them that way). The
 * lengths cover fewer values than ranks, uneven ranges and several pieces of a shared buffer. */
#include <config.h>

#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#include "../src/cli/cli.h"
#include "../src/cli/cli_ring.h"
#include "runner.h"

static int rank, size;
static cli_shm *shm;

static const size_t lengths[] = {1, 2, 5, 1000, 3 * (CLI_SHM_SEG_BYTES / sizeof(float)) + 17};
#define N_LENGTHS (sizeof lengths / sizeof lengths[0])

static double exact(int r, size_t i)
{
	return (double)(r + 1) * (double)(i % 7) + r;
}

static double exact_sum(size_t i)
{
	return (double)(i % 7) * size * (size + 1) / 2 + (double)size * (size - 1) / 2;
}

static float rounding(int r, size_t i)
{
	return (float)(r + 1) / 10 + (float)i / 1000;
}

/* the rounding pattern summed in rank order, as a float and as a double */
static float rounding_sum(size_t i)
{
	float s = rounding(0, i);
	for (int r = 1; r < size; r++)
		s += rounding(r, i);
	return s;
}

static double rounding_sum_double(size_t i)
{
	double s = rounding(0, i);
	for (int r = 1; r < size; r++)
		s += (double)rounding(r, i);
	return s;
}

/* this rank's range of n */
static void own(size_t n, size_t *lo, size_t *hi)
{
	*lo = (size_t)rank * n / (size_t)size;
	*hi = ((size_t)rank + 1) * n / (size_t)size;
}

/* Each of the 4 counts of mismatched values is 0 (one assertion each, to say which). */
static void no_mismatch(const size_t *bad)
{
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(bad[k], 0);
}

/* Whole sums: the shared-memory one in rank order (floats and doubles), the ring exactly. */
static void test_sums(void)
{
	void *scratch = malloc(CLI_RING_SEG_BYTES);

	CU_ASSERT_PTR_NOT_NULL_FATAL(shm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(scratch);
	for (size_t L = 0; L < N_LENGTHS; L++) {
		size_t n = lengths[L], bad[4] = {0};
		float *f = malloc(n * sizeof *f), *g = malloc(n * sizeof *g);
		double *d = malloc(n * sizeof *d);
		CU_ASSERT_FATAL(f && g && d);
		for (size_t i = 0; i < n; i++) {
			f[i] = rounding(rank, i);
			g[i] = (float)exact(rank, i);
			d[i] = (double)rounding(rank, i);
		}
		CU_ASSERT_EQUAL(cli_shm_sum(shm, f, n, 0), CLI_OK);
		CU_ASSERT_EQUAL(cli_shm_sum(shm, d, n, 1), CLI_OK);
		CU_ASSERT_EQUAL(cli_ring_sum(MPI_COMM_WORLD, g, n, 0, scratch), CLI_OK);
		for (size_t i = 0; i < n; i++) {
			float e = rounding_sum(i);
			bad[0] += memcmp(&f[i], &e, sizeof e) != 0;
			bad[1] += d[i] != rounding_sum_double(i);
			bad[2] += g[i] != (float)exact_sum(i);
		}
		/* the ring again, on the values that round: the same bits on every rank */
		for (size_t i = 0; i < n; i++)
			g[i] = rounding(rank, i);
		CU_ASSERT_EQUAL(cli_ring_sum(MPI_COMM_WORLD, g, n, 0, scratch), CLI_OK);
		{
			float *g0 = malloc(n * sizeof *g0);
			CU_ASSERT_PTR_NOT_NULL_FATAL(g0);
			memcpy(g0, g, n * sizeof *g);
			MPI_Bcast(g0, (int)n, MPI_FLOAT, 0, MPI_COMM_WORLD);
			bad[3] = (size_t)(memcmp(g0, g, n * sizeof *g) != 0);
			free(g0);
		}
		no_mismatch(bad);
		free(f);
		free(g);
		free(d);
	}
	free(scratch);
}

/* Reduce-scatter and allgather, through shared memory and through MPI's collectives: the owner's range
 * holds the sum (in rank order for shared memory, exactly for MPI), the rest of v is left alone; the
 * allgather fills every range with its owner's values. */
static void test_ranges(void)
{
	int *counts = malloc(4 * (size_t)size * sizeof *counts);

	CU_ASSERT_PTR_NOT_NULL_FATAL(shm);
	CU_ASSERT_PTR_NOT_NULL_FATAL(counts);
	for (size_t L = 0; L < N_LENGTHS; L++) {
		size_t n = lengths[L], lo, hi, bad[4] = {0};
		float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
		CU_ASSERT_FATAL(a && b);
		own(n, &lo, &hi);
		for (size_t i = 0; i < n; i++) {
			a[i] = rounding(rank, i);
			b[i] = (float)exact(rank, i);
		}
		CU_ASSERT_EQUAL(cli_shm_reduce_scatter(shm, a, n, 0), CLI_OK);
		CU_ASSERT_EQUAL(cli_range_reduce_scatter(MPI_COMM_WORLD, b, n, counts), CLI_OK);
		for (size_t i = 0; i < n; i++) {
			float e = i >= lo && i < hi ? rounding_sum(i) : rounding(rank, i);
			bad[0] += memcmp(&a[i], &e, sizeof e) != 0;
			if (i >= lo && i < hi)
				bad[1] += b[i] != (float)exact_sum(i);
		}
		/* every range its owner's: rank q's values are q + i / 1000 */
		for (size_t i = 0; i < n; i++)
			a[i] = b[i] = i >= lo && i < hi ? (float)rank + (float)i / 1000 : NAN;
		CU_ASSERT_EQUAL(cli_shm_allgather(shm, a, n, 0), CLI_OK);
		CU_ASSERT_EQUAL(cli_range_allgather(MPI_COMM_WORLD, b, n, counts), CLI_OK);
		for (int q = 0; q < size; q++) {
			size_t qlo = (size_t)q * n / (size_t)size, qhi = ((size_t)q + 1) * n / (size_t)size;
			for (size_t i = qlo; i < qhi; i++) {
				float e = (float)q + (float)i / 1000;
				bad[2] += memcmp(&a[i], &e, sizeof e) != 0;
				bad[3] += memcmp(&b[i], &e, sizeof e) != 0;
			}
		}
		no_mismatch(bad);
		free(a);
		free(b);
	}
	free(counts);
}

static CU_TestInfo tests[] = {{"whole sums: shared memory in rank order, the ring exactly", test_sums},
			      {"reduce-scatter and allgather: shared memory and MPI's collectives", test_ranges},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{"mpi sums", NULL, NULL, NULL, NULL, tests}, CU_SUITE_INFO_NULL};

int main(int argc, char **argv)
{
	int status;

	if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
		return 99;
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	if (cli_shm_alloc(MPI_COMM_WORLD, &shm))
		shm = NULL; /* the tests then fail on it */
	status = test_run(suites);
	cli_shm_free(shm);
	MPI_Finalize();
	return status;
}
