/* state.h: the state files of `lateral run` (run_state.bin) and `lateral sweep` (sweep_state.bin). */
#ifndef LATERAL_STATE_H
#define LATERAL_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "lateral/ode.h"
#include "lateral/sim.h"

/* Thread safety: reentrant on distinct files and objects. */

#ifdef __cplusplus
extern "C" {
#endif

/* What an interrupted study carries besides the simulation: counts and running sums. The lengths
 * (n_rec, model_len, metrics_len, trace_len) describe the arrays and texts saved with it. */
typedef struct {
	uint64_t done, since, n_rec, model_len, metrics_len, trace_len;
	double sum_settle, sum_steps, tot_settle, tot_steps, tot_rhs, tot_jac, t0, seconds;
	double min_rtol_used, max_steady_error;
	double init_snr, init_inv_snr, init_cos_mean, init_mean_ratio, init_dist_wstar;
	double by_method[LAT_METHOD_AUTO + 1], polished, switches;
} lat_run_sums;

/* A loaded run state; every pointer is owned (free with lat_run_state_clear). */
typedef struct {
	lat_run_sums s;
	char *model;	       /* the model text it was made with (s.model_len bytes, NUL-terminated) */
	double *rec_p, *rec_s; /* recorded presentations and their SNR (s.n_rec each) */
	char *metrics, *trace; /* metrics.tsv and trace.tsv so far (s.metrics_len, s.trace_len bytes) */
} lat_run_state;

/* Writes run_state.bin atomically (a container of kind LAT_CKPT_RUN, see ckpt.h): s (whose lengths
 * give the sizes of the borrowed model text, records and texts) and sim's state (lat_sim_save). LAT_EIO
 * or LAT_ENOMEM with err naming path. */
int lat_run_state_save(const char *path, const lat_run_sums *s, const char *model, const double *rec_p,
		       const double *rec_s, const char *metrics, const char *trace, lat_sim *sim, char *err);

/* Reads run_state.bin into st (cleared first) and sim (as lat_sim_load), after checking the container
 * and every field: presentations done within the study's presentations and
 * equal to the simulation's, the records (0, then increasing whole presentations, the last one `since`
 * before `done`), the sums (finite and not negative where they must be), the texts (printable, one
 * metrics row per record). On error st is empty and sim unchanged; LAT_ECONFIG with err naming path and
 * what is wrong, LAT_EIO when path cannot be read, LAT_ENOMEM. */
int lat_run_state_load(const char *path, size_t presentations, lat_sim *sim, lat_run_state *st, char *err);
void lat_run_state_clear(lat_run_state *st);

/* What a sweep's table column may hold (checked on load). */
typedef enum {
	LAT_SWEEP_RATIO,	/* a ratio of non-negative quantities: >= 0 (+inf included) or NaN */
	LAT_SWEEP_PRESENTATION, /* a whole number of presentations within the run's, or NaN (never reached) */
	LAT_SWEEP_NONNEG	/* finite and >= 0 */
} lat_sweep_kind;

typedef struct {
	const char *name; /* the column's heading, for messages */
	lat_sweep_kind kind;
} lat_sweep_column;

/* Writes sweep_state.bin atomically (kind LAT_CKPT_SWEEP): for each of the n_runs runs with done[r],
 * its number, the hash of its model and its n_cols values vals[r * n_cols ..]. LAT_EIO naming path. */
int lat_sweep_state_save(const char *path, size_t n_runs, size_t n_cols, const int *done,
			 const unsigned long long *hash, const double *vals, char *err);

/* Reads sweep_state.bin for a grid of n_runs runs whose models hash to hash[] and run presentations[r]
 * presentations, with n_cols columns of the kinds cols[]: sets done[r] and vals[r * n_cols ..] of every
 * finished run and *n_done. Refuses (LAT_ECONFIG naming path) a state of another grid size or column
 * count, run numbers out of range or not increasing, a run whose model hash differs from this grid's
 * ("made with another model"), and values a column cannot hold; done, vals and *n_done are then unchanged.
 * LAT_EIO when path cannot be read. */
int lat_sweep_state_load(const char *path, size_t n_runs, size_t n_cols, const lat_sweep_column *cols,
			 const unsigned long long *hash, const size_t *presentations, int *done, double *vals,
			 size_t *n_done, char *err);

#ifdef __cplusplus
}
#endif

#endif
