/* train.h: what `lateral train` and `lateral eval` share: loading the experiment, the epochs log, the
 * progress bar and the messages of a failed run. */
#ifndef LATERAL_CLI_TRAIN_H
#define LATERAL_CLI_TRAIN_H

#include <stddef.h>

#include "cli.h"
#include "lateral/experiment.h"
#include "lateral/trainer.h"

/* epochs.jsonl: one line per finished epoch, rewritten atomically after every epoch. */
typedef struct {
	char *text;
	size_t len, cap;
} epoch_log;

/* Where the state of the run is and how it continues (after an interrupt or a failure). */
typedef struct {
	int saved;	     /* this run's state is in the checkpoint file */
	size_t epoch, batch; /* epochs finished, and batches of the next one, in that checkpoint */
} train_saved;

/* Loads the experiment named by o (or the built-in default), applies --set, finalizes. */
int train_load_experiment(const cli_opts *o, lat_experiment *e);

/* Thread policy: OpenMP threads from train.threads (0 = every core, shared among the MPI ranks on this
 * machine); OpenBLAS single-threaded because the layers call it from inside their own parallel loops.
 * Returns the threads set (1 without OpenMP). */
int train_set_threads(const lat_experiment *e);

/* The progress bar of the running epoch on stderr (done of total batches, with the running loss). */
void train_progress(size_t epoch, size_t done, size_t total, const lat_epoch_stats *s);

/* Prints msg for cmd and returns the exit status of code (2 for input errors: LAT_ECONFIG, LAT_EIO,
 * LAT_EINVAL; else 1). */
int train_fail(const char *cmd, int code, const char *msg);

/* Appends line and a newline to lg; LAT_ENOMEM. */
int train_log_append(epoch_log *lg, const char *line);

/* Keeps the lines of epochs 1..n_epochs of an existing epochs.jsonl: the checkpoint holds that many
 * epochs, and the resumed run writes the lines of the later ones again. */
int train_log_read(epoch_log *lg, const char *path, size_t n_epochs);

/* "batch B of N in epoch E" or "the end of epoch E": where sv's checkpoint was taken, into buf. */
void train_saved_at(char *buf, size_t size, const train_saved *sv, size_t batches);

/* A numerical failure: the checkpoint on disk still holds the last good state; say so and how to go on. */
void train_fault_hint(int argc, char **argv, const lat_experiment *e, const lat_trainer *t, int code,
		      const char *ckpt, const train_saved *sv);

/* One finished epoch: evaluation, the JSON line on stdout and in the log. */
int train_epoch_line(lat_trainer *t, size_t epoch, double seconds, char *line, size_t size, char *err);

/* Records the resolved experiment as DIR/experiment.cfg and this invocation in DIR/provenance.jsonl
 * (cli_provenance_begin). */
int train_provenance(const cli_opts *o, const lat_experiment *e);

/* The extra options of the commands that read a checkpoint (eval, export): --experiment FILE. */
extern const cli_extra train_checkpoint_options[];

/* The on_extra callback of a command whose one extra option takes a value: stores arg in *(const char **)ctx. */
int train_on_value(const char *name, const char *arg, void *ctx);

/* The trainer of CHECKPOINT (o->model_path) with its weights loaded: its own experiment (or the file
 * experiment, when not NULL) with o's --set overrides, and its input normalisation (*norm, owned by the
 * caller: free it after the trainer). e is initialised here; the caller clears it after the trainer.
 * Returns CLI_OK, or the exit status after printing why (*t NULL). */
int train_from_checkpoint(const cli_opts *o, const char *experiment, lat_experiment *e, double **norm,
			  lat_trainer **t);

/* The output channels kernels.tsv shows of the first lc layer: its first two (or one); 0 without one. */
size_t train_kernel_channels(lat_trainer *t);

/* The figures of a finished training run: DIR/training.png from the log (accuracy and snr_pool per
 * epoch) and, for a network with an lc layer, DIR/kernels.tsv and DIR/kernels.png (the first lc layer's
 * kernels across positions; kernels: when that layer is split, its first train_kernel_channels output
 * channels as lat_trainer_lc_kernels gathers them, borrowed; NULL: the layer's own). Returns CLI_OK or
 * an exit status after printing why. */
int train_plots(const cli_opts *o, const lat_experiment *e, lat_trainer *t, const char *log, const float *kernels);

#endif
