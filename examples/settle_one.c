/* settle_one.c: settle one N = 100 pool to its fixed point with every ODE method and time it.
 * A standalone user of the installed library:
 *   cc settle_one.c $(pkg-config --cflags lateral) $(pkg-config --libs --static lateral) */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gsl/gsl_rng.h>

#include <lateral/circuit.h>
#include <lateral/err.h>
#include <lateral/ode.h>

#define N_UNITS 100
#define N_SETTLES 200

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return 1e6 * (double)ts.tv_sec + 1e-3 * (double)ts.tv_nsec;
}

static void new_drive(gsl_rng *r, double *z)
{
	size_t i;

	for (i = 0; i < N_UNITS; i++)
		z[i] = gsl_rng_uniform(r);
}

/* Settles N_SETTLES times, each with a new drive, starting from the previous fixed point. */
static int run(lat_method m, const lat_circuit *c, const lat_ode_opts *base)
{
	double z[N_UNITS], y[N_UNITS + 1], ystar[N_UNITS + 1];
	double t_sum = 0, steps_sum = 0, rhs_sum = 0, jac_sum = 0, err_max = 0, elapsed;
	char err[LAT_ERRLEN];
	lat_circuit_batch batch = {.c = c, .n_circuits = 1, .z = z};
	lat_ode_system sys;
	lat_ode_opts opts = *base;
	lat_ode_stats st;
	lat_ode *o = NULL;
	gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
	int status = LAT_ENOMEM, k;
	size_t i;

	if (!r)
		goto out;
	opts.method = m;
	lat_circuit_batch_system(&batch, &sys);
	o = lat_ode_alloc(&sys, &opts, err);
	if (!o) {
		fprintf(stderr, "%s: %s\n", lat_method_name(m), err);
		goto out;
	}
	new_drive(r, z);
	status = lat_circuit_steady(c, z, y, err);
	elapsed = -now_us();
	for (k = 0; k < N_SETTLES && !status; k++) {
		new_drive(r, z);
		status = lat_ode_settle(o, y, &st, err);
		t_sum += st.settle_time;
		steps_sum += (double)st.steps;
		rhs_sum += (double)st.rhs_evals;
		jac_sum += (double)st.jac_evals;
		/* the error check is outside the timed work only in spirit: it is O(N) */
		if (!status)
			status = lat_circuit_steady(c, z, ystar, err);
		for (i = 0; i < N_UNITS + 1 && !status; i++)
			err_max = fmax(err_max, fabs(y[i] - ystar[i]));
	}
	elapsed += now_us();
	if (status) {
		printf("%-6s failed on settle %d: %s\n", lat_method_name(m), k, err);
		goto out;
	}
	printf("%-6s %12.1f %8.1f %10.1f %8.1f %12.1f %12.2e\n", lat_method_name(m), t_sum / N_SETTLES,
	       steps_sum / N_SETTLES, rhs_sum / N_SETTLES, jac_sum / N_SETTLES, elapsed / N_SETTLES, err_max);
out:
	lat_ode_free(o);
	gsl_rng_free(r);
	return status;
}

/* Usage: settle_one [RTOL]; every method runs with atol = RTOL / 100 and steady_tol = 1e-6. */
int main(int argc, char **argv)
{
	const lat_circuit c = {.n = N_UNITS, .tau = 30, .tau_inh = 30, .alpha = 10, .bias = 1};
	lat_ode_opts opts = {.rtol = 1e-6, .steady_tol = 1e-6, .t_max = 1e4, .max_steps = 100000};
	const lat_method methods[] = {LAT_METHOD_BDF, LAT_METHOD_ADAMS, LAT_METHOD_RK8PD, LAT_METHOD_EXACT};
	size_t i;
	int failed = 0;

	if (argc > 1)
		opts.rtol = atof(argv[1]);
	if (!(opts.rtol > 0)) {
		fprintf(stderr, "usage: %s [RTOL > 0]\n", argv[0]);
		return 2;
	}
	opts.atol = opts.rtol / 100;
	printf("# N = %d, tau = tau_inh = 30, alpha = 10, b = 1, rtol = %g, atol = %g, steady_tol = %g; "
	       "mean over %d settles, each from the previous fixed point with a new drive\n",
	       N_UNITS, opts.rtol, opts.atol, opts.steady_tol, N_SETTLES);
	printf("#method settle_time    steps  rhs_evals jac_evals  us/settle  max|y-y*|\n");
	for (i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (!getenv("ONLY") || !strcmp(getenv("ONLY"), lat_method_name(methods[i])))
			failed |= run(methods[i], &c, &opts) != LAT_OK;
	return failed ? 1 : 0;
}
