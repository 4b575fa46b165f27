/* threads.h: threads standing in for processes in tests: an allreduce sum over them and a run of each. */
#ifndef LATERAL_TEST_THREADS_H
#define LATERAL_TEST_THREADS_H

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TW_MAX 4 /* the most processes a test starts */

/* What the processes share: a barrier (for size of them) and each one's array during a sum. */
typedef struct {
	pthread_barrier_t bar;
	int size;
	void *slot[TW_MAX];
} tw_world;

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
