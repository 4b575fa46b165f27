/* run.h: a convergence study for the commands (run, trace, validate, sweep): its plan, its table and files,
 * interruption and resume, and the settings suggested after a failure. */
#ifndef LATERAL_CLI_RUN_H
#define LATERAL_CLI_RUN_H

#include <stddef.h>

#include "cli.h"
#include "lateral/study.h"

/* What a convergence study measured (run_study): the core study's result. */
typedef lat_study_result run_result;

/* "exact", or for a mix "rk8pd 12, bdf 8": the methods that finished a study's presentations, into
 * buf; returns buf. */
char *run_methods_text(char *buf, size_t size, const run_result *res);

/* Runs m's presentations on sim, writing DIR/metrics.tsv and, for the first trace_presentations
 * presentations, DIR/trace.tsv (when traced is set). Prints a progress table on stdout unless quiet.
 * Returns CLI_OK or an exit status after printing the error. */
int run_study(const cli_opts *o, const lat_model *m, lat_sim *sim, const char *dir, int traced,
	      run_result *res);

/* Interrupting and resuming a study (`lateral run`). */
typedef struct {
	const char *state_path; /* where the state goes on SIGINT / SIGTERM or a failed presentation */
	int resume;		/* 1: continue from state_path first */
	int argc;		/* the command line, for the resume hint */
	char **argv;
	/* optional: called after every presentation p; nonzero ends the study there (res->presentations = p) */
	int (*stop)(void *ctx, const lat_sim *sim, size_t p);
	void *stop_ctx;
} run_control;

/* run_study, and with ctl (may be NULL: then as run_study) also: after every presentation, when
 * cli_interrupted reports a signal, saves the state atomically to ctl->state_path (simulation, sums,
 * metrics and trace rows so far), prints how to resume and returns CLI_INTERRUPTED(sig); when a
 * presentation fails, saves the last good state there and prints how to continue with other settings
 * (CLI_FAIL). With ctl->resume it first loads that state (CLI_USAGE with a message when it is missing,
 * foreign, truncated or of a pool of another shape; keys that differ from the saved model are noted on
 * stderr) and ends with the same weights and files as an uninterrupted run. */
int run_study_ctl(const cli_opts *o, const lat_model *m, lat_sim *sim, const char *dir, int traced,
		  const run_control *ctl, run_result *res);

/* Saves the study so far to path (run_state.bin) with m's text. */
int run_study_save(const char *path, const lat_model *m, lat_study *st, char *err);

/* After a failed presentation (code, and the engine's measured cause): checks candidate settings on the
 * failed input from sim's last good state, prints the one that settles it, saves the state to
 * ctl->state_path and prints how to continue. */
void run_study_fault(const cli_opts *o, const run_control *ctl, const lat_model *m, lat_sim *sim, lat_study *st,
		     int code, int cause);

/* The memory a study of m plans (*bytes): the simulation (lat_sim_plan), the metrics record and text
 * and, when traced, the trace buffer and text; *change names the keys of its largest part. LAT_ECONFIG
 * naming the keys when a part is beyond what a process can address. */
int run_plan(const lat_model *m, int traced, size_t *bytes, const char **change, char *err);

/* Plans the study of m (run_plan; traced as for run_study) and refuses it above the memory limit, then
 * creates DIR and the simulation; prints the error and returns an exit status on failure. */
int run_prepare(const cli_opts *o, const lat_model *m, const char *dir, int traced, lat_sim **sim);

/* Writes DIR/summary.json of a study (plus extra numeric fields). */
int run_write_summary(const cli_opts *o, const lat_model *m, const char *dir, const run_result *res,
		      const char *const *extra_keys, const double *extra_vals, size_t n_extra);

/* Sets the caption of the plots that follow to the model's main parameters, after prefix (may be NULL)
 * (cli_plot_caption). */
void run_caption(const lat_model *m, const char *prefix);

/* Draws DIR/snr.png from DIR/metrics.tsv (with pred, the closed form's final / initial 1/SNR, drawn
 * when finite), DIR/weights.png and, if traced, DIR/trace.png from DIR/trace.tsv. */
int run_plots(const cli_opts *o, const lat_model *m, const char *dir, int traced, double pred);

/* The closed form's ratio of the final to the initial 1/SNR for this model (lat_closedform_ratios with
 * W* of the population or fixed-input covariance), or NaN where there is none (relu units). */
double run_predicted_ratio(const lat_model *m, lat_sim *sim);

#endif
