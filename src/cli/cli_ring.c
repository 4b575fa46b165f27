/* cli_ring.c: sums over the ranks of a communicator for vectors too large for a latency-bound allreduce.
 *
 * When all ranks share one machine, through an MPI-3 shared-memory window with a slot per rank. Rank r
 * of p owns values [r n / p, (r + 1) n / p) of an n-vector. cli_shm_reduce_scatter: each rank copies a
 * piece of every range into its slot; after a barrier each adds its own range's piece over all slots
 * (in rank order). cli_shm_allgather: each copies a piece of its range into its slot, and after a
 * barrier every rank copies the others'. cli_shm_sum is the one, then the other. Each rank reads and
 * writes the vector about twice, with no messages; two buffers per slot let a piece start while the
 * last is still read. cli_range_reduce_scatter and cli_range_allgather do the same through the MPI
 * library's collectives, for ranks on several machines.
 *
 * cli_ring_sum, for ranks on several machines: v is cut into pieces of at most p segments of
 * CLI_RING_SEG_BYTES; per piece, p - 1 steps each pass a segment to the right neighbour and add the one
 * from the left into v (after them each rank holds one segment summed over all), then p - 1 steps pass
 * the summed segments on. Each value is summed in one
 * order by one rank and copied to the others, so all ranks hold the same bits; each rank sends
 * 2 (p - 1) / p of the vector, as Open MPI's own ring does. bench/sum_speed compares it with
 * MPI_Allreduce: for the reference LC network's 10.7 M gradients on 2 ranks, 15 ms against Open MPI's
 * default choice's 30 ms (README). */
#include <config.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_ring.h"

/* v[at .. at + n) += add[0 .. n) (doubles when dbl, else floats) */
static void add_into(void *v, size_t at, size_t n, const void *add, int dbl)
{
	if (dbl) {
		double *restrict dst = (double *)v + at;
		const double *restrict src = add;
		for (size_t i = 0; i < n; i++)
			dst[i] += src[i];
	} else {
		float *restrict dst = (float *)v + at;
		const float *restrict src = add;
		for (size_t i = 0; i < n; i++)
			dst[i] += src[i];
	}
}

struct cli_shm {
	MPI_Comm node; /* comm's ranks in comm's order, all on this machine */
	MPI_Win win;   /* locked for all ranks while it lives (MPI_Win_sync needs an access epoch) */
	MPI_Win fwin[CLI_SHM_FLOATS]; /* cli_shm_floats' windows, locked the same way, or MPI_WIN_NULL */
	int locked, rank, size;
	unsigned buf; /* the buffer of every slot the next piece uses (0 or 1), the same on all ranks */
	char **slot;  /* slot[q]: rank q's two buffers of CLI_SHM_SEG_BYTES, mapped into this process */
};

int cli_shm_alloc(MPI_Comm comm, cli_shm **out)
{
	cli_shm *s;
	MPI_Info info = MPI_INFO_NULL;
	int n_comm, local, all, rc = CLI_FAIL;
	void *base;

	*out = NULL;
	s = calloc(1, sizeof *s);
	if (!s)
		return CLI_FAIL;
	s->node = MPI_COMM_NULL;
	s->win = MPI_WIN_NULL;
	for (int k = 0; k < CLI_SHM_FLOATS; k++)
		s->fwin[k] = MPI_WIN_NULL;
	if (MPI_Comm_size(comm, &n_comm) != MPI_SUCCESS ||
	    MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &s->node) != MPI_SUCCESS ||
	    MPI_Comm_size(s->node, &s->size) != MPI_SUCCESS || MPI_Comm_rank(s->node, &s->rank) != MPI_SUCCESS)
		goto out;
	/* all ranks take the same branch: the window only when every rank of comm is on this machine */
	local = s->size == n_comm && (size_t)s->size <= CLI_SHM_SEG_BYTES / sizeof(double);
	if (MPI_Allreduce(&local, &all, 1, MPI_INT, MPI_MIN, comm) != MPI_SUCCESS)
		goto out;
	if (!all) {
		rc = CLI_OK;
		goto out;
	}
	s->slot = calloc((size_t)s->size, sizeof *s->slot);
	/* each rank's slot on its own pages, placed by the rank that writes it */
	if (!s->slot || MPI_Info_create(&info) != MPI_SUCCESS ||
	    MPI_Info_set(info, "alloc_shared_noncontig", "true") != MPI_SUCCESS ||
	    MPI_Win_allocate_shared(2 * (MPI_Aint)CLI_SHM_SEG_BYTES, 1, info, s->node, &base, &s->win) !=
		    MPI_SUCCESS)
		goto out;
	for (int q = 0; q < s->size; q++) {
		MPI_Aint bytes;
		int unit;
		if (MPI_Win_shared_query(s->win, q, &bytes, &unit, &base) != MPI_SUCCESS ||
		    bytes < 2 * (MPI_Aint)CLI_SHM_SEG_BYTES)
			goto out;
		s->slot[q] = base;
	}
	if (MPI_Win_lock_all(MPI_MODE_NOCHECK, s->win) != MPI_SUCCESS)
		goto out;
	s->locked = 1;
	*out = s;
	s = NULL;
	rc = CLI_OK;
out:
	if (info != MPI_INFO_NULL)
		MPI_Info_free(&info);
	cli_shm_free(s);
	return rc;
}

/* Frees cli_shm_floats' windows (collective). */
static void free_floats(cli_shm *s)
{
	for (int k = 0; k < CLI_SHM_FLOATS; k++)
		if (s->fwin[k] != MPI_WIN_NULL) {
			MPI_Win_unlock_all(s->fwin[k]);
			MPI_Win_free(&s->fwin[k]);
		}
}

void cli_shm_free(cli_shm *s)
{
	if (!s)
		return;
	free_floats(s);
	if (s->locked)
		MPI_Win_unlock_all(s->win);
	if (s->win != MPI_WIN_NULL)
		MPI_Win_free(&s->win);
	if (s->node != MPI_COMM_NULL)
		MPI_Comm_free(&s->node);
	free(s->slot);
	free(s);
}

/* MPI_Win_sync of every window: this rank's writes to them visible to, and the others' seen by, the
 * accesses on the other side of the barrier. */
static int win_syncs(cli_shm *s)
{
	int ok = MPI_Win_sync(s->win) == MPI_SUCCESS;

	for (int k = 0; k < CLI_SHM_FLOATS; k++)
		ok &= s->fwin[k] == MPI_WIN_NULL || MPI_Win_sync(s->fwin[k]) == MPI_SUCCESS;
	return ok ? CLI_OK : CLI_FAIL;
}

int cli_shm_barrier(cli_shm *s)
{
	return !win_syncs(s) && MPI_Barrier(s->node) == MPI_SUCCESS && !win_syncs(s) ? CLI_OK : CLI_FAIL;
}

float *cli_shm_floats(cli_shm *s, size_t n, float **slots)
{
	MPI_Win *win = NULL;
	MPI_Aint bytes, mine = (MPI_Aint)(n * sizeof(float));
	MPI_Info info = MPI_INFO_NULL;
	int unit, k, ok;
	void *base;

	for (k = 0; k < CLI_SHM_FLOATS && !win; k++)
		if (s->fwin[k] == MPI_WIN_NULL)
			win = &s->fwin[k];
	if (!win || n > (size_t)(PTRDIFF_MAX / sizeof(float) / (size_t)s->size))
		return NULL;
	/* a slot per rank on its own pages, placed by the rank that writes it; or one block of rank 0's */
	ok = !slots || (MPI_Info_create(&info) == MPI_SUCCESS &&
			MPI_Info_set(info, "alloc_shared_noncontig", "true") == MPI_SUCCESS);
	ok = ok && MPI_Win_allocate_shared(slots || s->rank == 0 ? mine : 0, sizeof(float), info, s->node, &base,
					   win) == MPI_SUCCESS;
	if (info != MPI_INFO_NULL)
		MPI_Info_free(&info);
	if (!ok)
		return NULL;
	for (int q = 0; q < (slots ? s->size : 1); q++) {
		if (MPI_Win_shared_query(*win, q, &bytes, &unit, &base) != MPI_SUCCESS || bytes < mine) {
			MPI_Win_free(win);
			return NULL;
		}
		if (slots)
			slots[q] = base;
	}
	if (MPI_Win_lock_all(MPI_MODE_NOCHECK, *win) != MPI_SUCCESS) {
		MPI_Win_free(win);
		return NULL;
	}
	return slots ? slots[s->rank] : base;
}

/* Rank q's range of an n-vector over p ranks: [*lo, *lo + return). */
static size_t range(size_t q, size_t p, size_t n, size_t *lo)
{
	*lo = q * n / p;
	return (q + 1) * n / p - *lo;
}

/* Piece k holds values [k c, (k + 1) c) of every rank's range (c = the buffer's values / p): the
 * length of rank q's (*at: where it starts in v). */
static size_t piece(size_t q, size_t p, size_t n, size_t k, size_t c, size_t *at)
{
	size_t lo, len = range(q, p, n, &lo);
	*at = lo + k * c;
	return k * c >= len ? 0 : len - k * c < c ? len - k * c : c;
}

/* The pieces of an n-vector: enough for the longest range. */
static size_t pieces(size_t p, size_t n, size_t c)
{
	return ((n + p - 1) / p + c - 1) / c;
}

int cli_shm_reduce_scatter(cli_shm *s, void *v, size_t n, int dbl)
{
	size_t bytes = dbl ? sizeof(double) : sizeof(float), p = (size_t)s->size, r = (size_t)s->rank;
	size_t c = CLI_SHM_SEG_BYTES / bytes / p, cb = c * bytes, np = pieces(p, n, c);
	char *vb = v;

	for (size_t k = 0; k < np; k++, s->buf ^= 1) {
		size_t off = s->buf * CLI_SHM_SEG_BYTES, at, len;
		/* this rank's values of every range's piece, in rank order */
		for (size_t q = 0; q < p; q++) {
			len = piece(q, p, n, k, c, &at);
			memcpy(s->slot[r] + off + q * cb, vb + at * bytes, len * bytes);
		}
		if (cli_shm_barrier(s))
			return CLI_FAIL;
		/* this rank's piece: the slots' values added in rank order */
		len = piece(r, p, n, k, c, &at);
		memcpy(vb + at * bytes, s->slot[0] + off + r * cb, len * bytes);
		for (size_t q = 1; q < p; q++)
			add_into(vb, at, len, s->slot[q] + off + r * cb, dbl);
	}
	return CLI_OK;
}

int cli_shm_allgather(cli_shm *s, void *v, size_t n, int dbl)
{
	size_t bytes = dbl ? sizeof(double) : sizeof(float), p = (size_t)s->size, r = (size_t)s->rank;
	size_t c = CLI_SHM_SEG_BYTES / bytes / p, np = pieces(p, n, c);
	char *vb = v;

	for (size_t k = 0; k < np; k++, s->buf ^= 1) {
		size_t off = s->buf * CLI_SHM_SEG_BYTES, at, len = piece(r, p, n, k, c, &at);
		memcpy(s->slot[r] + off, vb + at * bytes, len * bytes);
		if (cli_shm_barrier(s))
			return CLI_FAIL;
		for (size_t q = 0; q < p; q++) {
			len = piece(q, p, n, k, c, &at);
			if (q != r)
				memcpy(vb + at * bytes, s->slot[q] + off, len * bytes);
		}
	}
	return CLI_OK;
}

int cli_shm_sum(cli_shm *s, void *v, size_t n, int dbl)
{
	return cli_shm_reduce_scatter(s, v, n, dbl) || cli_shm_allgather(s, v, n, dbl) ? CLI_FAIL : CLI_OK;
}

/* MPI counts of each rank's range (counts[q]) and where it starts (displs[q]); CLI_FAIL when one passes
 * INT_MAX. */
static int range_counts(size_t p, size_t n, int *counts, int *displs)
{
	for (size_t q = 0; q < p; q++) {
		size_t lo, len = range(q, p, n, &lo);
		if (len > INT_MAX || lo > INT_MAX)
			return CLI_FAIL;
		counts[q] = (int)len;
		displs[q] = (int)lo;
	}
	return CLI_OK;
}

int cli_range_reduce_scatter(MPI_Comm comm, float *v, size_t n, int *counts)
{
	int r, p;
	size_t lo;

	if (MPI_Comm_rank(comm, &r) != MPI_SUCCESS || MPI_Comm_size(comm, &p) != MPI_SUCCESS ||
	    range_counts((size_t)p, n, counts, counts + p))
		return CLI_FAIL;
	/* in place, the result lands at the start of v */
	if (MPI_Reduce_scatter(MPI_IN_PLACE, v, counts, MPI_FLOAT, MPI_SUM, comm) != MPI_SUCCESS)
		return CLI_FAIL;
	range((size_t)r, (size_t)p, n, &lo);
	memmove(v + lo, v, (size_t)counts[r] * sizeof *v);
	return CLI_OK;
}

int cli_range_allgather(MPI_Comm comm, float *v, size_t n, int *counts)
{
	int p;

	if (MPI_Comm_size(comm, &p) != MPI_SUCCESS || range_counts((size_t)p, n, counts, counts + p) ||
	    MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, v, counts, counts + p, MPI_FLOAT, comm) !=
		    MPI_SUCCESS)
		return CLI_FAIL;
	return CLI_OK;
}

int cli_ring_sum(MPI_Comm comm, void *v, size_t n, int dbl, void *scratch)
{
	size_t bytes = dbl ? sizeof(double) : sizeof(float), seg = CLI_RING_SEG_BYTES / bytes;
	MPI_Datatype type = dbl ? MPI_DOUBLE : MPI_FLOAT;
	int r, p, right, left;

	if (MPI_Comm_rank(comm, &r) != MPI_SUCCESS || MPI_Comm_size(comm, &p) != MPI_SUCCESS)
		return CLI_FAIL;
	right = (r + 1) % p;
	left = (r + p - 1) % p;
	for (size_t lo = 0; lo < n;) {
		size_t m = n - lo < seg * (size_t)p ? n - lo : seg * (size_t)p;
		char *piece = (char *)v + lo * bytes;
		for (int phase = 0; phase < 2; phase++)
			for (int k = 0; k < p - 1; k++) {
				/* phase 0 sends segment r - k and adds r - k - 1; phase 1 passes r + 1 - k on */
				int snd = (r + phase - k + p) % p, rcv = (r + phase - k - 1 + p) % p;
				size_t s0 = (size_t)snd * m / (size_t)p, s1 = (size_t)(snd + 1) * m / (size_t)p;
				size_t r0 = (size_t)rcv * m / (size_t)p, r1 = (size_t)(rcv + 1) * m / (size_t)p;
				char *in = phase ? piece + r0 * bytes : scratch;
				if (MPI_Sendrecv(piece + s0 * bytes, (int)(s1 - s0), type, right, 0, in, (int)(r1 - r0), type,
						 left, 0, comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
					return CLI_FAIL;
				if (!phase)
					add_into(v, lo + r0, r1 - r0, scratch, dbl);
			}
		lo += m;
	}
	return CLI_OK;
}
