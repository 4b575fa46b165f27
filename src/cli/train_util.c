/* train_util.c: the experiment, the epochs log, the progress bar and the hints that `lateral train` and
 * `lateral eval` share. */
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
#include "train.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/io.h"
#include "lateral/optim.h"
#include "lateral/trainer.h"
#include "size.h"

#define BAR_WIDTH 30

/* Loads the experiment named by o (or the built-in default), applies --set, finalizes. */
/* After reading e with status rc (message in err): o's --set overrides and finalize. CLI_OK, or CLI_USAGE
 * after printing the message. */
static int finish_experiment(const cli_opts *o, lat_experiment *e, int rc, char *err)
{
	for (size_t k = 0; !rc && k < o->n_sets; k++)
		rc = lat_experiment_set(e, o->sets[k], err);
	if (!rc)
		rc = lat_experiment_finalize(e, err);
	if (rc) {
		cli_report(o->cmd, err);
		return CLI_USAGE;
	}
	return CLI_OK;
}

const cli_extra train_checkpoint_options[] = {{"experiment", 1, "use this experiment file instead of the checkpoint's own"},
					      {NULL, 0, NULL}};

int train_on_value(const char *name, const char *arg, void *ctx)
{
	(void)name;
	*(const char **)ctx = arg;
	return 0;
}

int train_load_experiment(const cli_opts *o, lat_experiment *e)
{
	char err[LAT_ERRLEN] = "";
	int rc = LAT_OK;

	lat_experiment_init(e);
	if (o->model_path)
		rc = lat_experiment_load(e, o->model_path, err);
	return finish_experiment(o, e, rc, err);
}

int train_set_threads(const lat_experiment *e)
{
	int n = 1;
	openblas_set_num_threads(1);
#ifdef _OPENMP
	/* train.threads = 0: all cores, shared among the ranks on this machine */
	n = omp_get_num_procs() / cli_mpi_local_size();
	n = e->threads ? (int)e->threads : n > 1 ? n : 1;
	omp_set_num_threads(n);
#endif
	(void)e;
	return n;
}

void train_progress(size_t epoch, size_t done, size_t total, const lat_epoch_stats *s)
{
	size_t fill = total ? done * BAR_WIDTH / total : 0;
	fprintf(stderr, "\repoch %zu [", epoch);
	for (size_t i = 0; i < BAR_WIDTH; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %zu/%zu  loss %.4f  acc %.2f%%  %.0f img/s ", done, total,
		s->samples ? s->loss_sum / (double)s->samples : 0.0,
		s->samples ? 100.0 * (double)s->correct / (double)s->samples : 0.0,
		s->train_seconds > 0 ? (double)s->samples / (s->train_seconds + s->share_seconds) : 0.0);
	/* the epoch's remaining batches at its pace so far (sharing phases included) */
	if (done && done < total) {
		double left = (s->train_seconds + s->share_seconds) / (double)done * (double)(total - done);
		fprintf(stderr, " ETA %dm%02ds ", (int)(left / 60), (int)fmod(left, 60));
	}
	fflush(stderr);
}

int train_fail(const char *cmd, int code, const char *msg)
{
	cli_report(cmd, msg);
	return code == LAT_ECONFIG || code == LAT_EIO || code == LAT_EINVAL ? CLI_USAGE : CLI_FAIL;
}

int train_log_append(epoch_log *lg, const char *line)
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
int train_log_read(epoch_log *lg, const char *path, size_t n_epochs)
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
		rc = train_log_append(lg, line);
		next++;
	}
	free(line);
	fclose(fp);
	return rc;
}

void train_saved_at(char *buf, size_t size, const train_saved *sv, size_t batches)
{
	if (sv->batch)
		snprintf(buf, size, "batch %zu of %zu in epoch %zu", sv->batch, batches, sv->epoch + 1);
	else
		snprintf(buf, size, "the end of epoch %zu", sv->epoch);
}

/* A numerical failure: the checkpoint on disk still holds the last good state; say so and how to go on. */
void train_fault_hint(int argc, char **argv, const lat_experiment *e, const lat_trainer *t, int code,
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
		train_saved_at(at, sizeof at, sv, lat_trainer_batches(t));
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
int train_epoch_line(lat_trainer *t, size_t epoch, double seconds, char *line, size_t size, char *err)
{
	const lat_epoch_stats *s = lat_trainer_stats(t);
	double acc, loss;
	size_t used;
	int rc = lat_trainer_evaluate(t, 0, &acc, &loss, err);

	if (!rc)
		rc = lat_trainer_measure_lc(t, err);
	if (rc)
		return rc;
	used = (size_t)snprintf(line, size,
				"{\"epoch\": %zu, \"train_loss\": %.6f, \"train_acc\": %.4f, \"test_acc\": %.4f, "
				"\"test_loss\": %.6f",
				epoch, s->loss_sum / (double)s->samples,
				100.0 * (double)s->correct / (double)s->samples, acc, loss);
	/* per lc layer: the two SNR figures now, and the shrink factors of this epoch's phases */
	for (int which = 0; which < 4 && used < size; which++) {
		static const char *const keys[] = {"snr_pool", "snr_channel", "share_dev", "share_mean"};
		if (which >= 2 && s->phases == 0)
			break;
		used += (size_t)snprintf(line + used, size - used, ", \"%s\": [", keys[which]);
		for (size_t i = 0; i < lat_trainer_n_lc(t) && used < size; i++) {
			double v[2];
			if (which < 2)
				lat_trainer_lc_snrs(t, i, &v[0], &v[1]);
			else
				lat_trainer_lc_shrink(t, i, &v[0], &v[1]);
			used += (size_t)snprintf(line + used, size - used, isfinite(v[which % 2]) ? "%s%.6g" : "%snull",
						 i ? ", " : "", v[which % 2]);
		}
		if (used < size)
			used += (size_t)snprintf(line + used, size - used, "]");
	}
	if (used < size)
		used += (size_t)snprintf(line + used, size - used,
					 ", \"seconds\": %.3f, \"images_per_s\": %.1f, \"share_phases\": %zu, "
					 "\"share_seconds\": %.3f",
					 seconds, (double)s->samples / seconds, s->phases, s->share_seconds);
	if (used < size && s->sum_seconds > 0)
		used += (size_t)snprintf(line + used, size - used, ", \"sum_seconds\": %.3f, \"sum_mib\": %.1f",
					 s->sum_seconds, s->sum_bytes / 1048576.0);
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

int train_provenance(const cli_opts *o, const lat_experiment *e)
{
	return cli_provenance_begin(o, "experiment.cfg", e->text, strlen(e->text));
}

int train_from_checkpoint(const cli_opts *o, const char *experiment, lat_experiment *e, double **norm,
			  lat_trainer **t)
{
	char err[LAT_ERRLEN], *text = NULL;
	size_t n_norm = 0, epochs;
	int status, rc;

	*t = NULL;
	*norm = NULL;
	lat_experiment_init(e);
	if (lat_trainer_describe(o->model_path, &text, norm, &n_norm, &epochs, err)) {
		rc = train_fail(o->cmd, LAT_ECONFIG, err);
		goto out;
	}
	if (experiment) {
		/* another experiment file, and the --set overrides over it */
		cli_opts eo = *o;
		eo.model_path = experiment;
		lat_experiment_clear(e);
		rc = train_load_experiment(&eo, e);
	} else {
		char name[CLI_PATHLEN + 32];
		snprintf(name, sizeof name, "%s (its experiment)", o->model_path);
		rc = finish_experiment(o, e, lat_experiment_read_text(e, text, name, err), err);
	}
	if (rc)
		goto out;
	e->norm = *norm;
	e->n_norm = n_norm;
	train_set_threads(e);
	*t = lat_experiment_trainer_alloc(e, &status, err);
	if (!*t) {
		rc = train_fail(o->cmd, status, err);
		goto out;
	}
	if (lat_trainer_load(*t, o->model_path, err)) {
		rc = train_fail(o->cmd, LAT_ECONFIG, err);
		lat_trainer_free(*t);
		*t = NULL;
	}
out:
	free(text);
	return rc;
}

#define KERNEL_CHANNELS 2

/* The network's first lc layer (its index in *at, its geometry in *g), or NULL when it has none. */
static const lat_layer *first_lc(lat_trainer *t, size_t *at, lat_lc_geom *g)
{
	lat_net *net = lat_trainer_net(t);

	for (*at = 0; *at < lat_net_n_layers(net); ++*at)
		if (!lat_lc_geometry(lat_net_layer(net, *at), g) && !g->shared)
			return lat_net_layer(net, *at);
	return NULL;
}

size_t train_kernel_channels(lat_trainer *t)
{
	lat_lc_geom g;
	size_t at;

	if (!first_lc(t, &at, &g))
		return 0;
	return g.c_out < KERNEL_CHANNELS ? g.c_out : KERNEL_CHANNELS;
}

/* DIR/kernels.tsv: the kernels of the first lc layer (input channel 1; its weights, or kw when the layer
 * is split: its first train_kernel_channels channels as lat_trainer_lc_kernels gathered them) at the
 * central (up to) 12 x 12 of its output positions, for its first two output channels side by side: each
 * k x k kernel at its (y, x), "nan" between them. 1 when the network has no lc layer, else LAT_OK or
 * LAT_EIO. */
#define KERNEL_WINDOW 12
static int write_kernels(const char *dir, lat_trainer *t, const float *kw, char *heading, size_t size, char *err)
{
	char path[CLI_PATHLEN];
	lat_lc_geom g;
	size_t i, shown = train_kernel_channels(t), cell, rows, cols, ny, nx, y0, x0;
	const lat_layer *l = first_lc(t, &i, &g);
	lat_afile *f;
	FILE *fp;

	if (!l)
		return 1;
	if (!kw)
		kw = l->w;
	i++; /* the layer's number */
	ny = g.h_out < KERNEL_WINDOW ? g.h_out : KERNEL_WINDOW;
	nx = g.w_out < KERNEL_WINDOW ? g.w_out : KERNEL_WINDOW;
	y0 = (g.h_out - ny) / 2;
	x0 = (g.w_out - nx) / 2;
	cell = g.k + 1;
	rows = ny * cell - 1;
	cols = shown * (nx * cell + 1) - 2;
	snprintf(heading, size,
		 "layer %zu (lc): its kernels at output positions y %zu-%zu, x %zu-%zu; output channel 1%s; input channel 1",
		 i, y0, y0 + ny - 1, x0, x0 + nx - 1, shown > 1 ? " (left) and 2 (right)" : "");
	f = lat_afile_open(cli_path(path, sizeof path, dir, "kernels.tsv"), err);
	if (!f)
		return LAT_EIO;
	fp = lat_afile_fp(f);
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < cols; c++) {
			size_t ch = c / (nx * cell + 1), cc = c % (nx * cell + 1);
			size_t y = r / cell, u = r % cell, x = cc / cell, v = cc % cell;
			int in = u < g.k && v < g.k && x < nx && cc < nx * cell;
			/* W[c_out][y][x][c_in][u][v] with c_in = 0 */
			const float *w = kw + ((ch * g.h_out + y0 + y) * g.w_out + x0 + x) * g.c_in * g.k * g.k;
			if (in)
				fprintf(fp, "%.6g", (double)w[u * g.k + v]);
			else
				fputs("nan", fp);
			fputc(c + 1 < cols ? '\t' : '\n', fp);
		}
	return lat_afile_commit(f, err);
}

int train_plots(const cli_opts *o, const lat_experiment *e, lat_trainer *t, const char *log, const float *kernels)
{
	char q[CLI_PATHLEN + 16], quoted[CLI_PATHLEN + 16], nb[64], cap[512], sh[64] = "no sharing", path[CLI_PATHLEN];
	char heading[256], hq[300], ha[320], err[LAT_ERRLEN];
	const char *assign[2] = {q, nb};
	int rc;

	if (e->share_mode != LAT_SHARE_NONE)
		snprintf(sh, sizeof sh, "%s sharing every %zu", lat_share_mode_name(e->share_mode), e->share_every);
	snprintf(cap, sizeof cap, "%s: %s, %zu images, batch %zu, %s lr %g, seed %lu, %s",
		 e->source ? e->source : "<built-in experiment>", lat_trainer_n_lc(t) ? "LC" : "conv",
		 lat_trainer_n_train(t), e->batch, lat_optimizer_names[e->optimizer], e->lr, e->seed, sh);
	cli_plot_caption(cap);
	snprintf(q, sizeof q, "data = %s", cli_gp_quote(quoted, sizeof quoted, log));
	snprintf(nb, sizeof nb, "n_lc = %zu", lat_trainer_n_lc(t));
	rc = cli_plot(o, "plots/train.gp", cli_path(path, sizeof path, o->outdir, "training.png"), assign, 2);
	if (rc)
		return rc;
	rc = write_kernels(o->outdir, t, kernels, heading, sizeof heading, err);
	if (rc == 1)
		return CLI_OK;
	if (rc)
		return cli_fail(o->cmd, rc, err);
	snprintf(q, sizeof q, "data = %s", cli_gp_quote(quoted, sizeof quoted, cli_path(path, sizeof path, o->outdir, "kernels.tsv")));
	snprintf(ha, sizeof ha, "heading = %s", cli_gp_quote(hq, sizeof hq, heading));
	assign[1] = ha;
	return cli_plot(o, "plots/kernels.gp", cli_path(path, sizeof path, o->outdir, "kernels.png"), assign, 2);
}
