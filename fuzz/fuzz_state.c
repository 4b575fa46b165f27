/* fuzz_state.c: libFuzzer harness for the state files, through the loaders --resume and eval use.
 * Input layout: one flags byte, then the file. Bits 0-1 of the flags choose the kind: 0 run_state.bin
 * (lat_run_state_load), 1 checkpoint.bin (lat_trainer_load), 2 sweep_state.bin (lat_sweep_state_load),
 * 3 a simulation state (lat_sim_load). Bit 2 recomputes the checksum before loading (so that mutations
 * reach the checks of the values), bit 3 also that of the simulation nested in a run state.
 * With FUZZ_STATE_SEEDS=DIR the first input writes valid files of every kind to DIR (the seed corpus:
 * fuzz/corpus/fuzz_state) and exits. */
#include <config.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "lateral/ckpt.h"
#include "lateral/experiment.h"
#include "lateral/model.h"
#include "lateral/net.h"
#include "lateral/sim.h"
#include "lateral/state.h"
#include "lateral/trainer.h"

#define STATE_N_RUNS 4
#define STATE_N_COLS 3
#define STATE_IMAGES 4 /* 4 x 4 images of the trainer's data set */
#define STATE_SIDE 4

/* The fixtures every input is loaded into, built on first use (the sizes are the seeds'). */
static lat_model state_model;
static lat_sim *state_sim;
static lat_experiment state_exp;
static lat_trainer *state_trainer;
static const lat_sweep_column state_cols[STATE_N_COLS] = {
    {"ratio", LAT_SWEEP_RATIO}, {"p50", LAT_SWEEP_PRESENTATION}, {"steps", LAT_SWEEP_NONNEG}};
static const unsigned long long state_hash[STATE_N_RUNS] = {11, 22, 33, 44};
static const size_t state_pres[STATE_N_RUNS] = {50, 50, 50, 100};

static void state_fail(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_state: %s: %s\n", what, err);
	abort();
}

static void state_put_be32(FILE *fp, unsigned v)
{
	fputc((int)(v >> 24), fp);
	fputc((int)(v >> 16) & 0xff, fp);
	fputc((int)(v >> 8) & 0xff, fp);
	fputc((int)v & 0xff, fp);
}

/* A scratch file holding text (or the IDX files of the data set), removed once the trainer has it. */
static const char *state_scratch(char *path, const char *name)
{
	snprintf(path, 400, "%s/%s", fuzz_scratch(), name);
	return path;
}

static void state_fixtures(void)
{
	static const char *const sets[] = {"circuit.neurons=4", "circuit.inputs=3", "run.presentations=50",
					   "run.record_every=5", "run.trace_presentations=1"};
	char err[LAT_ERRLEN] = "", cfg[400], images[400], labels[400];
	FILE *fi, *fl, *fc;
	int status;

	if (state_sim)
		return;
	fuzz_file(0, "init", (const uint8_t *)"", 0); /* creates the scratch directory */
	lat_model_init(&state_model);
	for (size_t k = 0; k < sizeof sets / sizeof sets[0]; k++)
		if (lat_model_set(&state_model, sets[k], err))
			state_fail(sets[k], err);
	if (lat_model_finalize(&state_model, err) || !(state_sim = lat_model_sim_alloc(&state_model, NULL, err)))
		state_fail("model", err);

	/* 4 images 4 x 4, two classes (bright left or right half), for lc -> bn -> relu -> linear */
	fi = fopen(state_scratch(images, "images"), "wb");
	fl = fopen(state_scratch(labels, "labels"), "wb");
	fc = fopen(state_scratch(cfg, "experiment.cfg"), "w");
	if (!fi || !fl || !fc)
		fuzz_die("fuzz_state: fixture");
	state_put_be32(fi, 0x803);
	state_put_be32(fi, STATE_IMAGES);
	state_put_be32(fi, STATE_SIDE);
	state_put_be32(fi, STATE_SIDE);
	state_put_be32(fl, 0x801);
	state_put_be32(fl, STATE_IMAGES);
	for (int i = 0; i < STATE_IMAGES; i++) {
		for (int p = 0; p < STATE_SIDE * STATE_SIDE; p++)
			fputc((p % STATE_SIDE < STATE_SIDE / 2) == (i % 2 == 0) ? 200 : 40 + 10 * i, fi);
		fputc(i % 2, fl);
	}
	fprintf(fc,
		"data = { train_images = \"images\"; train_labels = \"labels\"; test_images = \"images\"; "
		"test_labels = \"labels\"; };\n"
		"network = { layers = ( { type = \"lc\"; channels = 1; kernel = 3; }, { type = \"bn\"; }, "
		"{ type = \"relu\"; }, { type = \"linear\"; outputs = 10; } ); };\n"
		"train = { epochs = 3; batch = 2; threads = 1; };\n");
	if (fclose(fi) || fclose(fl) || fclose(fc))
		fuzz_die("fuzz_state: fixture");
	lat_experiment_init(&state_exp);
	if (lat_experiment_load(&state_exp, cfg, err) || lat_experiment_finalize(&state_exp, err))
		state_fail("experiment", err);
	state_trainer = lat_experiment_trainer_alloc(&state_exp, &status, err);
	if (!state_trainer)
		state_fail("trainer", err);
	unlink(images);
	unlink(labels);
	unlink(cfg);
}

/* Writes the seeds: every kind, as it is and with the reseal flags. */
static void state_seeds(const char *dir)
{
	char err[LAT_ERRLEN] = "", p[600];
	char *model = NULL, *mem = NULL;
	size_t model_len = 0, mem_len = 0;
	lat_run_sums s = {0};
	double rec_p[3] = {0, 5, 10}, rec_s[3] = {0.5, 0.7, 0.9}, vals[STATE_N_RUNS * STATE_N_COLS];
	int done[STATE_N_RUNS] = {1, 0, 1, 1};
	const char *metrics = "# presentation\tsnr\n0\t0.5\n5\t0.7\n10\t0.9\n";
	const char *trace = "# presentation\tt\tr_1\tr_2\tr_3\tr_4\tr_inh\tb\n1\t0\t1\t1\t1\t1\t0\t1\n";
	FILE *fp = open_memstream(&model, &model_len);

	lat_model_write(&state_model, fp);
	fclose(fp);
	for (int k = 0; k < 12; k++)
		if (lat_sim_present(state_sim, NULL, NULL, err))
			state_fail("present", err);
	s = (lat_run_sums){.done = 12,
			   .since = 2,
			   .n_rec = 3,
			   .model_len = model_len,
			   .metrics_len = strlen(metrics),
			   .trace_len = strlen(trace),
			   .sum_settle = 3,
			   .sum_steps = 40,
			   .tot_settle = 20,
			   .tot_steps = 300,
			   .tot_rhs = 900,
			   .tot_jac = 10,
			   .t0 = 120,
			   .seconds = 0.01,
			   .min_rtol_used = 1e-8,
			   .max_steady_error = NAN,
			   .init_snr = 0.5,
			   .init_inv_snr = 2,
			   .init_cos_mean = 1,
			   .init_mean_ratio = 1,
			   .init_dist_wstar = NAN};
	s.by_method[LAT_METHOD_EXACT] = 12;
	snprintf(p, sizeof p, "%s/run_state.bin", dir);
	if (lat_run_state_save(p, &s, model, rec_p, rec_s, metrics, trace, state_sim, err))
		state_fail("run state", err);
	fp = open_memstream(&mem, &mem_len);
	lat_sim_save(state_sim, fp, err);
	fclose(fp);
	snprintf(p, sizeof p, "%s/sim.bin", dir);
	fp = fopen(p, "wb");
	if (!fp || fwrite(mem, 1, mem_len, fp) != mem_len || fclose(fp))
		fuzz_die(p);
	/* checkpoints at an epoch boundary and in the middle of an epoch */
	lat_trainer_begin_epoch(state_trainer);
	while (lat_trainer_step(state_trainer, err) == 1)
		;
	snprintf(p, sizeof p, "%s/checkpoint.bin", dir);
	if (lat_trainer_save(state_trainer, p, err))
		state_fail("checkpoint", err);
	lat_trainer_begin_epoch(state_trainer);
	if (lat_trainer_step(state_trainer, err) != 1)
		state_fail("step", err);
	snprintf(p, sizeof p, "%s/checkpoint_mid.bin", dir);
	if (lat_trainer_save(state_trainer, p, err))
		state_fail("checkpoint", err);
	for (size_t k = 0; k < STATE_N_RUNS * STATE_N_COLS; k++)
		vals[k] = k % 3 == 0 ? (k == 3 ? NAN : 1.5) : k % 3 == 1 ? (k == 4 ? NAN : 20) : 33.25;
	snprintf(p, sizeof p, "%s/sweep_state.bin", dir);
	if (lat_sweep_state_save(p, STATE_N_RUNS, STATE_N_COLS, done, state_hash, vals, err))
		state_fail("sweep state", err);
	free(model);
	free(mem);
	/* the seeds: flags byte + file */
	{
		static const struct {
			const char *file;
			int kind;
		} files[] = {{"run_state.bin", 0},
			     {"checkpoint.bin", 1},
			     {"checkpoint_mid.bin", 1},
			     {"sweep_state.bin", 2},
			     {"sim.bin", 3}};
		for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
			for (int flags = 0; flags < 16; flags += 4) {
				char q[700];
				size_t len = 0;
				uint8_t *b;
				FILE *in, *out;
				if (flags == 8 || (flags == 12 && files[f].kind != 0))
					continue;
				snprintf(p, sizeof p, "%s/%s", dir, files[f].file);
				snprintf(q, sizeof q, "%s/ok_%s_%d", dir, files[f].file,
					 flags | files[f].kind);
				in = fopen(p, "rb");
				out = fopen(q, "wb");
				if (!in || !out)
					fuzz_die(q);
				fseek(in, 0, SEEK_END);
				len = (size_t)ftell(in);
				fseek(in, 0, SEEK_SET);
				b = malloc(len + 1);
				if (!b || fread(b, 1, len, in) != len)
					fuzz_die(p);
				fputc(flags | files[f].kind, out);
				fwrite(b, 1, len, out);
				free(b);
				fclose(in);
				if (fclose(out))
					fuzz_die(q);
			}
			unlink(p);
		}
	}
}

/* Offset of the data of section tag in a container (len bytes), or 0; *n its length. */
static size_t state_section(const uint8_t *b, size_t len, const char *tag, size_t *n)
{
	size_t off = 20;
	while (len >= 16 && off <= len - 16 && memcmp(b + off, "END!", 4)) {
		uint64_t slen = 0;
		for (int k = 7; k >= 0; k--)
			slen = slen << 8 | b[off + 8 + (size_t)k];
		if (slen > len - off - 16)
			return 0;
		if (!memcmp(b + off, tag, 4)) {
			*n = (size_t)slen;
			return off + 16;
		}
		off += 16 + (size_t)slen;
	}
	return 0;
}

static int state_finite(const double *v, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!isfinite(v[k]))
			return 0;
	return 1;
}

/* One input (layout above). Returns the loader's status (message in err). On success the loaded state
 * must satisfy what the loader promises, and continuing from it (a presentation, a training step, an
 * evaluation) must not crash. */
static int fuzz_state_run(const uint8_t *data, size_t size, char *err)
{
	static const char *const names[] = {"run_state.bin", "checkpoint.bin", "sweep_state.bin", "sim.bin"};
	const char *seeds = getenv("FUZZ_STATE_SEEDS"), *path;
	uint8_t *b;
	int kind, rc;

	err[0] = '\0';
	state_fixtures();
	if (seeds && *seeds) {
		state_seeds(seeds);
		fuzz_cleanup();
		_exit(0);
	}
	if (size < 1)
		return LAT_EINVAL;
	kind = data[0] & 3;
	b = malloc(size);
	if (!b)
		fuzz_die("fuzz_state: malloc");
	memcpy(b, data + 1, size - 1);
	if (data[0] & 8) {
		size_t n = 0, off = state_section(b, size - 1, "SIM ", &n);
		if (off && n >= 4)
			lat_ckpt_reseal(b + off, n);
	}
	if (data[0] & 4 && size - 1 >= 4)
		lat_ckpt_reseal(b, size - 1);
	path = fuzz_file(0, names[kind], b, size - 1);
	free(b);

	if (kind == 0) {
		lat_run_state st;
		lat_sim_status ss;
		rc = lat_run_state_load(path, state_model.presentations, state_sim, &st, err);
		fuzz_check_error(rc, err, path);
		if (!rc) {
			lat_sim_measure(state_sim, &ss);
			if (st.s.done > state_model.presentations || ss.presentation != st.s.done ||
			    st.s.n_rec < 1 || st.rec_p[0] != 0 || st.s.since > st.s.done ||
			    strlen(st.metrics) != st.s.metrics_len ||
			    !state_finite(lat_sim_weights(state_sim), 12))
				state_fail("run state accepted", "a field out of range");
			lat_sim_present(state_sim, NULL, NULL, err);
			lat_run_state_clear(&st);
		}
	} else if (kind == 1) {
		lat_net *net = lat_trainer_net(state_trainer);
		double acc, loss;
		rc = lat_trainer_load(state_trainer, path, err);
		fuzz_check_error(rc, err, path);
		if (!rc) {
			const float *w = lat_net_params(net);
			for (size_t k = 0; k < lat_net_n_params(net); k++)
				if (!isfinite(w[k]))
					state_fail("checkpoint accepted", "a non-finite parameter");
			if (lat_trainer_epoch(state_trainer) > LAT_EPOCHS_MAX)
				state_fail("checkpoint accepted", "an epoch past LAT_EPOCHS_MAX");
			lat_trainer_evaluate(state_trainer, 0, &acc, &loss, err);
			if (lat_trainer_epoch(state_trainer) < state_exp.epochs) {
				lat_trainer_begin_epoch(state_trainer);
				lat_trainer_step(state_trainer, err);
			}
		}
	} else if (kind == 2) {
		int done[STATE_N_RUNS] = {0};
		double vals[STATE_N_RUNS * STATE_N_COLS];
		size_t n_done = 0, count = 0;
		rc = lat_sweep_state_load(path, STATE_N_RUNS, STATE_N_COLS, state_cols, state_hash,
					  state_pres, done, vals, &n_done, err);
		fuzz_check_error(rc, err, path);
		for (size_t r = 0; !rc && r < STATE_N_RUNS; r++)
			if (done[r]) {
				count++;
				if (vals[r * STATE_N_COLS] < 0 ||
				    !(isnan(vals[r * STATE_N_COLS + 1]) ||
				      vals[r * STATE_N_COLS + 1] <= (double)state_pres[r]) ||
				    !isfinite(vals[r * STATE_N_COLS + 2]))
					state_fail("sweep state accepted",
						   "a value out of its column's range");
			}
		if (!rc && count != n_done)
			state_fail("sweep state accepted", "a count that is not the finished runs'");
	} else {
		FILE *fp = fopen(path, "rb");
		if (!fp)
			fuzz_die(path);
		rc = lat_sim_load(state_sim, fp, path, err);
		fclose(fp);
		fuzz_check_error(rc, err, path);
		if (!rc) {
			if (!state_finite(lat_sim_weights(state_sim), 12))
				state_fail("simulation state accepted", "a non-finite weight");
			lat_sim_present(state_sim, NULL, NULL, err);
		}
	}
	if (rc != LAT_OK && rc != LAT_ECONFIG)
		state_fail("unexpected status", err);
	return rc;
}

FUZZ_ENTRY(fuzz_state_run)
