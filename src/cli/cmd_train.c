/* cmd_train.c: `lateral train` and `lateral eval`: LC / conv networks with weight-sharing phases. */
#include <config.h>

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
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"
#include "lateral/optim.h"
#include "lateral/trainer.h"
#include "size.h"

#define BAR_WIDTH 30

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

/* Loads the experiment named by o (or the built-in default), applies --set, finalizes. */
static int load_experiment(const cli_opts *o, lat_experiment *e)
{
	char err[LAT_ERRLEN] = "";
	int rc = LAT_OK;

	lat_experiment_init(e);
	if (o->model_path)
		rc = lat_experiment_load(e, o->model_path, err);
	for (size_t k = 0; !rc && k < o->n_sets; k++)
		rc = lat_experiment_set(e, o->sets[k], err);
	if (!rc)
		rc = lat_experiment_finalize(e, err);
	if (rc) {
		fprintf(stderr, "lateral %s: %s\n", o->cmd, err);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* Thread policy: OpenMP threads from train.threads (0 = every core); OpenBLAS single-threaded
 * because the layers call it from inside their own parallel loops. */
static void set_threads(const lat_experiment *e)
{
	openblas_set_num_threads(1);
#ifdef _OPENMP
	omp_set_num_threads(e->threads ? (int)e->threads : omp_get_num_procs());
#endif
}

static void progress(size_t epoch, size_t done, size_t total, const lat_epoch_stats *s)
{
	size_t fill = total ? done * BAR_WIDTH / total : 0;
	fprintf(stderr, "\repoch %zu [", epoch);
	for (size_t i = 0; i < BAR_WIDTH; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %zu/%zu  loss %.4f  acc %.2f%%  %.0f img/s ", done, total,
		s->samples ? s->loss_sum / (double)s->samples : 0.0,
		s->samples ? 100.0 * (double)s->correct / (double)s->samples : 0.0,
		s->train_seconds > 0 ? (double)s->samples / (s->train_seconds + s->share_seconds) : 0.0);
	fflush(stderr);
}

static int trainer_fail(const char *cmd, int code, const char *msg)
{
	fprintf(stderr, "lateral %s: %s\n", cmd, msg);
	return code == LAT_ECONFIG || code == LAT_EIO || code == LAT_EINVAL ? CLI_USAGE : CLI_FAIL;
}

/* epochs.jsonl: one line per finished epoch, rewritten atomically after every epoch. */
typedef struct {
	char *text;
	size_t len, cap;
} epoch_log;

static int log_append(epoch_log *lg, const char *line)
{
	size_t n = strlen(line);
	if (lg->len + n + 2 > lg->cap) {
		size_t cap = 2 * (lg->len + n + 2);
		char *p = realloc(lg->text, cap);
		if (!p)
			return LAT_ENOMEM;
		lg->text = p;
		lg->cap = cap;
	}
	memcpy(lg->text + lg->len, line, n);
	lg->len += n;
	lg->text[lg->len++] = '\n';
	lg->text[lg->len] = 0;
	return LAT_OK;
}

/* Keeps the lines of epochs 1..n_epochs of an existing epochs.jsonl: the checkpoint holds that many
 * epochs, and the resumed run writes the lines of the later ones again. */
static int log_read(epoch_log *lg, const char *path, size_t n_epochs)
{
	FILE *fp = NULL;
	char *line = NULL;
	size_t cap = 0, next = 1, epoch;
	ssize_t len;
	int rc = LAT_OK;

	/* a missing or unreadable log (or anything but a file) starts empty */
	if (lat_file_open(path, &fp, NULL, NULL))
		return LAT_OK;
	while (!rc && next <= n_epochs && (len = getline(&line, &cap, fp)) > 0) {
		if (line[len - 1] != '\n' || sscanf(line, "{\"epoch\": %zu,", &epoch) != 1 || epoch != next)
			break;
		line[len - 1] = 0;
		rc = log_append(lg, line);
		next++;
	}
	free(line);
	fclose(fp);
	return rc;
}

/* Where the state of the run is and how it continues (after an interrupt or a failure). */
typedef struct {
	int saved;	     /* this run's state is in the checkpoint file */
	size_t epoch, batch; /* epochs finished, and batches of the next one, in that checkpoint */
} train_saved;

static void saved_at(char *buf, size_t size, const train_saved *sv, size_t batches)
{
	if (sv->batch)
		snprintf(buf, size, "batch %zu of %zu in epoch %zu", sv->batch, batches, sv->epoch + 1);
	else
		snprintf(buf, size, "the end of epoch %zu", sv->epoch);
}

/* A numerical failure: the checkpoint on disk still holds the last good state; say so and how to go on. */
static void fault_hint(int argc, char **argv, const lat_experiment *e, const lat_trainer *t, int code,
		       const char *ckpt, const train_saved *sv)
{
	char sets[2][64], at[128];
	const char *set_ptr[2] = {sets[0], sets[1]};
	size_t n_sets = 1;

	if (code == LAT_EDIVERGE && lat_trainer_fault_in_sharing(t)) {
		snprintf(sets[0], sizeof sets[0], "sharing.eta=%g", e->share_eta / 10);
	} else if (code == LAT_EDIVERGE) {
		lat_optim_opts oo;
		lat_experiment_optim_opts(e, &oo);
		snprintf(sets[0], sizeof sets[0], "train.lr=%g",
			 lat_optim_lr(&oo, lat_trainer_epoch(t)) / 10);
	} else {
		snprintf(sets[0], sizeof sets[0], "sharing.t_max=%g", 10 * e->t_max);
		snprintf(sets[1], sizeof sets[1], "sharing.max_steps=%ld", 10 * e->max_steps);
		n_sets = 2;
	}
	if (sv->saved) {
		saved_at(at, sizeof at, sv, lat_trainer_batches(t));
		fprintf(stderr,
			"lateral train: the last good state (%s) is in %s, which was not overwritten\n", at,
			ckpt);
		cli_rerun_hint(argc, argv, "continue from it with other settings, e.g.", set_ptr, n_sets, 1);
	} else {
		fprintf(stderr, "lateral train: this run wrote no checkpoint yet; nothing was saved\n");
		cli_rerun_hint(argc, argv, "run again with other settings, e.g.", set_ptr, n_sets, 0);
	}
}

/* One finished epoch: evaluation, the JSON line on stdout and in the log. */
static int epoch_line(lat_trainer *t, size_t epoch, double seconds, char *line, size_t size, char *err)
{
	const lat_epoch_stats *s = lat_trainer_stats(t);
	double acc, loss;
	size_t used;
	int rc = lat_trainer_evaluate(t, 0, &acc, &loss, err);

	if (rc)
		return rc;
	used = (size_t)snprintf(
	    line, size,
	    "{\"epoch\": %zu, \"train_loss\": %.6f, \"train_acc\": %.4f, \"test_acc\": %.4f, "
	    "\"test_loss\": %.6f, \"snr\": [",
	    epoch, s->loss_sum / (double)s->samples, 100.0 * (double)s->correct / (double)s->samples, acc,
	    loss);
	for (size_t i = 0; i < lat_trainer_n_lc(t) && used < size; i++) {
		double v = lat_trainer_lc_snr(t, i);
		used += (size_t)snprintf(line + used, size - used, isfinite(v) ? "%s%.6g" : "%snull",
					 i ? ", " : "", v);
	}
	if (used < size)
		used +=
		    (size_t)snprintf(line + used, size - used,
				     "], \"seconds\": %.3f, \"images_per_s\": %.1f, \"share_phases\": %zu, "
				     "\"share_seconds\": %.3f",
				     seconds, (double)s->samples / seconds, s->phases, s->share_seconds);
	if (used < size && isfinite(s->share_steady_error))
		used += (size_t)snprintf(line + used, size - used, ", \"share_steady_error\": %.3g",
					 s->share_steady_error);
	if (used < size && lat_trainer_has_validation(t)) {
		double vacc, vloss;
		rc = lat_trainer_evaluate(t, 1, &vacc, &vloss, err);
		if (rc)
			return rc;
		used += (size_t)snprintf(line + used, size - used, ", \"val_acc\": %.4f, \"val_loss\": %.6f",
					 vacc, vloss);
	}
	if (used < size)
		snprintf(line + used, size - used, "}");
	return LAT_OK;
}

/* The command's help and its own options. */
static const char train_summary[] =
    "Trains the network of EXPERIMENT (default: the reference conv network on Fashion-MNIST from\n"
    "Debian's dataset-fashion-mnist) and prints one JSON line per epoch on stdout: epoch,\n"
    "train_loss, train_acc, test_acc (percent), snr (one per lc layer), seconds, images_per_s,\n"
    "share_phases, share_seconds (and share_steady_error, val_acc when they apply).\n"
    "Writes DIR/epochs.jsonl (after every epoch), DIR/checkpoint.bin (every train.checkpoint_every\n"
    "epochs and at the end) and DIR/training.png, each atomically (temporary file, fsync, rename).\n"
    "SIGINT or SIGTERM finishes the current batch (and its sharing phase), saves the state to\n"
    "DIR/checkpoint.bin and exits with status 130 or 143; --resume continues from DIR/checkpoint.bin\n"
    "(also from the middle of an epoch) to the same weights as an uninterrupted run. A non-finite\n"
    "loss, gradient or weight, or a failed sharing phase, stops the run with status 1 and leaves\n"
    "the last checkpoint as it was. A progress bar goes to stderr when it is a terminal.";
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
		return trainer_fail(o->cmd, LAT_ECONFIG, err);
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
	saved_at(at, sizeof at, sv, lat_trainer_batches(t));
	fprintf(stderr, "lateral train: resuming after %s from %s\n", at, ckpt);
	if (log_read(lg, path, lat_trainer_epoch(t))) {
		return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
	}
	return CLI_OK;
}

/* The epochs still to train: one JSON line each on stdout and in the log at path, a checkpoint every
 * train.checkpoint_every epochs and at the end, and at a signal (*sig) the state mid-epoch. */
static int train_epochs(int argc, char **argv, const cli_opts *o, const lat_experiment *e, lat_trainer *t,
			const char *ckpt, const char *path, epoch_log *lg, train_saved *sv, int *sig)
{
	char err[LAT_ERRLEN + 64], msg[LAT_ERRLEN], line[2048];
	int tty = isatty(2);

	while (lat_trainer_epoch(t) < e->epochs) {
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
				progress(epoch, done, total, lat_trainer_stats(t));
			*sig = cli_interrupted();
			if (*sig)
				break;
		}
		if (tty && !o->quiet)
			fputc('\n', stderr);
		if (r == 1) { /* interrupted within the epoch */
			if (lat_trainer_save(t, ckpt, err)) {
				return cli_fail(o->cmd, LAT_EIO, err);
			}
			*sv = (train_saved){1, lat_trainer_epoch(t), lat_trainer_stats(t)->batches};
			break;
		}
		if (!r && (r = epoch_line(t, epoch, cli_now() - t0, line, sizeof line, msg)) < 0)
			snprintf(err, sizeof err, "epoch %zu, evaluation: %s", epoch, msg);
		if (r < 0) {
			int rc = trainer_fail(o->cmd, r, err);
			if (r == LAT_EDIVERGE || r == LAT_ENOTSTEADY || r == LAT_ESOLVER)
				fault_hint(argc, argv, e, t, r, ckpt, sv);
			return rc;
		}
		printf("%s\n", line);
		fflush(stdout);
		/* The log first: a kill between the two leaves it one epoch ahead of the checkpoint, and a
		 * resumed run drops that line before writing it again. */
		if (log_append(lg, line)) {
			return cli_fail(o->cmd, LAT_ENOMEM, "out of memory");
		}
		if (cli_write_text(path, lg->text, lg->len, err)) {
			return cli_fail(o->cmd, LAT_EIO, err);
		}
		*sig = cli_interrupted();
		if (*sig || (e->checkpoint_every && epoch % e->checkpoint_every == 0) || epoch == e->epochs) {
			if (lat_trainer_save(t, ckpt, err)) {
				return cli_fail(o->cmd, LAT_EIO, err);
			}
			*sv = (train_saved){1, lat_trainer_epoch(t), 0};
		}
		if (*sig)
			break;
	}
	return CLI_OK;
}

int cmd_train(int argc, char **argv)
{
	train_args args = {0};
	train_saved sv = {0};
	epoch_log lg = {NULL, 0, 0};
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	char err[LAT_ERRLEN + 64], path[CLI_PATHLEN], ckpt[CLI_PATHLEN], at[128], planned[32];
	int rc = cli_parse(argc, argv, "train", train_summary, "out/train", 0, train_extra, on_train_extra,
			   &args, &o);
	int status, sig = 0;
	double start;

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	cli_signals_install();
	lat_experiment_init(&e);
	lat_experiment_clear(&e);
	rc = load_experiment(&o, &e);
	if (rc)
		goto out;
	set_threads(&e);
	e.max_memory = o.max_memory;
	/* The output directory first (created and locked), so that an impossible one fails before the data
	 * are read; bad data or a refused memory plan then remove it again. */
	rc = cli_outdir(&o);
	if (rc)
		goto out;
	t = lat_experiment_trainer_alloc(&e, &status, err);
	if (!t) {
		rc = trainer_fail(o.cmd, status, err);
		cli_outdir_discard(&o);
		goto out;
	}
	cli_remove_stale(o.outdir, train_outputs);
	cli_path(ckpt, sizeof ckpt, o.outdir, "checkpoint.bin");
	cli_path(path, sizeof path, o.outdir, "epochs.jsonl");
	if (args.resume) {
		rc = resume_from(&o, &e, t, ckpt, path, &sv, &lg);
		if (rc)
			goto out;
	}
	/* The log now matches the checkpoint (a fresh run starts it empty). */
	if (cli_write_text(path, lg.text, lg.len, err)) {
		rc = cli_fail(o.cmd, LAT_EIO, err);
		goto out;
	}
	fprintf(
	    stderr,
	    "lateral train: %s: %zu training and %zu test images, %zu parameters, %zu lc layers, sharing %s; "
	    "planned memory %s\n",
	    e.source ? e.source : "<built-in experiment>", lat_trainer_n_train(t), lat_trainer_n_test(t),
	    lat_net_n_params(lat_trainer_net(t)), lat_trainer_n_lc(t), lat_share_mode_name(e.share_mode),
	    lat_size_text(planned, sizeof planned, (double)lat_trainer_planned_bytes(t)));
	start = cli_now();
	rc = train_epochs(argc, argv, &o, &e, t, ckpt, path, &lg, &sv, &sig);
	if (rc)
		goto out;
	if (sig && lat_trainer_epoch(t) < e.epochs) {
		saved_at(at, sizeof at, &sv, lat_trainer_batches(t));
		fprintf(stderr, "lateral train: %s: stopped after %s; the state is saved in %s\n",
			cli_signal_name(sig), at, ckpt);
		cli_rerun_hint(argc, argv, "resume with", NULL, 0, 1);
		rc = CLI_INTERRUPTED(sig);
		goto out;
	}
	{
		char q[CLI_PATHLEN + 16], quoted[CLI_PATHLEN + 16], nb[64];
		const char *assign[2] = {q, nb};
		snprintf(q, sizeof q, "data = %s", cli_gp_quote(quoted, sizeof quoted, path));
		snprintf(nb, sizeof nb, "n_lc = %zu", lat_trainer_n_lc(t));
		rc = cli_plot(&o, "plots/train.gp", cli_path(path, sizeof path, o.outdir, "training.png"),
			      assign, 2);
		if (!o.quiet)
			fprintf(stderr, "lateral train: %.1f s; files in %s/\n", cli_now() - start, o.outdir);
	}
out:
	free(lg.text);
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	return rc;
}

static int on_eval_extra(const char *name, const char *arg, void *ctx)
{
	(void)name;
	*(const char **)ctx = arg;
	return 0;
}

int cmd_eval(int argc, char **argv)
{
	static const char summary[] =
	    "Evaluates CHECKPOINT (from `lateral train`) on the test set of the experiment it was trained\n"
	    "with: give that experiment with --experiment FILE (default: the built-in one) and the same "
	    "--set\n"
	    "overrides that change the network. Prints one JSON line: test_acc, test_loss.";
	static const cli_extra extra[] = {{"experiment", 1, "the experiment file of the training run"},
					  {NULL, 0, NULL}};
	const char *experiment = NULL;
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	char err[LAT_ERRLEN];
	double acc, loss;
	int status, rc;

	rc = cli_parse(argc, argv, "eval", summary, NULL, 1, extra, on_eval_extra, &experiment, &o);
	if (rc)
		return rc < 0 ? CLI_OK : rc;
	lat_experiment_init(&e);
	lat_experiment_clear(&e);
	{
		/* The positional argument is the checkpoint; the experiment comes from --experiment. */
		cli_opts eo = o;
		eo.model_path = experiment;
		rc = load_experiment(&eo, &e);
	}
	if (rc)
		goto out;
	set_threads(&e);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	if (!t) {
		rc = trainer_fail(o.cmd, status, err);
		goto out;
	}
	if (lat_trainer_load(t, o.model_path, err) || lat_trainer_evaluate(t, 0, &acc, &loss, err)) {
		rc = trainer_fail(o.cmd, LAT_ECONFIG, err);
		goto out;
	}
	printf("{\"checkpoint\": \"%s\", \"epochs\": %zu, \"test_acc\": %.4f, \"test_loss\": %.6f}\n",
	       o.model_path, lat_trainer_epoch(t), acc, loss);
out:
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	return rc;
}
