/* cli_mpi.c: the command line's use of MPI: start-up under mpirun, a shared work counter, messages to rank 0.
 *
 * MPI is initialised only when a launcher started the process (mpirun sets OMPI_COMM_WORLD_SIZE, PMIx
 * launchers PMIX_RANK, others PMI_RANK); a plain `lateral ...` never touches MPI and is rank 0 of 1.
 * Without HAVE_MPI (configure --without-mpi) every function is the one-process case. */
#include <config.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#include "cli.h"
#ifdef HAVE_MPI
#include "cli_ring.h"
#endif

static int rank, size = 1, local_size = 1;

#ifdef HAVE_MPI
static int mpi_on; /* MPI_Init ran (under a launcher) */
static MPI_Win counter_win = MPI_WIN_NULL;
static long *counter_mem;
static MPI_Comm sub[2] = {MPI_COMM_NULL, MPI_COMM_NULL}; /* cli_mpi_groups: the group, across the groups */
static void *ring_tmp; /* cli_ring_sum's scratch, CLI_RING_SEG_BYTES, allocated at start-up */
/* cli_shm_sum's windows for all ranks and for sub[k]; NULL when their ranks span machines */
static cli_shm *shm_world, *shm_sub[2];
static int *a2a; /* cli_mpi_exchange_float's counts and offsets, 4 x the ranks, allocated at start-up */
#endif

int cli_mpi_init(int *argc, char ***argv)
{
#ifdef HAVE_MPI
	int provided;
	if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
		return CLI_OK;
	if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
		fprintf(stderr, "lateral: MPI_Init failed\n");
		return CLI_FAIL;
	}
	mpi_on = 1;
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &size);
	{ /* the ranks on this machine, which share its cores */
		MPI_Comm node;
		if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
		    MPI_SUCCESS) {
			MPI_Comm_size(node, &local_size);
			MPI_Comm_free(&node);
		}
	}
	/* errors end the job with their message rather than hanging the other ranks */
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_ARE_FATAL);
	ring_tmp = malloc(CLI_RING_SEG_BYTES);
	a2a = malloc(4 * (size_t)size * sizeof *a2a);
	if (!ring_tmp || !a2a || (size > 1 && cli_shm_alloc(MPI_COMM_WORLD, &shm_world))) {
		fprintf(stderr, "lateral (rank %d of %d): out of memory\n", rank, size);
		MPI_Abort(MPI_COMM_WORLD, CLI_FAIL);
	}
#else
	(void)argc;
	(void)argv;
#endif
	return CLI_OK;
}

void cli_mpi_finalize(void)
{
#ifdef HAVE_MPI
	for (int k = 0; k < 2; k++) {
		cli_shm_free(shm_sub[k]);
		shm_sub[k] = NULL;
		if (sub[k] != MPI_COMM_NULL)
			MPI_Comm_free(&sub[k]);
	}
	cli_shm_free(shm_world);
	shm_world = NULL;
	if (mpi_on)
		MPI_Finalize();
	mpi_on = 0;
	free(ring_tmp);
	ring_tmp = NULL;
	free(a2a);
	a2a = NULL;
#endif
}

int cli_mpi_rank(void)
{
	return rank;
}

int cli_mpi_size(void)
{
	return size;
}

int cli_mpi_local_size(void)
{
	return local_size;
}

void cli_mpi_abort(int status)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1) {
		fflush(stdout);
		fflush(stderr);
		MPI_Abort(MPI_COMM_WORLD, status);
	}
#endif
	(void)status;
}

unsigned long long cli_mpi_agree(unsigned long long value, int *same)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1) {
		unsigned long long lo, hi;
		MPI_Allreduce(&value, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
		MPI_Allreduce(&value, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
		*same = lo == hi;
		return lo;
	}
#endif
	*same = 1;
	return value;
}

unsigned long long cli_self_hash(void)
{
	unsigned long long h = CLI_HASH_START;
	FILE *fp = fopen("/proc/self/exe", "rb");
	char buf[65536];
	size_t n;

	if (!fp)
		return 0;
	while ((n = fread(buf, 1, sizeof buf, fp)) > 0)
		h = cli_hash_more(h, buf, n);
	fclose(fp);
	return h;
}

int cli_mpi_same(const char *cmd, const char *what, unsigned long long h)
{
	unsigned long long self;
	int same;

	if (size == 1)
		return CLI_OK;
	self = cli_self_hash();
	h = cli_hash_more(h, PACKAGE_VERSION, strlen(PACKAGE_VERSION));
	h = cli_hash_more(h, (const char *)&self, sizeof self);
	cli_mpi_agree(h, &same);
	if (same)
		return CLI_OK;
	if (rank == 0)
		fprintf(stderr,
			"lateral %s: the ranks resolved different %s (different lateral binaries, model or "
			"experiment files, or options?); every rank must run the same command\n",
			cmd, what);
	return CLI_USAGE;
}

int cli_mpi_bcast_int(int *v, size_t n)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1)
		return MPI_Bcast(v, (int)n, MPI_INT, 0, MPI_COMM_WORLD) == MPI_SUCCESS ? CLI_OK : CLI_FAIL;
#endif
	(void)v;
	(void)n;
	return CLI_OK;
}

int cli_mpi_counter_open(void)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1) {
		MPI_Aint bytes = rank == 0 ? (MPI_Aint)sizeof(long) : 0;
		if (MPI_Win_allocate(bytes, sizeof(long), MPI_INFO_NULL, MPI_COMM_WORLD, &counter_mem, &counter_win) !=
		    MPI_SUCCESS)
			return CLI_FAIL;
		if (rank == 0)
			*counter_mem = 0;
		MPI_Barrier(MPI_COMM_WORLD); /* the counter is 0 before anyone draws */
		return CLI_OK;
	}
#endif
	return CLI_OK;
}

long cli_mpi_counter_next(long *serial)
{
#ifdef HAVE_MPI
	if (counter_win != MPI_WIN_NULL) {
		long one = 1, got = -1;
		MPI_Win_lock(MPI_LOCK_SHARED, 0, 0, counter_win);
		MPI_Fetch_and_op(&one, &got, MPI_LONG, 0, 0, MPI_SUM, counter_win);
		MPI_Win_unlock(0, counter_win);
		return got;
	}
#endif
	return (*serial)++;
}

void cli_mpi_counter_close(void)
{
#ifdef HAVE_MPI
	if (counter_win != MPI_WIN_NULL)
		MPI_Win_free(&counter_win);
#endif
}

int cli_mpi_send(int tag, const double *v, size_t n)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1)
		return MPI_Send(v, (int)n, MPI_DOUBLE, 0, tag, MPI_COMM_WORLD) == MPI_SUCCESS ? CLI_OK : CLI_FAIL;
#endif
	(void)tag;
	(void)v;
	(void)n;
	return CLI_FAIL;
}

int cli_mpi_receive(int wait, double *v, size_t n, int *tag)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1) {
		MPI_Status st;
		int flag = 1;
		if (!wait)
			MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
		if (!flag)
			return 0;
		MPI_Recv(v, (int)n, MPI_DOUBLE, MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
		*tag = st.MPI_TAG;
		return 1;
	}
#endif
	(void)wait;
	(void)v;
	(void)n;
	(void)tag;
	return 0;
}

int cli_mpi_groups(int parts, void **group, void **across)
{
	*group = *across = NULL;
#ifdef HAVE_MPI
	if (mpi_on && size > 1 && parts > 0 && size % parts == 0) {
		if (MPI_Comm_split(MPI_COMM_WORLD, rank / parts, rank, &sub[0]) != MPI_SUCCESS ||
		    MPI_Comm_split(MPI_COMM_WORLD, rank % parts, rank, &sub[1]) != MPI_SUCCESS ||
		    cli_shm_alloc(sub[0], &shm_sub[0]) || cli_shm_alloc(sub[1], &shm_sub[1]))
			return CLI_FAIL;
		*group = &sub[0];
		*across = &sub[1];
	}
#else
	(void)parts;
#endif
	return CLI_OK;
}

#ifdef HAVE_MPI
/* Vectors of fewer values go through MPI_Allreduce, whose latency-bound algorithms suit them. */
#define RING_MIN 1024
#endif

#ifdef HAVE_MPI
/* The ranks of ctx (a communicator of cli_mpi_groups; NULL: all; 1 without MPI running), with *comm and
 * its shared-memory window *shm (NULL when its ranks span machines). */
static int comm_of(void *ctx, MPI_Comm *comm, cli_shm **shm)
{
	int p = 1;

	*comm = ctx ? *(MPI_Comm *)ctx : MPI_COMM_WORLD;
	*shm = ctx ? shm_sub[(MPI_Comm *)ctx - sub] : shm_world;
	if (mpi_on)
		MPI_Comm_size(*comm, &p);
	return p;
}
#endif

/* v[0..n-1] (doubles when dbl, else floats) summed in place over the ranks of ctx (a communicator of
 * cli_mpi_groups; NULL: all): from RING_MIN values on by cli_shm_sum when its ranks share this machine,
 * else by cli_ring_sum; fewer by MPI_Allreduce; CLI_OK at once in one process. Errors abort the job
 * (MPI_ERRORS_ARE_FATAL). */
static int allreduce_sum(void *ctx, void *v, size_t n, int dbl)
{
#ifdef HAVE_MPI
	MPI_Comm comm;
	cli_shm *shm;
	int p = comm_of(ctx, &comm, &shm);

	if (p > 1 && n >= RING_MIN)
		return shm ? cli_shm_sum(shm, v, n, dbl) : cli_ring_sum(comm, v, n, dbl, ring_tmp);
	if (p > 1 &&
		 MPI_Allreduce(MPI_IN_PLACE, v, (int)n, dbl ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM, comm) != MPI_SUCCESS)
		return CLI_FAIL;
#else
	(void)ctx;
	(void)v;
	(void)n;
	(void)dbl;
#endif
	return CLI_OK;
}

int cli_mpi_sum_float(void *ctx, float *v, size_t n)
{
	return allreduce_sum(ctx, v, n, 0);
}

int cli_mpi_sum_double(void *ctx, double *v, size_t n)
{
	return allreduce_sum(ctx, v, n, 1);
}

/* The reduce-scatter (rs) or allgather of the ranges of v over ctx's ranks (lat_trainer_comm): through
 * shared memory when they share this machine, else by the MPI library's collectives. */
static int range_op(void *ctx, float *v, size_t n, int rs)
{
#ifdef HAVE_MPI
	MPI_Comm comm;
	cli_shm *shm;

	if (comm_of(ctx, &comm, &shm) == 1)
		return CLI_OK;
	if (shm)
		return rs ? cli_shm_reduce_scatter(shm, v, n, 0) : cli_shm_allgather(shm, v, n, 0);
	return rs ? cli_range_reduce_scatter(comm, v, n, a2a) : cli_range_allgather(comm, v, n, a2a);
#else
	(void)ctx;
	(void)v;
	(void)n;
	(void)rs;
	return CLI_OK;
#endif
}

float *cli_mpi_shared_floats(void *ctx, size_t n, float **slots)
{
#ifdef HAVE_MPI
	MPI_Comm comm;
	cli_shm *shm;

	if (comm_of(ctx, &comm, &shm) > 1 && shm)
		return cli_shm_floats(shm, n, slots);
#else
	(void)ctx;
	(void)n;
	(void)slots;
#endif
	return NULL;
}

int cli_mpi_barrier(void *ctx)
{
#ifdef HAVE_MPI
	MPI_Comm comm;
	cli_shm *shm;

	if (comm_of(ctx, &comm, &shm) > 1)
		return shm ? cli_shm_barrier(shm) : MPI_Barrier(comm) == MPI_SUCCESS ? CLI_OK : CLI_FAIL;
#else
	(void)ctx;
#endif
	return CLI_OK;
}

int cli_mpi_reduce_scatter_float(void *ctx, float *v, size_t n)
{
	return range_op(ctx, v, n, 1);
}

int cli_mpi_allgather_float(void *ctx, float *v, size_t n)
{
	return range_op(ctx, v, n, 0);
}

int cli_mpi_exchange_float(void *ctx, const float *send, const size_t *send_n, float *recv, const size_t *recv_n)
{
#ifdef HAVE_MPI
	MPI_Comm comm = ctx ? *(MPI_Comm *)ctx : MPI_COMM_WORLD;
	int p = 1, *sc = a2a, *sd, *rc, *rd;
	size_t st = 0, rt = 0;

	if (!mpi_on)
		return CLI_OK;
	MPI_Comm_size(comm, &p);
	sd = sc + p;
	rc = sd + p;
	rd = rc + p;
	for (int q = 0; q < p; q++) { /* MPI counts and offsets are ints */
		if (send_n[q] > INT_MAX - st || recv_n[q] > INT_MAX - rt)
			return CLI_FAIL;
		sc[q] = (int)send_n[q];
		sd[q] = (int)st;
		rc[q] = (int)recv_n[q];
		rd[q] = (int)rt;
		st += send_n[q];
		rt += recv_n[q];
	}
	if (MPI_Alltoallv(send, sc, sd, MPI_FLOAT, recv, rc, rd, MPI_FLOAT, comm) != MPI_SUCCESS)
		return CLI_FAIL;
#else
	(void)ctx;
	(void)send;
	(void)send_n;
	(void)recv;
	(void)recv_n;
#endif
	return CLI_OK;
}

int cli_mpi_max(int v)
{
#ifdef HAVE_MPI
	int m = v;
	if (mpi_on && size > 1 && MPI_Allreduce(&v, &m, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) == MPI_SUCCESS)
		return m;
#endif
	return v;
}

int cli_mpi_settle(int rc)
{
#ifdef HAVE_MPI
	if (mpi_on && size > 1) {
		int *all = malloc((size_t)size * sizeof *all), first = -1, agreed;
		if (!all || MPI_Allgather(&rc, 1, MPI_INT, all, 1, MPI_INT, MPI_COMM_WORLD) != MPI_SUCCESS) {
			fprintf(stderr, "lateral (rank %d of %d): out of memory\n", rank, size);
			cli_mpi_abort(CLI_FAIL);
		}
		for (int r = 0; r < size && first < 0; r++)
			if (all[r])
				first = r;
		agreed = first < 0 ? CLI_OK : all[first];
		/* rank 0 printed its own errors; another rank that failed first says why now */
		if (first == rank && rank != 0 && cli_last_error()[0])
			fprintf(stderr, "%s (rank %d of %d)\n", cli_last_error(), rank, size);
		free(all);
		return agreed;
	}
#endif
	return rc;
}
