/* share_cost.c: cost of one sharing phase per presentation, as a multiple of one forward pass of the
 * layer (per image), for the two lc layers of the reference network and every mode and ODE backend.
 * Also prints the pool SNR (docs/science.md section 5) before and after the phase, from the layer's initial
 * kernels (after SHARE_PHASES phases, default 1). Build with `make bench/share_cost`; usage: bench/share_cost [PRESENTATIONS] [METHODS...] */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_errno.h>
#include <gsl/gsl_rng.h>

#include "lateral/err.h"
#include "lateral/layer.h"
#include "lateral/share.h"

#define BATCH 128

extern void openblas_set_num_threads(int);

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Seconds of one forward pass per image at batch 128 (best of 5). */
static double forward_per_image(lat_layer *l, const float *x, float *y)
{
	double best = INFINITY;
	for (int r = 0; r < 5; r++) {
		double t0 = now();
		l->type->forward(l, x, y, BATCH, 0);
		best = fmin(best, now() - t0);
	}
	return best / BATCH;
}

static int run_layer(const char *name, lat_shape in, size_t c_out, size_t presentations, char **methods,
		     int n_methods)
{
	const char *env = getenv("SHARE_PHASES");
	long phases = env && atol(env) > 0 ? atol(env) : 1;
	char err[LAT_ERRLEN];
	lat_layer *l = lat_lc_alloc(in, c_out, 5, 1, 1, BATCH, err);
	float *w, *g, *x, *y;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	lat_lc_geom geom;
	double fwd;

	if (!l || !r) {
		fprintf(stderr, "share_cost: %s\n", err);
		return 1;
	}
	w = calloc(l->n_params, sizeof *w);
	g = calloc(l->n_params, sizeof *g);
	x = malloc(BATCH * lat_shape_size(in) * sizeof *x);
	y = malloc(BATCH * lat_shape_size(l->out) * sizeof *y);
	lat_layer_bind(l, w, g, NULL);
	l->type->init(l, r);
	for (size_t k = 0; k < BATCH * lat_shape_size(in); k++)
		x[k] = (float)gsl_rng_uniform(r);
	fwd = forward_per_image(l, x, y);
	lat_lc_geometry(l, &geom);
	printf("%s: forward pass %.3f ms per image\n", name, 1e3 * fwd);
	for (int m = -1; m < n_methods; m++) {
		lat_share_opts o = {.mode = m < 0 ? LAT_SHARE_HEBBIAN : LAT_SHARE_CIRCUIT,
				    .border = LAT_BORDER_EXCLUDE,
				    .presentations = presentations,
				    .iterations = 1,
				    .eta = 0.1,
				    .gamma = 0.01,
				    .circuit = {.n = 1, .tau = 30, .tau_inh = 30, .alpha = 10, .bias = 1},
				    .ode = {.rtol = 1e-6, .atol = 1e-9, .steady_tol = 1e-6, .t_max = 5000, .max_steps = 100000},
				    .seed = 1};
		lat_share_stats st;
		lat_share *s;
		double snr0;
		if (m >= 0 && lat_method_parse(methods[m], &o.ode.method)) {
			fprintf(stderr, "share_cost: unknown method %s\n", methods[m]);
			return 2;
		}
		/* every mode starts from the same initial kernels */
		gsl_rng_set(r, 1);
		l->type->init(l, r);
		s = lat_share_alloc(&geom, &o, err);
		snr0 = s ? lat_share_snr(s, w) : 0;
		if (!s || lat_share_phase(s, w, &st, err)) {
			fprintf(stderr, "share_cost: %s\n", err);
			return 1;
		}
		/* SHARE_PHASES > 1: further phases (timed is the first) to see the SNR the phases build up */
		for (long k = 1; k < phases; k++) {
			lat_share_stats more;
			if (lat_share_phase(s, w, &more, err)) {
				fprintf(stderr, "share_cost: %s\n", err);
				return 1;
			}
		}
		printf("  %-20s %8.3f s per phase  %10.1f forward passes per presentation  pool SNR %.4f -> %.4f\n",
		       m < 0 ? "hebbian" : methods[m], st.seconds, st.seconds / (double)presentations / fwd, snr0,
		       lat_share_snr(s, w));
		lat_share_free(s);
	}
	lat_layer_free(l);
	free(w);
	free(g);
	free(x);
	free(y);
	gsl_rng_free(r);
	return 0;
}

int main(int argc, char **argv)
{
	static char *all[] = {"exact", "rk8pd", "adams", "bdf"};
	size_t presentations = argc > 1 ? (size_t)atol(argv[1]) : 16;
	char **methods = argc > 2 ? argv + 2 : all;
	int n_methods = argc > 2 ? argc - 2 : 4;

	gsl_set_error_handler_off();
	openblas_set_num_threads(1);
	if (presentations == 0) {
		fprintf(stderr, "usage: %s [PRESENTATIONS >= 1] [METHOD...]\n", argv[0]);
		return 2;
	}
	printf("# one sharing phase of %zu presentations, 1 iteration; circuit tau = tau_inh = 30, alpha = 10\n",
	       presentations);
	return run_layer("lc 1x28x28 -> 32, k5", (lat_shape){1, 28, 28}, 32, presentations, methods, n_methods) ||
	       run_layer("lc 32x14x14 -> 64, k5", (lat_shape){32, 14, 14}, 64, presentations, methods, n_methods);
}
