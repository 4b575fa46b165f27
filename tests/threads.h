/* threads.h: threads standing in for processes in tests: an allreduce sum over them, a reduce-scatter
 * and an allgather, a point-to-point exchange (alltoallv), shared memory and a barrier, and a run of
 * each. */
#ifndef LATERAL_TEST_THREADS_H
#define LATERAL_TEST_THREADS_H

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TW_MAX 4 /* the most processes a test starts */

/* What the processes share: a barrier (for size of them) and each one's array during a sum. */
typedef struct {
	pthread_barrier_t bar;
	int size;
	void *slot[TW_MAX];
	const size_t *counts[TW_MAX]; /* each one's send counts during an exchange */
	float *shared, *each[TW_MAX]; /* tw_shared_floats' memory (tw_shared_free frees it), or NULL */
} tw_world;

/* Memory every process of w reaches (threads share it anyway), as lat_trainer_comm.shared_floats hands
 * it out: with slots NULL, n floats with the same pointer for all (process 0 allocates them); else n
 * floats per process, slots[q] receiving process q's, and this process's returned. Every process calls
 * it together; NULL when out of memory. */
static inline float *tw_shared_floats(tw_world *w, int rank, size_t n, float **slots)
{
	if (slots) {
		free(w->each[rank]);
		w->each[rank] = malloc(n * sizeof *w->each[rank] + 1);
	} else if (rank == 0) {
		free(w->shared);
		w->shared = malloc(n * sizeof *w->shared + 1);
	}
	pthread_barrier_wait(&w->bar);
	for (int q = 0; q < w->size && slots; q++)
		slots[q] = w->each[q];
	pthread_barrier_wait(&w->bar); /* no process frees or replaces a block another still reads */
	return slots ? w->each[rank] : w->shared;
}

/* Frees what tw_shared_floats handed out. */
static inline void tw_shared_free(tw_world *w)
{
	free(w->shared);
	w->shared = NULL;
	for (int q = 0; q < TW_MAX; q++) {
		free(w->each[q]);
		w->each[q] = NULL;
	}
}

/* Returns once every process of w has called it (a pthread barrier orders their memory accesses). */
static inline int tw_barrier(tw_world *w)
{
	pthread_barrier_wait(&w->bar);
	return 0;
}

/* Every process's v (n floats, or doubles when dbl) summed in rank order, left in every v (as an
 * allreduce does); every process of w calls it together. 0, or -1 when out of memory. */
static inline int tw_sum(tw_world *w, int rank, void *v, size_t n, int dbl)
{
	size_t size = dbl ? sizeof(double) : sizeof(float);
	char *acc = malloc(n * size + 1);

	if (!acc)
		return -1;
	w->slot[rank] = v;
	pthread_barrier_wait(&w->bar);
	for (size_t k = 0; k < n; k++) {
		double sd = 0;
		float sf = 0;
		for (int r = 0; r < w->size; r++) {
			if (dbl)
				sd += ((double *)w->slot[r])[k];
			else
				sf += ((float *)w->slot[r])[k];
		}
		if (dbl)
			((double *)acc)[k] = sd;
		else
			((float *)acc)[k] = sf;
	}
	pthread_barrier_wait(&w->bar); /* everyone has read every slot */
	memcpy(v, acc, n * size);
	free(acc);
	return 0;
}

/* Process r's range of an n-vector: [r n / size, (r + 1) n / size). */
static inline size_t tw_range(const tw_world *w, int rank, size_t n, size_t *lo)
{
	*lo = (size_t)rank * n / (size_t)w->size;
	return ((size_t)rank + 1) * n / (size_t)w->size - *lo;
}

/* Every process's v (n floats) summed in rank order into each process's range of its v (as tw_sum sums
 * them); the rest of v becomes NaN, so that a caller reading it fails loudly. Every process of w calls
 * it together. */
static inline int tw_reduce_scatter(tw_world *w, int rank, float *v, size_t n)
{
	size_t lo, len = tw_range(w, rank, n, &lo);
	float *acc = malloc(len * sizeof *acc + 1);

	if (!acc)
		return -1;
	w->slot[rank] = v;
	pthread_barrier_wait(&w->bar);
	for (size_t k = 0; k < len; k++) {
		float sf = 0;
		for (int r = 0; r < w->size; r++)
			sf += ((float *)w->slot[r])[lo + k];
		acc[k] = sf;
	}
	pthread_barrier_wait(&w->bar); /* everyone has read every slot */
	for (size_t k = 0; k < n; k++)
		v[k] = k >= lo && k < lo + len ? acc[k - lo] : NAN;
	free(acc);
	return 0;
}

/* Every process's range of v copied into every process's v; every process of w calls it together. */
static inline int tw_allgather(tw_world *w, int rank, float *v, size_t n)
{
	w->slot[rank] = v;
	pthread_barrier_wait(&w->bar);
	for (int q = 0; q < w->size; q++) {
		size_t lo, len = tw_range(w, q, n, &lo);
		if (q != rank)
			memcpy(v + lo, (float *)w->slot[q] + lo, len * sizeof *v);
	}
	pthread_barrier_wait(&w->bar); /* everyone has read every slot */
	return 0;
}

/* Every process sends send_n[q] floats to process q (consecutive in send, in rank order) and receives
 * recv_n[q] from each (consecutive in recv), as MPI_Alltoallv does; every process of w calls it
 * together. 0, or -1 when a count disagrees with what the other sends. */
static inline int tw_exchange(tw_world *w, int rank, const float *send, const size_t *send_n, float *recv,
			      const size_t *recv_n)
{
	int bad = 0;
	size_t at = 0;

	w->slot[rank] = (void *)send;
	w->counts[rank] = send_n;
	pthread_barrier_wait(&w->bar);
	for (int q = 0; q < w->size; q++) {
		size_t from = 0;
		for (int p = 0; p < rank; p++)
			from += w->counts[q][p];
		bad |= w->counts[q][rank] != recv_n[q];
		if (!bad)
			memcpy(recv + at, (const float *)w->slot[q] + from, recv_n[q] * sizeof *recv);
		at += recv_n[q];
	}
	pthread_barrier_wait(&w->bar); /* everyone has read every slot */
	return bad ? -1 : 0;
}

/* Runs fn(arg + r * arg_size) in a thread per process r < size and waits for them all. */
static inline void tw_each(int size, void *(*fn)(void *), void *arg, size_t arg_size)
{
	pthread_t th[TW_MAX];

	for (int r = 0; r < size; r++)
		pthread_create(&th[r], NULL, fn, (char *)arg + (size_t)r * arg_size);
	for (int r = 0; r < size; r++)
		pthread_join(th[r], NULL);
}

#endif
