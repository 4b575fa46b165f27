/* cli_ring.h: the sums over a communicator's ranks that lateral runs for large vectors (cli_mpi.c). */
#ifndef LATERAL_CLI_RING_H
#define LATERAL_CLI_RING_H

#include <stddef.h>

#include <mpi.h>

/* The scratch cli_ring_sum needs: one segment. */
#define CLI_RING_SEG_BYTES (2u << 20)

/* Sums v[0..n-1] (doubles when dbl, else floats) in place over the ranks of comm, every rank calling it
 * with the same n; scratch (CLI_RING_SEG_BYTES, borrowed) is overwritten. CLI_OK (0), or CLI_FAIL when
 * an exchange failed. The same bits on every rank (see cli_ring.c). */
int cli_ring_sum(MPI_Comm comm, void *v, size_t n, int dbl, void *scratch);

/* A shared slot's buffer: the piece of a vector cli_shm_sum sums at once. */
#define CLI_SHM_SEG_BYTES (1u << 19)

/* The shared-memory window of cli_shm_sum for one communicator. */
typedef struct cli_shm cli_shm;

/* Collective over comm. *out: a new window (two CLI_SHM_SEG_BYTES buffers per rank) for cli_shm_sum,
 * owned by the caller (cli_shm_free, collective too), or NULL when comm's ranks are not all on this
 * machine or more than CLI_SHM_SEG_BYTES / 8 (then use cli_ring_sum). CLI_OK, or CLI_FAIL (*out NULL)
 * when MPI or memory failed. */
int cli_shm_alloc(MPI_Comm comm, cli_shm **out);

/* Frees s (NULL: nothing); collective over its communicator. */
void cli_shm_free(cli_shm *s);

/* Over the ranks of s's communicator, every rank calling it with the same n, rank r of p owning values
 * [r n / p, (r + 1) n / p) of v[0..n-1] (doubles when dbl, else floats): cli_shm_reduce_scatter sums v
 * into the owners' ranges (each value added in rank order; this rank's values outside its range are
 * left as they were, unsummed); cli_shm_allgather copies every range from its owner; cli_shm_sum does
 * both (the same bits on every rank). CLI_OK, or CLI_FAIL when a barrier failed. */
int cli_shm_reduce_scatter(cli_shm *s, void *v, size_t n, int dbl);
int cli_shm_allgather(cli_shm *s, void *v, size_t n, int dbl);
int cli_shm_sum(cli_shm *s, void *v, size_t n, int dbl);

/* The most cli_shm_floats windows one cli_shm holds. */
#define CLI_SHM_FLOATS 2

/* Collective over s's communicator: memory that every rank maps, owned by s until cli_shm_free. With
 * slots NULL, n floats, the same bytes for all (allocated by rank 0); returns them. Else n floats per
 * rank (each on its own pages), slots[q] (one per rank) receiving rank q's; returns this rank's. NULL
 * when MPI could not make it or s holds CLI_SHM_FLOATS already (on every rank unless MPI failed on one).
 * cli_shm_barrier returns once every rank has called it, each rank's writes to that memory (and to the
 * sums' slots) before it seen by every rank's reads after it; CLI_OK or CLI_FAIL. */
float *cli_shm_floats(cli_shm *s, size_t n, float **slots);
int cli_shm_barrier(cli_shm *s);

/* The same reduce-scatter and allgather of floats by MPI_Reduce_scatter and MPI_Allgatherv (for ranks on
 * several machines); counts: scratch of 2 x the ranks ints. CLI_OK, or CLI_FAIL when MPI failed or a
 * range passes INT_MAX values. */
int cli_range_reduce_scatter(MPI_Comm comm, float *v, size_t n, int *counts);
int cli_range_allgather(MPI_Comm comm, float *v, size_t n, int *counts);

#endif
