/* test_train.c: experiment files, whole-network gradients, training to 100 %, checkpoints and resume. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>
#include <gsl/gsl_rng.h>

#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/layer.h"
#include "lateral/loss.h"
#include "lateral/net.h"
#include "lateral/trainer.h"
#include "layer_impl.h"
#include "idx_fixture.h"
#include "runner.h"
#include "threads.h"

/* lat_loss_softmax_xent for labels known to be valid: the loss, asserting success */
static double xent(const float *z, const int *y, size_t batch, size_t k, float *d, size_t *n_correct)
{
	double loss = NAN;
	CU_ASSERT_EQUAL(lat_loss_softmax_xent(z, y, batch, k, d, &loss, n_correct, NULL), LAT_OK);
	return loss;
}

static char tmpdir[256];

static char *tmp_path(char *buf, const char *name)
{
	sprintf(buf, "%s/%s", tmpdir, name);
	return buf;
}

static void write_text(const char *name, const char *text)
{
	char p[512];
	FILE *fp = fopen(tmp_path(p, name), "w");
	fputs(text, fp);
	fclose(fp);
}

/* An experiment on the generated data: conv 3x3 x4 -> relu -> maxpool 2 -> lc 3x3 x4 -> relu -> linear. */
static void tiny_experiment(lat_experiment *e, const char *train_extra, const char *extra)
{
	char text[2048], p[512];
	char err[LAT_ERRLEN] = "";
	snprintf(text, sizeof text,
		 "data = { train_images = \"train-images\"; train_labels = \"train-labels\";\n"
		 "         test_images = \"test-images\"; test_labels = \"test-labels\"; };\n"
		 "network = { layers = (\n"
		 "  { type = \"conv\"; channels = 4; kernel = 3; },\n"
		 "  { type = \"relu\"; },\n"
		 "  { type = \"maxpool\"; size = 2; },\n"
		 "  { type = \"lc\"; channels = 4; kernel = 3; },\n"
		 "  { type = \"relu\"; },\n"
		 "  { type = \"linear\"; outputs = 10; } ); };\n"
		 "train = { batch = 8; lr = 0.01; threads = 1; %s };\n%s",
		 train_extra ? train_extra : "epochs = 3;", extra ? extra : "");
	write_text("tiny.cfg", text);
	lat_experiment_init(e);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_load(e, tmp_path(p, "tiny.cfg"), err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_finalize(e, err), LAT_OK);
}

static void test_defaults_and_overrides(void)
{
	lat_experiment e;
	char err[LAT_ERRLEN] = "";
	lat_experiment_init(&e);
	CU_ASSERT_EQUAL(e.n_layers, 7);
	CU_ASSERT_EQUAL(e.layers[0].kind, LAT_L_CONV);
	CU_ASSERT_EQUAL(e.layers[0].channels, 32);
	CU_ASSERT_EQUAL(e.layers[6].outputs, 10);
	CU_ASSERT_EQUAL(e.batch, 128);
	CU_ASSERT_DOUBLE_EQUAL(e.lr, 1e-3, 0);
	CU_ASSERT_DOUBLE_EQUAL(e.weight_decay, 1e-4, 0);
	CU_ASSERT_EQUAL(e.optimizer, LAT_OPT_ADAMW);
	CU_ASSERT_EQUAL(e.share_mode, LAT_SHARE_NONE);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "sharing.mode=circuit", err), LAT_OK);
	CU_ASSERT_EQUAL(e.share_mode, LAT_SHARE_CIRCUIT);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "train.epochs=3", err), LAT_OK);
	CU_ASSERT_EQUAL(e.epochs, 3);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "sharing.method=exact", err), LAT_OK);
	CU_ASSERT_EQUAL(e.method, LAT_METHOD_EXACT);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "train.lr_milestones=[2, 4]", err), LAT_OK);
	CU_ASSERT_EQUAL(e.n_milestones, 2);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "train.epochs=2.5", err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "train.epochs"));
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "train.bogus=1", err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown key"));
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "network.layers=()", err), LAT_ECONFIG);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "train.lr=-1", err), LAT_ECONFIG);
	CU_ASSERT_EQUAL(e.epochs, 3); /* failed overrides change nothing */
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "sharing.mode=sometimes", err), LAT_ECONFIG);
	CU_ASSERT_STRING_EQUAL(
	    err, "--set sharing.mode=sometimes: sharing.mode: expected one of \"none\", \"instant\", "
		 "\"hebbian\", \"circuit\", \"expected\", got a string (\"sometimes\")");
	CU_ASSERT_EQUAL(e.share_mode, LAT_SHARE_CIRCUIT);
	/* sharing on a network without lc layers would do nothing: refused */
	CU_ASSERT_EQUAL(lat_experiment_finalize(&e, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "has none"));
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "network.locally_connected=true", err), LAT_OK);
	CU_ASSERT_EQUAL(lat_experiment_finalize(&e, err), LAT_OK);
	lat_experiment_clear(&e);
}

static void test_bad_files(void)
{
	static const struct {
		const char *text, *expect;
	} cases[] = {
	    {"train = { epochs = ; };\n", "syntax error"},
	    {"training = { epochs = 3; };\n", "unknown section"},
	    {"train = {\n epochz = 3; };\n", "bad.cfg:2: train.epochz: unknown key"},
	    {"train = { batch = \"big\"; };\n", "train.batch: expected an integer"},
	    {"network = { layers = ( { type = \"conv\"; channels = 4; kernel = 4; } ); };\n",
	     "network.layers[0].kernel: expected an odd integer"},
	    {"network = { layers = ( { type = \"conv\"; kernel = 3; } ); };\n",
	     "bad.cfg:1: network.layers[0] (conv): missing channels (an integer >= 1)"},
	    {"network = { layers = ( { type = \"linear\"; } ); };\n",
	     "bad.cfg:1: network.layers[0] (linear): missing outputs (an integer >= 1)"},
	    {"network = { layers = ( { type = \"pool\"; } ); };\n", "network.layers[0].type"},
	    {"network = { layers = ( { type = \"relu\"; } ); };\n",
	     "bad.cfg:1: network.layers[0]: the last layer must be linear (the logits), got \"relu\""},
	    {"network = { layers = ( { type = \"linear\"; outputs = 2; speed = 1; } ); };\n", "unknown key"},
	    {"data = { format = \"png\"; };\n", "data.format"},
	    {"data = { format = \"cifar10\"; };\n", "needs data.train_files"},
	};
	char p[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		lat_experiment e;
		char err[LAT_ERRLEN] = "";
		int rc;
		write_text("bad.cfg", cases[i].text);
		lat_experiment_init(&e);
		rc = lat_experiment_load(&e, tmp_path(p, "bad.cfg"), err);
		if (!rc)
			rc = lat_experiment_finalize(&e, err);
		CU_ASSERT_EQUAL(rc, LAT_ECONFIG);
		if (!strstr(err, cases[i].expect))
			fprintf(stderr, "\ncase %zu: got '%s'\n", i, err);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].expect));
		lat_experiment_clear(&e);
	}
}

static double net_loss(lat_net *n, const float *x, const int *y, size_t batch)
{
	const float *logits = lat_net_forward(n, x, batch, 1, NULL);
	return xent(logits, y, batch, 10, NULL, NULL);
}

/* Central differences of the cross-entropy of a whole network (conv, relu, max pool, lc, relu, linear)
 * against backprop, for every parameter. */
static void test_network_gradient(void)
{
	lat_experiment e;
	lat_net *n;
	char err[LAT_ERRLEN] = "";
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	float x[3 * 64], dl[3 * 10], *w, *g;
	int y[3] = {0, 1, 1};
	double worst = 0;
	size_t kinks = 0;

	tiny_experiment(&e, NULL, NULL);
	{
		lat_net_opts no;
		lat_experiment_net_opts(&e, &no);
		n = lat_net_alloc(&no, (lat_shape){1, 8, 8}, 10, 3, err);
	}
	CU_ASSERT_PTR_NOT_NULL_FATAL(n);
	CU_ASSERT_EQUAL_FATAL(lat_net_init(n, 5, err), LAT_OK);
	gsl_rng_set(r, 9);
	for (size_t k = 0; k < 3 * 64; k++)
		x[k] = (float)(2 * gsl_rng_uniform(r) - 1);
	xent(lat_net_forward(n, x, 3, 1, err), y, 3, 10, dl, NULL);
	CU_ASSERT_EQUAL_FATAL(lat_net_backward(n, dl, 3, err), LAT_OK);
	w = lat_net_params(n);
	g = malloc(lat_net_n_params(n) * sizeof *g);
	memcpy(g, lat_net_grads(n), lat_net_n_params(n) * sizeof *g);
	/* Relu and max pooling make the loss piecewise smooth: a parameter whose one-sided differences
	 * disagree sits on a kink, where no derivative exists; it is skipped, and there must be few. */
	for (size_t k = 0; k < lat_net_n_params(n); k++) {
		float keep = w[k];
		double l0 = net_loss(n, x, y, 3), lp, lm, num, scale;
		w[k] = keep + 1e-3f;
		lp = net_loss(n, x, y, 3);
		w[k] = keep - 1e-3f;
		lm = net_loss(n, x, y, 3);
		w[k] = keep;
		num = (lp - lm) / 2e-3;
		scale = fmax(1e-2, fabs(num));
		if (fabs((lp - l0) - (l0 - lm)) / 1e-3 > 0.05 * scale) {
			kinks++;
			continue;
		}
		worst = fmax(worst, fabs(g[k] - num) / scale);
	}
	CU_ASSERT(kinks < lat_net_n_params(n) / 20);
	CU_ASSERT(worst < 0.05);
	free(g);
	lat_net_free(n);
	lat_experiment_clear(&e);
	gsl_rng_free(r);
}

static void train_epochs(lat_trainer *t, size_t epochs)
{
	char err[LAT_ERRLEN] = "";
	for (size_t i = 0; i < epochs; i++) {
		int rc;
		lat_trainer_begin_epoch(t);
		while ((rc = lat_trainer_step(t, err)) == 1)
			;
		CU_ASSERT_EQUAL(rc, 0);
	}
}

static void test_reaches_full_accuracy(void)
{
	lat_experiment e;
	lat_trainer *t;
	char err[LAT_ERRLEN] = "";
	double acc, loss;
	int status;

	tiny_experiment(&e, "epochs = 15;", NULL);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	if (!t)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	CU_ASSERT_EQUAL(lat_trainer_n_train(t), 64);
	train_epochs(t, e.epochs);
	CU_ASSERT_DOUBLE_EQUAL(100.0 * (double)lat_trainer_stats(t)->correct / (double)lat_trainer_stats(t)->samples,
			       100.0, 1e-9);
	CU_ASSERT_EQUAL(lat_trainer_evaluate(t, 0, &acc, &loss, err), LAT_OK);
	CU_ASSERT(acc > 95);
	CU_ASSERT_EQUAL(lat_trainer_n_lc(t), 1);
	lat_trainer_free(t);
	lat_experiment_clear(&e);
}

/* Save -> load reproduces every parameter bit for bit, and a run resumed from a checkpoint ends with
 * exactly the weights of an uninterrupted run (sharing phases included). */
static void test_checkpoint_and_resume(void)
{
	const char *sharing = "sharing = { mode = \"hebbian\"; every = 3; presentations = 4; iterations = 2; };\n";
	lat_experiment e;
	lat_trainer *a, *b;
	char err[LAT_ERRLEN] = "", p[512];
	int status;
	size_t np;

	tiny_experiment(&e, NULL, sharing);
	a = lat_experiment_trainer_alloc(&e, &status, err);
	b = lat_experiment_trainer_alloc(&e, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	np = lat_net_n_params(lat_trainer_net(a));
	train_epochs(a, 1);
	CU_ASSERT_EQUAL(lat_trainer_save(a, tmp_path(p, "ckpt.bin"), err), LAT_OK);
	CU_ASSERT_EQUAL(lat_trainer_load(b, p, err), LAT_OK);
	CU_ASSERT_EQUAL(memcmp(lat_net_params(lat_trainer_net(a)), lat_net_params(lat_trainer_net(b)), np * sizeof(float)), 0);
	CU_ASSERT_EQUAL(lat_trainer_epoch(b), 1);
	train_epochs(a, 2);
	train_epochs(b, 2);
	CU_ASSERT_EQUAL(memcmp(lat_net_params(lat_trainer_net(a)), lat_net_params(lat_trainer_net(b)), np * sizeof(float)), 0);
	/* A truncated checkpoint is refused and leaves the trainer as it was. */
	{
		FILE *fp = fopen(p, "r+b");
		CU_ASSERT_EQUAL(ftruncate(fileno(fp), 100), 0);
		fclose(fp);
	}
	CU_ASSERT_EQUAL(lat_trainer_load(b, p, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
	CU_ASSERT_EQUAL(lat_trainer_epoch(b), 3);
	lat_trainer_free(a);
	lat_trainer_free(b);
	lat_experiment_clear(&e);
}

/* ---- data parallel: P threads stand in for P processes ---- */

#define DP_MAX TW_MAX /* processes in the data-parallel tests: 2 and 3; 4 for two groups of two */

typedef tw_world dp_world;

/* One process: its trainer, and what it measured (gradients after the first and the last step). */
typedef struct {
	dp_world *w;
	lat_trainer_comm comm;
	lat_trainer *t;
	float *g_first, *g_last, *b_first; /* gradients after the first and last step; buffers after the first */
	double acc, loss;
	int rc_steps, rc_eval, rc_measure;
} dp_proc;

static int dp_sum_float(void *ctx, float *v, size_t n)
{
	return tw_sum(((dp_proc *)ctx)->w, ((dp_proc *)ctx)->comm.rank, v, n, 0);
}

static int dp_sum_double(void *ctx, double *v, size_t n)
{
	return tw_sum(((dp_proc *)ctx)->w, ((dp_proc *)ctx)->comm.rank, v, n, 1);
}

static int dp_exchange_float(void *ctx, const float *send, const size_t *send_n, float *recv, const size_t *recv_n)
{
	return tw_exchange(((dp_proc *)ctx)->w, ((dp_proc *)ctx)->comm.rank, send, send_n, recv, recv_n);
}

static int dp_reduce_scatter_float(void *ctx, float *v, size_t n)
{
	return tw_reduce_scatter(((dp_proc *)ctx)->w, ((dp_proc *)ctx)->comm.rank, v, n);
}

static int dp_allgather_float(void *ctx, float *v, size_t n)
{
	return tw_allgather(((dp_proc *)ctx)->w, ((dp_proc *)ctx)->comm.rank, v, n);
}

static float *dp_shared_floats(void *ctx, size_t n, float **slots)
{
	return tw_shared_floats(((dp_proc *)ctx)->w, ((dp_proc *)ctx)->comm.rank, n, slots);
}

static int dp_barrier(void *ctx)
{
	return tw_barrier(((dp_proc *)ctx)->w);
}

static float *copy_grads(lat_trainer *t)
{
	size_t n = lat_net_n_params(lat_trainer_net(t));
	float *g = malloc(n * sizeof *g);
	if (g)
		memcpy(g, lat_net_grads(lat_trainer_net(t)), n * sizeof *g);
	return g;
}

/* One epoch: the gradients after its first and last step, then the test accuracy. */
static void *dp_run(void *arg)
{
	dp_proc *p = arg;
	char err[LAT_ERRLEN] = "";
	int rc;

	lat_trainer_begin_epoch(p->t);
	rc = lat_trainer_step(p->t, err);
	p->g_first = copy_grads(p->t);
	p->b_first = malloc(lat_net_n_buffers(lat_trainer_net(p->t)) * sizeof(float) + 1);
	if (p->b_first)
		memcpy(p->b_first, lat_net_buffers(lat_trainer_net(p->t)),
		       lat_net_n_buffers(lat_trainer_net(p->t)) * sizeof(float));
	while (rc == 1)
		if ((rc = lat_trainer_step(p->t, err)) == 1) {
			free(p->g_last);
			p->g_last = copy_grads(p->t);
		}
	p->rc_steps = rc;
	p->rc_eval = lat_trainer_evaluate(p->t, 0, &p->acc, &p->loss, err);
	return NULL;
}

/* dp_start_ex's ways: the strips' point-to-point exchange, the split optimiser's exchanges, one shared
 * copy of the parameters */
enum { DP_EXCHANGE = 1, DP_RANGES = 2, DP_SHARED = 4 };

/* Starts size processes of the world w, each with a trainer of o (o->comm is left at the last's), with the
 * exchanges of ways (DP_EXCHANGE, DP_RANGES, DP_SHARED). */
static void dp_start_ex(dp_world *w, dp_proc *p, int size, lat_trainer_opts *o, int ways)
{
	char err[LAT_ERRLEN] = "";
	int status;

	*w = (dp_world){.size = size};
	pthread_barrier_init(&w->bar, NULL, (unsigned)size);
	for (int r = 0; r < size; r++) {
		p[r] = (dp_proc){.w = w};
		p[r].comm = (lat_trainer_comm){.rank = r,
					       .size = size,
					       .sum_float = dp_sum_float,
					       .sum_double = dp_sum_double,
					       .ctx = &p[r],
					       .exchange_float = ways & DP_EXCHANGE ? dp_exchange_float : NULL,
					       .reduce_scatter_float = ways & DP_RANGES ? dp_reduce_scatter_float : NULL,
					       .allgather_float = ways & DP_RANGES ? dp_allgather_float : NULL,
					       .shared_floats = ways & DP_SHARED ? dp_shared_floats : NULL,
					       .barrier = ways & DP_SHARED ? dp_barrier : NULL};
		o->comm = &p[r].comm;
		p[r].t = lat_trainer_alloc(o, &status, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].t);
	}
}

/* The processes of one training (dp_start_ex without the point-to-point exchange). */
static void dp_start(dp_world *w, dp_proc *p, int size, lat_trainer_opts *o)
{
	dp_start_ex(w, p, size, o, 0);
}

/* Frees what dp_start and dp_run made (size 1 and w NULL: one process of its own). */
static void dp_stop(dp_world *w, dp_proc *p, int size)
{
	for (int r = 0; r < size; r++) {
		free(p[r].g_first);
		free(p[r].g_last);
		free(p[r].b_first);
		lat_trainer_free(p[r].t);
	}
	if (w) {
		pthread_barrier_destroy(&w->bar);
		tw_shared_free(w);
	}
}

/* max |a - b| / max |b| over n values */
static double rel_diff(const float *a, const float *b, size_t n)
{
	double d = 0, m = 0;
	for (size_t k = 0; k < n; k++) {
		d = fmax(d, fabs((double)a[k] - b[k]));
		m = fmax(m, fabs((double)b[k]));
	}
	return m > 0 ? d / m : d;
}

/* P processes training on slices of each batch compute the whole batch's gradient (to float rounding,
 * summed in another order) and keep identical weights. batch = 7 over 64 images leaves a last batch of
 * one sample, so some processes have an empty slice there; with P = 3 the slices are uneven. */
static void test_data_parallel(void)
{
	lat_experiment e;
	lat_trainer_opts o;
	dp_proc one = {0};
	char err[LAT_ERRLEN] = "";
	int status;

	tiny_experiment(&e, "epochs = 1;", "sharing = { mode = \"hebbian\"; every = 4; presentations = 4; iterations = 2; };\n");
	e.batch = 7;
	lat_experiment_trainer_opts(&e, &o);
	one.t = lat_trainer_alloc(&o, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(one.t);
	dp_run(&one);
	CU_ASSERT_EQUAL(one.rc_steps, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(one.g_last);
	for (int size = 2; size <= 3; size++) {
		dp_world w;
		dp_proc p[DP_MAX];
		size_t np = lat_net_n_params(lat_trainer_net(one.t));
		dp_start(&w, p, size, &o);
		tw_each(size, dp_run, p, sizeof *p);
		for (int r = 0; r < size; r++) {
			CU_ASSERT_EQUAL(p[r].rc_steps, 0);
			CU_ASSERT_EQUAL(p[r].rc_eval, LAT_OK);
			CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].g_first);
			CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].g_last);
			/* the batch's gradient, the first and the last (one sample, empty slices) */
			CU_ASSERT(rel_diff(p[r].g_first, one.g_first, np) < 1e-5);
			CU_ASSERT(rel_diff(p[r].g_last, one.g_last, np) < 1e-5);
			/* identical on every process */
			CU_ASSERT_EQUAL(memcmp(p[r].g_last, p[0].g_last, np * sizeof(float)), 0);
			CU_ASSERT_EQUAL(lat_trainer_checksum(p[r].t), lat_trainer_checksum(p[0].t));
			/* the epoch's statistics and the test set's are the whole batch's and set's */
			CU_ASSERT_EQUAL(lat_trainer_stats(p[r].t)->samples, 64);
			CU_ASSERT_EQUAL(lat_trainer_stats(p[r].t)->phases, 2);
			CU_ASSERT_DOUBLE_EQUAL(lat_trainer_stats(p[r].t)->loss_sum, lat_trainer_stats(one.t)->loss_sum,
					       1e-4 * lat_trainer_stats(one.t)->loss_sum);
			CU_ASSERT_DOUBLE_EQUAL(p[r].loss, one.loss, 1e-4 * one.loss);
			CU_ASSERT_DOUBLE_EQUAL(p[r].acc, one.acc, 100.0 / 32 + 1e-9);
			CU_ASSERT(rel_diff(lat_net_params(lat_trainer_net(p[r].t)), lat_net_params(lat_trainer_net(one.t)),
					   np) < 1e-4);
		}
		dp_stop(&w, p, size);
	}
	/* a setting that names no process */
	{
		lat_trainer_comm bad = {.rank = 2, .size = 2, .sum_float = dp_sum_float, .sum_double = dp_sum_double};
		o.comm = &bad;
		CU_ASSERT_PTR_NULL(lat_trainer_alloc(&o, &status, err));
		CU_ASSERT_EQUAL(status, LAT_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "process 2 of 2"));
	}
	dp_stop(NULL, &one, 1);
	lat_experiment_clear(&e);
}

static int same_file(const char *a, const char *b);

/* Runs steps training steps on every process (all of an epoch when steps is 0, then the test set),
 * then saves a checkpoint (process 0 to path, the others joining when the save is collective). */
typedef struct {
	dp_proc *p;
	size_t steps;
	const char *path;
	int rc_save;
	int state_finite; /* every value of the optimiser state is finite before the save */
} dp_save_run;

static void *dp_steps_and_save(void *arg)
{
	dp_save_run *a = arg;
	char err[LAT_ERRLEN] = "";

	if (a->steps == 0) {
		dp_run(a->p);
	} else {
		lat_trainer_begin_epoch(a->p->t);
		for (size_t k = 0; k < a->steps; k++)
			a->p->rc_steps |= lat_trainer_step(a->p->t, err) != 1;
	}
	{
		size_t n;
		const float *st = lat_optim_state(lat_trainer_optim(a->p->t), &n);
		a->state_finite = 1;
		for (size_t k = 0; k < n; k++)
			a->state_finite &= isfinite(st[k]) != 0;
	}
	if (a->p->comm.rank == 0 || lat_trainer_split(a->p->t))
		a->rc_save = lat_trainer_save(a->p->t, a->p->comm.rank == 0 ? a->path : NULL, err);
	return NULL;
}

/* The split optimiser step (each process steps its range of the parameters, ZeRO stage 1) gives the
 * bits of the whole step on every process, with a copy of the parameters in each process (gathered after
 * each step) and with one shared copy: the same parameters, optimiser state (checksums, taken when the
 * state is whole again at the end of the epoch) and checkpoints, mid-epoch (a collective save gathers
 * the stale state; the files differ in their timings, so what they load is compared) and after the
 * epoch (the same bytes); each process's summed range of the gradients is the whole run's. adamw and
 * sgd, over 2 and 3 processes (uneven ranges), with sharing phases (run on private copies of the
 * shared layers). */
static void test_data_parallel_split_optimizer(void)
{
	static const int ways[3] = {0, DP_RANGES, DP_RANGES | DP_SHARED};
	static const char *const names[3] = {"whole.ckpt", "split.ckpt", "shared.ckpt"};

	for (int opt = 0; opt < 2; opt++) {
		lat_experiment e;
		lat_trainer_opts o;
		/* (border kernels included: the tiny lc layer has no interior pool, and the phases must move
		 * weights) */
		tiny_experiment(&e, opt ? "epochs = 1; optimizer = \"sgd\";" : "epochs = 1;",
				"sharing = { mode = \"hebbian\"; every = 4; presentations = 4; iterations = 2; "
				"border = \"include\"; };\n");
		e.batch = 7;
		lat_experiment_trainer_opts(&e, &o);
		CU_ASSERT_EQUAL(o.split_optimizer, 1); /* the experiment's default */
		for (int size = 2; size <= 3; size++) {
			for (int run = 0; run < 2; run++) {
				size_t steps = run ? 0 : 3; /* 3 steps, then a whole epoch */
				dp_world w[3];
				dp_proc p[3][DP_MAX];
				dp_save_run a[3][DP_MAX];
				char path[3][512];
				unsigned long long h[3] = {0, 1, 2};
				size_t np;
				for (int k = 0; k < 3; k++) {
					tmp_path(path[k], names[k]);
					dp_start_ex(&w[k], p[k], size, &o, ways[k]);
					for (int r = 0; r < size; r++)
						a[k][r] = (dp_save_run){&p[k][r], steps, path[k], -1, 0};
					tw_each(size, dp_steps_and_save, a[k], sizeof a[k][0]);
				}
				np = lat_net_n_params(lat_trainer_net(p[0][0].t));
				/* one copy of the parameters with shared memory, one per process without */
				CU_ASSERT(lat_net_params(lat_trainer_net(p[2][0].t)) == lat_net_params(lat_trainer_net(p[2][1].t)));
				CU_ASSERT(lat_net_params(lat_trainer_net(p[1][0].t)) != lat_net_params(lat_trainer_net(p[1][1].t)));
				for (int r = 0; r < size; r++) {
					const float *wp = lat_net_params(lat_trainer_net(p[0][r].t));
					size_t lo = np * (size_t)r / (size_t)size, hi = np * ((size_t)r + 1) / (size_t)size;
					CU_ASSERT_EQUAL(lat_trainer_split(p[0][r].t), 0);
					CU_ASSERT_EQUAL(p[0][r].rc_steps, 0);
					CU_ASSERT_EQUAL(a[0][0].rc_save, LAT_OK);
					for (int k = 1; k < 3; k++) {
						CU_ASSERT_EQUAL(lat_trainer_split(p[k][r].t), 1);
						CU_ASSERT_EQUAL(p[k][r].rc_steps, 0);
						CU_ASSERT_EQUAL(a[k][r].rc_save, LAT_OK);
						/* a process's step never reads the gradients outside its range (unsummed) */
						CU_ASSERT(a[k][r].state_finite);
						CU_ASSERT_EQUAL(
						    memcmp(lat_net_params(lat_trainer_net(p[k][r].t)), wp, np * sizeof *wp), 0);
						if (steps > 0)
							continue;
						CU_ASSERT_EQUAL(lat_trainer_checksum(p[k][r].t), lat_trainer_checksum(p[0][r].t));
						CU_ASSERT_EQUAL(p[k][r].rc_eval, LAT_OK);
						CU_ASSERT_DOUBLE_EQUAL(p[k][r].loss, p[0][r].loss, 0);
						CU_ASSERT_PTR_NOT_NULL_FATAL(p[k][r].g_last);
						CU_ASSERT_PTR_NOT_NULL_FATAL(p[0][r].g_last);
						CU_ASSERT_EQUAL(
						    memcmp(p[k][r].g_last + lo, p[0][r].g_last + lo, (hi - lo) * sizeof(float)), 0);
					}
				}
				for (int k = 0; k < 3; k++) {
					if (steps == 0) {
						CU_ASSERT(same_file(path[0], path[k]));
					} else { /* mid-epoch checkpoints hold the epoch's timings: compare what they load */
						lat_trainer_opts o1 = o;
						char err[LAT_ERRLEN] = "";
						int status;
						lat_trainer *t;
						o1.comm = NULL;
						t = lat_trainer_alloc(&o1, &status, err);
						CU_ASSERT_PTR_NOT_NULL_FATAL(t);
						CU_ASSERT_EQUAL(lat_trainer_load(t, path[k], err), LAT_OK);
						h[k] = lat_trainer_checksum(t);
						lat_trainer_free(t);
					}
				}
				if (steps > 0) {
					CU_ASSERT_EQUAL(h[1], h[0]);
					CU_ASSERT_EQUAL(h[2], h[0]);
				}
				for (int k = 0; k < 3; k++)
					dp_stop(&w[k], p[k], size);
			}
		}
		lat_experiment_clear(&e);
	}
}

/* bn layers normalise with their slice's statistics, and the running statistics are the slices'
 * combined: after the first step (the same weights everywhere) the running means equal the whole
 * batch's to float rounding, and every process holds the same ones throughout. */
static void test_data_parallel_bn(void)
{
	lat_experiment e;
	lat_trainer_opts o;
	dp_proc one = {0}, p[2];
	dp_world w;
	char err[LAT_ERRLEN] = "", path[512];
	int status;
	size_t nb, c;

	write_text("bn.cfg", "data = { train_images = \"train-images\"; train_labels = \"train-labels\";\n"
			     "         test_images = \"test-images\"; test_labels = \"test-labels\"; };\n"
			     "network = { layers = ( { type = \"conv\"; channels = 4; kernel = 3; }, { type = \"bn\"; },\n"
			     "  { type = \"relu\"; }, { type = \"linear\"; outputs = 10; } ); };\n"
			     "train = { batch = 8; lr = 0.01; threads = 1; epochs = 1; };\n");
	lat_experiment_init(&e);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_load(&e, tmp_path(path, "bn.cfg"), err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_finalize(&e, err), LAT_OK);
	lat_experiment_trainer_opts(&e, &o);
	one.t = lat_trainer_alloc(&o, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(one.t);
	dp_run(&one);
	nb = lat_net_n_buffers(lat_trainer_net(one.t));
	c = nb / 2; /* one bn layer: c running means, then c running variances */
	CU_ASSERT_EQUAL_FATAL(c, 4);
	dp_start(&w, p, 2, &o);
	tw_each(2, dp_run, p, sizeof *p);
	for (int r = 0; r < 2; r++) {
		CU_ASSERT_EQUAL(p[r].rc_steps, 0);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].b_first);
		CU_ASSERT(rel_diff(p[r].b_first, one.b_first, c) < 1e-5);
		CU_ASSERT_EQUAL(memcmp(p[r].b_first, p[0].b_first, nb * sizeof(float)), 0);
		CU_ASSERT_EQUAL(lat_trainer_checksum(p[r].t), lat_trainer_checksum(p[0].t));
	}
	dp_stop(&w, p, 2);
	dp_stop(NULL, &one, 1);
	lat_experiment_clear(&e);
}

/* The shipped CIFAR-10 ResNet-20 experiment, trained for one epoch on a few generated CIFAR-format
 * images (the real set is not available here): it must build, train and evaluate with finite numbers. */
static void test_cifar_resnet20(void)
{
	char cfg[600], train_set[600], test_set[600], p[512];
	lat_experiment e;
	lat_trainer *t;
	char err[LAT_ERRLEN] = "";
	double acc, loss;
	int status;
	FILE *fp = fopen(tmp_path(p, "cifar.bin"), "wb");

	for (int i = 0; i < 6; i++) {
		fputc(i % 10, fp);
		for (int k = 0; k < 3072; k++)
			fputc((k * 7 + i * 31) % 256, fp);
	}
	fclose(fp);
	snprintf(cfg, sizeof cfg, "%s/examples/cifar10_resnet20.cfg", test_srcdir());
	snprintf(train_set, sizeof train_set, "data.train_files=[\"%s\"]", p);
	snprintf(test_set, sizeof test_set, "data.test_files=[\"%s\"]", p);
	lat_experiment_init(&e);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_load(&e, cfg, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, train_set, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, test_set, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "train.batch=3", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_finalize(&e, err), LAT_OK);
	CU_ASSERT_EQUAL(e.n_layers, 14);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	if (!t)
		fprintf(stderr, "\n%s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	/* 3x3x3x16 stem, nine basic blocks, two 1x1 projections with bn, linear 64 -> 10. */
	CU_ASSERT(lat_net_n_params(lat_trainer_net(t)) > 250000);
	train_epochs(t, 1);
	CU_ASSERT_EQUAL(lat_trainer_stats(t)->samples, 6);
	CU_ASSERT(isfinite(lat_trainer_stats(t)->loss_sum));
	CU_ASSERT_EQUAL(lat_trainer_evaluate(t, 0, &acc, &loss, err), LAT_OK);
	CU_ASSERT(isfinite(loss));
	lat_trainer_free(t);
	lat_experiment_clear(&e);
}

static int setup(void)
{
	openblas_set_num_threads(1);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lateral-test-train-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return idx_write_pair(tmpdir, "train", 64, 1) || idx_write_pair(tmpdir, "test", 32, 2) ? -1 : 0;
}

static int teardown(void)
{
	test_remove_tree(tmpdir);
	return 0;
}

/* e written as text by lat_experiment_write: a new string (free with free()). */
static char *experiment_text(const lat_experiment *e)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL(lat_experiment_write(e, fp), LAT_OK);
	fclose(fp);
	return buf;
}

/* lat_experiment_write -> lat_experiment_read_text gives back every value: a double that needs 17
 * digits, a seed beyond 32 bits, enums, booleans, arrays, a layer list unlike the default one, and a
 * relative data file made absolute; the second text equals the first byte for byte. */
static void test_experiment_round_trip(void)
{
	static const char text[] =
	    "data = { train_images = \"rel/train.idx\"; canvas = 42; train_offsets = [0, 4, 5, 9]; pad = 3; };\n"
	    "network = { layers = ( { type = \"lc\"; channels = 3; kernel = 3; stride = 2; bias = false; },\n"
	    "  { type = \"relu\"; }, { type = \"avgpool\"; }, { type = \"linear\"; outputs = 7; } );\n"
	    "  lc_bias = \"channel\"; keep_first_conv = true; };\n"
	    "train = { lr = 0.30000000000000004; seed = 1099511627776L; optimizer = \"sgd\";\n"
	    "  lr_milestones = [3, 8]; };\n"
	    "sharing = { mode = \"hebbian\"; border = \"include\"; gamma = 1e-300; method = \"bdf\"; };\n";
	char err[LAT_ERRLEN] = "", cwd[4096], want[4200];
	lat_experiment a, b;
	char *t1, *t2;

	lat_experiment_init(&a);
	lat_experiment_init(&b);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_read_text(&a, text, "a.cfg", err), LAT_OK);
	t1 = experiment_text(&a);
	CU_ASSERT_EQUAL(lat_experiment_read_text(&b, t1, "written", err), LAT_OK);
	t2 = experiment_text(&b);
	CU_ASSERT_STRING_EQUAL(t1, t2);
	CU_ASSERT_EQUAL(b.lr, 0.30000000000000004);
	CU_ASSERT_EQUAL(b.share_gamma, 1e-300);
	CU_ASSERT_EQUAL(b.seed, 1099511627776UL);
	CU_ASSERT_EQUAL(b.n_layers, 4);
	CU_ASSERT_EQUAL(b.layers[0].kind, LAT_L_LC);
	CU_ASSERT_EQUAL(b.layers[0].stride, 2);
	CU_ASSERT_EQUAL(b.layers[0].bias, 0);
	CU_ASSERT_EQUAL(b.layers[3].outputs, 7);
	CU_ASSERT_EQUAL(b.lc_bias, 1);
	CU_ASSERT_EQUAL(b.keep_first_conv, 1);
	CU_ASSERT_EQUAL(b.share_mode, LAT_SHARE_HEBBIAN);
	CU_ASSERT_EQUAL(b.share_border, LAT_BORDER_INCLUDE);
	CU_ASSERT_EQUAL(b.n_milestones, 2);
	CU_ASSERT_EQUAL(b.milestones[1], 8);
	CU_ASSERT_EQUAL(b.n_train_offsets, 4);
	CU_ASSERT_EQUAL(b.train_offsets[2], 5);
	CU_ASSERT_PTR_NOT_NULL_FATAL(getcwd(cwd, sizeof cwd));
	snprintf(want, sizeof want, "%s/rel/train.idx", cwd);
	CU_ASSERT_STRING_EQUAL(b.train_images, want);
	/* the written text is recognised as an experiment, a model file is not */
	CU_ASSERT_EQUAL(lat_experiment_detect(t1), 1);
	CU_ASSERT_EQUAL(lat_experiment_detect("circuit = { neurons = 4; };"), 0);
	free(t1);
	free(t2);
	lat_experiment_clear(&a);
	lat_experiment_clear(&b);
}

/* The parts' whole layout: windows of an odd size gathered from the parts (replicas from part 0) hold
 * the whole network's parameters bit for bit, and the whole array read back gives each part its own. */
static void check_map_whole(lat_net *whole, lat_net **parts, int size)
{
	size_t n = lat_net_n_params(whole), win = 37;
	float *g = calloc(n + win, sizeof *g), *back = NULL;
	int same = 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(g);
	for (int k = 0; k < size; k++) {
		CU_ASSERT_EQUAL(lat_net_n_params_whole(parts[k]), n);
		for (size_t lo = 0; lo < n; lo += win)
			lat_net_map_whole(parts[k], lat_net_params(parts[k]), g + lo, lo, n - lo < win ? n - lo : win, 1,
					  k == 0);
	}
	CU_ASSERT_EQUAL(memcmp(g, lat_net_params(whole), n * sizeof *g), 0);
	for (int k = 0; k < size; k++) {
		size_t np = lat_net_n_params(parts[k]);
		back = calloc(np + 1, sizeof *back);
		CU_ASSERT_PTR_NOT_NULL_FATAL(back);
		for (size_t lo = 0; lo < n; lo += win)
			lat_net_map_whole(parts[k], back, g + lo, lo, n - lo < win ? n - lo : win, 0, 1);
		same &= memcmp(back, lat_net_params(parts[k]), np * sizeof *back) == 0;
		free(back);
	}
	CU_ASSERT(same);
	free(g);
}

/* The lc layers' SNR figures, measured together (split: channel by channel, gathered). */
static void *measure_run(void *arg)
{
	dp_proc *p = arg;
	char err[LAT_ERRLEN] = "";

	p->rc_measure = lat_trainer_measure_lc(p->t, err);
	return NULL;
}

/* 1 when the files at a and b hold the same bytes. */
static int same_file(const char *a, const char *b)
{
	FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
	int same = x && y, ca = 0;

	while (same && ca != EOF) {
		ca = fgetc(x);
		same = ca == fgetc(y);
	}
	if (x)
		fclose(x);
	if (y)
		fclose(y);
	return same;
}

typedef struct {
	dp_proc *p;
	const char *path;
	int rc;
} save_job;

static void *save_run(void *arg)
{
	save_job *j = arg;
	char err[LAT_ERRLEN] = "";

	j->rc = lat_trainer_save(j->p->t, j->path, err);
	return NULL;
}

/* ---- split by location: P threads stand in for the P processes of one network ---- */

/* One part of the tiny network (both conv layers turned lc): its logits, and the gradients of one
 * backward pass of the cross-entropy. */
typedef struct {
	dp_proc p;	/* only p.w and p.comm.rank are used: the sum's world and this part's rank */
	lat_net *net;
	const float *x;
	float logits[3 * 10], *g;
	int rc, exchange; /* exchange: strips trade their halos point to point, not through the sum */
} split_part;

static void *split_run(void *arg)
{
	split_part *sp = arg;
	float dl[3 * 10];
	const int y[3] = {0, 1, 1};
	const float *z;

	lat_net_set_sum(sp->net, dp_sum_float, &sp->p);
	if (sp->exchange)
		lat_net_set_exchange(sp->net, dp_exchange_float, &sp->p);
	z = lat_net_forward(sp->net, sp->x, 3, 1, NULL);
	sp->rc = z ? LAT_OK : LAT_EINVAL;
	if (z) {
		memcpy(sp->logits, z, sizeof sp->logits);
		xent(z, y, 3, 10, dl, NULL);
		sp->rc = lat_net_backward(sp->net, dl, 3, NULL);
	}
	sp->g = malloc(lat_net_n_params(sp->net) * sizeof *sp->g);
	if (sp->g)
		memcpy(sp->g, lat_net_grads(sp->net), lat_net_n_params(sp->net) * sizeof *sp->g);
	return NULL;
}

/* Builds the size parts of the network of no (seed 5) into sp and nets, checks that a part refuses to
 * run before a sum is set, then runs one forward and backward pass of each on x in its own thread (with
 * the point-to-point exchange when exchange is nonzero). */
static void split_start(dp_world *w, split_part *sp, lat_net **nets, int size, lat_net_opts *no, const float *x,
			int exchange)
{
	char err[LAT_ERRLEN] = "";

	*w = (dp_world){.size = size};
	memset(sp, 0, (size_t)size * sizeof *sp);
	pthread_barrier_init(&w->bar, NULL, (unsigned)size);
	for (int k = 0; k < size; k++) {
		no->shard_part = (size_t)k;
		no->shard_parts = (size_t)size;
		sp[k].p.w = w;
		sp[k].p.comm.rank = k;
		sp[k].x = x;
		sp[k].exchange = exchange;
		nets[k] = sp[k].net = lat_net_alloc(no, (lat_shape){1, 8, 8}, 10, 3, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(sp[k].net);
		CU_ASSERT_EQUAL_FATAL(lat_net_init(sp[k].net, 5, err), LAT_OK);
	}
	CU_ASSERT_PTR_NULL(lat_net_forward(sp[0].net, x, 3, 1, err));
	tw_each(size, split_run, sp, sizeof *sp);
}

/* Frees what split_start made. */
static void split_stop(dp_world *w, split_part *sp, int size)
{
	for (int k = 0; k < size; k++) {
		free(sp[k].g);
		lat_net_free(sp[k].net);
	}
	pthread_barrier_destroy(&w->bar);
}

/* The whole network of no (seed 5) after one forward and backward pass on x, its logits in logits. */
static lat_net *split_whole(const lat_net_opts *no, const float *x, float *logits)
{
	char err[LAT_ERRLEN] = "";
	const int y[3] = {0, 1, 1};
	float dl[3 * 10];
	lat_net *whole = lat_net_alloc(no, (lat_shape){1, 8, 8}, 10, 3, err);

	CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
	CU_ASSERT_EQUAL_FATAL(lat_net_init(whole, 5, err), LAT_OK);
	memcpy(logits, lat_net_forward(whole, x, 3, 1, err), 3 * 10 * sizeof *logits);
	xent(logits, y, 3, 10, dl, NULL);
	CU_ASSERT_EQUAL_FATAL(lat_net_backward(whole, dl, 3, err), LAT_OK);
	return whole;
}

/* 3 samples of 1 x 8 x 8 uniform in [-1, 1) from seed. */
static void split_input(float *x, unsigned long seed)
{
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	gsl_rng_set(r, seed);
	for (size_t k = 0; k < 3 * 64; k++)
		x[k] = (float)(2 * gsl_rng_uniform(r) - 1);
	gsl_rng_free(r);
}

/* The network split into P = 2 and 3 parts (lc layers by location, with whole activations and then
 * in strips of rows; the position bias, and then the channel bias) against the whole network of the
 * same seed: the same initial weights, slice by slice; the same logits; every gradient equal to float
 * rounding (a part's lc weights' gradients slice by slice, the replicated layers' whole). In strips of
 * 3 parts the 4 pooled rows split 1, 1, 2 while the 8 rows before them split 2, 3, 3: the pooling
 * reads a row of another part, and every lc window reads rows of both neighbours. */
static void test_split_network(void)
{
	lat_experiment e;
	float x[3 * 64], logits[3 * 10];

	split_input(x, 9);
	tiny_experiment(&e, NULL, NULL);
	for (int bias = LAT_LC_BIAS_POSITION; bias <= 2 * LAT_LC_BIAS_CHANNEL; bias++) {
		lat_net_opts no;
		lat_net *whole;
		lat_experiment_net_opts(&e, &no);
		no.locally_connected = 1;
		no.shard_rows = bias > LAT_LC_BIAS_CHANNEL;
		no.lc_bias = (lat_lc_bias)(bias > LAT_LC_BIAS_CHANNEL ? bias - LAT_LC_BIAS_CHANNEL : bias);
		whole = split_whole(&no, x, logits);
		for (int size = 2; size <= 3; size++) {
			dp_world w;
			split_part sp[DP_MAX];
			lat_net *nets[DP_MAX];
			double e_logit = 0, e_grad = 0;
			int w_same = 1;
			/* in strips, the halos through the sum with position biases, point to point with channel ones */
			split_start(&w, sp, nets, size, &no, x, bias == 2 * LAT_LC_BIAS_CHANNEL); /* a part runs only with a sum set */
			for (int k = 0; k < size; k++) {
				size_t off_w = 0, off_p = 0; /* a layer's first parameter in the whole net and in the part */
				CU_ASSERT_EQUAL(sp[k].rc, LAT_OK);
				CU_ASSERT_PTR_NOT_NULL_FATAL(sp[k].g);
				for (size_t i = 0; i < 3 * 10; i++)
					e_logit = fmax(e_logit, fabs(sp[k].logits[i] - logits[i]));
				for (size_t li = 0; li < lat_net_n_layers(whole); li++) {
					lat_layer *lw = lat_net_layer(whole, li), *lp = lat_net_layer(sp[k].net, li);
					lat_lc_geom g;
					for (size_t j = 0; j < lp->n_params; j++) {
						size_t jw = j; /* j's index in the whole layer */
						if (!lat_lc_geometry(lp, &g) && !g.shared) {
							size_t n_k = g.c_in * g.k * g.k, n_own = g.q1 - g.q0, n_loc = g.h_out * g.w_out;
							size_t nw = g.c_out * n_own * n_k;
							if (j < nw)
								jw = (j / (n_own * n_k) * n_loc + g.q0) * n_k + j % (n_own * n_k);
							else if (no.lc_bias == LAT_LC_BIAS_POSITION)
								jw = g.c_out * n_loc * n_k + (j - nw) / n_own * n_loc + g.q0 + (j - nw) % n_own;
							else
								jw = g.c_out * n_loc * n_k + (j - nw);
						}
						w_same &= lat_net_params(sp[k].net)[off_p + j] == lat_net_params(whole)[off_w + jw];
						e_grad = fmax(e_grad, fabs(sp[k].g[off_p + j] - lat_net_grads(whole)[off_w + jw]) /
									      fmax(1e-3, fabs(lat_net_grads(whole)[off_w + jw])));
					}
					off_w += lw->n_params;
					off_p += lp->n_params;
				}
				CU_ASSERT(lat_net_n_params(sp[k].net) < lat_net_n_params(whole));
			}
			check_map_whole(whole, nets, size);
			CU_ASSERT(w_same);
			CU_ASSERT(e_logit < 1e-6);
			CU_ASSERT(e_grad < 1e-4);
			split_stop(&w, sp, size);
		}
		lat_net_free(whole);
	}
	lat_experiment_clear(&e);
}

/* A network split into strips of rows with a conv layer (a replica, its weight gradient summed over
 * the strips) and a bn layer among the strips (its batch statistics summed over them) and whose whole
 * part begins at an avgpool layer (conv, bn, relu, lc with stride 2, relu, avgpool, linear) over 2 and
 * 3 parts against the whole network: the same logits, every gradient (the parts' mapped into the whole
 * layout and summed, replicas from part 0) and the bn running statistics, the whole network's to float
 * rounding. Refused with a message: more parts than rows, and a network that does not begin with
 * layers the strips run. */
static void test_split_rows_head(void)
{
	lat_layer_spec ls[7] = {{.kind = LAT_L_CONV, .channels = 3, .kernel = 3, .stride = 1, .bias = 1, .line = 1},
				{.kind = LAT_L_BN, .line = 2},
				{.kind = LAT_L_RELU, .line = 3},
				{.kind = LAT_L_LC, .channels = 4, .kernel = 3, .stride = 2, .bias = 1, .line = 4},
				{.kind = LAT_L_RELU, .line = 5},
				{.kind = LAT_L_AVGPOOL, .line = 6},
				{.kind = LAT_L_LINEAR, .outputs = 10, .bias = 1, .line = 7}};
	lat_net_opts no = {.source = "rows.cfg", .layers = ls, .n_layers = 7, .bn_momentum = 0.1, .bn_eps = 1e-5,
			   .lc_bias = LAT_LC_BIAS_POSITION, .shard_rows = 1};
	float x[3 * 64], logits[3 * 10];
	char err[LAT_ERRLEN] = "";
	lat_net *whole, *bad;
	size_t n;
	float *sum;

	split_input(x, 13);
	whole = split_whole(&no, x, logits);
	n = lat_net_n_params(whole);
	sum = malloc(n * sizeof *sum);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sum);
	for (int size = 2; size <= 3; size++) {
		dp_world w;
		split_part sp[DP_MAX];
		lat_net *nets[DP_MAX];
		double e_logit = 0, e_grad = 0, e_buf = 0;
		split_start(&w, sp, nets, size, &no, x, 1);
		memset(sum, 0, n * sizeof *sum);
		for (int k = 0; k < size; k++) {
			CU_ASSERT_EQUAL(sp[k].rc, LAT_OK);
			CU_ASSERT_PTR_NOT_NULL_FATAL(sp[k].g);
			CU_ASSERT(lat_net_layer(nets[k], 0)->out.h < 8); /* a strip of the 8 rows */
			for (size_t i = 0; i < 3 * 10; i++)
				e_logit = fmax(e_logit, fabs(sp[k].logits[i] - logits[i]));
			lat_net_map_whole(nets[k], sp[k].g, sum, 0, n, 1, k == 0);
			CU_ASSERT_EQUAL_FATAL(lat_net_n_buffers(nets[k]), lat_net_n_buffers(whole));
			for (size_t j = 0; j < lat_net_n_buffers(whole); j++)
				e_buf = fmax(e_buf, fabs(lat_net_buffers(nets[k])[j] - lat_net_buffers(whole)[j]));
		}
		for (size_t j = 0; j < n; j++)
			e_grad = fmax(e_grad, fabs(sum[j] - lat_net_grads(whole)[j]) / fmax(1e-3, fabs(lat_net_grads(whole)[j])));
		CU_ASSERT(e_logit < 1e-5);
		CU_ASSERT(e_grad < 1e-4);
		CU_ASSERT(e_buf < 1e-6);
		split_stop(&w, sp, size);
	}
	no.shard_part = 0;
	no.shard_parts = 9;
	bad = lat_net_alloc(&no, (lat_shape){1, 8, 8}, 10, 3, err);
	CU_ASSERT_PTR_NULL(bad);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "rows.cfg:1: network.layers[0] (conv)"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "8 rows cannot be split into strips for 9 processes"));
	no.shard_parts = 2;
	no.layers = ls + 6;
	no.n_layers = 1;
	CU_ASSERT_PTR_NULL(lat_net_alloc(&no, (lat_shape){1, 8, 8}, 10, 3, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "needs lc, conv, relu, maxpool, bn or resblock layers first"));
	free(sum);
	lat_net_free(whole);
}

/* An lc network of residual blocks (an lc first layer, a block of 4 channels, a strided block of 6 with
 * its 1x1 conv projection, average pooling, linear) split into 2 and 3 parts, against the whole network
 * of the same seed: the blocks sum their own parts (lat_net_set_sum reaches them), the logits agree to
 * float rounding, the parts' parameters and gradients gathered into the whole layout are the whole
 * network's (exactly, and to rounding). Split by location with whole activations, then in strips of
 * rows (each block exchanging the rows its 3 x 3 layers reach, its bn statistics and its conv
 * projection's gradient summed over the strips; the bn running statistics the whole network's too),
 * and in strips with the first layer kept as a conv. */
static void test_split_resblock(void)
{
	const lat_layer_spec layers[] = {{.kind = LAT_L_CONV, .channels = 4, .kernel = 3, .stride = 1, .bias = 1},
					 {.kind = LAT_L_RESBLOCK, .channels = 4, .stride = 1},
					 {.kind = LAT_L_RESBLOCK, .channels = 6, .stride = 2},
					 {.kind = LAT_L_AVGPOOL},
					 {.kind = LAT_L_LINEAR, .outputs = 10, .bias = 1}};
	float x[3 * 64], logits[3 * 10];

	split_input(x, 11);
	for (int form = 0; form < 3; form++) {
		lat_net_opts no = {.source = "resblocks", .layers = layers, .n_layers = 5, .locally_connected = 1,
				   .bn_momentum = 0.1, .bn_eps = 1e-5, .lc_bias = LAT_LC_BIAS_POSITION,
				   .shard_rows = form > 0, .keep_first_conv = form == 2};
		lat_net *whole = split_whole(&no, x, logits);
		size_t n = lat_net_n_params(whole);
		for (int size = 2; size <= 3; size++) {
			dp_world w;
			split_part sp[DP_MAX];
			lat_net *nets[DP_MAX];
			float *g = calloc(n + 1, sizeof *g);
			double e_logit = 0, e_grad = 0, e_buf = 0;
			CU_ASSERT_PTR_NOT_NULL_FATAL(g);
			/* a block holding parts runs only with a sum set; in strips of rows, the halos go point to point
			 * when the first layer is kept as conv */
			split_start(&w, sp, nets, size, &no, x, form == 2);
			for (int k = 0; k < size; k++) {
				CU_ASSERT(lat_net_n_params(sp[k].net) < n);
				CU_ASSERT_EQUAL(lat_net_layer_split(sp[k].net, 1), 3);
				CU_ASSERT_EQUAL(lat_net_layer_split(sp[k].net, 2), 3);
				CU_ASSERT(!no.shard_rows || lat_net_layer(sp[k].net, 1)->out.h < 8); /* a strip */
				CU_ASSERT_EQUAL(sp[k].rc, LAT_OK);
				CU_ASSERT_PTR_NOT_NULL_FATAL(sp[k].g);
				for (size_t i = 0; i < 3 * 10; i++)
					e_logit = fmax(e_logit, fabs(sp[k].logits[i] - logits[i]));
				lat_net_map_whole(sp[k].net, sp[k].g, g, 0, n, 1, k == 0);
				for (size_t j = 0; j < lat_net_n_buffers(whole) && no.shard_rows; j++)
					e_buf = fmax(e_buf, fabs(lat_net_buffers(sp[k].net)[j] - lat_net_buffers(whole)[j]));
			}
			for (size_t j = 0; j < n; j++)
				e_grad = fmax(e_grad, fabs(g[j] - lat_net_grads(whole)[j]) /
							      fmax(1e-3, fabs(lat_net_grads(whole)[j])));
			check_map_whole(whole, nets, size);
			CU_ASSERT(e_logit < 1e-5);
			CU_ASSERT(e_grad < 1e-4);
			CU_ASSERT(e_buf < 1e-6);
			split_stop(&w, sp, size);
			free(g);
		}
		lat_net_free(whole);
	}
}

/* One process's part of a residual block (test_split_block_proj): its arrays and one pass's results. */
typedef struct {
	dp_proc p; /* the sum's world and this part's rank */
	lat_layer *l;
	float *w, *g, *buf, out[2 * 27], din[2 * 72];
	const float *x, *dout;
	int rc;
} block_part;

/* A block of 2 x 6 x 6 -> 3 x 3 x 3 (stride 2) with lc layers and an lc projection (lc = 2), part k of
 * parts (parts 1: whole), its arrays bound and initialised from seed 3. */
static void block_make(block_part *b, size_t k, size_t parts)
{
	char err[LAT_ERRLEN] = "";
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);

	b->l = lat_resblock_alloc_part((lat_shape){2, 6, 6}, 3, 2, 2, 0.1, 1e-5, 2, k, parts, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b->l);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	b->w = calloc(b->l->n_params, sizeof *b->w);
	b->g = calloc(b->l->n_params, sizeof *b->g);
	b->buf = calloc(b->l->n_buffers, sizeof *b->buf);
	CU_ASSERT_FATAL(b->w && b->g && b->buf);
	lat_layer_bind(b->l, b->w, b->g, b->buf);
	gsl_rng_set(r, 3);
	b->l->type->init(b->l, r);
	gsl_rng_free(r);
}

static void *block_run(void *arg)
{
	block_part *b = arg;

	b->rc = b->l->type->forward(b->l, b->x, b->out, 2, 1);
	if (!b->rc)
		b->rc = b->l->type->backward(b->l, b->x, b->out, b->dout, b->din, 2);
	return NULL;
}

static void block_free(block_part *b)
{
	lat_layer_free(b->l);
	free(b->w);
	free(b->g);
	free(b->buf);
}

/* A residual block whose 3 x 3 layers and 1 x 1 projection are all lc, split into 2 and 3 parts (the
 * network never builds one: lat_resblock_alloc_part with lc = 2), against the whole block: outputs and
 * input gradients to float rounding, the parts' parameters gathered into the whole layout exactly and
 * their gradients to rounding. */
static void test_split_block_proj(void)
{
	block_part whole = {0};
	float x[2 * 72], dout[2 * 27];
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	gsl_rng_set(r, 4);
	for (size_t k = 0; k < 2 * 72; k++)
		x[k] = (float)(2 * gsl_rng_uniform(r) - 1);
	for (size_t k = 0; k < 2 * 27; k++)
		dout[k] = (float)(2 * gsl_rng_uniform(r) - 1);
	gsl_rng_free(r);
	block_make(&whole, 0, 1);
	whole.x = x;
	whole.dout = dout;
	block_run(&whole);
	CU_ASSERT_EQUAL_FATAL(whole.rc, LAT_OK);
	for (size_t parts = 2; parts <= 3; parts++) {
		dp_world w = {.size = (int)parts};
		block_part b[3];
		size_t n = whole.l->n_params;
		float *wg = calloc(n, sizeof *wg), *gg = calloc(n, sizeof *gg);
		double e_out = 0, e_din = 0, e_g = 0;
		CU_ASSERT_FATAL(wg && gg);
		memset(b, 0, sizeof b);
		pthread_barrier_init(&w.bar, NULL, (unsigned)parts);
		for (size_t k = 0; k < parts; k++) {
			block_make(&b[k], k, parts);
			CU_ASSERT_EQUAL(lat_layer_params_whole(b[k].l), n);
			b[k].p.w = &w;
			b[k].p.comm.rank = (int)k;
			b[k].x = x;
			b[k].dout = dout;
			b[k].l->type->set_sum(b[k].l, dp_sum_float, &b[k].p);
		}
		tw_each((int)parts, block_run, b, sizeof *b);
		for (size_t k = 0; k < parts; k++) {
			const lat_whole_map mw = {b[k].w, wg, 0, n, 1, k == 0}, mg = {b[k].g, gg, 0, n, 1, k == 0};
			CU_ASSERT_EQUAL(b[k].rc, LAT_OK);
			for (size_t i = 0; i < 2 * 27; i++)
				e_out = fmax(e_out, fabs(b[k].out[i] - whole.out[i]));
			for (size_t i = 0; i < 2 * 72; i++)
				e_din = fmax(e_din, fabs(b[k].din[i] - whole.din[i]));
			lat_layer_map_whole(b[k].l, &mw, 0, 0);
			lat_layer_map_whole(b[k].l, &mg, 0, 0);
		}
		for (size_t j = 0; j < n; j++)
			e_g = fmax(e_g, fabs(gg[j] - whole.g[j]) / fmax(1e-3, fabs(whole.g[j])));
		CU_ASSERT_EQUAL(memcmp(wg, whole.w, n * sizeof *wg), 0);
		CU_ASSERT(e_out < 1e-5);
		CU_ASSERT(e_din < 1e-5);
		CU_ASSERT(e_g < 1e-4);
		for (size_t k = 0; k < parts; k++)
			block_free(&b[k]);
		free(wg);
		free(gg);
		pthread_barrier_destroy(&w.bar);
	}
	block_free(&whole);
}

/* Each of the size processes ended the epoch where the whole network one did: its losses, the test
 * accuracy to float rounding, and the replicated state of process 0. */
static void check_as_whole(dp_proc *p, int size, const dp_proc *one)
{
	for (int r = 0; r < size; r++) {
		CU_ASSERT_EQUAL(p[r].rc_steps, 0);
		CU_ASSERT_EQUAL(p[r].rc_eval, LAT_OK);
		CU_ASSERT_EQUAL(lat_trainer_stats(p[r].t)->samples, 64);
		CU_ASSERT_DOUBLE_EQUAL(lat_trainer_stats(p[r].t)->loss_sum, lat_trainer_stats(one->t)->loss_sum,
				       1e-4 * lat_trainer_stats(one->t)->loss_sum);
		CU_ASSERT_DOUBLE_EQUAL(p[r].loss, one->loss, 1e-4 * one->loss);
		CU_ASSERT_DOUBLE_EQUAL(p[r].acc, one->acc, 100.0 / 32 + 1e-9);
		CU_ASSERT_EQUAL(lat_trainer_checksum(p[r].t), lat_trainer_checksum(p[0].t));
	}
}

/* The processes save together (process 0 to path); a new trainer of o without processes loads the file,
 * whose parameters are one's to float rounding. Returns that trainer. */
static lat_trainer *save_and_load(dp_proc *p, int size, lat_trainer_opts *o, const char *path, const dp_proc *one)
{
	save_job sj[DP_MAX];
	char err[LAT_ERRLEN] = "";
	lat_trainer *back;
	int status;

	for (int r = 0; r < size; r++)
		sj[r] = (save_job){&p[r], r ? NULL : path, -1};
	tw_each(size, save_run, sj, sizeof *sj);
	for (int r = 0; r < size; r++)
		CU_ASSERT_EQUAL(sj[r].rc, LAT_OK);
	o->comm = NULL;
	back = lat_trainer_alloc(o, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(back);
	CU_ASSERT_EQUAL_FATAL(lat_trainer_load(back, path, err), LAT_OK);
	CU_ASSERT(rel_diff(lat_net_params(lat_trainer_net(back)), lat_net_params(lat_trainer_net(one->t)),
			   lat_net_n_params(lat_trainer_net(back))) < 1e-4);
	return back;
}

/* The tiny experiment with both conv layers lc and network.shard = "locations" (plus the sharing section
 * extra, or NULL), its trainer options in *o, and one epoch of the whole network (no processes: the
 * split has no effect) in *one. */
static void split_setup(lat_experiment *e, const char *extra, lat_shard shard, lat_trainer_opts *o,
			dp_proc *one)
{
	char err[LAT_ERRLEN] = "";
	int status;

	tiny_experiment(e, "epochs = 1;", extra);
	e->batch = 7;
	e->locally_connected = 1;
	e->shard = shard;
	lat_experiment_trainer_opts(e, o);
	*one = (dp_proc){0};
	one->t = lat_trainer_alloc(o, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(one->t);
	dp_run(one);
}

/* A trainer split by location (network.shard = "locations", whole activations, then "rows") over P = 2 and 3
 * threads standing in for processes, against the whole network: an epoch's losses and the test
 * accuracy to float rounding, the same replicated state everywhere (checksums); its checkpoint,
 * gathered by the parts, is the whole network (a whole trainer loads it and hands each part exactly its
 * values back), and a whole network's checkpoint loads into the parts. With sharing phases, the same
 * losses and shrink factors. */
static void check_split_trainer(lat_shard shard)
{
	lat_experiment e;
	lat_trainer_opts o;
	dp_proc one;
	char err[LAT_ERRLEN] = "", path_whole[512], path_split[512];

	split_setup(&e, NULL, shard, &o, &one);
	CU_ASSERT_EQUAL(one.rc_steps, 0);
	CU_ASSERT_EQUAL_FATAL(lat_trainer_save(one.t, tmp_path(path_whole, "whole.ckpt"), err), LAT_OK);
	tmp_path(path_split, "split.ckpt");
	for (int size = 2; size <= 3; size++) {
		dp_world w;
		dp_proc p[DP_MAX];
		save_job sj[DP_MAX];
		lat_net *nets[DP_MAX];
		lat_trainer *back;
		int ex = shard == LAT_SHARD_ROWS && size == 2; /* strips of 2: the halos point to point */
		dp_start_ex(&w, p, size, &o, ex);
		for (int r = 0; r < size; r++) {
			nets[r] = lat_trainer_net(p[r].t);
			CU_ASSERT(lat_net_n_params(nets[r]) < lat_net_n_params(lat_trainer_net(one.t)));
		}
		tw_each(size, dp_run, p, sizeof *p);
		check_as_whole(p, size, &one);
		/* what the sums took, by hand, per sample: whole activations, the two lc layers' outputs (4 x
		 * 8 x 8 and 4 x 4 x 4 floats) and the second one's input gradient (4 x 4 x 4); in strips (rows
		 * of 4 x 8 x 8, pooled to 4 x 4 x 4, the second lc layer's windows one row beyond its strip
		 * on each inner edge), the rows that pass an edge forward and back (2 parts: the lc windows'
		 * 2 rows of 16 floats; 3 parts: the pooling's row 4 of 32 floats, which the third part's strip
		 * [4, 8) of the 8 rows [5, 8) lacks, and 4 rows of the lc windows) and the last strips put
		 * together (4 x 4 x 4); point to point on 2 strips, each sends only the one row of 16 floats
		 * the other's lc window reads, its gradient back, and its own 2 rows of the last output (32
		 * floats) to the other; and per step (10 of them) two exchanges of
		 * 4 doubles settling the checks */
		for (int r = 0; r < size; r++)
			CU_ASSERT_DOUBLE_EQUAL(lat_trainer_stats(p[r].t)->sum_bytes,
					       64.0 * (shard == LAT_SHARD_LOCATIONS ? 256 + 64 + 64
						       : ex		       ? 2 * 16 + 32
									       : 2 * (32 + 64) + 64) * 4 +
						   10 * 2 * 32,
					       0);
		/* a save that fails on process 0 (no such directory) fails on every process, none left
		 * waiting in a gather */
		for (int r = 0; r < size; r++)
			sj[r] = (save_job){&p[r], r ? NULL : "/nonexistent-lateral-dir/x.ckpt", -1};
		tw_each(size, save_run, sj, sizeof *sj);
		for (int r = 0; r < size; r++)
			CU_ASSERT_EQUAL(sj[r].rc, LAT_EIO);
		/* the checkpoint: process 0 writes, every process gathers */
		back = save_and_load(p, size, &o, path_split, &one);
		/* the snr figures, channel by channel from gathered kernels: the whole layer's of the same
		 * weights (the checkpoint's), summed in another order */
		tw_each(size, measure_run, p, sizeof *p);
		CU_ASSERT_EQUAL(lat_trainer_measure_lc(back, err), LAT_OK);
		for (int r = 0; r < size; r++) {
			CU_ASSERT_EQUAL(p[r].rc_measure, LAT_OK);
			for (size_t i = 0; i < lat_trainer_n_lc(back); i++)
				for (int k = 0; k < 2; k++) {
					double a[2], b[2];
					lat_trainer_lc_snrs(p[r].t, i, &a[0], &a[1]);
					lat_trainer_lc_snrs(back, i, &b[0], &b[1]);
					CU_ASSERT(i > 0 || isfinite(b[k])); /* the first layer has pools */
					CU_ASSERT(isnan(a[k]) ? isnan(b[k]) : fabs(a[k] - b[k]) <= 1e-12 * fabs(b[k]));
				}
		}
		check_map_whole(lat_trainer_net(back), nets, size);
		/* the whole network's checkpoint into the parts, written again by them: the same file, byte for
		 * byte (each part held its slice of every parameter and optimiser moment) */
		for (int r = 0; r < size; r++) {
			CU_ASSERT_EQUAL(lat_trainer_load(p[r].t, path_whole, err), LAT_OK);
			sj[r] = (save_job){&p[r], r ? NULL : path_split, -1};
		}
		tw_each(size, save_run, sj, sizeof *sj);
		for (int r = 0; r < size; r++)
			CU_ASSERT_EQUAL(sj[r].rc, LAT_OK);
		CU_ASSERT(same_file(path_whole, path_split));
		lat_trainer_free(back);
		dp_stop(&w, p, size);
	}
	/* sharing phases on split layers: each process runs the phase on the gathered layer and keeps its
	 * part, so the split network trains the whole network's losses and shrinks its pools alike */
	lat_experiment_clear(&e);
	{
		dp_proc whole, p[2];
		dp_world w;
		double dev, mean, dev2, mean2;
		split_setup(&e, "sharing = { mode = \"hebbian\"; every = 4; presentations = 4; iterations = 2; };\n", shard,
			    &o, &whole);
		dp_start(&w, p, 2, &o);
		tw_each(2, dp_run, p, sizeof *p);
		for (int r = 0; r < 2; r++) {
			CU_ASSERT_EQUAL(p[r].rc_steps, 0);
			CU_ASSERT_EQUAL(lat_trainer_stats(p[r].t)->phases, 2);
			CU_ASSERT_DOUBLE_EQUAL(p[r].loss, whole.loss, 1e-4 * whole.loss);
			lat_trainer_lc_shrink(p[r].t, 0, &dev, &mean);
			lat_trainer_lc_shrink(whole.t, 0, &dev2, &mean2);
			CU_ASSERT(dev < 0.9); /* the phases did shrink the pools' deviations */
			CU_ASSERT_DOUBLE_EQUAL(dev, dev2, 1e-3 * dev2);
		}
		dp_stop(&w, p, 2);
		dp_stop(NULL, &whole, 1);
	}
	dp_stop(NULL, &one, 1);
	lat_experiment_clear(&e);
}

static void test_split_trainer(void)
{
	check_split_trainer(LAT_SHARD_LOCATIONS);
	check_split_trainer(LAT_SHARD_ROWS);
}

/* Four threads as two groups of two parts (network.shard = "locations", then "rows", with comm.parts = 2): each group
 * one split network on half of every batch, the groups data parallel (with "rows", splitting the optimiser
 * step over the groups too). The losses and test accuracy are
 * the whole network's to float rounding, the replicated state is the same on all four, and the
 * checkpoint (gathered within each group, written by process 0) is the whole network's. */
static void check_split_groups(lat_shard shard)
{
	lat_experiment e;
	lat_trainer_opts o;
	dp_proc one, p[4], grp[4], acr[4];
	dp_world w = {.size = 4}, gw[2] = {{.size = 2}, {.size = 2}}, aw[2] = {{.size = 2}, {.size = 2}};
	char err[LAT_ERRLEN] = "", path[512];
	lat_trainer *back;
	int status;

	split_setup(&e, NULL, shard, &o, &one);
	pthread_barrier_init(&w.bar, NULL, 4);
	for (int k = 0; k < 2; k++) {
		pthread_barrier_init(&gw[k].bar, NULL, 2);
		pthread_barrier_init(&aw[k].bar, NULL, 2);
	}
	for (int r = 0; r < 4; r++) {
		/* group r / 2 (its rank there r % 2), and across the groups part r % 2 (rank r / 2 there) */
		grp[r] = (dp_proc){.w = &gw[r / 2], .comm = {.rank = r % 2}};
		acr[r] = (dp_proc){.w = &aw[r % 2], .comm = {.rank = r / 2}};
		p[r] = (dp_proc){.w = &w};
		p[r].comm = (lat_trainer_comm){.rank = r,
					       .size = 4,
					       .sum_float = dp_sum_float,
					       .sum_double = dp_sum_double,
					       .ctx = &p[r],
					       .parts = 2,
					       .ctx_group = &grp[r],
					       .ctx_across = &acr[r]};
		if (shard == LAT_SHARD_ROWS) { /* the groups split the optimiser step too, over ctx_across */
			p[r].comm.reduce_scatter_float = dp_reduce_scatter_float;
			p[r].comm.allgather_float = dp_allgather_float;
		}
		o.comm = &p[r].comm;
		p[r].t = lat_trainer_alloc(&o, &status, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[r].t);
	}
	tw_each(4, dp_run, p, sizeof *p);
	check_as_whole(p, 4, &one);
	back = save_and_load(p, 4, &o, tmp_path(path, "groups.ckpt"), &one);
	/* 4 processes do not form groups of 3 */
	{
		lat_trainer_comm bad = {.rank = 0,
					.size = 4,
					.sum_float = dp_sum_float,
					.sum_double = dp_sum_double,
					.ctx = &p[0],
					.parts = 3,
					.ctx_group = &grp[0],
					.ctx_across = &acr[0]};
		o.comm = &bad;
		CU_ASSERT_PTR_NULL(lat_trainer_alloc(&o, &status, err));
		CU_ASSERT_EQUAL(status, LAT_EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "groups of 3"));
	}
	lat_trainer_free(back);
	dp_stop(&w, p, 4);
	for (int k = 0; k < 2; k++) {
		pthread_barrier_destroy(&gw[k].bar);
		pthread_barrier_destroy(&aw[k].bar);
	}
	dp_stop(NULL, &one, 1);
	lat_experiment_clear(&e);
}

static void test_split_groups(void)
{
	check_split_groups(LAT_SHARD_LOCATIONS);
	check_split_groups(LAT_SHARD_ROWS);
}

static CU_TestInfo tests[] = {{"experiment defaults and overrides", test_defaults_and_overrides},
			      {"experiment text round trip", test_experiment_round_trip},
			      {"bad experiment files", test_bad_files},
			      {"whole-network gradient vs central differences", test_network_gradient},
			      {"tiny network reaches 100 % training accuracy", test_reaches_full_accuracy},
			      {"checkpoint round trip and exact resume", test_checkpoint_and_resume},
			      {"CIFAR-10 ResNet-20 experiment on generated images", test_cifar_resnet20},
			      {"data parallel over 2 and 3 processes = whole batches", test_data_parallel},
			      {"data parallel, the optimiser step split over the processes (parameters gathered, or one "
			       "shared copy) = the whole step, bit for bit",
			       test_data_parallel_split_optimizer},
			      {"data parallel: bn running statistics combined", test_data_parallel_bn},
			      {"network split by location (whole activations, strips of rows) over 2 and 3 processes = "
			       "whole network",
			       test_split_network},
			      {"trainer split by location (whole activations, strips of rows): losses, checkpoints in "
			       "the whole layout",
			       test_split_trainer},
			      {"two data-parallel groups of two split processes (either form) = whole network",
			       test_split_groups},
			      {"strips of rows with conv and bn, up to an avgpool layer = whole network; what strips refuse",
			       test_split_rows_head},
			      {"residual blocks split by location (whole activations, strips of rows) = whole blocks",
			       test_split_resblock},
			      {"a block with an lc projection split by location = whole block", test_split_block_proj},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {
    {.pName = "train", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
