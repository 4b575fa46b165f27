/* test_kill.c: interrupts (SIGINT, SIGTERM, SIGKILL), resume bit for bit, and numerical faults. */
#include <config.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "idx_fixture.h"
#include "lateral/err.h"
#include "lateral/experiment.h"
#include "lateral/model.h"
#include "lateral/net.h"
#include "lateral/sim.h"
#include "lateral/state.h"
#include "lateral/trainer.h"
#include "runner.h"

#define BUF 65536
/* Polling interval while waiting for a child's progress (microseconds). */
#define POLL_US 2000
/* SIGKILL iterations of the kill test, and the longest pause before each kill (microseconds). */
#define KILL_ROUNDS 24
#define KILL_MAX_US 40000

static char tmpdir[256];
static char err_text[BUF], out_text[BUF];

/* ---- helpers ---- */

static char *tmp(char *buf, const char *sub)
{
	snprintf(buf, 512, "%s/%s", tmpdir, sub);
	return buf;
}

/* Whole file into a new buffer (*len bytes, NUL-terminated); NULL when it does not exist. */
static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	if (!fp)
		return NULL;
	for (;;) {
		if (n + 4097 > cap) {
			char *p = realloc(buf, cap = 2 * cap + 8192);
			if (!p)
				break;
			buf = p;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, fp);
		n += got;
		if (!got)
			break;
	}
	fclose(fp);
	if (buf)
		buf[n] = 0;
	if (len)
		*len = n;
	return buf;
}

static void slurp_into(const char *path, char *dst)
{
	char *s = slurp(path, NULL);
	snprintf(dst, BUF, "%s", s ? s : "");
	free(s);
}

/* Starts lateral with argv (NULL-terminated, argv[0] the subcommand); stdout and stderr go to files in
 * tmpdir. Returns the child's pid. */
static pid_t spawn(const char *const *argv)
{
	char exe[512], outp[512], errp[512];
	const char *args[64];
	const char *b = getenv("top_builddir");
	size_t n = 0;
	pid_t pid;

	snprintf(exe, sizeof exe, "%s/lateral", b && *b ? b : ".");
	args[n++] = exe;
	for (; *argv && n < 63; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	/* the parent may poll stdout before the child truncates it: no stale text from an earlier child */
	unlink(tmp(outp, "stdout"));
	unlink(tmp(errp, "stderr"));
	pid = fork();
	if (pid == 0) {
		int fo = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(exe, (char *const *)args);
		_exit(126);
	}
	return pid;
}

/* Waits for the child: its exit status, 1000 + signal when a signal killed it, -1 on error. Reads
 * stdout and stderr into out_text and err_text. */
/* 1 when the child has exited (it stays waitable for finish). */
static int exited(pid_t pid)
{
	siginfo_t info;
	memset(&info, 0, sizeof info);
	return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != 0;
}

static int finish(pid_t pid)
{
	char p[512];
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return -1;
	slurp_into(tmp(p, "stdout"), out_text);
	slurp_into(tmp(p, "stderr"), err_text);
	return WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 1000 + WTERMSIG(status) : -1;
}

static int run_argv(const char *const *argv)
{
	return finish(spawn(argv));
}

/* Lines of a text file, or 0 when it does not exist. */
static size_t count_lines(const char *path)
{
	char *s = slurp(path, NULL);
	size_t n = 0;
	for (const char *p = s; p && *p; p++)
		n += *p == '\n';
	free(s);
	return n;
}

/* Waits until path has at least n lines that are not comments (or the child exits: returns 0 then). */
static int wait_lines(pid_t pid, const char *path, size_t n)
{
	for (;;) {
		char *s = slurp(path, NULL);
		size_t k = 0;
		for (const char *p = s; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
			k += *p != '#' && *p != '\n';
		free(s);
		if (k >= n)
			return 1;
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return 0;
		usleep(POLL_US);
	}
}

/* 1 when dir/name exists. */
static int present(const char *dir, const char *name)
{
	char p[1024];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return access(p, F_OK) == 0;
}

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	int same = x && y && la == lb && !memcmp(x, y, la);
	free(x);
	free(y);
	return same;
}

/* Text of a file with every line containing one of the keys (NULL-terminated) removed, and in JSON
 * lines the "key": value fields of those keys removed: what stays must not depend on the clock. */
static char *without_timing(const char *path, const char *const *keys)
{
	char *s = slurp(path, NULL);
	if (!s)
		return NULL;
	for (const char *const *k = keys; *k; k++) {
		char pat[64];
		char *hit;
		snprintf(pat, sizeof pat, "\"%s\": ", *k);
		while ((hit = strstr(s, pat)) != NULL) {
			char *end = hit + strcspn(hit, ",}\n");
			memmove(hit, end, strlen(end) + 1);
		}
	}
	return s;
}

static int same_but_timing(const char *a, const char *b, const char *const *keys)
{
	char *x = without_timing(a, keys), *y = without_timing(b, keys);
	int same = x && y && !strcmp(x, y);
	free(x);
	free(y);
	return same;
}

/* The file without the last column of every line (sweep.tsv: us_per_pres, a wall-clock time). */
static char *drop_last_column(const char *path)
{
	size_t len, n = 0;
	char *s = slurp(path, &len), *o = s ? malloc(len + 1) : NULL;
	for (const char *line = s; o && *line;) {
		size_t w = strcspn(line, "\n");
		const char *tab = memrchr(line, '\t', w);
		size_t keep = tab ? (size_t)(tab - line) : w;
		memcpy(o + n, line, keep);
		n += keep;
		o[n++] = '\n';
		line += w + (line[w] == '\n');
	}
	if (o)
		o[n] = 0;
	free(s);
	return o;
}

/* The tiny training job of these tests: 48 generated 8x8 images, lc 3x3 x2 -> relu -> linear. */
static void write_experiment(const char *name, const char *train, const char *sharing)
{
	char p[512], text[2048];
	FILE *fp = fopen(tmp(p, name), "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	snprintf(text, sizeof text,
		 "data = { train_images = \"tr-images\"; train_labels = \"tr-labels\";\n"
		 "         test_images = \"te-images\"; test_labels = \"te-labels\"; };\n"
		 "network = { layers = ( { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
		 "                       { type = \"linear\"; outputs = 10; } ); };\n"
		 "train = { threads = 1; lr = 0.01; %s };\nsharing = { %s };\n",
		 train, sharing);
	fputs(text, fp);
	fclose(fp);
}

static void experiment_of(const char *name, lat_experiment *e)
{
	char p[512], err[LAT_ERRLEN] = "";
	lat_experiment_init(e);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_load(e, tmp(p, name), err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_experiment_finalize(e, err), LAT_OK);
}

/* ---- library: checkpoints, mid-epoch resume, faults ---- */

static void train_to_end(lat_trainer *t, size_t epochs)
{
	char err[LAT_ERRLEN];
	while (lat_trainer_epoch(t) < epochs) {
		lat_trainer_begin_epoch(t);
		while (lat_trainer_step(t, err) == 1)
			;
	}
}

/* Interrupted after k batches of epoch 2 (augmentation and sharing phases in flight), saved, loaded
 * into a fresh trainer: the end is bit for bit that of an uninterrupted run, the epoch's statistics too. */
static void test_mid_epoch_resume(void)
{
	lat_experiment e;
	lat_trainer *a, *b, *c;
	char err[LAT_ERRLEN] = "", p[512];
	int status;
	size_t np;

	write_experiment("mid.cfg", "epochs = 3; batch = 5; optimizer = \"sgd\"; momentum = 0.9;",
			 "mode = \"hebbian\"; every = 3; presentations = 3; iterations = 2;");
	experiment_of("mid.cfg", &e);
	CU_ASSERT_EQUAL(lat_experiment_set(&e, "data.pad=1", err), LAT_OK);
	a = lat_experiment_trainer_alloc(&e, &status, err);
	b = lat_experiment_trainer_alloc(&e, &status, err);
	c = lat_experiment_trainer_alloc(&e, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	np = lat_net_n_params(lat_trainer_net(a));
	train_to_end(a, 1);
	lat_trainer_begin_epoch(a);
	while (lat_trainer_step(a, err) == 1)
		;
	train_to_end(b, 1);
	lat_trainer_begin_epoch(b);
	for (int k = 0; k < 4; k++)
		CU_ASSERT_EQUAL(lat_trainer_step(b, err), 1);
	CU_ASSERT_EQUAL_FATAL(lat_trainer_save(b, tmp(p, "mid.bin"), err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_trainer_load(c, p, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_trainer_epoch(c), 1);
	CU_ASSERT_EQUAL(lat_trainer_stats(c)->batches, 4);
	lat_trainer_begin_epoch(c);
	while (lat_trainer_step(c, err) == 1)
		;
	/* 48 images in batches of 5: 10 batches; a phase after global batches 12, 15, 18. */
	CU_ASSERT_EQUAL(lat_trainer_stats(c)->batches, 10);
	CU_ASSERT_EQUAL(lat_trainer_stats(c)->phases, 3);
	CU_ASSERT_EQUAL(lat_trainer_stats(c)->samples, lat_trainer_stats(a)->samples);
	CU_ASSERT_EQUAL(lat_trainer_stats(c)->correct, lat_trainer_stats(a)->correct);
	CU_ASSERT(lat_trainer_stats(c)->loss_sum == lat_trainer_stats(a)->loss_sum);
	CU_ASSERT_EQUAL(memcmp(lat_net_params(lat_trainer_net(a)), lat_net_params(lat_trainer_net(c)), np * sizeof(float)), 0);
	train_to_end(a, 3);
	train_to_end(c, 3);
	CU_ASSERT_EQUAL(memcmp(lat_net_params(lat_trainer_net(a)), lat_net_params(lat_trainer_net(c)), np * sizeof(float)), 0);
	lat_trainer_free(a);
	lat_trainer_free(b);
	lat_trainer_free(c);
	lat_experiment_clear(&e);
}

/* Old (LATCKPT1), foreign and truncated files are refused with a message, and the trainer is unchanged. */
static void test_checkpoint_formats(void)
{
	lat_experiment e;
	lat_trainer *t;
	char err[LAT_ERRLEN] = "", p[512];
	int status;
	FILE *fp;

	write_experiment("fmt.cfg", "epochs = 1; batch = 16;", "mode = \"none\";");
	experiment_of("fmt.cfg", &e);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	fp = fopen(tmp(p, "old.bin"), "wb");
	fputs("LATCKPT1", fp);
	for (int k = 0; k < 200; k++)
		fputc(0, fp);
	fclose(fp);
	CU_ASSERT_EQUAL(lat_trainer_load(t, p, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "old.bin: written by an older lateral (format LATCKPT1)"));
	fp = fopen(tmp(p, "foreign.bin"), "wb");
	fputs("PK\003\004 a zip file, not a checkpoint", fp);
	fclose(fp);
	CU_ASSERT_EQUAL(lat_trainer_load(t, p, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a lateral state file (a checkpoint of `lateral train`"));
	CU_ASSERT_EQUAL(lat_trainer_save(t, tmp(p, "cut.bin"), err), LAT_OK);
	CU_ASSERT_EQUAL(truncate(p, 40), 0);
	CU_ASSERT_EQUAL(lat_trainer_load(t, p, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "truncated"));
	CU_ASSERT_EQUAL(lat_trainer_epoch(t), 0);
	lat_trainer_free(t);
	lat_experiment_clear(&e);
}

/* Faults found inside one step: a gradient that overflows in back-propagation (the forward pass is
 * finite: tiny first-layer outputs times huge second-layer weights) names layer 1 (lc); a NaN weight
 * names its layer and index. */
static void test_nonfinite_step(void)
{
	lat_experiment e;
	lat_trainer *t;
	lat_layer *l1, *l3;
	char err[LAT_ERRLEN] = "", p[512];
	int status;
	FILE *fp = fopen(tmp(p, "deep.cfg"), "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fputs("data = { train_images = \"tr-images\"; train_labels = \"tr-labels\";\n"
	      "         test_images = \"te-images\"; test_labels = \"te-labels\"; };\n"
	      "network = { layers = ( { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
	      "                       { type = \"lc\"; channels = 2; kernel = 3; }, { type = \"relu\"; },\n"
	      "                       { type = \"linear\"; outputs = 10; } ); };\n"
	      "train = { epochs = 1; batch = 8; threads = 1; };\n",
	      fp);
	fclose(fp);
	experiment_of("deep.cfg", &e);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	l1 = lat_net_layer(lat_trainer_net(t), 0);
	l3 = lat_net_layer(lat_trainer_net(t), 2);
	/* layer 1: zero kernels, biases 1e-30 (2 x 8 x 8 of them, last); layer 3: kernels 3e38, biases 0;
	 * linear: weights of size 1000. Outputs stay below 1e15, but dLoss/d(layer 2 output) = W3^T ...
	 * overflows. */
	for (size_t k = 0; k < l1->n_params; k++)
		l1->w[k] = k < l1->n_params - 2 * 64 ? 0.0f : 1e-30f;
	for (size_t k = 0; k < l3->n_params; k++)
		l3->w[k] = k < l3->n_params - 2 * 64 ? 3e38f : 0.0f;
	for (size_t k = 0; k < lat_net_layer(lat_trainer_net(t), 4)->n_params; k++)
		lat_net_layer(lat_trainer_net(t), 4)->w[k] = 1000.0f * (float)sin((double)k);
	lat_trainer_begin_epoch(t);
	CU_ASSERT_EQUAL(lat_trainer_step(t, err), LAT_EDIVERGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "epoch 1, batch 1"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "gradient"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "layer 1 (lc)"));
	lat_trainer_free(t);

	t = lat_experiment_trainer_alloc(&e, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	lat_net_layer(lat_trainer_net(t), 2)->w[17] = NAN;
	lat_trainer_begin_epoch(t);
	CU_ASSERT_EQUAL(lat_trainer_step(t, err), LAT_EDIVERGE);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "layer 3 (lc): parameter 17 of"));
	lat_trainer_free(t);
	lat_experiment_clear(&e);
}

/* A study saved after k presentations and loaded into a fresh simulation ends with exactly the weights
 * of an uninterrupted one: the default model, CVODE BDF and Adams, momentum with inverse_sqrt, batch
 * updates over fixed inputs (saved in the middle of a pass), continuous timing, a homeostatic bias. */
static void test_sim_resume(void)
{
	static const char *const variants[][3] = {
	    {NULL},
	    {"solver.method=\"bdf\"", NULL},
	    {"solver.method=\"adams\"", NULL},
	    {"plasticity.momentum=0.9", "plasticity.schedule=\"inverse_sqrt\"", NULL},
	    {"input.count=7", "plasticity.update=\"batch\"", NULL},
	    {"plasticity.timing=\"continuous\"", NULL},
	    {"circuit.bias_tau=50", "solver.steady_tol=1e-6", NULL}};
	char err[LAT_ERRLEN] = "", p[512];

	for (size_t v = 0; v < sizeof variants / sizeof variants[0]; v++) {
		lat_model m;
		lat_sim *a, *b, *c;
		FILE *fp;
		size_t nd;

		lat_model_init(&m);
		CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "circuit.neurons=6", err), LAT_OK);
		for (size_t k = 0; k < 2 && variants[v][k]; k++)
			CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, variants[v][k], err), LAT_OK);
		CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m, err), LAT_OK);
		a = lat_model_sim_alloc(&m, NULL, err);
		b = lat_model_sim_alloc(&m, NULL, err);
		c = lat_model_sim_alloc(&m, NULL, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		nd = lat_sim_neurons(a) * lat_sim_inputs(a);
		for (int k = 0; k < 60; k++) {
			CU_ASSERT_EQUAL_FATAL(lat_sim_present(a, NULL, NULL, err), LAT_OK);
			if (k < 25)
				CU_ASSERT_EQUAL_FATAL(lat_sim_present(b, NULL, NULL, err), LAT_OK);
		}
		fp = fopen(tmp(p, "sim.bin"), "wb");
		CU_ASSERT_EQUAL(lat_sim_save(b, fp, err), LAT_OK);
		fclose(fp);
		fp = fopen(p, "rb");
		CU_ASSERT_EQUAL_FATAL(lat_sim_load(c, fp, p, err), LAT_OK);
		fclose(fp);
		for (int k = 25; k < 60; k++)
			CU_ASSERT_EQUAL_FATAL(lat_sim_present(c, NULL, NULL, err), LAT_OK);
		if (memcmp(lat_sim_weights(a), lat_sim_weights(c), nd * sizeof(double)))
			fprintf(stderr, "\nvariant %zu: weights differ after resume\n", v);
		CU_ASSERT_EQUAL(memcmp(lat_sim_weights(a), lat_sim_weights(c), nd * sizeof(double)), 0);
		CU_ASSERT_EQUAL(memcmp(lat_sim_rates(a), lat_sim_rates(c), (lat_sim_neurons(a) + 2) * sizeof(double)), 0);
		lat_sim_free(a);
		lat_sim_free(b);
		lat_sim_free(c);
		lat_model_clear(&m);
	}
}

/* A presentation that fails leaves the simulation as it was (a retry fails the same way); its state,
 * loaded into a simulation with a larger step budget, continues exactly as one that never failed. */
static void test_sim_failure_keeps_state(void)
{
	lat_model m, m2, m3;
	lat_sim *a, *b, *c, *d;
	lat_sim_status st;
	char err[LAT_ERRLEN] = "", err2[LAT_ERRLEN] = "", p[512];
	double w[54];
	int rc = LAT_OK, n_ok = 0;
	FILE *fp;

	lat_model_init(&m);
	lat_model_init(&m2);
	lat_model_init(&m3);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "circuit.neurons=6", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "solver.method=rk8pd", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m2, "circuit.neurons=6", err), LAT_OK);
	/* enough integrator steps for some presentations, not for all */
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m2, "solver.max_steps=40", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_set(&m2, "solver.method=rk8pd", err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m, err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m2, err), LAT_OK);
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m3, err), LAT_OK);
	a = lat_model_sim_alloc(&m, NULL, err);
	b = lat_model_sim_alloc(&m2, NULL, err);
	c = lat_model_sim_alloc(&m, NULL, err);
	d = lat_model_sim_alloc(&m3, NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	CU_ASSERT_EQUAL_FATAL(lat_sim_inputs(a) * lat_sim_neurons(a), 54);
	while (n_ok < 2000 && (rc = lat_sim_present(b, NULL, NULL, err)) == LAT_OK)
		n_ok++;
	CU_ASSERT_EQUAL_FATAL(rc, LAT_ENOTSTEADY);
	CU_ASSERT_FATAL(n_ok > 0);
	lat_sim_measure(b, &st);
	CU_ASSERT_EQUAL(st.presentation, (size_t)n_ok);
	memcpy(w, lat_sim_weights(b), sizeof w);
	CU_ASSERT_EQUAL(lat_sim_present(b, NULL, NULL, err2), LAT_ENOTSTEADY);
	CU_ASSERT_STRING_EQUAL(err, err2);
	CU_ASSERT_EQUAL(memcmp(w, lat_sim_weights(b), sizeof w), 0);
	fp = fopen(tmp(p, "fail.bin"), "wb");
	CU_ASSERT_EQUAL(lat_sim_save(b, fp, err), LAT_OK);
	fclose(fp);
	fp = fopen(p, "rb");
	CU_ASSERT_EQUAL_FATAL(lat_sim_load(c, fp, p, err), LAT_OK);
	fclose(fp);
	for (int k = 0; k < n_ok + 20; k++)
		CU_ASSERT_EQUAL_FATAL(lat_sim_present(a, NULL, NULL, err), LAT_OK);
	for (int k = 0; k < 20; k++)
		CU_ASSERT_EQUAL_FATAL(lat_sim_present(c, NULL, NULL, err), LAT_OK);
	CU_ASSERT_EQUAL(memcmp(lat_sim_weights(a), lat_sim_weights(c), sizeof w), 0);
	/* a state of another shape (the default pool has 100 neurons) is refused */
	fp = fopen(p, "rb");
	CU_ASSERT_EQUAL(lat_sim_load(d, fp, p, err), LAT_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "6 neurons"));
	fclose(fp);
	lat_sim_free(a);
	lat_sim_free(b);
	lat_sim_free(c);
	lat_sim_free(d);
	lat_model_clear(&m);
	lat_model_clear(&m2);
	lat_model_clear(&m3);
}

/* ---- the binary: SIGKILL, SIGINT / SIGTERM, faults ---- */

/* After a kill: every file in dir is a complete version. The checkpoint loads; epochs.jsonl has only
 * whole lines, epochs 1..n in order, and n is the checkpoint's epoch or one more (the log is written
 * first); at most one temporary file per output is in flight. */
static void check_train_dir(const char *dir, lat_trainer *t, size_t *ckpt_epoch)
{
	char p[1024], err[LAT_ERRLEN] = "";
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n_tmp_ckpt = 0, n_tmp_log = 0, n_lines = 0;
	int have_ckpt = 0;
	char *log;

	if (!d) {
		/* killed before it made the directory */
		CU_ASSERT_EQUAL(errno, ENOENT);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		const char *nm = de->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			continue;
		/* temporary files are ".NAME.PID.XXXXXX" */
		if (!strncmp(nm, ".checkpoint.bin.", 16) && strlen(nm) > 23)
			n_tmp_ckpt++;
		else if (!strncmp(nm, ".epochs.jsonl.", 14) && strlen(nm) > 21)
			n_tmp_log++;
		else if (strcmp(nm, "checkpoint.bin") && strcmp(nm, "epochs.jsonl") && strcmp(nm, ".lateral.lock") &&
			 strcmp(nm, "experiment.cfg") && strcmp(nm, "provenance.jsonl") && strcmp(nm, "kernels.tsv") &&
			 strncmp(nm, ".experiment.cfg.", 16) && strncmp(nm, ".provenance.jsonl.", 18) &&
			 strncmp(nm, ".kernels.tsv.", 13)) {
			fprintf(stderr, "\nunexpected file %s\n", nm);
			CU_FAIL("unexpected file in the output directory");
		}
	}
	closedir(d);
	CU_ASSERT(n_tmp_ckpt <= 1);
	CU_ASSERT(n_tmp_log <= 1);

	snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
	if (access(p, F_OK) == 0) {
		int rc = lat_trainer_load(t, p, err);
		if (rc)
			fprintf(stderr, "\n%s\n", err);
		CU_ASSERT_EQUAL_FATAL(rc, LAT_OK);
		have_ckpt = 1;
		*ckpt_epoch = lat_trainer_epoch(t);
	}
	snprintf(p, sizeof p, "%s/epochs.jsonl", dir);
	log = slurp(p, NULL);
	for (const char *s = log; s && *s;) {
		const char *nl = strchr(s, '\n');
		size_t epoch = 0;
		CU_ASSERT_PTR_NOT_NULL_FATAL(nl);
		CU_ASSERT_EQUAL(sscanf(s, "{\"epoch\": %zu,", &epoch), 1);
		CU_ASSERT_EQUAL(epoch, n_lines + 1);
		CU_ASSERT(nl > s && nl[-1] == '}');
		n_lines++;
		s = nl + 1;
	}
	free(log);
	if (have_ckpt) {
		CU_ASSERT(n_lines == *ckpt_epoch || n_lines == *ckpt_epoch + 1);
	} else {
		CU_ASSERT(n_lines <= 1);
	}
}

static const char *const timing_keys[] = {"seconds", "images_per_s", "share_seconds", NULL};

/* SIGKILL at pseudo-random moments (seeded), KILL_ROUNDS times, each followed by the file check and a
 * restart (--resume once the folder exists); the last restart runs to the end. The final checkpoint
 * and log equal those of an uninterrupted run bit for bit (the log up to its timing fields). */
static void test_sigkill_train(void)
{
	char cfg[512], dir[512], ref[512], p[1024], q[1024], err[LAT_ERRLEN];
	const char *fresh[] = {"train", "-q", "--no-plot", "-o", dir, cfg, NULL};
	const char *resume[] = {"train", "-q", "--no-plot", "-o", dir, cfg, "--resume", NULL};
	const char *reference[] = {"train", "-q", "--no-plot", "-o", ref, cfg, NULL};
	unsigned long long lcg = 20240611;
	lat_experiment e;
	lat_trainer *t;
	size_t ckpt_epoch = 0, kills = 0, resumed = 0;
	int status, rc;

	write_experiment("kill.cfg", "epochs = 60; batch = 16; checkpoint_every = 1;",
			 "mode = \"circuit\"; every = 2; presentations = 2;");
	tmp(cfg, "kill.cfg");
	tmp(dir, "kill");
	tmp(ref, "kill_ref");
	experiment_of("kill.cfg", &e);
	t = lat_experiment_trainer_alloc(&e, &status, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t);
	for (int round = 0; round < KILL_ROUNDS; round++) {
		pid_t pid;
		snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
		resumed += access(p, F_OK) == 0;
		/* once the folder exists, --resume: from the checkpoint, or, when a kill came before the first
		 * one, from the start (a fresh run would refuse the folder with the killed run's files) */
		pid = spawn(access(dir, F_OK) == 0 ? resume : fresh);
		/* Every other round first waits for a checkpoint (polling, no time bound: the child either
		 * writes one or exits), so that resumes happen however slow the machine is. */
		if (round % 2 == 1)
			while (access(p, F_OK) != 0 && !exited(pid))
				usleep(1000);
		lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
		usleep((useconds_t)((lcg >> 33) % KILL_MAX_US));
		kills += kill(pid, SIGKILL) == 0;
		rc = finish(pid);
		CU_ASSERT(rc == 1000 + SIGKILL || rc == 0);
		check_train_dir(dir, t, &ckpt_epoch);
	}
	CU_ASSERT(kills >= 20);
	CU_ASSERT(resumed > 0);
	snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
	rc = run_argv(access(dir, F_OK) == 0 ? resume : fresh);
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	check_train_dir(dir, t, &ckpt_epoch);
	CU_ASSERT_EQUAL(ckpt_epoch, 60);
	CU_ASSERT_EQUAL_FATAL(run_argv(reference), 0);
	snprintf(q, sizeof q, "%s/checkpoint.bin", ref);
	CU_ASSERT(same_file(p, q));
	snprintf(p, sizeof p, "%s/epochs.jsonl", dir);
	snprintf(q, sizeof q, "%s/epochs.jsonl", ref);
	CU_ASSERT_EQUAL(count_lines(p), 60);
	CU_ASSERT(same_but_timing(p, q, timing_keys));
	lat_trainer_free(t);
	lat_experiment_clear(&e);
}

/* SIGINT once the first epoch is logged: status 130, a resume command on stderr, and that command
 * ends with the checkpoint of an uninterrupted run; SIGTERM gives 143. */
static void test_sigint_train(void)
{
	char cfg[512], dir[512], ref[512], p[1024], q[1024];
	const char *args[] = {"train", "-q", "--no-plot", "-o", dir, cfg, "--set", "train.epochs=12", NULL};
	const char *again[] = {"train", "-q", "--no-plot", "-o", dir, cfg, "--set", "train.epochs=12", "--resume", NULL};
	const char *reference[] = {"train", "-q", "--no-plot", "-o", ref, cfg, "--set", "train.epochs=12", NULL};
	pid_t pid;

	write_experiment("int.cfg", "epochs = 1; batch = 1; checkpoint_every = 5;",
			 "mode = \"circuit\"; every = 1; presentations = 2;");
	tmp(cfg, "int.cfg");
	tmp(dir, "int");
	tmp(ref, "int_ref");
	snprintf(p, sizeof p, "%s/epochs.jsonl", dir);
	for (int sig = 0; sig < 2; sig++) {
		pid = spawn(sig ? again : args);
		CU_ASSERT_FATAL(wait_lines(pid, p, (size_t)(2 + 4 * sig)));
		kill(pid, sig ? SIGTERM : SIGINT);
		CU_ASSERT_EQUAL_FATAL(finish(pid), sig ? 143 : 130);
		CU_ASSERT_PTR_NOT_NULL(strstr(err_text, sig ? "SIGTERM: stopped after" : "SIGINT: stopped after"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "checkpoint.bin"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "resume with: lateral train -q --no-plot -o"));
		CU_ASSERT_PTR_NOT_NULL(strstr(err_text, " --resume"));
	}
	CU_ASSERT_EQUAL_FATAL(run_argv(again), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "resuming after"));
	CU_ASSERT_EQUAL_FATAL(run_argv(reference), 0);
	snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
	snprintf(q, sizeof q, "%s/checkpoint.bin", ref);
	CU_ASSERT(same_file(p, q));
	snprintf(p, sizeof p, "%s/epochs.jsonl", dir);
	snprintf(q, sizeof q, "%s/epochs.jsonl", ref);
	CU_ASSERT_EQUAL(count_lines(p), 12);
	CU_ASSERT(same_but_timing(p, q, timing_keys));
}

/* lateral run: SIGINT mid-run, then --resume: the same metrics, trace and summary as an uninterrupted
 * run (the summary up to its timing), and the state file is gone at the end. */
static void test_sigint_run(void)
{
	char dir[512], ref[512], p[1024], q[1024];
	const char *args[] = {"run", "--no-plot", "-o", dir, "--set", "circuit.neurons=10", "--set",
			      "run.presentations=100000", NULL};
	const char *again[] = {"run", "--no-plot", "-o", dir, "--set", "circuit.neurons=10", "--set",
			       "run.presentations=100000", "--resume", NULL};
	const char *reference[] = {"run", "-q", "--no-plot", "-o", ref, "--set", "circuit.neurons=10", "--set",
				   "run.presentations=100000", NULL};
	static const char *const keys[] = {"seconds", "microseconds_per_presentation", NULL};
	pid_t pid;

	tmp(dir, "run");
	tmp(ref, "run_ref");
	pid = spawn(args);
	/* the progress table is flushed every 400 presentations: two rows beyond the header, with about
	 * 99000 presentations (a few hundred ms) still to go when SIGINT arrives */
	CU_ASSERT_FATAL(wait_lines(pid, tmp(p, "stdout"), 3));
	kill(pid, SIGINT);
	CU_ASSERT_EQUAL_FATAL(finish(pid), 130);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "SIGINT: stopped after presentation"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "resume with: lateral run --no-plot -o"));
	CU_ASSERT(present(dir, "run_state.bin"));
	CU_ASSERT(!present(dir, "metrics.tsv"));
	CU_ASSERT_EQUAL_FATAL(run_argv(again), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "resuming after presentation"));
	CU_ASSERT_EQUAL_FATAL(run_argv(reference), 0);
	CU_ASSERT(!present(dir, "run_state.bin"));
	for (int k = 0; k < 3; k++) {
		static const char *const files[] = {"metrics.tsv", "trace.tsv", "summary.json"};
		snprintf(p, sizeof p, "%s/%s", dir, files[k]);
		snprintf(q, sizeof q, "%s/%s", ref, files[k]);
		CU_ASSERT(k < 2 ? same_file(p, q) : same_but_timing(p, q, keys));
	}
}

/* lateral sweep: SIGINT after the first finished grid point, then --resume: finished points are
 * skipped and the table is the uninterrupted one (but for the wall-clock column). */
static void test_sigint_sweep(void)
{
	char dir[512], ref[512], p[1024], q[1024];
	const char *args[] = {"sweep", "-q", "--no-plot", "-o", dir, "--set", "circuit.neurons=10", "--set",
			      "run.presentations=2000", "--vary", "plasticity.gamma=0.1,0.3", "--vary", "circuit.inputs=4,9",
			      NULL};
	const char *again[] = {"sweep", "-q", "--no-plot", "-o", dir, "--set", "circuit.neurons=10", "--set",
			       "run.presentations=2000", "--vary", "plasticity.gamma=0.1,0.3", "--vary", "circuit.inputs=4,9",
			       "--resume", NULL};
	const char *other[] = {"sweep", "-q", "--no-plot", "-o", dir, "--set", "circuit.neurons=11", "--set",
			       "run.presentations=2000", "--vary", "plasticity.gamma=0.1,0.3", "--vary", "circuit.inputs=4,9",
			       "--resume", NULL};
	const char *reference[] = {"sweep", "-q", "--no-plot", "-o", ref, "--set", "circuit.neurons=10", "--set",
				   "run.presentations=2000", "--vary", "plasticity.gamma=0.1,0.3", "--vary",
				   "circuit.inputs=4,9", NULL};
	char *a, *b;
	pid_t pid;

	tmp(dir, "sweep");
	tmp(ref, "sweep_ref");
	/* the first grid point is finished (its summary written, then the state) */
	snprintf(p, sizeof p, "%s/run_001/summary.json", dir);
	pid = spawn(args);
	CU_ASSERT_FATAL(wait_lines(pid, p, 1));
	kill(pid, SIGINT);
	CU_ASSERT_EQUAL_FATAL(finish(pid), 130);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "SIGINT: stopped after"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, " --resume\n"));
	CU_ASSERT(!present(dir, "sweep.tsv"));
	/* another model: the finished runs do not belong to it */
	CU_ASSERT_EQUAL(run_argv(other), 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "another model"));
	CU_ASSERT_EQUAL_FATAL(run_argv(again), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "resuming: "));
	CU_ASSERT_PTR_NULL(strstr(err_text, "resuming: 0 of"));
	CU_ASSERT_EQUAL_FATAL(run_argv(reference), 0);
	snprintf(p, sizeof p, "%s/sweep.tsv", dir);
	snprintf(q, sizeof q, "%s/sweep.tsv", ref);
	a = drop_last_column(p);
	b = drop_last_column(q);
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_EQUAL(a, b);
	CU_ASSERT_EQUAL(count_lines(p), 5);
	free(a);
	free(b);
}

/* train: after one good epoch, lr = 1000 (SGD) blows the weights up, and a sharing circuit with one
 * solver step cannot settle: exit 1, the message names epoch, batch and layer, the checkpoint keeps
 * its bytes, and the hint continues from it. */
static void test_train_faults(void)
{
	char cfg[512], dir[512], p[1024];
	const char *first[] = {"train", "-q", "--no-plot", "-o", dir, cfg, NULL};
	const char *blowup[] = {"train", "-q", "--no-plot", "-o", dir, cfg, "--resume", "--set", "train.epochs=40",
				"--set", "train.lr=1000", "--set", "train.checkpoint_every=0", "--set", "sharing.mode=\"none\"",
				NULL};
	const char *stuck[] = {"train", "-q", "--no-plot", "-o", dir, cfg, "--resume", "--set", "train.epochs=3",
			       "--set", "sharing.max_steps=1", "--set", "sharing.method=rk8pd", NULL};
	size_t len0, len1;
	char *before, *after;

	write_experiment("fault.cfg", "epochs = 1; batch = 16; optimizer = \"sgd\";",
			 "mode = \"circuit\"; every = 2; presentations = 2;");
	tmp(cfg, "fault.cfg");
	tmp(dir, "fault");
	CU_ASSERT_EQUAL_FATAL(run_argv(first), 0);
	snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
	before = slurp(p, &len0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(before);

	CU_ASSERT_EQUAL(run_argv(blowup), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, ", batch "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "layer "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "the last good state (the end of epoch 1) is in"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "continue from it with other settings, e.g.: lateral train"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, " --set train.lr=100\n"));
	after = slurp(p, &len1);
	CU_ASSERT(after && len0 == len1 && !memcmp(before, after, len0));
	free(after);

	CU_ASSERT_EQUAL(run_argv(stuck), 1);
	/* 3 batches per epoch, a phase every 2: phase 2 follows global batch 4, epoch 2's first */
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "epoch 2, batch 1: sharing phase 2, layer 1 (lc): no steady state"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, " --set sharing.max_steps=10\n"));
	after = slurp(p, &len1);
	CU_ASSERT(after && len0 == len1 && !memcmp(before, after, len0));
	free(after);
	free(before);
}

/* run: no steady state at presentation 1 (max_steps = 1): exit 1, nothing written; failing later
 * (a large eta), the last good state is saved and names the presentation before the failing one. */
static void test_run_faults(void)
{
	char dir[512], p[1024], err[LAT_ERRLEN] = "";
	const char *stuck[] = {"run", "-q", "--no-plot", "-o", dir, "--set", "solver.max_steps=1", "--set",
			       "solver.method=rk8pd", NULL};
	const char *wild[] = {"run", "-q", "--no-plot", "--force", "-o", dir, "--set", "circuit.neurons=10", "--set",
			      "plasticity.eta=1", NULL};
	unsigned long long failed = 0, saved = 0;
	const char *hit;

	tmp(dir, "runfault");
	CU_ASSERT_EQUAL(run_argv(stuck), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "lateral run: presentation 1: "));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "nothing was saved"));
	/* the suggestion was checked: presentation 1 settles with it */
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "presentation 1 settles with --set solver.max_steps=100"));
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, "--set solver.max_steps=100\n"));
	CU_ASSERT(!present(dir, "metrics.tsv"));
	CU_ASSERT(!present(dir, "run_state.bin"));

	CU_ASSERT_EQUAL(run_argv(wild), 1);
	hit = strstr(err_text, "lateral run: presentation ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
	failed = strtoull(hit + strlen("lateral run: presentation "), NULL, 10);
	hit = strstr(err_text, "the last good state (after presentation ");
	CU_ASSERT_PTR_NOT_NULL_FATAL(hit);
	saved = strtoull(hit + strlen("the last good state (after presentation "), NULL, 10);
	CU_ASSERT(failed > 1);
	CU_ASSERT_EQUAL(saved + 1, failed);
	CU_ASSERT_PTR_NOT_NULL(strstr(err_text, " --resume\n"));
	CU_ASSERT(!present(dir, "metrics.tsv"));
	/* the saved state is the simulation after `saved` presentations, all weights finite */
	{
		lat_model m;
		lat_sim *s;
		lat_sim_status st;
		lat_run_state rs;
		lat_model_init(&m);
		CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "circuit.neurons=10", err), LAT_OK);
		CU_ASSERT_EQUAL_FATAL(lat_model_set(&m, "plasticity.eta=1", err), LAT_OK);
		CU_ASSERT_EQUAL_FATAL(lat_model_finalize(&m, err), LAT_OK);
		s = lat_model_sim_alloc(&m, NULL, err);
		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		snprintf(p, sizeof p, "%s/run_state.bin", dir);
		CU_ASSERT_EQUAL_FATAL(lat_run_state_load(p, m.presentations, s, &rs, err), LAT_OK);
		CU_ASSERT_EQUAL(rs.s.done, saved);
		lat_run_state_clear(&rs);
		lat_sim_measure(s, &st);
		CU_ASSERT_EQUAL(st.presentation, saved);
		for (size_t k = 0; k < 10 * lat_sim_inputs(s); k++)
			CU_ASSERT_FATAL(isfinite(lat_sim_weights(s)[k]));
		lat_sim_free(s);
		lat_model_clear(&m);
	}
}

static int setup(void)
{
	snprintf(tmpdir, sizeof tmpdir, "/tmp/lateral-test-kill-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return idx_write_pair(tmpdir, "tr", 48, 1) || idx_write_pair(tmpdir, "te", 16, 2) ? -1 : 0;
}

static int teardown(void)
{
	test_remove_tree(tmpdir);
	return 0;
}

static CU_TestInfo lib_tests[] = {{"mid-epoch checkpoint resumes bit for bit", test_mid_epoch_resume},
				  {"old, foreign, truncated checkpoints refused", test_checkpoint_formats},
				  {"non-finite gradient and weight name the layer", test_nonfinite_step},
				  {"simulation state resumes bit for bit", test_sim_resume},
				  {"failed presentation keeps the last good state", test_sim_failure_keeps_state},
				  CU_TEST_INFO_NULL};
static CU_TestInfo cli_tests[] = {{"SIGKILL at random moments, then resume", test_sigkill_train},
				  {"train: SIGINT / SIGTERM and --resume", test_sigint_train},
				  {"run: SIGINT and --resume", test_sigint_run},
				  {"sweep: SIGINT and --resume", test_sigint_sweep},
				  {"train: blow-up and unsteady sharing keep the checkpoint", test_train_faults},
				  {"run: failures keep the last good state", test_run_faults},
				  CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {
    {.pName = "resume", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = lib_tests},
    {.pName = "signals", .pInitFunc = setup, .pCleanupFunc = teardown, .pTests = cli_tests},
    CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
