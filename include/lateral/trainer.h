/* trainer.h: training an LC or conv network on image data with periodic weight-sharing phases. */
#ifndef LATERAL_TRAINER_H
#define LATERAL_TRAINER_H

#include <stddef.h>

#include "lateral/data.h"
#include "lateral/net.h"
#include "lateral/optim.h"
#include "lateral/share.h"

/* Thread safety: a trainer belongs to one thread at a time (it may use OpenMP inside). */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lat_trainer lat_trainer;

/* The most epochs a checkpoint can have been taken after (train.epochs' upper bound). */
#define LAT_TRAINER_MAX_EPOCHS 100000

/* Data-parallel training over several processes (MPI ranks, or threads in a test). Every process builds
 * its trainer from the same options, so all draw the same global batches; each runs the forward and
 * backward pass on its slice of every batch (samples [rank n / size, (rank + 1) n / size) of n) and the
 * slices are combined through sum: the gradient becomes that of the whole batch (one call over the flat
 * gradient array per step), and the loss, accuracy counts, failure flags and bn running statistics (each
 * rank's, weighted by its slice) become the batch's. Evaluation splits the test or validation set the same
 * way. With identical gradients the optimiser steps and sharing phases (run on every process) keep the
 * weights identical everywhere; lat_trainer_checksum lets a caller verify it. bn layers normalise with
 * their own slice's statistics (as PyTorch's DistributedDataParallel does without SyncBatchNorm), so a
 * bn network's gradient differs from the one-process gradient by more than rounding; any other network's
 * agrees with it to float rounding.
 * sum_float / sum_double add v[0..n-1] elementwise over all processes, in place, leaving the same values
 * on every process (MPI_Allreduce with MPI_SUM over MPI_COMM_WORLD does); they return 0, or nonzero when
 * the exchange failed. Errors of lat_trainer_step and lat_trainer_evaluate are then collective: every
 * process returns the same code at the same batch. */
typedef struct {
	int rank, size;
	int (*sum_float)(void *ctx, float *v, size_t n);
	int (*sum_double)(void *ctx, double *v, size_t n);
	void *ctx;
	/* LAT_SHARD_LOCATIONS or LAT_SHARD_ROWS with groups (see lat_shard): parts processes per group (0: all
	 * of them, one group), ranks [g parts, (g + 1) parts) forming group g; with more than one group the sums take
	 * ctx_group to add over this process's group, and ctx_across to add over the processes of the same
	 * rank % parts in every group */
	int parts;
	void *ctx_group, *ctx_across;
	/* LAT_SHARD_ROWS, optional: a point-to-point exchange over the group (ctx_group, or ctx with one
	 * group; layer.h's lat_layer_exchange_fn) that carries the strips' halo rows to the processes that
	 * read them alone; NULL: they go through sum_float, every process's halos in one vector */
	int (*exchange_float)(void *ctx, const float *send, const size_t *send_n, float *recv, const size_t *recv_n);
	/* Optional, for lat_trainer_opts.split_optimizer (both or neither). Over the processes that run data
	 * parallel (ctx; with groups ctx_across), rank r of p in that set owning values [r n / p, (r + 1) n / p)
	 * of an n-vector: reduce_scatter_float sums v over the processes into the owner's range alone (the
	 * rest of v is left undefined), each value in one order, the same wherever it is summed;
	 * allgather_float copies every range from its owner into every process's v. 0, or nonzero when the
	 * exchange failed. */
	int (*reduce_scatter_float)(void *ctx, float *v, size_t n);
	int (*allgather_float)(void *ctx, float *v, size_t n);
	/* Optional, with the split optimiser step and no split network (both or neither): shared_floats
	 * returns memory that every data-parallel process (ctx) maps (an MPI-3 shared-memory window when
	 * they share a machine), owned by the caller and valid while the trainer lives, or NULL in every
	 * process when there is none; all call it together, twice, at their first lat_trainer_step. With
	 * slots NULL: n floats, the same bytes in each process. Else n floats per process, slots[q] (one
	 * pointer per process) receiving process q's; it returns this process's. barrier returns once every
	 * one of them has called it, each one's writes to that memory before it seen by every one's reads
	 * after it (0, or nonzero when it failed). With them the processes hold one copy of the parameters
	 * and their gradients in slots that all can read: after the backward pass each sums its range over
	 * the slots itself (in process order, as reduce_scatter_float does), steps it in place and waits
	 * for the others, so nothing is copied between them; a sharing phase runs on a private copy of
	 * each lc layer, and each process writes its range back. */
	float *(*shared_floats)(void *ctx, size_t n, float **slots);
	int (*barrier)(void *ctx);
} lat_trainer_comm;

/* How several processes (lat_trainer_comm) share the work. LAT_SHARD_NONE: data parallel, as above.
 * LAT_SHARD_LOCATIONS: every lc layer (in residual blocks too) is split by output location
 * (lat_lc_alloc_part: process r of P holds the weights, gradients and optimiser state of positions
 * [r n / P, (r + 1) n / P)), and every process runs every whole batch: the parts' outputs and input
 * gradients are summed after each split layer (sum_float), so every other value (activations, the
 * other layers' weights and their optimiser state, bn statistics, loss) is the same on every process
 * and needs no exchange. Failures are summed after each step's checks, so errors stay collective;
 * evaluation runs the whole set on every process. Checkpoints hold the whole network
 * (lat_trainer_save gathers it), so they resume with any P and either setting. A sharing phase runs
 * on each process's part, its pool statistics (means, drives, moments, the largest weight) summed over
 * the group (lat_share_set_sum), and so do the lc statistics: no process holds more of an lc layer than
 * its part, and its sharing workspace (double copies of the part's kernels, planned by
 * lat_trainer_planned_bytes) is the part's too; with an integrator each process settles its share of
 * the pools' circuits (lat_share_set_sum). LAT_SHARD_ROWS: the same split, in strips of rows (the halo
 * form, lat_net_opts.shard_rows): process r also holds only rows [r H / P, (r + 1) H / P) of every
 * activation before the network's first avgpool or linear layer (any spatial layer, residual blocks too),
 * and each layer receives the rows beyond its strip that its kernels reach from the processes holding
 * them (and sends their gradients back); the strips are put together for the layers from that one on,
 * which every process runs whole. Everything else is as with LAT_SHARD_LOCATIONS. lat_shard_names: "none",
 * "locations", "rows", NULL-terminated. */
typedef enum { LAT_SHARD_NONE = 0, LAT_SHARD_LOCATIONS = 1, LAT_SHARD_ROWS = 2 } lat_shard;
extern const char *const lat_shard_names[];

/* Everything a trainer needs (the configuration floor fills it from an experiment file). The strings
 * and arrays are borrowed for the trainer's lifetime. */
typedef struct {
	const char *source; /* name of the experiment in messages */
	/* data: IDX image and label files, or CIFAR binary batches */
	lat_data_format format;
	const char *train_images, *train_labels, *test_images, *test_labels;
	const char *const *train_files, *const *test_files;
	size_t n_train_files, n_test_files;
	size_t validation;		/* training samples held out for validation */
	size_t limit_train, limit_test; /* only the first n samples (0: all) */
	size_t pad, repeats;		/* random translations in [-pad, pad]; copies of each image */
	size_t canvas;			/* > 0: images placed on a zero canvas of this side (lat_data_place) */
	size_t train_offsets[4], test_offsets[4]; /* their offset ranges: x from, x to, y from, y to */
	/* training */
	size_t batch;
	unsigned long seed;
	size_t max_memory; /* bytes; 0: the memory available when the trainer is built */
	lat_net_opts net;
	lat_optim_opts optim;
	/* sharing phases: every share_every batches, with share's mode and settings (its seed is set per
	 * layer from seed) */
	lat_share_opts share;
	size_t share_every;
	/* checkpoints: a text saved with every checkpoint (the resolved experiment, so that the file is
	 * self-contained; NULL: none), and the input normalisation to use instead of the training set's
	 * statistics (n_norm = 2 x channels: every mean, then every std, as lat_trainer_describe returns
	 * them from a checkpoint; NULL: computed from the training images) */
	const char *description;
	const double *norm;
	size_t n_norm;
	/* data-parallel training (see lat_trainer_comm); NULL: this process trains on whole batches */
	const lat_trainer_comm *comm;
	/* with comm and LAT_SHARD_LOCATIONS or LAT_SHARD_ROWS: the processes split the lc layers instead (see
	 * lat_shard) */
	lat_shard shard;
	/* with comm (data parallel, more than one group) and its reduce_scatter_float and allgather_float: the
	 * processes split the optimiser step (ZeRO stage 1): each step sums the gradients into each process's
	 * range of the flat parameter array alone, each process steps the optimiser on its range, and the new
	 * parameters are gathered. The parameters come out bit for bit as with the whole step on every
	 * process; the optimiser state outside a process's range goes stale between steps and is gathered at
	 * the end of every epoch and by lat_trainer_save (collective then, see lat_trainer_split). 0, or a
	 * comm without those two exchanges: every process sums all gradients (sum_float) and steps all
	 * parameters. */
	int split_optimizer;
} lat_trainer_opts;

/* Counters of the batches since lat_trainer_begin_epoch. */
typedef struct {
	size_t batches, samples, correct;
	double loss_sum;    /* sum over samples of the cross-entropy */
	size_t phases;      /* sharing phases run */
	double share_seconds, train_seconds;
	double sum_seconds; /* several processes: time in the training steps' sums over them (gradients,
			     * and a split network's part outputs and input gradients; waiting for the
			     * slowest included), since the epoch began or was resumed; 0 in one process */
	double sum_bytes;   /* the same sums' sizes: the bytes this process handed to them (the length of
			     * each allreduce's vector, not what the transport moved), and the bytes it sent
			     * in the strips' point-to-point exchanges (exchange_float) */
	double share_steady_error; /* circuit mode: max |y - y*| of the sampled cross-check; NaN otherwise */
} lat_epoch_stats;

/* Loads the data (training statistics normalise every split), builds and initialises the network,
 * the optimiser and one sharing module per lc layer. Copies o; borrows its strings and arrays for the
 * trainer's lifetime. Returns a
 * new trainer (free with lat_trainer_free) or NULL with err; *status (may be NULL) receives the code
 * (LAT_EIO / LAT_ECONFIG for bad data or experiment, LAT_ENOMEM). Memory is planned against
 * o->max_memory (0: the memory available now, see lat_mem_limit): the data from the file headers and
 * data.limit_train / limit_test before any pixel is read (only the kept images are then read), a layer
 * that would exceed it is
 * refused before it is allocated, and a total plan (lat_trainer_planned_bytes) above it before
 * training starts, both as LAT_ECONFIG naming the sizes. */
lat_trainer *lat_trainer_alloc(const lat_trainer_opts *o, int *status, char *err);
void lat_trainer_free(lat_trainer *t);

/* Batches per epoch, and the epoch to run next (0-based; > 0 after lat_trainer_load). */
size_t lat_trainer_batches(const lat_trainer *t);
size_t lat_trainer_epoch(const lat_trainer *t);

/* Starts the next epoch: reshuffles deterministically from the seed and the epoch index. After
 * lat_trainer_load of a mid-epoch checkpoint it continues that epoch instead: the batches already
 * trained are skipped (their order and augmentation replayed from the epoch's seed) and the epoch's
 * statistics so far are those of the checkpoint. */
void lat_trainer_begin_epoch(lat_trainer *t);

/* Trains on the next batch (forward, loss, backward, optimiser step) and runs the sharing phases that
 * fall due (every sharing.every batches, counted across epochs). Returns 1 when a batch was trained, 0
 * when the epoch is over (the epoch counter then advances), or a negative code with err naming the
 * epoch and batch: LAT_EDIVERGE when the loss, a gradient or, after the optimiser step, a parameter or
 * running statistic is not finite (the message names the layer, its index and type, and the first
 * non-finite value), or when training diverged with finite numbers: the batch's loss is more than
 * LAT_DIVERGE_LOSS_FACTOR times that of a uniform guess, ln(classes) (the message names the layer with
 * the largest weight and the key to lower, train.lr or, right after a sharing phase, sharing.eta); or
 * the code of a failed sharing phase (LAT_ENOTSTEADY, LAT_ESOLVER, LAT_EDIVERGE when it made a kernel
 * non-finite or grew the largest pooled weight more than LAT_SHARE_GROWTH_LIMIT times; the message names
 * the phase and the layer). After an error the in-memory state is not to be saved. */
int lat_trainer_step(lat_trainer *t, char *err);

/* Loss of a batch, as a multiple of ln(classes), above which training has diverged. */
#define LAT_DIVERGE_LOSS_FACTOR 1000.0

/* 1 when the last error of lat_trainer_step came from a sharing phase or from the batch right after
 * one (its key is then sharing.eta, sharing.t_max or sharing.max_steps, not train.lr); 0 otherwise. */
int lat_trainer_fault_in_sharing(const lat_trainer *t);

const lat_epoch_stats *lat_trainer_stats(const lat_trainer *t);

/* Accuracy (percent) and mean loss on the test set (which = 0) or the validation split (which = 1),
 * in evaluation mode. LAT_EDIVERGE when the loss is not finite. */
int lat_trainer_evaluate(lat_trainer *t, int which, double *acc, double *loss, char *err);

/* 1 when the experiment holds out a validation split. */
int lat_trainer_has_validation(const lat_trainer *t);

/* 1 when this process holds a part of a network split by location (LAT_SHARD_LOCATIONS or _ROWS over
 * groups of more than one process), or the processes split the optimiser step
 * (lat_trainer_opts.split_optimizer): lat_trainer_save is then collective, and with a network split by
 * location lat_trainer_measure_lc and lat_trainer_lc_kernels too. */
int lat_trainer_split(const lat_trainer *t);

/* The lc layers of the network. */
size_t lat_trainer_n_lc(const lat_trainer *t);

/* Measures the two SNR figures of every lc layer's kernels now (docs/science.md section 5): snr_pool
 * (mean over its mod-k pools of (1/d) sum_j m_j^2 / v_j) and snr_channel (the paper's |mean| / std per
 * channel and tap over the interior positions). Collective when the layers are split by location (each
 * process measures its part, the pool moments summed over the group: every process calls it). LAT_OK,
 * or LAT_EIO (a failed exchange) with err; a layer whose scratch cannot be allocated gets NaN figures.
 * lat_trainer_lc_snrs returns lc layer i's figures of the last measurement: NaN before one, or when they
 * cannot be measured. */
int lat_trainer_measure_lc(lat_trainer *t, char *err);
void lat_trainer_lc_snrs(const lat_trainer *t, size_t i, double *snr_pool, double *snr_channel);

/* A new array (free with free()) of the kernels of output channels [c0, c0 + n) of lc layer i, in
 * lat_lc_alloc's layout (W[c][y][x][c_in][u][v], no bias), or NULL with err (LAT_ENOMEM, LAT_EIO,
 * LAT_EINVAL for no such layer or channels). Collective when the layers are split by location: every
 * process calls it with the same arguments and gets them whole. */
float *lat_trainer_lc_kernels(lat_trainer *t, size_t i, size_t c0, size_t n, char *err);

/* The mean over this epoch's sharing phases of lc layer i's deviation and pool-mean shrink factors
 * (lat_share_stats.dev_ratio, mean_ratio); NaN when no phase ran. */
void lat_trainer_lc_shrink(const lat_trainer *t, size_t i, double *dev, double *mean);

/* Samples in the training / test split. */
size_t lat_trainer_n_train(const lat_trainer *t);
size_t lat_trainer_n_test(const lat_trainer *t);

lat_net *lat_trainer_net(lat_trainer *t);

/* The trainer's optimiser (borrowed: the trainer frees it). With a split optimiser step its state
 * outside this process's range is stale between steps (lat_trainer_opts.split_optimizer). */
lat_optim *lat_trainer_optim(lat_trainer *t);

/* Planned memory in bytes: data, parameters, optimiser state, activations and workspaces. */
size_t lat_trainer_planned_bytes(const lat_trainer *t);

/* A 64-bit hash (FNV-1a) of the parameters, buffers, optimiser state and step counters: equal on every
 * process of a data-parallel run while their states are identical. Split by location, it hashes the
 * values every process holds (all but the split layers' own weights and their optimiser state). With a
 * split optimiser step it hashes the optimiser state only while every process holds all of it (at the
 * end of an epoch, after lat_trainer_save or lat_trainer_load). */
unsigned long long lat_trainer_checksum(lat_trainer *t);

/* Checkpoints: parameters, buffers, optimiser state, epoch and batch counters, and, between
 * lat_trainer_begin_epoch and the end of the epoch, the position within the epoch and its statistics
 * so far, so that a run resumed from any batch boundary ends bit for bit where an uninterrupted run
 * would. The file is a container of kind LAT_CKPT_TRAIN (ckpt.h). save writes atomically (temporary
 * file, fsync, rename): LAT_EIO. load replaces the state only with a complete checkpoint that this
 * experiment could have written; LAT_EIO when path cannot be read, LAT_ECONFIG (message names path and
 * what is wrong) for a foreign, older, newer, truncated or corrupt file (checksum), a checkpoint of a
 * different network, optimiser or epoch length, counters no run could have reached (an epoch past
 * LAT_TRAINER_MAX_EPOCHS, more optimiser steps than batches, ...), or a value that is not finite (a NaN
 * parameter is no state to resume from or to evaluate) or that its layer cannot hold (a negative bn
 * running variance). Split by location or with a split optimiser step (lat_trainer_split), save is
 * collective: every process calls it, process 0 with the path (it writes the whole network, gathered in
 * pieces of LAT_TRAINER_GATHER floats, so no process holds more than that of the others' parts; a split
 * optimiser's state is first gathered on every process) and the others with NULL; an error on any
 * process (reported there) makes it return LAT_EIO everywhere. load reads the whole network on every
 * process and keeps its part. */
#define LAT_TRAINER_GATHER ((size_t)1 << 20)
int lat_trainer_save(lat_trainer *t, const char *path, char *err);
int lat_trainer_load(lat_trainer *t, const char *path, char *err);

/* What a checkpoint says of itself, without a trainer: the description text it was saved with (a new
 * NUL-terminated string, "" when none; free with free()), the input normalisation of its training run
 * (*norm: a new array of *n_norm = 2 x channels doubles, every mean then every std; free with free()), and
 * the epochs it was taken after. On error *text and *norm are NULL and the code is lat_trainer_load's
 * (also LAT_ECONFIG for a description with a NUL byte or a normalisation that is not finite or has a std
 * <= 0). */
int lat_trainer_describe(const char *path, char **text, double **norm, size_t *n_norm, size_t *epochs, char *err);

#ifdef __cplusplus
}
#endif

#endif
