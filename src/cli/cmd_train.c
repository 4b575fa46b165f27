/* cmd_train.c: `lateral train`: LC / conv networks with weight-sharing phases. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "cli.h"
#include "train.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"
#include "lateral/optim.h"
#include "lateral/trainer.h"
#include "size.h"

typedef struct {
	int resume;
} train_args;

static int on_train_extra(const char *name, const char *arg, void *ctx)
{
	(void)arg;
	if (!strcmp(name, "resume"))
		((train_args *)ctx)->resume = 1;
	return 0;
}

/* The command's help and its own options. */
static const char train_summary[] =
    "Trains the network of EXPERIMENT (default: the reference conv network on Fashion-MNIST from\n"
    "Debian's dataset-fashion-mnist) and prints one JSON line per epoch on stdout: epoch,\n"
    "train_loss, train_acc, test_acc (percent), test_loss, snr_pool and snr_channel (per lc layer),\n"
    "seconds, images_per_s, share_phases, share_seconds (and share_dev, share_mean,\n"
    "share_steady_error, val_acc, val_loss, sum_seconds and sum_mib when they apply).\n"
    "Writes DIR/epochs.jsonl (after every epoch), DIR/checkpoint.bin (every train.checkpoint_every\n"
    "epochs and at the end) and DIR/training.png, each atomically (temporary file, fsync, rename).\n"
    "SIGINT or SIGTERM finishes the current batch (and its sharing phase), saves the state to\n"
    "DIR/checkpoint.bin and exits with status 130 or 143; --resume continues from DIR/checkpoint.bin\n"
    "(also from the middle of an epoch) to the same weights as an uninterrupted run, or starts from\n"
    "the beginning when DIR holds no checkpoint yet. A non-finite loss, gradient or weight, or a\n"
    "failed sharing phase, stops the run with status 1 and leaves the last checkpoint as it was.\n"
    "A progress bar goes to stderr when it is a terminal.\n"
    "Under mpirun -np P the ranks train one network data-parallel: each runs its slice of every\n"
    "batch (train.batch is the global batch), the gradients are summed with one allreduce per step,\n"
    "rank 0 alone prints and writes, and the checkpoint resumes with any number of ranks.\n"
    "With network.shard = \"locations\" they split every lc layer by output position instead\n"
    "(each rank holds 1/P of its weights and optimiser state and runs every whole batch; the parts'\n"
    "outputs and input gradients are summed); the checkpoint holds the whole network all the same.\n"
    "With network.shard = \"rows\" they split the activations too, in strips of rows: each rank holds\n"
    "its rows of every activation before the first avgpool or linear layer and the lc kernels of\n"
    "those rows, and receives only the rows beyond its strip that its kernels reach.";
static const cli_extra train_extra[] = {
    {"resume", 0, "continue from DIR/checkpoint.bin (--set may change e.g. train.lr)"}, {NULL, 0, NULL}};
static const char *const train_outputs[] = {"checkpoint.bin", "epochs.jsonl", "training.png", NULL};
/* --resume: loads DIR/checkpoint.bin into t (refusing one past this run's end) and the epochs log up to
 * it into lg. */
static int resume_from(const cli_opts *o, const lat_experiment *e, lat_trainer *t, const char *ckpt,
		       const char *path, train_saved *sv, epoch_log *lg)
{
	char err[LAT_ERRLEN + 64], at[128];

	if (lat_trainer_load(t, ckpt, err)) {
		return train_fail(o->cmd, LAT_ECONFIG, err);
	}
	/* a checkpoint past this run's end is not one to continue */
	if (lat_trainer_epoch(t) > e->epochs ||
	    (lat_trainer_epoch(t) == e->epochs && lat_trainer_stats(t)->batches)) {
		lat_err_set(err, LAT_ECONFIG,
			    "%s: taken after %zu epochs (and %zu batches), more than train.epochs = %zu: "
			    "give a larger "
			    "--set train.epochs",
			    ckpt, lat_trainer_epoch(t), lat_trainer_stats(t)->batches, e->epochs);
		return cli_fail(o->cmd, LAT_ECONFIG, err);
	}
	*sv = (train_saved){1, lat_trainer_epoch(t), lat_trainer_stats(t)->batches};
	train_saved_at(at, sizeof at, sv, lat_trainer_batches(t));
	if (cli_mpi_rank() == 0)
		fprintf(stderr, "lateral train: resuming after %s from %s\n", at, ckpt);
	if (train_log_read(lg, path, lat_trainer_epoch(t))) {
		return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
	}
	return CLI_OK;
}

/* Rank 0's write at the end of an epoch: the log with line appended. */
static int epoch_log_write(const cli_opts *o, const char *path, epoch_log *lg, const char *line)
{
	char err[LAT_ERRLEN + 64];

	if (train_log_append(lg, line))
		return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
	if (cli_write_text(path, lg->text, lg->len, err))
		return cli_fail(o->cmd, LAT_EIO, err);
	return CLI_OK;
}

/* The checkpoint, settled over the ranks: rank 0 writes it, and with lc layers split by location every
 * rank joins the gather of its parts. */
static int save_state(const cli_opts *o, lat_trainer *t, const char *ckpt)
{
	char err[LAT_ERRLEN + 64];
	int root = cli_mpi_rank() == 0, rc = CLI_OK;

	if ((root || lat_trainer_split(t)) && lat_trainer_save(t, root ? ckpt : NULL, err))
		rc = cli_fail(o->cmd, LAT_EIO, err);
	return cli_mpi_settle(rc);
}

/* Several ranks: after every epoch their states must be identical (same gradients, same steps). */
static int same_state(const cli_opts *o, lat_trainer *t)
{
	int same;

	if (cli_mpi_size() == 1)
		return CLI_OK;
	cli_mpi_agree(lat_trainer_checksum(t), &same);
	if (same)
		return CLI_OK;
	if (cli_mpi_rank() == 0)
		fprintf(stderr,
			"lateral %s: after epoch %zu the ranks' weights or optimiser states differ (checksums); "
			"the MPI library's sums are not identical on every rank\n",
			o->cmd, lat_trainer_epoch(t));
	return CLI_FAIL;
}

/* The epochs still to train: one JSON line each on stdout and in the log at path, a checkpoint every
 * train.checkpoint_every epochs and at the end, and at a signal (*sig) the state mid-epoch. Under several
 * ranks every rank trains (its slice of each batch), rank 0 alone prints and writes, a signal to any
 * rank stops all at the same batch, and the ranks settle each epoch's outcome together. */
static int train_epochs(int argc, char **argv, const cli_opts *o, const lat_experiment *e, lat_trainer *t,
			const char *ckpt, const char *path, epoch_log *lg, train_saved *sv, int *sig)
{
	char err[LAT_ERRLEN + 64], msg[LAT_ERRLEN], line[2048];
	int tty = isatty(2), root = cli_mpi_rank() == 0, rc = CLI_OK;

	while (!rc && lat_trainer_epoch(t) < e->epochs) {
		size_t epoch = lat_trainer_epoch(t) + 1, total = lat_trainer_batches(t), done;
		double t0 = cli_now();
		int r;

		lat_trainer_begin_epoch(t);
		done = lat_trainer_stats(t)->batches;
		/* a resumed epoch: count the time its first part took (as the checkpoint measured it) */
		if (done)
			t0 -= lat_trainer_stats(t)->train_seconds + lat_trainer_stats(t)->share_seconds;
		while ((r = lat_trainer_step(t, err)) == 1) {
			done++;
			if (tty && !o->quiet && (done % 5 == 0 || done == total))
				train_progress(epoch, done, total, lat_trainer_stats(t));
			*sig = cli_mpi_max(cli_interrupted());
			if (*sig)
				break;
		}
		if (tty && !o->quiet)
			fputc('\n', stderr);
		if (r == 1) { /* interrupted within the epoch */
			rc = save_state(o, t, ckpt);
			*sv = (train_saved){1, lat_trainer_epoch(t), lat_trainer_stats(t)->batches};
			return rc;
		}
		/* errors of the steps and the evaluation are the same on every rank */
		if (!r && (r = train_epoch_line(t, epoch, cli_now() - t0, line, sizeof line, msg)) < 0)
			snprintf(err, sizeof err, "epoch %zu, evaluation: %s", epoch, msg);
		if (r < 0) {
			rc = train_fail(o->cmd, r, err);
			if (root && (r == LAT_EDIVERGE || r == LAT_ENOTSTEADY || r == LAT_ESOLVER))
				train_fault_hint(argc, argv, e, t, r, ckpt, sv);
			return rc;
		}
		*sig = cli_mpi_max(cli_interrupted());
		/* The log first: a kill between the two leaves it one epoch ahead of the checkpoint, and a
		 * resumed run drops that line before writing it again. */
		if (root) {
			printf("%s\n", line);
			fflush(stdout);
			rc = epoch_log_write(o, path, lg, line);
		}
		rc = cli_mpi_settle(rc);
		if (!rc && (*sig || (e->checkpoint_every && epoch % e->checkpoint_every == 0) || epoch == e->epochs)) {
			rc = save_state(o, t, ckpt);
			if (!rc)
				*sv = (train_saved){1, epoch, 0};
		}
		if (!rc)
			rc = same_state(o, t);
		if (*sig)
			break;
	}
	return rc;
}

int cmd_train(int argc, char **argv)
{
	train_args args = {0};
	train_saved sv = {0};
	epoch_log lg = {NULL, 0, 0};
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	lat_trainer_comm comm = {.rank = cli_mpi_rank(),
				 .size = cli_mpi_size(),
				 .sum_float = cli_mpi_sum_float,
				 .sum_double = cli_mpi_sum_double,
				 .exchange_float = cli_mpi_exchange_float,
				 .reduce_scatter_float = cli_mpi_reduce_scatter_float,
				 .allgather_float = cli_mpi_allgather_float,
				 .shared_floats = cli_mpi_shared_floats,
				 .barrier = cli_mpi_barrier};
	char err[LAT_ERRLEN + 64], path[CLI_PATHLEN], ckpt[CLI_PATHLEN], at[128], planned[32];
	int rc = cli_parse(argc, argv, "train", train_summary, "out/train", 0, train_extra, on_train_extra,
			   &args, &o);
	int status, sig = 0, root = cli_mpi_rank() == 0, ranks = cli_mpi_size(), threads;
	double start, *norm = NULL;
	float *kernels = NULL;

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	cli_signals_install();
	lat_experiment_init(&e);
	lat_experiment_clear(&e);
	/* Several ranks train one network together (data parallel); rank 0 alone prints and writes, and
	 * after each step that can fail on one rank only the ranks settle the outcome together. */
	if (!root) {
		o.quiet = 1;
		cli_errors_quiet(1);
	}
	rc = cli_mpi_settle(train_load_experiment(&o, &e));
	if (rc)
		goto out;
	threads = train_set_threads(&e);
	e.max_memory = o.max_memory;
	e.comm = ranks > 1 ? &comm : NULL;
	rc = cli_mpi_same(o.cmd, "experiments", cli_hash(e.text, strlen(e.text)));
	if (rc)
		goto out;
	/* (after the check that every rank resolved the same experiment: the split is collective) */
	/* split by location in groups of network.shard_ranks ranks (0: all), the groups data parallel */
	if (ranks > 1 && (e.shard == LAT_SHARD_LOCATIONS || e.shard == LAT_SHARD_ROWS)) {
		comm.parts = e.shard_ranks ? (int)e.shard_ranks : ranks;
		if (ranks % comm.parts) {
			lat_err_set(err, LAT_ECONFIG,
				    "%s: network.shard_ranks = %d: the %d ranks must form groups of that many (a divisor "
				    "of %d)",
				    e.source ? e.source : "<built-in experiment>", comm.parts, ranks, ranks);
			rc = cli_fail(o.cmd, LAT_ECONFIG, err);
			goto out;
		}
		if (comm.parts < ranks && cli_mpi_groups(comm.parts, &comm.ctx_group, &comm.ctx_across)) {
			rc = cli_fail(o.cmd, LAT_EIO, "MPI could not split the ranks into groups");
			goto out;
		}
	}
	/* The output directory first (created and locked), so that an impossible one fails before the data
	 * are read; bad data or a refused memory plan then remove it again. */
	rc = cli_mpi_settle(root ? cli_outdir(&o) : CLI_OK);
	if (rc)
		goto out;
	cli_path(ckpt, sizeof ckpt, o.outdir, "checkpoint.bin");
	/* --resume in a folder whose run was stopped before its first checkpoint: there is nothing to
	 * continue, so the run starts from the beginning (its log is rewritten) */
	if (args.resume && access(ckpt, F_OK) != 0 && errno == ENOENT) {
		if (root && !o.quiet)
			fprintf(stderr, "lateral train: %s holds no checkpoint yet: training from the first epoch\n",
				o.outdir);
		args.resume = 0;
	}
	/* a resumed run keeps the input normalisation of its checkpoint (whatever the data keys say now) */
	if (args.resume) {
		char *text = NULL;
		size_t n_epochs;
		if (lat_trainer_describe(ckpt, &text, &norm, &e.n_norm, &n_epochs, err))
			rc = train_fail(o.cmd, LAT_ECONFIG, err);
		free(text);
		e.norm = norm;
	}
	rc = cli_mpi_settle(rc);
	if (rc)
		goto out;
	t = lat_experiment_trainer_alloc(&e, &status, err);
	rc = cli_mpi_settle(t ? CLI_OK : train_fail(o.cmd, status, err));
	if (rc) {
		if (root)
			cli_outdir_discard(&o);
		goto out;
	}
	cli_path(path, sizeof path, o.outdir, "epochs.jsonl");
	if (root)
		cli_remove_stale(o.outdir, train_outputs);
	if (args.resume)
		rc = resume_from(&o, &e, t, ckpt, path, &sv, &lg);
	/* the input is good (a checkpoint to resume from included): record what produced the folder; the
	 * log now matches the checkpoint (a fresh run starts it empty) */
	if (!rc && root)
		rc = train_provenance(&o, &e);
	if (!rc && root && cli_write_text(path, lg.text, lg.len, err))
		rc = cli_fail(o.cmd, LAT_EIO, err);
	rc = cli_mpi_settle(rc);
	if (rc)
		goto out;
	if (!o.quiet) {
		lat_net *net = lat_trainer_net(t);
		char ranks_text[160] = "", groups[64] = "", blocks[64] = "", mine[48] = "";
		size_t n_blocks = 0;
		for (size_t i = 0; i < e.n_layers; i++)
			n_blocks += e.locally_connected && e.layers[i].kind == LAT_L_RESBLOCK;
		if (n_blocks)
			snprintf(blocks, sizeof blocks, " (and %zu residual blocks of lc layers)", n_blocks);
		if (lat_trainer_split(t))
			snprintf(mine, sizeof mine, " (%zu on each rank of a group)", lat_net_n_params(net));
		if (comm.parts && comm.parts < ranks)
			snprintf(groups, sizeof groups, " in groups of %d ranks, the groups data parallel", comm.parts);
		if (ranks > 1)
			snprintf(ranks_text, sizeof ranks_text, "; %d ranks x %d thread%s, %s%s", ranks, threads,
				 threads > 1 ? "s" : "",
				 !comm.parts		       ? "data parallel"
				 : e.shard == LAT_SHARD_ROWS ? "lc layers and activations split into strips of rows"
							       : "lc layers split by location",
				 groups);
		fprintf(stderr,
			"lateral train: %s: %zu training and %zu test images, %zu parameters%s, %zu lc layers%s, "
			"sharing %s; planned memory %s%s%s\n",
			e.source ? e.source : "<built-in experiment>", lat_trainer_n_train(t), lat_trainer_n_test(t),
			lat_net_n_params_whole(net), mine, lat_trainer_n_lc(t), blocks, lat_share_mode_name(e.share_mode),
			lat_size_text(planned, sizeof planned, (double)lat_trainer_planned_bytes(t)),
			ranks > 1 ? " per rank" : "", ranks_text);
	}
	start = cli_now();
	rc = train_epochs(argc, argv, &o, &e, t, ckpt, path, &lg, &sv, &sig);
	if (rc)
		goto out;
	if (sig && lat_trainer_epoch(t) < e.epochs) {
		if (root) {
			train_saved_at(at, sizeof at, &sv, lat_trainer_batches(t));
			fprintf(stderr, "lateral train: %s: stopped after %s; the state is saved in %s\n",
				cli_signal_name(sig), at, ckpt);
			cli_rerun_hint(argc, argv, "resume with", NULL, 0, 1);
		}
		rc = CLI_INTERRUPTED(sig);
		goto out;
	}
	/* a split first lc layer's kernels for kernels.tsv, its channels shown gathered on every rank */
	if (lat_trainer_n_lc(t) && lat_trainer_split(t)) {
		kernels = lat_trainer_lc_kernels(t, 0, 0, train_kernel_channels(t), err);
		rc = cli_mpi_settle(kernels ? CLI_OK : cli_fail(o.cmd, LAT_ENOMEM, err));
	}
	if (!rc && root)
		rc = train_plots(&o, &e, t, path, kernels);
	if (!o.quiet)
		fprintf(stderr, "lateral train: %.1f s; files in %s/\n", cli_now() - start, o.outdir);
out:
	free(kernels);
	free(lg.text);
	lat_trainer_free(t);
	free(norm);
	lat_experiment_clear(&e);
	return rc;
}
