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
#include "lateral/trainer.h"

#define PATHLEN 4096
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

int cmd_train(int argc, char **argv)
{
	static const char summary[] =
	    "Trains the network of EXPERIMENT (default: the reference conv network on Fashion-MNIST from\n"
	    "Debian's dataset-fashion-mnist) and prints one JSON line per epoch on stdout: epoch,\n"
	    "train_loss, train_acc, test_acc (percent), snr (one per lc layer), seconds, images_per_s,\n"
	    "share_phases, share_seconds (and share_steady_error, val_acc when they apply).\n"
	    "Writes DIR/epochs.jsonl, DIR/checkpoint.bin (atomically, every train.checkpoint_every epochs\n"
	    "and at the end), DIR/summary.json and DIR/training.png. --resume continues from\n"
	    "DIR/checkpoint.bin. A progress bar goes to stderr when it is a terminal.";
	static const cli_extra extra[] = {{"resume", 0, "continue from DIR/checkpoint.bin"}, {NULL, 0, NULL}};
	train_args args = {0};
	cli_opts o;
	lat_experiment e;
	lat_trainer *t = NULL;
	lat_afile *log = NULL;
	char err[LAT_ERRLEN], path[PATHLEN], ckpt[PATHLEN];
	int rc = cli_parse(argc, argv, "train", summary, "out/train", 0, extra, on_train_extra, &args, &o);
	int status, tty = isatty(2);
	double start;

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	lat_experiment_init(&e);
	lat_experiment_clear(&e);
	rc = load_experiment(&o, &e);
	if (rc)
		goto out;
	set_threads(&e);
	rc = cli_outdir(&o);
	if (rc)
		goto out;
	t = lat_trainer_alloc(&e, &status, err);
	if (!t) {
		rc = trainer_fail(o.cmd, status, err);
		goto out;
	}
	cli_path(ckpt, sizeof ckpt, o.outdir, "checkpoint.bin");
	if (args.resume) {
		if (lat_trainer_load(t, ckpt, err)) {
			rc = trainer_fail(o.cmd, LAT_ECONFIG, err);
			goto out;
		}
		fprintf(stderr, "lateral train: resuming at epoch %zu from %s\n", lat_trainer_epoch(t) + 1, ckpt);
	}
	fprintf(stderr,
		"lateral train: %s: %zu training and %zu test images, %zu parameters, %zu lc layers, sharing %s; "
		"planned memory %.1f MiB\n",
		e.source ? e.source : "<built-in experiment>", lat_trainer_n_train(t), lat_trainer_n_test(t),
		lat_net_n_params(lat_trainer_net(t)), lat_trainer_n_lc(t), e.share_mode,
		(double)lat_trainer_planned_bytes(t) / 1048576.0);
	/* epochs.jsonl keeps the lines of every epoch run in this output directory, resumed runs included. */
	log = lat_afile_open(cli_path(path, sizeof path, o.outdir, "epochs.jsonl"), err);
	if (!log) {
		rc = trainer_fail(o.cmd, LAT_EIO, err);
		goto out;
	}
	if (args.resume) {
		FILE *old = fopen(path, "r");
		int ch;
		while (old && (ch = fgetc(old)) != EOF)
			fputc(ch, lat_afile_fp(log));
		if (old)
			fclose(old);
	}
	start = cli_now();
	while (lat_trainer_epoch(t) < e.epochs) {
		size_t epoch = lat_trainer_epoch(t) + 1, total = lat_trainer_batches(t), done = 0;
		const lat_epoch_stats *s;
		double t0 = cli_now(), acc, loss, seconds;
		char line[2048];
		size_t used;
		int r;

		lat_trainer_begin_epoch(t);
		while ((r = lat_trainer_step(t, err)) == 1) {
			done++;
			if (tty && !o.quiet && (done % 5 == 0 || done == total))
				progress(epoch, done, total, lat_trainer_stats(t));
		}
		if (tty && !o.quiet)
			fputc('\n', stderr);
		if (r < 0) {
			rc = trainer_fail(o.cmd, r, err);
			goto out;
		}
		s = lat_trainer_stats(t);
		seconds = cli_now() - t0;
		if (lat_trainer_evaluate(t, 0, &acc, &loss, err)) {
			rc = trainer_fail(o.cmd, LAT_EINVAL, err);
			goto out;
		}
		used = (size_t)snprintf(line, sizeof line,
					"{\"epoch\": %zu, \"train_loss\": %.6f, \"train_acc\": %.4f, \"test_acc\": %.4f, "
					"\"test_loss\": %.6f, \"snr\": [",
					epoch, s->loss_sum / (double)s->samples, 100.0 * (double)s->correct / (double)s->samples,
					acc, loss);
		for (size_t i = 0; i < lat_trainer_n_lc(t) && used < sizeof line; i++) {
			double v = lat_trainer_lc_snr(t, i);
			used += (size_t)snprintf(line + used, sizeof line - used, isfinite(v) ? "%s%.6g" : "%snull", i ? ", " : "",
						 v);
		}
		if (used < sizeof line)
			used += (size_t)snprintf(line + used, sizeof line - used,
						 "], \"seconds\": %.3f, \"images_per_s\": %.1f, \"share_phases\": %zu, "
						 "\"share_seconds\": %.3f",
						 seconds, (double)s->samples / seconds, s->phases, s->share_seconds);
		if (used < sizeof line && isfinite(s->share_steady_error))
			used += (size_t)snprintf(line + used, sizeof line - used, ", \"share_steady_error\": %.3g",
						 s->share_steady_error);
		if (used < sizeof line && lat_trainer_has_validation(t)) {
			double vacc, vloss;
			if (lat_trainer_evaluate(t, 1, &vacc, &vloss, err)) {
				rc = trainer_fail(o.cmd, LAT_EINVAL, err);
				goto out;
			}
			used += (size_t)snprintf(line + used, sizeof line - used, ", \"val_acc\": %.4f, \"val_loss\": %.6f",
						 vacc, vloss);
		}
		if (used < sizeof line)
			snprintf(line + used, sizeof line - used, "}");
		printf("%s\n", line);
		fflush(stdout);
		fprintf(lat_afile_fp(log), "%s\n", line);
		if ((e.checkpoint_every && epoch % e.checkpoint_every == 0) || epoch == e.epochs) {
			if (lat_trainer_save(t, ckpt, err)) {
				rc = trainer_fail(o.cmd, LAT_EIO, err);
				goto out;
			}
		}
	}
	rc = lat_afile_commit(log, err) ? trainer_fail(o.cmd, LAT_EIO, err) : CLI_OK;
	log = NULL;
	if (!rc) {
		char q[PATHLEN + 16], quoted[PATHLEN + 16], nb[64];
		const char *assign[2] = {q, nb};
		snprintf(q, sizeof q, "data = %s",
			 cli_gp_quote(quoted, sizeof quoted, cli_path(path, sizeof path, o.outdir, "epochs.jsonl")));
		snprintf(nb, sizeof nb, "n_lc = %zu", lat_trainer_n_lc(t));
		rc = cli_plot(&o, "plots/train.gp", cli_path(path, sizeof path, o.outdir, "training.png"), assign, 2);
		if (!o.quiet)
			fprintf(stderr, "lateral train: %.1f s; files in %s/\n", cli_now() - start, o.outdir);
	}
out:
	lat_afile_abort(log);
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
	    "with: give that experiment with --experiment FILE (default: the built-in one) and the same --set\n"
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
	t = lat_trainer_alloc(&e, &status, err);
	if (!t) {
		rc = trainer_fail(o.cmd, status, err);
		goto out;
	}
	if (lat_trainer_load(t, o.model_path, err) || lat_trainer_evaluate(t, 0, &acc, &loss, err)) {
		rc = trainer_fail(o.cmd, LAT_ECONFIG, err);
		goto out;
	}
	printf("{\"checkpoint\": \"%s\", \"epochs\": %zu, \"test_acc\": %.4f, \"test_loss\": %.6f}\n", o.model_path,
	       lat_trainer_epoch(t), acc, loss);
out:
	lat_trainer_free(t);
	lat_experiment_clear(&e);
	return rc;
}
