/* model.h: model files (libconfig) for the circuit simulator: strict, table-driven loading and overrides. */
#ifndef LATERAL_MODEL_H
#define LATERAL_MODEL_H

#include <stddef.h>

#include "lateral/circuit.h"
#include "lateral/ode.h"
#include "lateral/rule.h"
#include "lateral/sim.h"

/* Thread safety: reentrant on distinct models (libconfig keeps no global state). */

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { LAT_UPDATE_ONLINE, LAT_UPDATE_BATCH } lat_update;
typedef enum { LAT_TIMING_FIXEDPOINT, LAT_TIMING_CONTINUOUS } lat_timing;

/* Everything a simulation needs, as plain numbers and owned arrays (no libconfig types). */
typedef struct {
	char *source; /* file name used in messages ("<built-in default>" for the embedded model, a static
		       * string); owned: release only with lat_model_clear */

	/* circuit */
	size_t neurons, inputs; /* N, d */
	double tau, tau_inh, alpha, bias;
	double bias_tau, bias_rho, rate_target; /* bias_tau > 0 makes b homeostatic */
	int relu;                               /* nonlinearity = "relu" */

	/* weights: W^init = init_mean + init_std * N(0,1), or read from file (N rows x d columns) */
	double init_mean, init_std;
	unsigned long weights_seed;
	char *weights_file;     /* owned path as written in the model (relative to the model's folder) */
	double *weights_init;   /* owned, N x d, filled by lat_model_finalize from weights_file, else NULL */

	/* input: x = mean + L g, g ~ N(0, I), L from std (isotropic), cov_diag or cov (full, Cholesky) */
	double input_mean, input_std;
	double *input_cov_diag; /* owned, d values, or NULL */
	double *input_cov;      /* owned, d x d, or NULL */
	size_t n_cov_diag, n_cov; /* number of values in input_cov_diag and input_cov (checked by finalize) */
	size_t input_count;     /* M fixed inputs cycled; 0 = a fresh draw every presentation; finalize sets it
				 * to the rows of input_file */
	unsigned long input_seed;
	char *input_file;       /* owned path (M rows x d columns) or NULL */
	double *inputs_fixed;   /* owned, M x d, filled by lat_model_finalize from input_file, else NULL */

	/* plasticity */
	double eta, gamma, momentum;
	lat_schedule schedule;
	double schedule_tau; /* inverse_sqrt: eta_t = eta / sqrt(1 + t / schedule_tau), t in updates */
	lat_update update;
	lat_timing timing;
	double duration;     /* continuous timing: simulated time per presentation */

	/* solver */
	lat_method method;
	double rtol, atol, steady_tol;
	double t_max; /* simulated time allowed per settle; 0 = derived (lat_model_t_max) */
	long max_steps;

	/* run */
	size_t presentations, record_every, trace_presentations;
	size_t save_weights_every; /* run.save_weights_every: weights_NNNNNNN.tsv every this many presentations (0: none) */
	double trace_dt; /* sampling interval of `lateral trace`; 0 = min(tau, tau_inh) / 10 */
} lat_model;

/* Fills m with the documented defaults (the built-in default model) and no owned arrays. */
void lat_model_init(lat_model *m);

/* Frees the owned strings and arrays and re-initialises m; safe on an initialised model. */
void lat_model_clear(lat_model *m);

/* Reads a model file over the current contents of m (keys not in the file keep their values).
 * Strict: syntax errors, unknown sections or keys, wrong types (an int where a float is meant is
 * accepted; a float where an int is meant is not), out-of-range values are LAT_ECONFIG with a message
 * "FILE:LINE: section.key: what was expected"; so is a file without settings. Does not cross-check
 * sizes: call lat_model_finalize. */
int lat_model_load(lat_model *m, const char *path, char *err);

/* Same as lat_model_load from a string; name is used in messages. */
int lat_model_load_string(lat_model *m, const char *text, const char *name, char *err);

/* Applies one override "section.key=value" (value in libconfig syntax: 3, 2.5, "bdf", [1.0, 2.0]) with
 * the same validation as a file; messages start with "--set section.key=value:". */
int lat_model_set(lat_model *m, const char *assignment, char *err);

/* lat_model_set for an assignment that came with another command-line option (e.g. "--vary"): messages
 * start with "OPTION section.key=value:". Borrows both strings. */
int lat_model_set_as(lat_model *m, const char *option, const char *assignment, char *err);

/* Cross-checks sizes and combinations and loads the referenced data files (relative paths are taken
 * relative to the folder of m->source). Call once, after loading and overrides. */
int lat_model_finalize(lat_model *m, char *err);

/* Writes the full model, every key, in libconfig syntax (a valid model file). Returns 0 or LAT_EIO. */
int lat_model_write(const lat_model *m, FILE *fp);

/* Number of fixed inputs M (input_count, or the rows of input_file after finalize). */
size_t lat_model_n_fixed(const lat_model *m);

/* The circuit parameters of m (a plain value copy). */
void lat_model_circuit(const lat_model *m, lat_circuit *c);

/* Settles allowed this many slowest time constants when solver.t_max is 0: a residual decaying as
 * exp(-kappa t) falls by e^-60 = 1e-26 in that time, from any amplitude a rate model reaches. */
#define LAT_T_MAX_RATES 60.0

/* The simulated time allowed per settle: solver.t_max, or when it is 0, LAT_T_MAX_RATES / kappa with
 * kappa the slowest decay rate of the linear circuit (lat_circuit_slowest_rate; the homeostatic bias
 * mode when it is the slowest). */
double lat_model_t_max(const lat_model *m);

/* The simulation options of a finalized model m (borrowed: its arrays stay m's). */
void lat_model_sim_opts(const lat_model *m, lat_sim_opts *o);

/* lat_sim_alloc for a finalized model, after its plan (lat_model_sim_plan) has passed. */
lat_sim *lat_model_sim_alloc(const lat_model *m, FILE *solver_log, char *err);

/* An upper estimate (*bytes) of what the simulation of m allocates (lat_sim_plan), for planning before
 * allocating. LAT_ECONFIG naming the keys when that is beyond what a process can address. */
int lat_model_sim_plan(const lat_model *m, size_t *bytes, char *err);

/* The trace buffer that holds any one presentation of m: the sampling interval *dt (run.trace_dt, or
 * min(tau, tau_inh) / 10 when it is 0), its rows *cap (the samples up to solver.t_max, or
 * plasticity.duration with continuous timing, and the end points) and its *bytes (rows of N + 3 values).
 * LAT_ECONFIG naming the keys when the interval is 0 (time constants too small) or the buffer is beyond
 * what a process can address. */
int lat_model_trace_plan(const lat_model *m, double *dt, size_t *cap, size_t *bytes, char *err);

#ifdef __cplusplus
}
#endif

#endif
