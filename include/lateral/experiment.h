/* experiment.h: experiment files for `lateral train` (libconfig): data, network, optimiser, sharing. */
#ifndef LATERAL_EXPERIMENT_H
#define LATERAL_EXPERIMENT_H

#include <stddef.h>
#include <stdio.h>

#include "lateral/ode.h"
#include "lateral/data.h"
#include "lateral/layer.h"
#include "lateral/net.h"
#include "lateral/optim.h"
#include "lateral/share.h"
#include "lateral/trainer.h"

/* Thread safety: reentrant on distinct experiments (libconfig keeps no global state). */

#ifdef __cplusplus
extern "C" {
#endif

#define LAT_MAX_LAYERS LAT_NET_MAX_LAYERS
#define LAT_MAX_FILES 8
#define LAT_MAX_MILESTONES LAT_OPTIM_MAX_MILESTONES

/* The largest train.epochs (the key's range in experiment.c; a test checks that they agree): also the
 * largest epoch count a checkpoint may hold. */
#define LAT_EPOCHS_MAX LAT_TRAINER_MAX_EPOCHS


/* Everything `lateral train` needs, as plain values (strings owned). */
typedef struct {
	char *source; /* file name for messages; owned */
	char *text;   /* the resolved experiment (lat_experiment_write), made by finalize; owned. Training saves
		       * it in every checkpoint, so that `lateral eval` needs nothing else */
	const double *norm; /* borrowed, or NULL: the input normalisation to use (lat_trainer_opts.norm) */
	size_t n_norm;
	const lat_trainer_comm *comm; /* borrowed, or NULL: data-parallel training (lat_trainer_opts.comm) */

	/* data */
	lat_data_format format;
	char *train_images, *train_labels, *test_images, *test_labels; /* idx */
	char *train_files[LAT_MAX_FILES], *test_files[LAT_MAX_FILES];  /* cifar */
	size_t n_train_files, n_test_files;
	size_t validation;  /* training samples held out for validation */
	size_t limit_train; /* use only the first n training samples (0 = all) */
	size_t limit_test;  /* likewise for the test set */
	size_t pad;         /* random translations in [-pad, pad] */
	size_t repeats;     /* copies of each image per batch, independently translated */
	size_t canvas;	    /* > 0: each image is placed on a zero canvas of this side (lat_data_place) */
	size_t train_offsets[4], n_train_offsets; /* x from, x to, y from, y to: ranges of the placement */
	size_t test_offsets[4], n_test_offsets;

	/* network */
	lat_layer_spec layers[LAT_MAX_LAYERS];
	size_t n_layers;
	int locally_connected; /* turn every conv (and resblock) into its lc twin */
	int keep_first_conv;   /* ... except the first conv layer */
	int lc_bias;	       /* network.lc_bias: index into lat_lc_bias_names (0 position, 1 channel) */
	int shard;	       /* network.shard: index into lat_shard_names (under mpirun: data parallel or split lc layers) */
	size_t shard_ranks;    /* network.shard_ranks: ranks per split network, the groups data parallel (0: all ranks) */
	double bn_momentum, bn_eps;

	/* train */
	size_t epochs, batch, checkpoint_every, threads; /* epochs <= LAT_EPOCHS_MAX */
	int split_optimizer; /* train.split_optimizer: data parallel, each rank steps its share (ZeRO stage 1) */
	/* Memory budget in bytes (not a file key: the caller sets it, e.g. from --max-memory); 0 means the
	 * memory available on the machine when the trainer is built. */
	size_t max_memory;
	unsigned long seed;
	lat_optimizer optimizer;
	double lr, weight_decay, momentum, beta1, beta2, adam_eps;
	size_t milestones[LAT_MAX_MILESTONES]; /* epochs at which lr is multiplied by lr_gamma */
	size_t n_milestones;
	double lr_gamma;

	/* sharing (per lc layer) */
	lat_share_mode share_mode;
	size_t share_every; /* batches between phases */
	size_t share_presentations, share_iterations;
	double share_eta, share_gamma;
	lat_border share_border;
	double tau, tau_inh, alpha, bias;
	lat_method method;
	double rtol, atol, steady_tol, t_max;
	long max_steps;
} lat_experiment;

/* Defaults: the reference network of the study on Fashion-MNIST (Debian's dataset-fashion-mnist),
 * 1x28x28 -> conv 5x5x32, relu, maxpool 2 -> conv 5x5x64, relu, maxpool 2 -> linear 3136 -> 10;
 * AdamW lr 1e-3, weight decay 1e-4, batch 128, 10 epochs, no sharing. */
void lat_experiment_init(lat_experiment *e);

/* Frees owned strings and re-initialises. */
void lat_experiment_clear(lat_experiment *e);

/* Reads an experiment file over e (keys not in the file keep their values; a network.layers list
 * replaces the default one). Strict like model files: errors are "FILE:LINE: section.key: ...", and a
 * file without settings is an error. */
int lat_experiment_load(lat_experiment *e, const char *path, char *err);

/* Reads experiment text over e like lat_experiment_load, naming it name in messages; relative file names
 * are kept as written (relative to the working directory). */
int lat_experiment_read_text(lat_experiment *e, const char *text, const char *name, char *err);

/* 1 when text parses and has a top-level data, network, train or sharing group (an experiment, not a
 * model file), else 0. */
int lat_experiment_detect(const char *text);

/* Writes every key of e, resolved, as an experiment file that lat_experiment_load reads back to the same
 * values: numbers exactly, file names made absolute. LAT_OK, LAT_ENOMEM or LAT_EIO (fp's error). */
int lat_experiment_write(const lat_experiment *e, FILE *fp);

/* Applies "section.key=value" (not network.layers); same validation, messages start with "--set". */
int lat_experiment_set(lat_experiment *e, const char *assignment, char *err);

/* Cross-checks combinations (e.g. cifar needs train_files) and makes e->text. Call once after load and
 * overrides. */
int lat_experiment_finalize(lat_experiment *e, char *err);

/* The trainer settings of e (everything but train.epochs, checkpoint_every and threads, which the
 * command uses); o borrows e's strings and arrays, so e must outlive the trainer. */
void lat_experiment_trainer_opts(const lat_experiment *e, lat_trainer_opts *o);

/* lat_trainer_alloc with the settings of e, which must outlive the trainer. */
lat_trainer *lat_experiment_trainer_alloc(const lat_experiment *e, int *status, char *err);

/* The network settings of e (network.*, and sharing.mode for the memory plan); o borrows e's layers. */
void lat_experiment_net_opts(const lat_experiment *e, lat_net_opts *o);

/* The optimiser settings of e (train.optimizer, lr, weight_decay, momentum, beta1, beta2, adam_eps,
 * lr_milestones, lr_gamma). */
void lat_experiment_optim_opts(const lat_experiment *e, lat_optim_opts *o);

#ifdef __cplusplus
}
#endif

#endif
