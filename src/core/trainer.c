/* trainer.c: mini-batch training with periodic sharing phases in every lc layer, evaluation, checkpoints. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lateral/ckpt.h"
#include "lateral/data.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/loss.h"
#include "lateral/optim.h"
#include "lateral/share.h"
#include "lateral/trainer.h"
#include "size.h"

#define MAX_LC LAT_NET_MAX_LAYERS
/* the doubles a data-parallel step sums over the processes: loss x samples, correct samples, processes
 * that failed, the sum of their (negated) codes, then the bn running statistics */
enum { R_LOSS, R_CORRECT, R_FAILED, R_CODES, R_BUFFERS };

struct lat_trainer {
	lat_trainer_opts o;
	const lat_trainer_opts *e; /* &o */
	lat_dataset train, val, test;
	size_t n_classes;
	lat_net *net;
	lat_optim *opt;
	lat_optim_opts optim_opts;
	lat_batcher *batcher;
	float *x, *dlogits;
	int *y;
	size_t max_batch, in_size;
	size_t net_batch; /* samples the network takes at once: this process's largest slice of a batch */
	/* data parallel (size > 1): o.comm, and the doubles summed over the processes with every step (loss,
	 * correct, failures, failure codes, then the bn running statistics weighted by the slices) */
	int rank, size;
	/* split by location (LAT_SHARD_LOCATIONS): the processes form size / parts groups of parts, each
	 * group one network split into parts (this one is part `part` of group `group`); the groups run
	 * data parallel. Without a split every process is a group of one. */
	int shard; /* parts > 1 */
	int part, parts, group, groups;
	/* the optimiser step split over the groups (lat_trainer_opts.split_optimizer): this process owns
	 * parameters [own_lo, own_hi) of its flat array; opt_stale: the state outside them is stale */
	int split_opt, opt_stale;
	size_t own_lo, own_hi;
	/* one copy of the parameters and the gradients' slots in the comm's shared memory
	 * (lat_trainer_comm.shared_floats): wanted, and in use since the first step; gslot[q]: process q's
	 * gradients (groups pointers); phase_w: a private copy of an lc layer for sharing phases */
	int want_shared, shared_params;
	float **gslot, *phase_w;
	size_t n_whole; /* parameters of the whole network (lat_net_n_params_whole) */
	double *red;
	size_t epoch;	       /* next epoch to run / running */
	uint64_t global_batch; /* batches trained since the start, across epochs */
	uint64_t phases;       /* sharing phases run since the start */
	lat_share_mode mode;
	size_t n_lc;
	size_t lc_layer[MAX_LC]; /* index of the i-th lc layer in the network */
	lat_share *share[MAX_LC];
	double snr[MAX_LC][2]; /* the last lat_trainer_measure_lc: snr_pool, snr_channel */
	/* this epoch's sharing phases, per lc layer: sums and counts of the finite deviation and mean
	 * shrink factors (lat_share_stats.dev_ratio, mean_ratio) */
	double shrink[MAX_LC][4];
	lat_epoch_stats stats;
	int in_epoch;	       /* between lat_trainer_begin_epoch and the step that ends the epoch */
	int shared_last;       /* a hebbian, circuit or expected sharing phase ran after the last optimiser step */
	int fault_in_sharing;  /* the last error came from a sharing phase or the batch right after one */
	size_t resume_batches; /* > 0 after loading a mid-epoch checkpoint: batches begin_epoch skips */
	double *norm;	       /* 2 c: the input normalisation (means, then stds), saved in checkpoints */
};

const char *const lat_shard_names[] = {[LAT_SHARD_NONE] = "none", [LAT_SHARD_LOCATIONS] = "locations",
				       [LAT_SHARD_ROWS] = "rows", NULL};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The sums' contexts: over this process's group (the parts of its network) and across the groups (the
 * processes that hold the same part); with one group the first is every process, and so is the second
 * without a split. */
static void *group_ctx(const lat_trainer *t)
{
	return t->groups > 1 ? t->e->comm->ctx_group : t->e->comm->ctx;
}

static void *across_ctx(const lat_trainer *t)
{
	return t->shard ? t->e->comm->ctx_across : t->e->comm->ctx;
}

/* This process's group's slice [*lo, *lo + m) of n samples (or of the n parameters whose optimiser step
 * it takes); returns m (n in one group). */
static size_t slice(const lat_trainer *t, size_t n, size_t *lo)
{
	*lo = n * (size_t)t->group / (size_t)t->groups;
	return n * ((size_t)t->group + 1) / (size_t)t->groups - *lo;
}

/* The part of this process's parameters [own_lo, own_hi) among the n values at flat position at, as
 * [*lo, *hi) from at (empty when *lo >= *hi). */
static void own_within(const lat_trainer *t, size_t at, size_t n, size_t *lo, size_t *hi)
{
	*lo = t->own_lo > at ? t->own_lo - at : 0;
	*hi = t->own_hi <= at ? 0 : t->own_hi - at < n ? t->own_hi - at : n;
}

/* While training (not while evaluating): the time since start and the floats handed over, into the
 * epoch's sum_seconds and sum_bytes. */
static void count_comm(lat_trainer *t, double start, size_t floats)
{
	if (t->in_epoch) {
		t->stats.sum_seconds += now() - start;
		t->stats.sum_bytes += (double)(floats * sizeof(float));
	}
}

/* The sum a split network runs after each part layer: over this process's group, counted. */
static int part_sum(void *ctx, float *v, size_t n)
{
	lat_trainer *t = ctx;
	double start = now();
	int rc = t->e->comm->sum_float(group_ctx(t), v, n);

	count_comm(t, start, n);
	return rc;
}

/* The strips' point-to-point exchange over the group (lat_net_set_exchange), counted as the sums are:
 * the floats this process sends. */
static int part_exchange(void *ctx, const float *send, const size_t *send_n, float *recv, const size_t *recv_n)
{
	lat_trainer *t = ctx;
	double start = now();
	int rc = t->e->comm->exchange_float(group_ctx(t), send, send_n, recv, recv_n);
	size_t n = 0;

	for (int q = 0; q < t->parts; q++)
		n += send_n[q];
	count_comm(t, start, n);
	return rc;
}

/* The limit on the samples of a split (0: all). */
static size_t split_limit(const lat_trainer_opts *e, int test)
{
	return test ? e->limit_test : e->limit_train;
}

static int load_split(const lat_trainer_opts *e, int test, lat_dataset *d, char *err)
{
	if (e->format == LAT_DATA_IDX)
		return test ? lat_data_load_idx(e->test_images, e->test_labels, split_limit(e, 1), d, err)
			    : lat_data_load_idx(e->train_images, e->train_labels, split_limit(e, 0), d, err);
	return lat_data_load_cifar((const char *const *)(test ? e->test_files : e->train_files),
				   test ? e->n_test_files : e->n_train_files, e->format == LAT_DATA_CIFAR100,
				   split_limit(e, test), d, err);
}

/* Samples of a split that will be loaded, and their bytes (floats and labels), from its headers alone. */
static int plan_split(const lat_trainer_opts *e, int test, size_t *n, size_t *bytes, char *err)
{
	lat_data_shape s;
	size_t limit = split_limit(e, test), plane;
	int rc = e->format == LAT_DATA_IDX
		     ? (test ? lat_data_probe_idx(e->test_images, e->test_labels, &s, err)
			     : lat_data_probe_idx(e->train_images, e->train_labels, &s, err))
		     : lat_data_probe_cifar((const char *const *)(test ? e->test_files : e->train_files),
					    test ? e->n_test_files : e->n_train_files,
					    e->format == LAT_DATA_CIFAR100, &s, err);

	if (rc)
		return rc;
	/* the loaders cap n * c * h * w at 2^30, so this cannot overflow */
	*n = limit && limit < s.n ? limit : s.n;
	*bytes = *n * (s.c * s.h * s.w * sizeof(float) + sizeof(int));
	/* placed on a canvas, the images take canvas^2 pixels each, and both copies exist for a moment */
	if (e->canvas && (lat_size_mul(e->canvas, e->canvas, &plane) || lat_size_mul(plane, s.c, &plane) ||
			  lat_size_mul(plane, *n, &plane) || lat_size_mul(plane, sizeof(float), &plane) ||
			  lat_size_add(*bytes, plane, bytes)))
		return lat_err_set(err, LAT_ECONFIG, "data.canvas = %zu: %zu images need more than a process can address",
				   e->canvas, *n);
	return LAT_OK;
}

/* Refuses data whose planned memory (from the headers and the limits) exceeds the budget, before any
 * pixel is read or decompressed. */
static int plan_data(const lat_trainer_opts *e, char *err)
{
	const char *src = e->source, *what;
	size_t n_train, n_test, b_train, b_test, limit = lat_mem_limit(e->max_memory, &what);
	char need[32], have[32];
	int rc = plan_split(e, 0, &n_train, &b_train, err);

	if (!rc)
		rc = plan_split(e, 1, &n_test, &b_test, err);
	if (rc)
		return rc;
	if (b_train > limit || b_test > limit - b_train)
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: the data alone need %s (%zu training and %zu test images) before "
				   "loading, more than %s (%s); lower data.limit_train and data.limit_test",
				   src, lat_size_text(need, sizeof need, (double)b_train + (double)b_test),
				   n_train, n_test, what, lat_size_text(have, sizeof have, (double)limit));
	return LAT_OK;
}

static int load_data(lat_trainer *t, char *err)
{
	const lat_trainer_opts *e = t->e;
	const char *src = e->source;
	double *mean = NULL, *std = NULL;
	int rc = plan_data(e, err), idx = e->format == LAT_DATA_IDX;

	if (!rc)
		rc = load_split(e, 0, &t->train, err);
	if (!rc)
		rc = load_split(e, 1, &t->test, err);
	if (rc)
		return rc;
	if (t->train.c != t->test.c || t->train.h != t->test.h || t->train.w != t->test.w)
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: %s: %s holds %zux%zux%zu images but the training images are %zux%zux%zu", src,
		    idx ? "data.test_images" : "data.test_files", idx ? e->test_images : e->test_files[0],
		    t->test.c, t->test.h, t->test.w, t->train.c, t->train.h, t->train.w);
	if (e->canvas) {
		char msg[LAT_ERRLEN];
		for (int k = 0; k < 2 && !rc; k++)
			rc = lat_data_place(k ? &t->test : &t->train, e->canvas, k ? e->test_offsets : e->train_offsets,
					    e->seed * 2654435761u + (unsigned long)k + 1, msg);
		if (rc)
			return lat_err_set(err, LAT_ECONFIG, "%s: data.canvas, data.train_offsets / test_offsets: %s", src,
					   msg);
	}
	if (e->validation) {
		if (e->validation >= t->train.n)
			return lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: data.validation = %zu leaves no training images (the training set has %zu)",
			    src, e->validation, t->train.n);
		rc = lat_data_split(&t->train, e->validation, e->seed, &t->val, err);
		if (rc)
			return rc;
	}
	t->n_classes = t->train.n_classes > t->test.n_classes ? t->train.n_classes : t->test.n_classes;
	/* Normalise every split with the training set's statistics, or with the ones given. */
	t->norm = malloc(2 * t->train.c * sizeof *t->norm);
	if (!t->norm)
		return lat_err_set(err, LAT_ENOMEM, "out of memory");
	mean = t->norm;
	std = t->norm + t->train.c;
	if (e->norm) {
		if (e->n_norm != 2 * t->train.c)
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: the normalisation given is for %zu channels, the images have %zu", src,
					   e->n_norm / 2, t->train.c);
		memcpy(t->norm, e->norm, 2 * t->train.c * sizeof *t->norm);
	} else {
		lat_data_stats(&t->train, mean, std);
		/* on a canvas the blank background stays 0, as the zero padding of the layers: scale only */
		for (size_t c = 0; e->canvas && c < t->train.c; c++)
			mean[c] = 0;
	}
	lat_data_normalize(&t->train, mean, std);
	lat_data_normalize(&t->test, mean, std);
	if (t->val.n)
		lat_data_normalize(&t->val, mean, std);
	return rc;
}

/* The sum a part's sharing module combines its pool statistics with: over this process's group. */
static int share_sum(void *ctx, double *v, size_t n)
{
	lat_trainer *t = ctx;

	return t->e->comm->sum_double(group_ctx(t), v, n);
}

static int setup_sharing(lat_trainer *t, char *err)
{
	const lat_trainer_opts *e = t->e;
	lat_share_opts o = e->share;

	t->mode = e->share.mode;
	for (size_t i = 0; i < lat_net_n_layers(t->net); i++) {
		lat_lc_geom g;
		if (lat_lc_geometry(lat_net_layer(t->net, i), &g) || g.shared)
			continue;
		t->snr[t->n_lc][0] = t->snr[t->n_lc][1] = NAN;
		o.seed = e->seed * 7919u + t->n_lc;
		t->lc_layer[t->n_lc] = i;
		t->share[t->n_lc] = lat_share_alloc(&g, &o, err);
		if (!t->share[t->n_lc] ||
		    (t->shard && lat_share_set_sum(t->share[t->n_lc], share_sum, t, t->part, t->parts, err)))
			return LAT_ECONFIG;
		t->n_lc++;
	}
	/* with parameters in shared memory a phase runs on a private copy of its layer */
	if (t->want_shared && t->mode != LAT_SHARE_NONE) {
		size_t most = 0;
		for (size_t i = 0; i < t->n_lc; i++) {
			size_t np = lat_net_layer(t->net, t->lc_layer[i])->n_params;
			most = np > most ? np : most;
		}
		t->phase_w = malloc(most * sizeof *t->phase_w + 1);
		if (!t->phase_w)
			return lat_err_set(err, LAT_ENOMEM, "%s: out of memory for the sharing phases' copy of a layer",
					   e->source);
	}
	return LAT_OK;
}

static size_t data_bytes(const lat_trainer *t);

lat_trainer *lat_trainer_alloc(const lat_trainer_opts *e, int *status, char *err)
{
	lat_trainer *t = calloc(1, sizeof *t);
	lat_batch_opts bo;
	lat_shape in;
	size_t x_bytes;
	int rc = LAT_OK;

	if (!t) {
		rc = lat_err_set(err, LAT_ENOMEM, "out of memory");
		goto fail;
	}
	t->o = *e;
	t->e = &t->o;
	e = t->e;
	lat_dataset_init(&t->train);
	lat_dataset_init(&t->val);
	lat_dataset_init(&t->test);
	rc = load_data(t, err);
	if (rc)
		goto fail;
	in = (lat_shape){t->train.c, t->train.h, t->train.w};
	t->in_size = lat_shape_size(in);
	if (lat_size_mul(e->batch, e->repeats, &t->max_batch) ||
	    lat_size_mul(t->max_batch, t->in_size, &x_bytes) ||
	    lat_size_mul(x_bytes, sizeof *t->x, &x_bytes)) {
		rc = lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: train.batch = %zu x data.repeats = %zu images of %zu values do not fit in memory",
		    e->source, e->batch, e->repeats, t->in_size);
		goto fail;
	}
	t->size = t->parts = 1;
	if (e->comm) {
		const lat_trainer_comm *c = e->comm;
		if (c->size < 1 || c->rank < 0 || c->rank >= c->size || !c->sum_float || !c->sum_double) {
			rc = lat_err_set(err, LAT_EINVAL, "%s: process %d of %d is no data-parallel setting", e->source,
					 c->rank, c->size);
			goto fail;
		}
		t->rank = c->rank;
		t->size = c->size;
		if (e->shard == LAT_SHARD_LOCATIONS || e->shard == LAT_SHARD_ROWS)
			t->parts = c->parts ? c->parts : c->size;
		if (t->parts < 1 || c->size % t->parts ||
		    (t->parts > 1 && t->parts < c->size && (!c->ctx_group || !c->ctx_across))) {
			rc = lat_err_set(err, LAT_EINVAL,
					 "%s: %d processes do not form groups of %d parts (or the group and across sums are "
					 "missing)",
					 e->source, c->size, t->parts);
			goto fail;
		}
	}
	t->shard = t->parts > 1;
	t->part = t->rank % t->parts;
	t->group = t->rank / t->parts;
	t->groups = t->size / t->parts;
	if (t->shard) { /* each process of a group runs the group's batches through its parts of the lc layers */
		t->o.net.shard_part = (size_t)t->part;
		t->o.net.shard_parts = (size_t)t->parts;
		t->o.net.shard_rows = e->shard == LAT_SHARD_ROWS;
	}
	/* the groups run data parallel: each only its slice of a batch */
	t->net_batch = (t->max_batch + (size_t)t->groups - 1) / (size_t)t->groups;
	t->net = lat_net_alloc(&e->net, in, t->n_classes, t->net_batch, err);
	if (!t->net) {
		rc = LAT_ECONFIG;
		goto fail;
	}
	if (t->shard)
		lat_net_set_sum(t->net, part_sum, t);
	if (t->shard && e->shard == LAT_SHARD_ROWS && e->comm->exchange_float)
		lat_net_set_exchange(t->net, part_exchange, t);
	t->n_whole = lat_net_n_params_whole(t->net);
	if (t->groups > 1 && e->split_optimizer && e->comm->reduce_scatter_float && e->comm->allgather_float) {
		size_t m = slice(t, lat_net_n_params(t->net), &t->own_lo);
		t->split_opt = 1;
		t->own_hi = t->own_lo + m;
		t->want_shared = !t->shard && e->comm->shared_floats && e->comm->barrier;
		if (t->want_shared && !(t->gslot = calloc((size_t)t->groups, sizeof *t->gslot))) {
			rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", e->source);
			goto fail;
		}
	}
	rc = lat_net_init(t->net, e->seed, err);
	if (rc)
		goto fail;
	t->optim_opts = e->optim;
	t->opt = lat_optim_alloc(&t->optim_opts, lat_net_n_params(t->net), err);
	bo = (lat_batch_opts){
	    .batch = e->batch, .pad = e->pad, .repeats = e->repeats, .shuffle = 1, .seed = e->seed};
	t->batcher = t->opt ? lat_batcher_alloc(&t->train, &bo, err) : NULL;
	t->x = malloc(x_bytes);
	t->y = malloc(t->max_batch * sizeof *t->y);
	t->dlogits = malloc(t->net_batch * t->n_classes * sizeof *t->dlogits);
	t->red = malloc((R_BUFFERS + lat_net_n_buffers(t->net)) * sizeof *t->red);
	if (!t->opt || !t->batcher || !t->x || !t->y || !t->dlogits || !t->red) {
		rc = t->opt && !t->batcher ? LAT_ECONFIG : lat_err_set(err, LAT_ENOMEM, "out of memory");
		goto fail;
	}
	rc = setup_sharing(t, err);
	if (rc)
		goto fail;
	{
		const char *what;
		size_t limit = lat_mem_limit(e->max_memory, &what), planned = lat_trainer_planned_bytes(t);
		if (planned > limit) {
			char p[32], d[32], n[32], l[32];
			rc = lat_err_set(
			    err, LAT_ECONFIG,
			    "%s: planned memory %s (data %s, network and optimiser %s) is more than %s (%s); "
			    "lower train.batch, data.limit_train or the network size",
			    e->source,
			    lat_size_text(p, sizeof p, (double)planned),
			    lat_size_text(d, sizeof d, (double)data_bytes(t)),
			    lat_size_text(n, sizeof n, (double)planned - (double)data_bytes(t)), what,
			    lat_size_text(l, sizeof l, (double)limit));
			goto fail;
		}
	}
	if (status)
		*status = LAT_OK;
	return t;
fail:
	if (status)
		*status = rc ? rc : LAT_ENOMEM;
	lat_trainer_free(t);
	return NULL;
}

void lat_trainer_free(lat_trainer *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < MAX_LC; i++) { /* NULL past n_lc; set when a setup failed half-way */
		lat_share_free(t->share[i]);
	}
	lat_batcher_free(t->batcher);
	lat_optim_free(t->opt);
	lat_net_free(t->net);
	free(t->phase_w);
	free(t->gslot);
	lat_dataset_clear(&t->train);
	lat_dataset_clear(&t->val);
	lat_dataset_clear(&t->test);
	free(t->x);
	free(t->y);
	free(t->dlogits);
	free(t->red);
	free(t->norm);
	free(t);
}

size_t lat_trainer_batches(const lat_trainer *t)
{
	return lat_batcher_count(t->batcher);
}

size_t lat_trainer_epoch(const lat_trainer *t)
{
	return t->epoch;
}

void lat_trainer_begin_epoch(lat_trainer *t)
{
	lat_batcher_epoch(t->batcher, t->epoch);
	t->in_epoch = 1;
	if (t->resume_batches) {
		/* Replaying the batches already trained draws the same order and shifts from the epoch's
		 * generator, so the rest of the epoch is exactly what the interrupted run would have seen;
		 * the epoch's statistics so far came with the checkpoint. */
		for (size_t k = 0; k < t->resume_batches; k++)
			lat_batcher_next(t->batcher, t->x, t->y);
		t->resume_batches = 0;
		return;
	}
	memset(&t->stats, 0, sizeof t->stats);
	memset(t->shrink, 0, sizeof t->shrink);
	t->stats.share_steady_error = NAN;
}

/* Index of the first non-finite value of v[0..n-1], or n. The sum of v - v stays 0 while every value
 * is finite, so the common case is one pass without branches. */
static size_t first_nonfinite(const float *v, size_t n)
{
	float sum = 0;
	size_t k = 0;
	/* v - v is 0 for a finite v and NaN otherwise, and a NaN survives any order of summation, so the
	 * sum may be split across threads and vector lanes */
#pragma omp parallel for simd reduction(+ : sum) if (n > 65536)
	for (size_t i = 0; i < n; i++)
		sum += v[i] - v[i];
	if (sum == 0)
		return n;
	while (k < n && isfinite(v[k]))
		k++;
	return k;
}

/* Finds the first layer whose parameters (what = 0), gradients (1) or buffers (2) hold a non-finite
 * value; writes "layer L (TYPE): WHAT K of N is V" into msg and returns 1, or returns 0 when all are
 * finite. With a split optimiser step only this process's range of the gradients is summed, and
 * searched. */
static int nonfinite_layer(lat_trainer *t, int what, char *msg, size_t size)
{
	static const char *const names[] = {"parameter", "gradient", "running statistic"};
	for (size_t i = 0; i < lat_net_n_layers(t->net); i++) {
		const lat_layer *l = lat_net_layer(t->net, i);
		const float *v = what == 0 ? l->w : what == 1 ? l->g : l->buf;
		size_t n = what == 2 ? l->n_buffers : l->n_params, lo = 0, hi = n, k;
		if (!n || !v)
			continue;
		if (what == 1 && t->split_opt) {
			own_within(t, (size_t)(v - lat_net_grads(t->net)), n, &lo, &hi);
			if (lo >= hi)
				continue;
		}
		k = lo + first_nonfinite(v + lo, hi - lo);
		if (k < hi) {
			snprintf(msg, size, "layer %zu (%s): %s %zu of %zu is %g", i + 1, l->type->name,
				 names[what], k, n, (double)v[k]);
			return 1;
		}
	}
	return 0;
}

/* Why the loss of the batch x (n samples) is not finite: non-finite parameters, or the first layer
 * whose output overflows although its input is finite (found by running the layers one by one again,
 * net_batch samples at a time). */
static void diagnose_forward(lat_trainer *t, const float *x, size_t n, int training, char *msg, size_t size)
{
	size_t max_out = 0, bytes;
	float *buf[2] = {NULL, NULL};
	int found = 0;

	if (nonfinite_layer(t, 0, msg, size) || nonfinite_layer(t, 2, msg, size))
		return;
	for (size_t i = 0; i < lat_net_n_layers(t->net); i++) {
		lat_shape o = lat_net_layer(t->net, i)->out;
		if (lat_shape_size(o) > max_out)
			max_out = lat_shape_size(o);
	}
	if (lat_size_mul(t->net_batch, max_out, &bytes) || lat_size_mul(bytes, sizeof *buf[0], &bytes))
		bytes = SIZE_MAX; /* malloc refuses it */
	buf[0] = malloc(bytes);
	buf[1] = malloc(bytes);
	snprintf(msg, size, "every parameter is finite but the loss is not");
	for (size_t start = 0; buf[0] && buf[1] && !found && start < n; start += t->net_batch) {
		size_t m = n - start < t->net_batch ? n - start : t->net_batch;
		const float *in = x + start * t->in_size;
		for (size_t i = 0; i < lat_net_n_layers(t->net); i++) {
			lat_layer *l = lat_net_layer(t->net, i);
			size_t out = lat_shape_size(l->out), k;
			if (l->type->forward(l, in, buf[i % 2], m, training))
				break;
			k = first_nonfinite(buf[i % 2], m * out);
			if (k < m * out) {
				snprintf(msg, size,
					 "layer %zu (%s): output %zu of sample %zu is %g although its input and "
					 "parameters are finite (weights too large)",
					 i + 1, l->type->name, k % out, start + k / out + 1, (double)buf[i % 2][k]);
				found = 1;
				break;
			}
			in = buf[i % 2];
		}
	}
	free(buf[0]);
	free(buf[1]);
}

/* "layer L (TYPE): V", the layer holding the parameter of largest magnitude V, into msg. */
static void largest_weight(lat_trainer *t, char *msg, size_t size)
{
	size_t best = 0;
	double big = -1;

	for (size_t i = 0; i < lat_net_n_layers(t->net); i++) {
		const lat_layer *l = lat_net_layer(t->net, i);
		for (size_t k = 0; l->w && k < l->n_params; k++)
			if (fabs(l->w[k]) > big) {
				big = fabs(l->w[k]);
				best = i;
			}
	}
	snprintf(msg, size, "layer %zu (%s): %g", best + 1, lat_net_layer(t->net, best)->type->name, big);
}

/* LAT_EDIVERGE when a finite loss is absurd, more than LAT_DIVERGE_LOSS_FACTOR times that of a uniform
 * guess: logits thousands apart mean the weights have blown up. The message starts with where and names
 * the layer of the largest weight and the key to lower. */
static int loss_diverged(lat_trainer *t, double loss, const char *where, char *err)
{
	double bound = LAT_DIVERGE_LOSS_FACTOR * log((double)t->n_classes);
	char big[128], why[96];

	if (!(loss > bound))
		return LAT_OK;
	t->fault_in_sharing = t->shared_last;
	largest_weight(t, big, sizeof big);
	if (t->shared_last)
		snprintf(why, sizeof why, "right after a sharing phase: lower sharing.eta (now %g)",
			 t->e->share.eta);
	else
		snprintf(why, sizeof why, "lower train.lr (now %g)", lat_optim_lr(&t->optim_opts, t->epoch));
	return lat_err_set(
	    err, LAT_EDIVERGE,
	    "%s: the loss is %g, more than %g x ln(%zu classes) = %g (a uniform guess scores ln(%zu)): "
	    "training diverged, the largest weight is in %s; %s",
	    where, loss, LAT_DIVERGE_LOSS_FACTOR, t->n_classes, bound, t->n_classes, big, why);
}

static int agree(lat_trainer *t, int rc, char *msg, size_t size);

/* The index of layer li's first parameter in the whole network's layout. */
static size_t whole_offset(const lat_trainer *t, size_t li)
{
	size_t lo = 0;

	for (size_t k = 0; k < li; k++)
		lo += lat_net_layer_params_whole(t->net, k);
	return lo;
}

/* Copies this process's range of the parameters that lie in layer l from w (a copy of l's) into l. */
static void put_own_range(lat_trainer *t, lat_layer *l, const float *w)
{
	size_t lo, hi;

	own_within(t, (size_t)(l->w - lat_net_params(t->net)), l->n_params, &lo, &hi);
	if (lo < hi)
		memcpy(l->w + lo, w + lo, (hi - lo) * sizeof *w);
}

/* With one shared copy of the parameters: waits for the other processes during sharing phase
 * t->phases + 1. LAT_OK, or LAT_EIO with err. */
static int phase_barrier(lat_trainer *t, char *err)
{
	if (t->e->comm->barrier(across_ctx(t)))
		return lat_err_set(err, LAT_EIO, "sharing phase %llu: the processes could not wait for each other",
				   (unsigned long long)t->phases + 1);
	return LAT_OK;
}

/* One sharing phase in every lc layer. The noise generator is reseeded from the phase index so that a
 * resumed run draws the same patches as an uninterrupted one. */
static int share_phase(lat_trainer *t, char *err)
{
	double start = now();
	for (size_t i = 0; i < t->n_lc; i++) {
		lat_layer *l = lat_net_layer(t->net, t->lc_layer[i]);
		char msg[LAT_ERRLEN];
		lat_share_stats st = {0};
		float *w = l->w;
		int rc;
		lat_share_reseed(t->share[i], t->e->seed * 104729u + t->phases * 131u + i);
		/* one shared copy of the parameters: every process reads the layer before any writes it */
		if (t->shared_params) {
			memcpy(t->phase_w, l->w, l->n_params * sizeof *w);
			if (phase_barrier(t, err))
				return LAT_EIO;
			w = t->phase_w;
		}
		/* split: each process runs the phase on its part, the pool statistics summed over the group */
		rc = agree(t, lat_share_phase(t->share[i], w, &st, msg), msg, sizeof msg);
		if (!rc && t->shared_params)
			put_own_range(t, l, w);
		if (!rc && isfinite(st.dev_ratio)) {
			t->shrink[i][0] += st.dev_ratio;
			t->shrink[i][2]++;
		}
		if (!rc && isfinite(st.mean_ratio)) {
			t->shrink[i][1] += st.mean_ratio;
			t->shrink[i][3]++;
		}
		if (!rc && isfinite(st.max_steady_error))
			t->stats.share_steady_error =
			    isnan(t->stats.share_steady_error)
				? st.max_steady_error
				: fmax(t->stats.share_steady_error, st.max_steady_error);
		if (rc == LAT_EDIVERGE)
			return lat_err_set(
			    err, rc, "sharing phase %llu, layer %zu (lc): %s; lower sharing.eta (now %g)",
			    (unsigned long long)t->phases + 1, t->lc_layer[i] + 1, msg, t->e->share.eta);
		if (rc)
			return lat_err_set(err, rc, "sharing phase %llu, layer %zu (lc): %s",
					   (unsigned long long)t->phases + 1, t->lc_layer[i] + 1, msg);
	}
	/* the new weights are whole before any process reads them */
	if (t->shared_params && phase_barrier(t, err))
		return LAT_EIO;
	t->phases++;
	t->stats.phases++;
	t->stats.share_seconds += now() - start;
	return LAT_OK;
}

/* Forward, loss and backward of this process's slice of the n samples in t->x, t->y: the gradient of
 * the batch's mean loss over the slice's samples, the slice's mean loss and correct count. A non-finite
 * loss is no error here (the caller diagnoses it; the backward pass is skipped). */
static int slice_pass(lat_trainer *t, size_t n, double *loss, size_t *correct, char *msg)
{
	size_t lo, m = slice(t, n, &lo);
	const float *logits;
	int rc;

	*loss = 0;
	*correct = 0;
	if (m == 0) { /* a last batch smaller than the processes: this one adds nothing */
		memset(lat_net_grads(t->net), 0, lat_net_n_params(t->net) * sizeof(float));
		return LAT_OK;
	}
	logits = lat_net_forward(t->net, t->x + lo * t->in_size, m, 1, msg);
	if (!logits)
		return LAT_EINVAL;
	rc = lat_loss_softmax_xent(logits, t->y + lo, m, t->n_classes, t->dlogits, loss, correct, msg);
	if (rc || !isfinite(*loss))
		return rc;
	if (m < n) { /* the loss's gradient was divided by m; the batch's is divided by n */
		float f = (float)((double)m / (double)n);
		for (size_t k = 0; k < m * t->n_classes; k++)
			t->dlogits[k] *= f;
	}
	return lat_net_backward(t->net, t->dlogits, m, msg);
}

/* The code of the processes that failed, from the sums r of a data-parallel exchange: theirs when they
 * agree on one, else LAT_EINVAL. */
static int peer_code(const double *r)
{
	int code = (int)-(r[R_CODES] / r[R_FAILED]);
	return code <= LAT_ENOMEM && code >= LAT_EDIVERGE && (double)-code * r[R_FAILED] == r[R_CODES] ? code
												   : LAT_EINVAL;
}

/* Gradients in shared slots: once every process has its slice's, this process's range of its slot
 * becomes their sum over the slots in process order (the bits of reduce_scatter_float); the others read
 * this slot's other ranges until the barrier after the optimiser step. 0, or nonzero when the barrier
 * failed. */
#define SLOT_CHUNK 2048 /* floats summed at once (in L1) */
static int sum_slots(lat_trainer *t)
{
	float *own = t->gslot[t->group], acc[SLOT_CHUNK];

	if (t->e->comm->barrier(across_ctx(t)))
		return 1;
	/* a chunk at a time, since own is one of the slots summed */
	for (size_t lo = t->own_lo; lo < t->own_hi; lo += SLOT_CHUNK) {
		size_t m = t->own_hi - lo < SLOT_CHUNK ? t->own_hi - lo : SLOT_CHUNK;
		memcpy(acc, t->gslot[0] + lo, m * sizeof *acc);
		for (int q = 1; q < t->groups; q++) {
			const float *g = t->gslot[q] + lo;
			for (size_t i = 0; i < m; i++)
				acc[i] += g[i];
		}
		memcpy(own + lo, acc, m * sizeof *acc);
	}
	return 0;
}

/* Data parallel: sums the slices' gradients, losses, counts, failures and bn running statistics over
 * the processes, so that each continues with the whole batch's (*loss, *correct in: the slice's; out: the
 * batch's). rc and msg are this process's outcome; returns the collective one (LAT_EIO when the exchange
 * failed). */
static int combine(lat_trainer *t, size_t n, int rc, double *loss, size_t *correct, char *msg, size_t size)
{
	const lat_trainer_comm *c = t->e->comm;
	size_t lo, m = slice(t, n, &lo), nb = lat_net_n_buffers(t->net);
	float *buf = lat_net_buffers(t->net);
	double *r = t->red, w = (double)m / (double)n, start = now();
	int bad;

	r[R_LOSS] = rc ? 0 : *loss * (double)m;
	r[R_CORRECT] = (double)*correct;
	r[R_FAILED] = rc != 0;
	r[R_CODES] = -(double)rc;
	for (size_t k = 0; k < nb; k++)
		r[R_BUFFERS + k] = w * (double)buf[k];
	bad = (t->shared_params ? sum_slots(t)
				: (t->split_opt ? c->reduce_scatter_float : c->sum_float)(
				      across_ctx(t), lat_net_grads(t->net), lat_net_n_params(t->net))) ||
	      c->sum_double(across_ctx(t), r, R_BUFFERS + nb);
	t->stats.sum_seconds += now() - start;
	t->stats.sum_bytes += (double)(lat_net_n_params(t->net) * sizeof(float) + (R_BUFFERS + nb) * sizeof *r);
	if (bad) {
		snprintf(msg, size, "the exchange of gradients with the other processes failed");
		return LAT_EIO;
	}
	if (r[R_FAILED] > 0) {
		if (rc)
			return rc;
		snprintf(msg, size, "another process failed on its slice of the batch (its message says why)");
		return peer_code(r);
	}
	*loss = r[R_LOSS] / (double)n;
	*correct = (size_t)r[R_CORRECT];
	for (size_t k = 0; k < nb; k++)
		buf[k] = (float)r[R_BUFFERS + k];
	return LAT_OK;
}

/* Split by location or with a split optimiser step: tells every process whether any failed a check of
 * its own part (rc, msg: this one's outcome). Returns the collective code: this process's, another's
 * (msg then says so), or LAT_EIO when the exchange failed. Without a split it returns rc. */
static int agree(lat_trainer *t, int rc, char *msg, size_t size)
{
	const lat_trainer_comm *c = t->e->comm;
	double r[R_BUFFERS] = {0, 0, rc != 0, -(double)rc};

	if (!t->shard && !t->split_opt)
		return rc;
	if (t->in_epoch)
		t->stats.sum_bytes += (double)sizeof r;
	if (c->sum_double(c->ctx, r, R_BUFFERS)) {
		if (!rc)
			snprintf(msg, size, "the exchange with the other processes failed");
		return rc ? rc : LAT_EIO;
	}
	if (r[R_FAILED] > 0 && !rc) {
		snprintf(msg, size, "another process failed (its message says why)");
		return peer_code(r);
	}
	return rc;
}

/* The optimiser step: whole, or on this process's range followed by the gathering of the parameters
 * (split optimiser). Returns 1 when a new parameter of this process's step is not finite; a failed
 * gathering sets *rc to LAT_EIO with msg. */
static int step_optimiser(lat_trainer *t, int *rc, char *msg, size_t size)
{
	const lat_trainer_comm *c = t->e->comm;
	float *w = lat_net_params(t->net);
	double lr = lat_optim_lr(&t->optim_opts, t->epoch), start;
	int bad;

	if (!t->split_opt)
		return lat_optim_step(t->opt, w, lat_net_grads(t->net), lr);
	bad = lat_optim_step_range(t->opt, w, lat_net_grads(t->net), lr, t->own_lo, t->own_hi);
	t->opt_stale = 1;
	start = now();
	/* one shared copy: the others' ranges are new once they are done */
	if (t->shared_params ? c->barrier(across_ctx(t))
			     : c->allgather_float(across_ctx(t), w, lat_net_n_params(t->net))) {
		snprintf(msg, size, "the exchange of parameters with the other processes failed");
		*rc = LAT_EIO;
	}
	count_comm(t, start, t->shared_params ? 0 : t->own_hi - t->own_lo); /* what it hands: its range */
	return bad;
}

/* A split optimiser's state, gathered on every process (collective; nothing when it is whole). LAT_OK,
 * or LAT_EIO with err. */
static int gather_state(lat_trainer *t, char *err)
{
	size_t n_state, n = lat_net_n_params(t->net);
	float *state = lat_optim_state(t->opt, &n_state);

	if (!t->opt_stale)
		return LAT_OK;
	for (size_t b = 0; b < n_state / n; b++)
		if (t->e->comm->allgather_float(across_ctx(t), state + b * n, n))
			return lat_err_set(err, LAT_EIO,
					   "the exchange of the optimiser state with the other processes failed");
	t->opt_stale = 0;
	return LAT_OK;
}

/* At the first step (every process of a run reaches it together; lat_trainer_alloc may fail on one
 * alone): the parameters move into the comm's shared memory, when it has some, each process copying
 * its range. */
static int share_params(lat_trainer *t, char *err)
{
	const lat_trainer_comm *c = t->e->comm;
	size_t n = lat_net_n_params(t->net);
	float *sp;

	t->want_shared = 0;
	sp = c->shared_floats(across_ctx(t), n, NULL);
	if (!sp)
		return LAT_OK;
	memcpy(sp + t->own_lo, lat_net_params(t->net) + t->own_lo, (t->own_hi - t->own_lo) * sizeof *sp);
	if (!c->shared_floats(across_ctx(t), n, t->gslot) || c->barrier(across_ctx(t)))
		return lat_err_set(err, LAT_EIO, "the processes could not share their gradients' memory");
	lat_net_use_params(t->net, sp);
	lat_net_use_grads(t->net, t->gslot[t->group]);
	t->shared_params = 1;
	return LAT_OK;
}

int lat_trainer_step(lat_trainer *t, char *err)
{
	double start = now();
	size_t n = lat_batcher_next(t->batcher, t->x, t->y), correct = 0;
	double loss;
	const char *bad = "";
	char msg[LAT_ERRLEN];
	int rc;

	t->fault_in_sharing = 0;
	if (t->want_shared && share_params(t, err))
		return LAT_EIO;
	if (n == 0) {
		/* a split optimiser's state is whole between epochs (checkpoints, checksums) */
		if (gather_state(t, err))
			return LAT_EIO;
		t->epoch++;
		t->in_epoch = 0;
		return 0;
	}
	rc = slice_pass(t, n, &loss, &correct, msg);
	if (t->groups > 1)
		rc = combine(t, n, rc, &loss, &correct, msg, sizeof msg);
	if (rc)
		return lat_err_set(err, rc, "epoch %zu, batch %zu: %s", t->epoch + 1, t->stats.batches + 1,
				   msg);
	if (!isfinite(loss)) {
		t->fault_in_sharing = t->shared_last;
		diagnose_forward(t, t->x, n, 1, msg, sizeof msg);
		return lat_err_set(err, LAT_EDIVERGE, "epoch %zu, batch %zu: the loss is %g: %s",
				   t->epoch + 1, t->stats.batches + 1, loss, msg);
	}
	if (nonfinite_layer(t, 1, msg, sizeof msg)) {
		/* A non-finite weight can hide in the forward pass (relu maps NaN to 0): name it first. */
		bad = nonfinite_layer(t, 0, msg, sizeof msg) ? "a weight is not finite: " : "a gradient is not finite: ";
		rc = LAT_EDIVERGE;
	}
	/* split: the parts' gradients differ, so their checks are settled together */
	rc = agree(t, rc, msg, sizeof msg);
	if (rc)
		return lat_err_set(err, rc, "epoch %zu, batch %zu: %s%s", t->epoch + 1, t->stats.batches + 1, bad, msg);
	/* after the gradients' check, which names a non-finite value more precisely, and before the step */
	snprintf(msg, sizeof msg, "epoch %zu, batch %zu", t->epoch + 1, t->stats.batches + 1);
	rc = loss_diverged(t, loss, msg, err);
	if (rc)
		return rc;
	/* the step tells whether a weight became non-finite; only then are the layers searched for it */
	if ((step_optimiser(t, &rc, msg, sizeof msg) && nonfinite_layer(t, 0, msg, sizeof msg)) ||
	    nonfinite_layer(t, 2, msg, sizeof msg))
		rc = rc ? rc : LAT_EDIVERGE;
	rc = agree(t, rc, msg, sizeof msg);
	if (rc)
		return lat_err_set(err, rc,
				   "epoch %zu, batch %zu: after the optimiser step (lr %g): %s", t->epoch + 1,
				   t->stats.batches + 1, lat_optim_lr(&t->optim_opts, t->epoch), msg);
	t->shared_last = 0;
	t->global_batch++;
	t->stats.batches++;
	t->stats.samples += n;
	t->stats.correct += correct;
	t->stats.loss_sum += loss * (double)n;
	t->stats.train_seconds += now() - start;
	if (t->mode != LAT_SHARE_NONE && t->global_batch % t->e->share_every == 0) {
		rc = share_phase(t, msg);
		t->fault_in_sharing = rc != LAT_OK;
		/* instant sharing copies pool means: it cannot blow weights up, and has no eta */
		t->shared_last = t->mode != LAT_SHARE_INSTANT;
		if (rc)
			return lat_err_set(err, rc, "epoch %zu, batch %zu: %s", t->epoch + 1,
					   t->stats.batches, msg);
	}
	return 1;
}

int lat_trainer_fault_in_sharing(const lat_trainer *t)
{
	return t->fault_in_sharing;
}

const lat_epoch_stats *lat_trainer_stats(const lat_trainer *t)
{
	return &t->stats;
}

/* Loss sum and correct count of samples [lo, hi) of d, net_batch at a time; an error names the samples. */
static int evaluate_range(lat_trainer *t, const lat_dataset *d, int which, size_t lo, size_t hi, double *sum,
			  size_t *correct, char *err)
{
	const char *split = which ? "validation" : "test";

	for (size_t start = lo; start < hi; start += t->net_batch) {
		size_t n = hi - start < t->net_batch ? hi - start : t->net_batch, c = 0;
		const float *x = d->x + start * t->in_size, *logits = lat_net_forward(t->net, x, n, 0, err);
		double l;
		char msg[LAT_ERRLEN];
		int rc;
		if (!logits)
			return LAT_EINVAL;
		rc = lat_loss_softmax_xent(logits, d->y + start, n, t->n_classes, NULL, &l, &c, msg);
		if (rc)
			return lat_err_set(err, rc, "%s set, samples %zu-%zu: %s", split, start + 1, start + n, msg);
		if (!isfinite(l)) {
			t->fault_in_sharing = t->shared_last;
			diagnose_forward(t, x, n, 0, msg, sizeof msg);
			return lat_err_set(err, LAT_EDIVERGE, "%s set, samples %zu-%zu: the loss is %g: %s", split,
					   start + 1, start + n, l, msg);
		}
		snprintf(msg, sizeof msg, "%s set, samples %zu-%zu", split, start + 1, start + n);
		rc = loss_diverged(t, l, msg, err);
		if (rc)
			return rc;
		*sum += l * (double)n;
		*correct += c;
	}
	return LAT_OK;
}

int lat_trainer_evaluate(lat_trainer *t, int which, double *acc, double *loss, char *err)
{
	const lat_dataset *d = which ? &t->val : &t->test;
	size_t correct = 0, lo, m;
	double sum = 0;
	int rc;

	if (d->n == 0)
		return lat_err_set(err, LAT_EINVAL, "no %s samples to evaluate",
				   which ? "validation" : "test");
	/* data parallel: each process evaluates its slice of the set, and the sums are combined */
	m = slice(t, d->n, &lo);
	rc = evaluate_range(t, d, which, lo, lo + m, &sum, &correct, err);
	if (t->groups > 1) {
		const lat_trainer_comm *c = t->e->comm;
		double r[R_BUFFERS] = {rc ? 0 : sum, (double)correct, rc != 0, -(double)rc};
		if (c->sum_double(across_ctx(t), r, R_BUFFERS))
			return lat_err_set(err, LAT_EIO, "%s set: the exchange with the other processes failed",
					   which ? "validation" : "test");
		if (r[R_FAILED] > 0 && !rc)
			return lat_err_set(err, peer_code(r),
					   "%s set: another process failed on its part of the set (its message says why)",
					   which ? "validation" : "test");
		sum = r[R_LOSS];
		correct = (size_t)r[R_CORRECT];
	}
	if (rc)
		return rc;
	*acc = 100.0 * (double)correct / (double)d->n;
	*loss = sum / (double)d->n;
	return LAT_OK;
}

int lat_trainer_has_validation(const lat_trainer *t)
{
	return t->val.n > 0;
}

int lat_trainer_split(const lat_trainer *t)
{
	return t->shard || t->split_opt;
}

size_t lat_trainer_n_lc(const lat_trainer *t)
{
	return t->n_lc;
}

/* buf (len floats) = floats [lo, lo + len) of local (an array in the parameters' layout) in the whole
 * network's layout: this process's values in place and, split, the others' summed in; every process of
 * a group calls it for the same window. */
static int gather_window(lat_trainer *t, float *local, size_t lo, size_t len, float *buf, char *err)
{
	const lat_trainer_comm *c = t->e->comm;

	memset(buf, 0, len * sizeof *buf);
	lat_net_map_whole(t->net, local, buf, lo, len, 1, t->part == 0);
	if (t->shard && c->sum_float(group_ctx(t), buf, len))
		return lat_err_set(err, LAT_EIO, "gathering the lc layers' parts failed");
	return LAT_OK;
}

/* *w: a new array of the len parameters at lo of the whole layout (gather_window), or NULL with the
 * error code returned (what names it in messages). Split, the processes settle the allocation together
 * before the gather: all go on to the sums, or none. */
static int gather_new(lat_trainer *t, size_t lo, size_t len, float **w, const char *what, char *err)
{
	char msg[LAT_ERRLEN];
	int rc;

	*w = malloc((len + 1) * sizeof **w);
	rc = *w ? LAT_OK : lat_err_set(err, LAT_ENOMEM, "out of memory for %s", what);
	if (agree(t, rc, msg, sizeof msg) && !rc)
		rc = lat_err_set(err, LAT_EIO, "%s", msg);
	if (!rc)
		rc = gather_window(t, lat_net_params(t->net), lo, len, *w, err);
	if (rc) {
		free(*w);
		*w = NULL;
	}
	return rc;
}

/* The floats of one output channel's kernels of lc layer i, W[c] (its geometry in *g). */
static size_t channel_floats(const lat_trainer *t, size_t i, lat_lc_geom *g)
{
	lat_lc_geometry(lat_net_layer(t->net, t->lc_layer[i]), g);
	return g->h_out * g->w_out * g->c_in * g->k * g->k;
}

float *lat_trainer_lc_kernels(lat_trainer *t, size_t i, size_t c0, size_t n, char *err)
{
	lat_lc_geom g;
	size_t len;
	float *w = NULL;

	if (i >= t->n_lc) {
		lat_err_set(err, LAT_EINVAL, "no lc layer %zu (the network has %zu)", i + 1, t->n_lc);
		return NULL;
	}
	len = channel_floats(t, i, &g);
	if (c0 > g.c_out || n > g.c_out - c0) {
		lat_err_set(err, LAT_EINVAL, "lc layer %zu has %zu output channels, not %zu from %zu", i + 1, g.c_out, n,
			    c0 + 1);
		return NULL;
	}
	gather_new(t, whole_offset(t, t->lc_layer[i]) + c0 * len, n * len, &w, "lc kernels", err);
	return w;
}

int lat_trainer_measure_lc(lat_trainer *t, char *err)
{
	for (size_t i = 0; i < t->n_lc; i++) {
		lat_share_pools p;
		char msg[LAT_ERRLEN];
		/* split: a collective call, the pool moments summed over the group; every process returns alike */
		int rc = lat_share_measure(t->share[i], lat_net_layer(t->net, t->lc_layer[i])->w, &p, msg);
		t->snr[i][0] = rc ? NAN : p.snr;
		t->snr[i][1] = rc ? NAN : p.snr_channel;
		if (rc && rc != LAT_ENOMEM)
			return lat_err_set(err, rc, "the statistics of lc layer %zu: %s", t->lc_layer[i] + 1, msg);
	}
	return LAT_OK;
}

void lat_trainer_lc_snrs(const lat_trainer *t, size_t i, double *snr_pool, double *snr_channel)
{
	*snr_pool = i < t->n_lc ? t->snr[i][0] : NAN;
	*snr_channel = i < t->n_lc ? t->snr[i][1] : NAN;
}

void lat_trainer_lc_shrink(const lat_trainer *t, size_t i, double *dev, double *mean)
{
	*dev = *mean = NAN;
	if (i >= t->n_lc)
		return;
	if (t->shrink[i][2] > 0)
		*dev = t->shrink[i][0] / t->shrink[i][2];
	if (t->shrink[i][3] > 0)
		*mean = t->shrink[i][1] / t->shrink[i][3];
}

size_t lat_trainer_n_train(const lat_trainer *t)
{
	return t->train.n;
}

size_t lat_trainer_n_test(const lat_trainer *t)
{
	return t->test.n;
}

lat_net *lat_trainer_net(lat_trainer *t)
{
	return t->net;
}

lat_optim *lat_trainer_optim(lat_trainer *t)
{
	return t->opt;
}

/* Bytes of the loaded images and labels (SIZE_MAX when that overflows: it is compared with a limit). */
static size_t data_bytes(const lat_trainer *t)
{
	size_t n, per, bytes;

	if (lat_size_add(t->train.n, t->val.n, &n) || lat_size_add(n, t->test.n, &n) ||
	    lat_size_mul(t->in_size, sizeof(float), &per) || lat_size_add(per, sizeof(int), &per) ||
	    lat_size_mul(n, per, &bytes))
		return SIZE_MAX;
	return bytes;
}

size_t lat_trainer_planned_bytes(const lat_trainer *t)
{
	size_t n_state = 0, floats, part, bytes;
	int bad;

	lat_optim_state(t->opt, &n_state);
	bad = lat_size_mul(lat_net_n_params(t->net), 2, &floats) ||
	      lat_size_add(floats, lat_net_n_buffers(t->net), &floats) ||
	      lat_size_add(floats, n_state, &floats) ||
	      lat_size_add(floats, lat_net_activation_floats(t->net), &floats) ||
	      lat_size_add(t->in_size, t->n_classes, &part) || lat_size_mul(part, t->max_batch, &part) ||
	      lat_size_add(floats, part, &floats);
	/* sharing works on double copies of each lc layer's kernels (of its part, when split) */
	for (size_t i = 0; i < t->n_lc && t->mode != LAT_SHARE_NONE && !bad; i++)
		bad = lat_size_mul(lat_net_layer(t->net, t->lc_layer[i])->n_params, 4, &part) ||
		      lat_size_add(floats, part, &floats);
	/* split: the checkpoint's window, or the two channels of kernels.tsv if larger */
	if (t->shard && !bad) {
		lat_lc_geom g;
		size_t most = LAT_TRAINER_GATHER, two = t->n_lc ? 2 * channel_floats(t, 0, &g) : 0;
		bad = lat_size_add(floats, two > most ? two : most, &floats);
	}
	/* saturate rather than wrap: the plan is compared with a limit */
	if (bad || lat_size_mul(floats, sizeof(float), &bytes) || lat_size_add(bytes, data_bytes(t), &bytes))
		return SIZE_MAX;
	return bytes;
}

/* The optimiser's state in arrays of the parameters' layout (adamw: m and v, 2). */
static size_t state_blocks(const lat_trainer *t)
{
	size_t n_state;

	lat_optim_state(t->opt, &n_state);
	return n_state / lat_net_n_params(t->net);
}

unsigned long long lat_trainer_checksum(lat_trainer *t)
{
	size_t n_state;
	const float *state = lat_optim_state(t->opt, &n_state);
	unsigned long long h = LAT_HASH_START;
	uint64_t counters[3] = {t->global_batch, t->phases, *lat_optim_steps(t->opt)};
	size_t n = lat_net_n_params(t->net);

	/* the parameters and each block of optimiser state in their layout, the split layers' skipped (and
	 * a split optimiser's state while it is stale) */
	for (size_t b = 0; b <= (t->opt_stale ? 0 : state_blocks(t)); b++)
		for (size_t i = 0, pos = 0; i < lat_net_n_layers(t->net); i++) {
			size_t len = lat_net_layer(t->net, i)->n_params;
			const float *v = b ? state + (b - 1) * n : lat_net_params(t->net);
			if (!(t->shard && lat_net_layer_split(t->net, i)))
				h = lat_hash(h, v + pos, len * sizeof *v);
			pos += len;
		}
	h = lat_hash(h, lat_net_buffers(t->net), lat_net_n_buffers(t->net) * sizeof(float));
	return lat_hash(h, counters, sizeof counters);
}

/* ---- checkpoints ---- */

/* Checkpoints hold the whole network (lat_net_map_whole): the parameters, then the optimiser state as
 * state_blocks arrays, each n_whole floats. Both move in windows of LAT_TRAINER_GATHER floats; split by
 * location, a window is gathered with a sum. */

/* Appends to w (NULL: only the sums) a section of blocks x n_whole floats: local (blocks arrays of
 * lat_net_n_params floats) in the whole layout, one window at a time in win. LAT_EIO with err when a sum
 * fails. */
static int put_whole(lat_trainer *t, lat_ckpt_writer *w, uint32_t tag, float *local, size_t blocks,
		     float *win, char *err)
{
	size_t n = lat_net_n_params(t->net);

	if (w)
		lat_ckpt_put_begin(w, tag, LAT_CKPT_F32, blocks * t->n_whole);
	for (size_t b = 0; b < blocks; b++)
		for (size_t lo = 0; lo < t->n_whole; lo += LAT_TRAINER_GATHER) {
			size_t len = t->n_whole - lo < LAT_TRAINER_GATHER ? t->n_whole - lo : LAT_TRAINER_GATHER;
			int rc = gather_window(t, local + b * n, lo, len, win, err);
			if (rc)
				return rc;
			if (w)
				lat_ckpt_put_more(w, win, len);
		}
	return LAT_OK;
}

/* The inverse: this network's values of a section of blocks x n_whole floats into local. */
static void get_whole(lat_trainer *t, const lat_ckpt_section *sec, float *local, size_t blocks, float *win)
{
	size_t n = lat_net_n_params(t->net);

	for (size_t b = 0; b < blocks; b++)
		for (size_t lo = 0; lo < t->n_whole; lo += LAT_TRAINER_GATHER) {
			size_t len = t->n_whole - lo < LAT_TRAINER_GATHER ? t->n_whole - lo : LAT_TRAINER_GATHER;
			for (size_t j = 0; j < len; j++)
				win[j] = lat_ckpt_f32(sec, b * t->n_whole + lo + j);
			lat_net_map_whole(t->net, local + b * n, win, lo, len, 0, 1);
		}
}

/* checkpoint.bin: a container (ckpt.h) of kind LAT_CKPT_TRAIN with these sections. */
#define CKPT_VERSION 3u
enum { K_HDR, K_STATS, K_PARAMS, K_BUFFERS, K_OPT, K_SHRINK, K_TEXT, K_NORM, K_N_SECTIONS };
/* The header's counts, in this order: sizes, counters, and the position within the epoch with the
 * statistics of that epoch so far (mid-epoch checkpoints; 0 at an epoch boundary). */
enum {
	H_PARAMS,
	H_BUFFERS,
	H_STATE,
	H_EPOCH,
	H_GLOBAL_BATCH,
	H_PHASES,
	H_OPT_STEPS,
	H_BATCH,
	H_BATCHES,
	H_SAMPLES,
	H_CORRECT,
	H_EPOCH_PHASES,
	H_COUNT
};
enum { S_LOSS_SUM, S_SHARE_SECONDS, S_TRAIN_SECONDS, S_STEADY_ERROR, S_COUNT };

int lat_trainer_save(lat_trainer *t, const char *path, char *err)
{
	static const double zero_shrink[MAX_LC][4] = {{0}};
	size_t n_state, blocks = state_blocks(t);
	float *state = lat_optim_state(t->opt, &n_state), *win = NULL;
	uint64_t h[H_COUNT] = {0};
	double st[S_COUNT] = {0};
	lat_ckpt_writer *w = NULL;
	char msg[LAT_ERRLEN];
	int rc = LAT_OK;

	if (path && !(w = lat_ckpt_writer_open(path, LAT_CKPT_TRAIN, CKPT_VERSION, err)))
		rc = LAT_EIO;
	if (!rc && !(win = malloc(LAT_TRAINER_GATHER * sizeof *win)))
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path ? path : "checkpoint");
	/* split: every process joins the gathers, or none does */
	if (agree(t, rc, msg, sizeof msg) && !rc)
		rc = lat_err_set(err, LAT_EIO, "%s", msg);
	if (!rc)
		rc = gather_state(t, err);
	if (rc)
		goto out;
	h[H_PARAMS] = t->n_whole;
	h[H_BUFFERS] = lat_net_n_buffers(t->net);
	h[H_STATE] = blocks * t->n_whole;
	h[H_EPOCH] = t->epoch;
	h[H_GLOBAL_BATCH] = t->global_batch;
	h[H_PHASES] = t->phases;
	h[H_OPT_STEPS] = *lat_optim_steps(t->opt);
	if (t->in_epoch || t->resume_batches) {
		h[H_BATCH] = t->in_epoch ? t->stats.batches : t->resume_batches;
		h[H_BATCHES] = t->stats.batches;
		h[H_SAMPLES] = t->stats.samples;
		h[H_CORRECT] = t->stats.correct;
		h[H_EPOCH_PHASES] = t->stats.phases;
		st[S_LOSS_SUM] = t->stats.loss_sum;
		st[S_SHARE_SECONDS] = t->stats.share_seconds;
		st[S_TRAIN_SECONDS] = t->stats.train_seconds;
		st[S_STEADY_ERROR] = t->stats.share_steady_error;
	}
	if (w) {
		lat_ckpt_put(w, LAT_CKPT_TAG('T', 'H', 'D', 'R'), LAT_CKPT_U64, h, H_COUNT);
		lat_ckpt_put(w, LAT_CKPT_TAG('T', 'S', 'T', 'A'), LAT_CKPT_F64, st, S_COUNT);
	}
	rc = put_whole(t, w, LAT_CKPT_TAG('P', 'A', 'R', 'M'), lat_net_params(t->net), 1, win, err);
	if (!rc && w)
		lat_ckpt_put(w, LAT_CKPT_TAG('B', 'U', 'F', 'S'), LAT_CKPT_F32, lat_net_buffers(t->net),
			     h[H_BUFFERS]);
	if (!rc)
		rc = put_whole(t, w, LAT_CKPT_TAG('O', 'P', 'T', 'S'), state, blocks, win, err);
	if (rc || !w)
		goto out;
	/* the epoch's shrink factors so far, as the statistics: only within an epoch */
	lat_ckpt_put(w, LAT_CKPT_TAG('S', 'H', 'R', 'K'), LAT_CKPT_F64,
		     t->in_epoch || t->resume_batches ? &t->shrink[0][0] : &zero_shrink[0][0], 4 * t->n_lc);
	/* what makes the file self-contained: the run's description and input normalisation */
	lat_ckpt_put(w, LAT_CKPT_TAG('T', 'E', 'X', 'T'), LAT_CKPT_BYTES, t->o.description ? t->o.description : "",
		     t->o.description ? strlen(t->o.description) : 0);
	lat_ckpt_put(w, LAT_CKPT_TAG('N', 'O', 'R', 'M'), LAT_CKPT_F64, t->norm, 2 * t->train.c);
	rc = lat_ckpt_writer_commit(w, err);
	w = NULL; /* freed by the commit */
out:
	lat_ckpt_writer_abort(w);
	free(win);
	return rc;
}

/* "layer L (TYPE): parameter K of N" (what 0) or "running statistic" (what 2) for the value at index k
 * of the flat array, into msg. */
static void locate(const lat_trainer *t, int what, size_t k, char *msg, size_t size)
{
	for (size_t i = 0; i < lat_net_n_layers(t->net); i++) {
		const lat_layer *l = lat_net_layer(t->net, i);
		size_t n = what == 2 ? l->n_buffers : lat_net_layer_params_whole(t->net, i);
		if (k < n) {
			snprintf(msg, size, "layer %zu (%s): %s %zu of %zu", i + 1, l->type->name,
				 what == 2 ? "running statistic" : "parameter", k, n);
			return;
		}
		k -= n;
	}
	snprintf(msg, size, "value %zu", k);
}

/* The counters and statistics of a checkpoint that a run of this experiment could have written:
 * one optimiser step per batch, at least one batch per finished epoch, at most one sharing phase per
 * batch, and the statistics of the batches of the epoch so far (at most every training image, each
 * data.repeats times; all zero at an epoch boundary). Returns a description of the first violation, or NULL.
 */
static const char *counters_bad(const lat_trainer *t, const uint64_t *h, const double *st)
{
	uint64_t b = h[H_BATCH], e = h[H_EPOCH], g = h[H_GLOBAL_BATCH];
	if (h[H_OPT_STEPS] != g)
		return "optimiser steps and batches differ";
	if (g < b || g - b < e)
		return "fewer batches than finished epochs";
	if (h[H_PHASES] > g)
		return "more sharing phases than batches";
	if (b == 0)
		return h[H_BATCHES] || h[H_SAMPLES] || h[H_CORRECT] || h[H_EPOCH_PHASES] ||
			       st[S_LOSS_SUM] != 0 || st[S_SHARE_SECONDS] != 0 || st[S_TRAIN_SECONDS] != 0 ||
			       !(isnan(st[S_STEADY_ERROR]) || st[S_STEADY_ERROR] == 0)
			   ? "statistics of an epoch at its boundary"
			   : NULL;
	if (h[H_BATCHES] != b || h[H_SAMPLES] < b || h[H_SAMPLES] > (uint64_t)t->train.n * t->e->repeats ||
	    h[H_CORRECT] > h[H_SAMPLES] || h[H_EPOCH_PHASES] > b || h[H_EPOCH_PHASES] > h[H_PHASES])
		return "counts of the epoch so far";
	if (!(isfinite(st[S_LOSS_SUM]) && st[S_LOSS_SUM] >= 0) ||
	    !(isfinite(st[S_SHARE_SECONDS]) && st[S_SHARE_SECONDS] >= 0) ||
	    !(isfinite(st[S_TRAIN_SECONDS]) && st[S_TRAIN_SECONDS] >= 0) ||
	    !(isnan(st[S_STEADY_ERROR]) || (isfinite(st[S_STEADY_ERROR]) && st[S_STEADY_ERROR] >= 0)))
		return "loss, time or steady-state error of the epoch so far";
	return NULL;
}

/* lat_trainer_load's checks of a checkpoint's sizes and counters against this trainer. */
static int check_counters(const lat_trainer *t, const char *path, const lat_ckpt_section *secs,
			  const uint64_t *h, const double *st, char *err)
{
	size_t n_params = t->n_whole, n_buffers = lat_net_n_buffers(t->net), n_state = state_blocks(t) * n_params;
	size_t n_batches = lat_batcher_count(t->batcher);
	const char *bad;

	if (h[H_PARAMS] != n_params || h[H_BUFFERS] != n_buffers || h[H_STATE] != n_state) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: checkpoint of a different network or optimiser (%llu parameters, this experiment "
		    "has %zu)",
		    path, (unsigned long long)h[H_PARAMS], n_params);
	}
	if (secs[K_PARAMS].n != n_params || secs[K_BUFFERS].n != n_buffers || secs[K_OPT].n != n_state) {
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: corrupt checkpoint: %zu parameters, %zu running statistics and "
				   "%zu optimiser values saved, its header says %zu, %zu, %zu",
				   path, secs[K_PARAMS].n, secs[K_BUFFERS].n, secs[K_OPT].n, n_params,
				   n_buffers, n_state);
	}
	if (h[H_EPOCH] > LAT_TRAINER_MAX_EPOCHS || (h[H_EPOCH] == LAT_TRAINER_MAX_EPOCHS && h[H_BATCH] > 0)) {
		return lat_err_set(err, LAT_ECONFIG,
				   "%s: corrupt checkpoint: taken after %llu epochs and %llu batches, more "
				   "than train.epochs "
				   "can be (%d)",
				   path, (unsigned long long)h[H_EPOCH], (unsigned long long)h[H_BATCH],
				   LAT_TRAINER_MAX_EPOCHS);
	}
	if (h[H_BATCH] > n_batches) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: checkpoint taken after batch %llu of an epoch, but this experiment has %zu batches "
		    "per epoch (another data set or batch size?)",
		    path, (unsigned long long)h[H_BATCH], n_batches);
	}
	bad = counters_bad(t, h, st);
	if (bad) {
		return lat_err_set(
		    err, LAT_ECONFIG,
		    "%s: corrupt checkpoint: %s (epoch %llu, batch %llu of it, %llu batches, %llu optimiser "
		    "steps, %llu sharing phases in all)",
		    path, bad, (unsigned long long)h[H_EPOCH], (unsigned long long)h[H_BATCH],
		    (unsigned long long)h[H_GLOBAL_BATCH], (unsigned long long)h[H_OPT_STEPS],
		    (unsigned long long)h[H_PHASES]);
	}
	/* the shrink factors: sums of ratios (>= 0) and counts of phases of this epoch */
	for (size_t k = 0; k < 4 * t->n_lc; k++) {
		double v = lat_ckpt_f64(&secs[K_SHRINK], k);
		int count = k % 4 >= 2;
		if (!(isfinite(v) && v >= 0) || (count && (v != floor(v) || v > (double)h[H_EPOCH_PHASES])) ||
		    (h[H_BATCH] == 0 && v != 0))
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: corrupt checkpoint: sharing %s of lc layer %zu is %g (%llu phases in the "
					   "epoch so far)",
					   path, count ? "phase count" : "shrink factor sum", k / 4 + 1, v,
					   (unsigned long long)h[H_EPOCH_PHASES]);
	}
	return LAT_OK;
}

/* lat_trainer_load's checks of a checkpoint's values: every one finite and what its optimiser can hold,
 * and the running statistics ones the layers could have reached (read into bufs, n_buffers + 1 floats). */
static int check_values(const lat_trainer *t, const char *path, const lat_ckpt_section *secs, float *bufs,
			char *err)
{
	size_t n_params = t->n_whole, n_buffers = lat_net_n_buffers(t->net), n_state = state_blocks(t) * n_params;
	char where[128];

	/* Every value finite (and what the optimiser can hold): a NaN is not a state to resume from. The
	 * optimiser judges state value i of the whole layout as the first value of its block in its own. */
	for (size_t k = 0; k < n_params + n_buffers + n_state; k++) {
		int what = k < n_params ? 0 : k < n_params + n_buffers ? 2 : 3;
		size_t i = what == 0 ? k : what == 2 ? k - n_params : k - n_params - n_buffers;
		float v = lat_ckpt_f32(&secs[what == 0 ? K_PARAMS : what == 2 ? K_BUFFERS : K_OPT], i);
		if (what == 3 ? !lat_optim_value_ok(t->opt, i / n_params * lat_net_n_params(t->net), v) : !isfinite(v)) {
			if (what == 3)
				snprintf(where, sizeof where, "optimiser state %zu of %zu", i, n_state);
			else
				locate(t, what, i, where, sizeof where);
			return lat_err_set(err, LAT_ECONFIG, "%s: corrupt checkpoint: %s is %g", path, where,
					   (double)v);
		}
	}
	/* Buffers the layers could have reached (bn: no negative running variance). */
	lat_ckpt_get_f32(&secs[K_BUFFERS], bufs);
	for (size_t i = 0, off = 0; i < lat_net_n_layers(t->net); i++) {
		const lat_layer *l = lat_net_layer(t->net, i);
		size_t k = 0;
		if (l->n_buffers && l->type->check_buffers && !l->type->check_buffers(l, bufs + off, &k)) {
			return lat_err_set(err, LAT_ECONFIG,
					   "%s: corrupt checkpoint: layer %zu (%s): running statistic %zu of "
					   "%zu is %g, not a "
					   "value it can hold",
					   path, i + 1, l->type->name, k, l->n_buffers,
					   (double)bufs[off + k]);
		}
		off += l->n_buffers;
	}
	return LAT_OK;
}

/* The sections of a checkpoint, for lat_ckpt_load; n_lc: the lc layers (LAT_CKPT_ANY: not known). */
static void sections(lat_ckpt_section *secs, size_t n_lc)
{
	const lat_ckpt_section all[K_N_SECTIONS] = {
	    {LAT_CKPT_TAG('T', 'H', 'D', 'R'), LAT_CKPT_U64, H_COUNT, "sizes and counters", NULL, 0},
	    {LAT_CKPT_TAG('T', 'S', 'T', 'A'), LAT_CKPT_F64, S_COUNT, "statistics of the epoch so far", NULL,
	     0},
	    {LAT_CKPT_TAG('P', 'A', 'R', 'M'), LAT_CKPT_F32, LAT_CKPT_ANY, "parameters", NULL, 0},
	    {LAT_CKPT_TAG('B', 'U', 'F', 'S'), LAT_CKPT_F32, LAT_CKPT_ANY, "running statistics", NULL, 0},
	    {LAT_CKPT_TAG('O', 'P', 'T', 'S'), LAT_CKPT_F32, LAT_CKPT_ANY, "optimiser state", NULL, 0},
	    {LAT_CKPT_TAG('S', 'H', 'R', 'K'), LAT_CKPT_F64, n_lc == LAT_CKPT_ANY ? n_lc : 4 * n_lc,
	     "sharing shrink factors of the epoch so far", NULL, 0},
	    {LAT_CKPT_TAG('T', 'E', 'X', 'T'), LAT_CKPT_BYTES, LAT_CKPT_ANY, "description", NULL, 0},
	    {LAT_CKPT_TAG('N', 'O', 'R', 'M'), LAT_CKPT_F64, LAT_CKPT_ANY, "input normalisation", NULL, 0}};
	memcpy(secs, all, sizeof all);
}

/* The NORM section: an even count, finite means and stds > 0. */
static int check_norm(const char *path, const lat_ckpt_section *s, char *err)
{
	size_t c = s->n / 2;

	if (s->n == 0 || s->n % 2)
		return lat_err_set(err, LAT_ECONFIG, "%s: corrupt checkpoint: %zu normalisation values, expected 2 per channel",
				   path, s->n);
	for (size_t k = 0; k < s->n; k++) {
		double v = lat_ckpt_f64(s, k);
		if (!isfinite(v) || (k >= c && !(v > 0)))
			return lat_err_set(err, LAT_ECONFIG, "%s: corrupt checkpoint: input normalisation %s of channel %zu is %g",
					   path, k < c ? "mean" : "std", k % c + 1, v);
	}
	return LAT_OK;
}

int lat_trainer_describe(const char *path, char **text, double **norm, size_t *n_norm, size_t *epochs, char *err)
{
	lat_ckpt_section secs[K_N_SECTIONS];
	lat_ckpt *c = NULL;
	int rc;

	*text = NULL;
	*norm = NULL;
	sections(secs, LAT_CKPT_ANY);
	rc = lat_ckpt_load(path, LAT_CKPT_TRAIN, CKPT_VERSION, secs, K_N_SECTIONS, &c, err);
	if (!rc && memchr(secs[K_TEXT].data, 0, secs[K_TEXT].n))
		rc = lat_err_set(err, LAT_ECONFIG, "%s: corrupt checkpoint: its description holds a NUL byte", path);
	if (!rc)
		rc = check_norm(path, &secs[K_NORM], err);
	if (!rc) {
		*text = malloc(secs[K_TEXT].n + 1);
		*norm = malloc(secs[K_NORM].n * sizeof **norm);
		if (!*text || !*norm) {
			rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
		} else {
			memcpy(*text, secs[K_TEXT].data, secs[K_TEXT].n);
			(*text)[secs[K_TEXT].n] = '\0';
			lat_ckpt_get_f64(&secs[K_NORM], *norm);
			*n_norm = secs[K_NORM].n;
			*epochs = (size_t)lat_ckpt_u64(&secs[K_HDR], H_EPOCH);
		}
	}
	if (rc) {
		free(*text);
		free(*norm);
		*text = NULL;
		*norm = NULL;
	}
	lat_ckpt_free(c);
	return rc;
}

int lat_trainer_load(lat_trainer *t, const char *path, char *err)
{
	size_t n_state, n_buffers = lat_net_n_buffers(t->net);
	float *state = lat_optim_state(t->opt, &n_state);
	lat_ckpt_section secs[K_N_SECTIONS];
	lat_ckpt *c = NULL;
	uint64_t h[H_COUNT];
	double st[S_COUNT];
	float *bufs = NULL, *win = NULL;
	int rc;

	sections(secs, t->n_lc);
	rc = lat_ckpt_load(path, LAT_CKPT_TRAIN, CKPT_VERSION, secs, K_N_SECTIONS, &c, err);
	if (!rc)
		rc = check_norm(path, &secs[K_NORM], err);
	if (rc)
		goto out;
	/* the weights belong to the inputs as that run normalised them (lat_trainer_opts.norm) */
	for (size_t k = 0; k < 2 * t->train.c; k++)
		if (secs[K_NORM].n != 2 * t->train.c || lat_ckpt_f64(&secs[K_NORM], k) != t->norm[k]) {
			rc = lat_err_set(err, LAT_ECONFIG,
					 "%s: checkpoint of a run that normalised its inputs otherwise (%zu channels; "
					 "other training data?): give the trainer its normalisation (lat_trainer_describe)",
					 path, secs[K_NORM].n / 2);
			goto out;
		}
	for (size_t k = 0; k < H_COUNT; k++)
		h[k] = lat_ckpt_u64(&secs[K_HDR], k);
	for (size_t k = 0; k < S_COUNT; k++)
		st[k] = lat_ckpt_f64(&secs[K_STATS], k);
	rc = check_counters(t, path, secs, h, st, err);
	if (rc)
		goto out;
	bufs = malloc((n_buffers + 1) * sizeof *bufs);
	win = malloc(LAT_TRAINER_GATHER * sizeof *win);
	if (!bufs || !win) {
		rc = lat_err_set(err, LAT_ENOMEM, "%s: out of memory", path);
		goto out;
	}
	rc = check_values(t, path, secs, bufs, err);
	if (rc)
		goto out;
	/* Only a complete, valid checkpoint replaces the state. */
	memcpy(lat_net_buffers(t->net), bufs, n_buffers * sizeof *bufs);
	get_whole(t, &secs[K_PARAMS], lat_net_params(t->net), 1, win);
	get_whole(t, &secs[K_OPT], state, state_blocks(t), win);
	t->opt_stale = 0;
	memset(t->shrink, 0, sizeof t->shrink);
	for (size_t k = 0; k < 4 * t->n_lc; k++)
		t->shrink[k / 4][k % 4] = lat_ckpt_f64(&secs[K_SHRINK], k);
	*lat_optim_steps(t->opt) = (unsigned long)h[H_OPT_STEPS];
	t->epoch = (size_t)h[H_EPOCH];
	t->global_batch = h[H_GLOBAL_BATCH];
	t->phases = h[H_PHASES];
	t->in_epoch = 0;
	t->resume_batches = (size_t)h[H_BATCH];
	if (h[H_BATCH]) {
		t->stats = (lat_epoch_stats){.batches = (size_t)h[H_BATCHES],
					     .samples = (size_t)h[H_SAMPLES],
					     .correct = (size_t)h[H_CORRECT],
					     .loss_sum = st[S_LOSS_SUM],
					     .phases = (size_t)h[H_EPOCH_PHASES],
					     .share_seconds = st[S_SHARE_SECONDS],
					     .train_seconds = st[S_TRAIN_SECONDS],
					     .share_steady_error = st[S_STEADY_ERROR]};
	}
out:
	free(bufs);
	free(win);
	lat_ckpt_free(c);
	return rc;
}
