/* cli_ring.h: the sum over a communicator's ranks that lateral runs for large vectors (cli_mpi.c). */
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

#endif
