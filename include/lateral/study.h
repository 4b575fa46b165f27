/* study.h: the convergence study of one pool: its presentations, records, metrics and trace text, and
 * saving and resuming it (run_state.bin, state.h). */
#ifndef LATERAL_STUDY_H
#define LATERAL_STUDY_H

#include <stddef.h>

#include "lateral/sim.h"
#include "lateral/state.h"

/* Thread safety: a study belongs to one thread at a time, with its simulation. */

#ifdef __cplusplus
extern "C" {
#endif

/* How long a study runs and what it records. */
typedef struct {
	size_t presentations;	    /* in all (> 0) */
	size_t record_every;	    /* a record every this many presentations, and at the last (> 0) */
	size_t trace_presentations; /* the first ones are traced into the trace text (0: none) */
	double trace_dt;	    /* sampling interval of the trace (> 0 when traced) */
	size_t trace_cap;	    /* rows of the trace buffer of one presentation (when traced) */
} lat_study_opts;

/* What a study measured. */
typedef struct {
	lat_sim_status init, final;
	size_t presentations;
	double seconds;		 /* wall time of the presentation loop, resumed sessions included */
	double mean_steps;	 /* integrator steps per presentation */
	double mean_rhs;	 /* right-hand-side evaluations per presentation */
	double mean_jac;	 /* Newton-matrix setups or structured solves per presentation (BDF) */
	double mean_settle_time; /* simulated time per presentation */
	double max_steady_error; /* over all presentations; NaN when no closed form */
	double dist_wstar;	 /* final |W - W*| / |W*| (population W* with fresh inputs); NaN without W* */
	double min_rtol_used;	 /* smallest integrator rtol used by a settle (CVODE tightens it) */
	double p50, p90;	 /* presentations until log SNR first gained 50 % / 90 % of its final gain */
	double by_method[LAT_METHOD_AUTO + 1]; /* presentations each method finished (lat_ode_stats) */
	double polished, switches; /* presentations finished by a Newton polish; integrator switches */
	int wstar_population;	   /* W* is the generator's population one (fresh inputs) */
} lat_study_result;

/* What the caller hears of a running study; every member may be NULL. */
typedef struct {
	/* after every record: the pool's status, the mean settle time and steps since the last record, and
	 * whether this record is the study's last */
	void (*on_record)(void *ctx, const lat_sim_status *st, double settle, double steps, int last);
	/* after presentation p: nonzero ends the study there (its results stand) */
	int (*stop)(void *ctx, const lat_sim *sim, size_t p);
	/* after presentation p < presentations: nonzero (e.g. a signal number) interrupts the study, which
	 * then returns with lat_study_interrupted(s) set to that value */
	int (*interrupted)(void *ctx);
	void *ctx;
} lat_study_hooks;

typedef struct lat_study lat_study;

/* A study of sim (borrowed for the study's lifetime) as o says. Returns a new object (free with
 * lat_study_free) or NULL with err (LAT_EINVAL for a bad option, LAT_ENOMEM). */
lat_study *lat_study_alloc(const lat_study_opts *o, lat_sim *sim, char *err);
void lat_study_free(lat_study *s);

/* Begins a fresh study: the first record (presentation 0, copied to *first; may be NULL) and the headers
 * of the metrics and trace texts. */
int lat_study_start(lat_study *s, lat_sim_status *first, char *err);

/* Continues the study saved at path (lat_study_save) instead: the simulation, sums, records and texts
 * come back as they were. *saved_model (may be NULL) receives a copy of the model text saved with it
 * (free it). Errors as lat_run_state_load. */
int lat_study_resume(lat_study *s, const char *path, char **saved_model, char *err);

/* Presents the remaining inputs, calling h's hooks (h may be NULL). Returns LAT_OK when the study ended,
 * was stopped or was interrupted (lat_study_interrupted); otherwise the failed presentation's code with
 * its message (lat_sim_present), the simulation then at its last good state and lat_study_cause
 * telling what the engine measured. */
int lat_study_run(lat_study *s, const lat_study_hooks *h, char *err);

/* The interrupted hook's value that ended the last lat_study_run, or 0. */
int lat_study_interrupted(const lat_study *s);
/* The engine's measured cause of the last failed presentation (lat_ode_stats.cause). */
int lat_study_cause(const lat_study *s);
/* Presentations done so far. */
size_t lat_study_done(const lat_study *s);

/* Saves the study so far (atomically, run_state.bin) with the model text it was made with (borrowed). */
int lat_study_save(lat_study *s, const char *path, const char *model_text, char *err);

/* The results so far into res. */
void lat_study_report(lat_study *s, lat_study_result *res);

/* The text of metrics.tsv and of trace.tsv so far (NULL when the study traces nothing), borrowed
 * until the next call on s; *len receives their length. */
const char *lat_study_metrics_text(lat_study *s, size_t *len);
const char *lat_study_trace_text(lat_study *s, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
