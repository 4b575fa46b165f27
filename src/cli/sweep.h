/* sweep.h: what the parts of `lateral sweep` share: the grid of --vary values and the table of runs. */
#ifndef LATERAL_CLI_SWEEP_H
#define LATERAL_CLI_SWEEP_H

#include <stddef.h>
#include <stdio.h>

#include "cli.h"
#include "run.h"

/* --vary keys, values per key, runs in a grid, characters of a key or value */
#define MAX_KEYS 8
#define MAX_VALUES 64
#define MAX_RUNS 4096
#define TEXTLEN 128
/* The table's columns (sweep_table.c). */
#define N_COLUMNS 11

/* The --vary keys and their values (and --resume). */
typedef struct {
	size_t n_keys;
	char key[MAX_KEYS][TEXTLEN];
	size_t n_values[MAX_KEYS];
	char value[MAX_KEYS][MAX_VALUES][TEXTLEN];
	int resume;
} grid;

/* One run of the grid: its study and the predictions of the closed form. */
typedef struct {
	run_result res;
	double pred_inv_snr_ratio, pred_mean_ratio;
	double formula_inv_snr_ratio, formula_mean_ratio;
} sweep_row;

/* cli_parse's handler of --vary (lists and FROM:TO:lin|log:N ranges, each value checked against the
 * model schema) and --resume; ctx is the grid. Returns 0 or CLI_USAGE after printing why. */
int sweep_on_vary(const char *name, const char *arg, void *ctx);

/* Index of value of key k in run r (key 0 varies fastest, so each group of lines is contiguous). */
size_t sweep_value_index(const grid *g, size_t r, size_t k);

/* Run r of the grid in dir (a study with its summary.json) into row; m receives its model. */
int sweep_one_run(const cli_opts *o, const grid *g, size_t r, const char *dir, lat_model *m, sweep_row *row);

/* The table's values of one run. */
void sweep_row_values(const sweep_row *row, double *v);

/* Row r of the table (tsv: sweep.tsv, else the aligned stdout table) and its header. */
void sweep_table_line(FILE *fp, const grid *g, size_t r, const double *v, int tsv);

/* Reads DIR/sweep_state.bin (lat_sweep_state_load); the sweep_state.tsv of an older lateral is named as
 * such. */
int sweep_state_read(const char *path, size_t n_runs, int *done, const unsigned long long *hash,
		     const size_t *pres, double *vals, size_t *n_done, char *err);

void sweep_table_header(FILE *fp, const grid *g, int tsv);

/* One plot per combination of keys 1..n-1, with one line per value of key 0. */
int sweep_plots(const cli_opts *o, const grid *g, size_t n_runs);

#endif
