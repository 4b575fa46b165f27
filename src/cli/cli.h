/* cli.h: what the lateral subcommands share: options, model loading, outputs, plots, exit codes. */
#ifndef LATERAL_CLI_H
#define LATERAL_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "lateral/io.h"
#include "lateral/model.h"
#include "lateral/sim.h"
#include "lateral/study.h"

/* Exit statuses of the lateral program. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };
/* Exit status after SIGINT / SIGTERM once the state is saved: 128 + signal, as a shell reports it. */
#define CLI_INTERRUPTED(sig) (128 + (sig))

/* A text file compiled into the binary (gnuplot scripts from plots/, model files from models/). Table ends with {NULL, NULL}. */
typedef struct {
	const char *name;
	const char *text;
} cli_embedded;
extern const cli_embedded cli_embedded_files[];

/* Returns the embedded text of name (e.g. "plots/metrics.gp") or NULL. */
const char *cli_embedded_text(const char *name);

#define CLI_MAX_SETS 256

/* Options every simulating subcommand understands. */
typedef struct {
	const char *cmd;        /* subcommand name, for messages */
	const char *model_path; /* NULL: the built-in default */
	const char *outdir;
	const char *sets[CLI_MAX_SETS]; /* --set assignments, in order */
	size_t n_sets;
	int quiet, no_plot, solver_log;
	int resume; /* --resume (the commands that take it) */
	int force;  /* --force: write into an output folder that is not empty */
	int plot_format; /* --plot-format: 0 png, 1 pdf, 2 svg */
	size_t max_memory; /* --max-memory in bytes; 0: the memory available */
} cli_opts;

/* One extra option of a subcommand (long name, whether it takes an argument, help text). */
typedef struct {
	const char *name;
	int has_arg;
	const char *help;
} cli_extra;

/* Parses argv of subcommand cmd into o (defaults: outdir default_outdir). extra options are reported
 * through on_extra(name, arg, ctx), which returns 0 or CLI_USAGE. Positional MODEL is optional unless
 * model_required. Returns -1 when --help was printed (caller exits 0), CLI_USAGE on bad usage (message
 * printed), else 0. */
int cli_parse(int argc, char **argv, const char *cmd, const char *summary, const char *default_outdir,
	      int model_required, const cli_extra *extra, int (*on_extra)(const char *, const char *, void *),
	      void *ctx, cli_opts *o);

/* Loads the model named by o (or the embedded one called fallback, e.g. "models/default.cfg"), applies
 * extra_sets then o's --set overrides, and finalizes. Prints the error and returns CLI_USAGE on bad input. */
int cli_load_model(const cli_opts *o, const char *fallback, const char **extra_sets, size_t n_extra,
		   lat_model *m);

/* The model as text (lat_model_write): a new string (free with free()) of *len bytes, or NULL when out
 * of memory. Two models with the same text run the same study. */
char *cli_model_text(const lat_model *m, size_t *len);

/* 64-bit FNV-1a hash of len bytes; cli_hash_more continues hash h over len more bytes (cli_hash(p, n)
 * is cli_hash_more(CLI_HASH_START, p, n)). */
#define CLI_HASH_START LAT_HASH_START
unsigned long long cli_hash(const char *p, size_t len);
unsigned long long cli_hash_more(unsigned long long h, const char *p, size_t len);

/* Prints "lateral CMD: message" to stderr (unless cli_errors_quiet is on) and maps a library status to
 * an exit status (input errors 2, everything else 1). The message is kept as cli_last_error. */
int cli_fail(const char *cmd, int code, const char *msg);
/* "lateral CMD: message" of the last cli_fail / cli_report ("" before any). */
const char *cli_last_error(void);
/* Prints "lateral CMD: message" to stderr unless quiet, keeping it as cli_last_error. */
void cli_report(const char *cmd, const char *msg);
/* on = 1: cli_fail and cli_report only keep their message (ranks other than 0 of a data-parallel run,
 * whose errors rank 0 names or cli_mpi_settle prints). */
void cli_errors_quiet(int on);

/* Writes len bytes of text to path atomically (lat_afile). Returns 0 or LAT_EIO with err set. */
int cli_write_text(const char *path, const char *text, size_t len, char *err);

/* Refuses (message, CLI_USAGE) a simulation whose planned bytes exceed --max-memory or, without it,
 * the memory available now, saying which keys to change (e.g. "lower circuit.neurons"); CLI_OK
 * otherwise. */
int cli_memory_check(const cli_opts *o, size_t planned, const char *change);

/* The lock file of an output directory. */
#define CLI_LOCK_FILE ".lateral.lock"

/* Creates the output directory o->outdir (and missing parents) and locks it for the rest of the process:
 * an exclusive flock on DIR/.lateral.lock (which then holds this pid), so that a second command writing
 * into the same directory is refused instead of overwriting this one's files. Call it before any work,
 * so that an impossible location fails at once. Returns CLI_OK, or CLI_USAGE after printing the reason:
 * the directory cannot be created or written (a new directory is removed again), or another process
 * holds its lock (the message names the directory and that process's pid). Once a directory is locked,
 * later calls only create o->outdir (a sweep's run folders inside the locked one; CLI_FAIL on error). */
int cli_outdir(const cli_opts *o);

/* --force (without --resume): removes the files lateral writes from the locked output folder, so that no
 * stale plot or state stays beside the new results (other files are kept). cli_provenance_begin calls it,
 * once the command's input is known to be good. Returns CLI_OK, or CLI_FAIL after printing why. */
int cli_outdir_clear(const cli_opts *o);

/* After a refusal found after cli_outdir but before any output was written (bad data, a memory plan):
 * releases the lock and, when cli_outdir created the directory, removes it (and the parents it created)
 * again, so that bad input leaves nothing behind. A directory that existed keeps its lock file. */
void cli_outdir_discard(const cli_opts *o);

/* Size of the path buffers the commands join output file names into. */
#define CLI_PATHLEN 4096

/* Joins dir and name into buf (size PATH_MAX-like); returns buf. */
char *cli_path(char *buf, size_t size, const char *dir, const char *name);

/* Interrupts: cli_signals_install makes SIGINT and SIGTERM set a flag instead of killing the process
 * (a second signal of either kind kills it at once). Long loops poll cli_interrupted between steps,
 * finish the step, save their state atomically and exit with CLI_INTERRUPTED. Returns the signal
 * number received, or 0. */
void cli_signals_install(void);
int cli_interrupted(void);

/* "SIGINT", "SIGTERM" or "signal N" (static or in a static buffer). */
const char *cli_signal_name(int sig);

/* Prints to stderr "lateral CMD: WHAT: lateral ARGS" ("mpirun -np P lateral ARGS" under P > 1 ranks): argv (argv[0] = the subcommand, as passed to
 * cmd_xxx) quoted for a POSIX shell, then "--set S" for each of the n_sets assignments sets, then
 * --resume when resume is set and argv does not have it. what is e.g. "resume with". */
void cli_rerun_hint(int argc, char **argv, const char *what, const char *const *sets, size_t n_sets, int resume);

/* Removes the temporary files a killed process may have left in dir for the final names in names
 * (NULL-terminated): ".NAME.PID.XXXXXX" from lat_afile and "NAME.PID.tmp" from cli_plot, only when no
 * process PID exists any more (a live writer's file is kept), and the pid-less names of older versions. */
void cli_remove_stale(const char *dir, const char *const *names);

/* Seconds on a monotonic clock. */
double cli_now(void);

/* Minimal JSON object writer over an atomic file. */
typedef struct {
	FILE *fp;
	int n;
} cli_json;
void cli_json_begin(cli_json *j, FILE *fp);
void cli_json_num(cli_json *j, const char *key, double v); /* non-finite -> null */
void cli_json_int(cli_json *j, const char *key, long v);
void cli_json_str(cli_json *j, const char *key, const char *v);
void cli_json_end(cli_json *j);
/* Writes v as a JSON string (quoted, escaped) to fp. */
void cli_json_put_string(FILE *fp, const char *v);

/* Provenance (cli_prov.c). main calls cli_provenance_start with the whole command line before the
 * command runs and cli_provenance_end with its exit status after. A command that writes an output folder
 * calls cli_provenance_begin once its input is known to be good: it writes DIR/NAME (the resolved model
 * or experiment, text of len bytes, which `lateral check` loads back) and appends to DIR/provenance.jsonl
 * one line for this invocation (version, command line, working directory, start, host, library versions,
 * "status": "running"), which cli_provenance_end completes with the end time and exit status. Earlier
 * lines (a run that is resumed) are kept. Returns CLI_OK, or CLI_FAIL after printing why. */
void cli_provenance_start(int argc, char **argv);
int cli_provenance_begin(const cli_opts *o, const char *name, const char *text, size_t len);
void cli_provenance_end(int status);


/* A line of text (the model's or experiment's main parameters) drawn small at the bottom right of every
 * plot that follows; NULL or "" for none. The text is copied. */
void cli_plot_caption(const char *text);

/* Runs gnuplot on an embedded script with "name = value" assignments (values are already gnuplot
 * expressions, e.g. "'out/x.tsv'") and the figure written atomically to out (a NAME.png; with
 * --plot-format pdf or svg, NAME.pdf or NAME.svg of the same size instead). Missing gnuplot is a note
 * on stderr (unless quiet) and returns 0; a failing gnuplot returns CLI_FAIL. Under -q gnuplot's own
 * warnings are not shown. */
int cli_plot(const cli_opts *o, const char *script, const char *out, const char *const *assign, size_t n_assign);

/* Quotes s as a gnuplot single-quoted string into buf. */
char *cli_gp_quote(char *buf, size_t size, const char *s);


/* MPI (cli_mpi.c). Only a process started by an MPI launcher initialises MPI; any other is rank 0 of 1,
 * and so is every process of a build without MPI. */
/* Initialises MPI under a launcher (ranks, size, fatal errors); CLI_OK or CLI_FAIL after printing why. */
int cli_mpi_init(int *argc, char ***argv);
void cli_mpi_finalize(void);
int cli_mpi_rank(void);
int cli_mpi_size(void);
/* Ends every rank with status (after flushing stdout and stderr) when there are several; else returns. */
void cli_mpi_abort(int status);
/* The smallest value over the ranks; *same = 1 when every rank passed the same value. */
unsigned long long cli_mpi_agree(unsigned long long value, int *same);
/* A hash of this program's own bytes (/proc/self/exe), so ranks can tell that they run the same build;
 * 0 when it cannot be read. */
unsigned long long cli_self_hash(void);
/* The ranks on this machine (sharing its cores); 1 without MPI. */
int cli_mpi_local_size(void);
/* v[0..n-1] summed over the ranks, in place, the same on every rank (the lat_trainer_comm sums): over
 * all of them with ctx NULL, else over a communicator of cli_mpi_groups; CLI_OK or CLI_FAIL. In one
 * process they leave v alone. */
int cli_mpi_sum_float(void *ctx, float *v, size_t n);
int cli_mpi_sum_double(void *ctx, double *v, size_t n);
/* The split optimiser's exchanges (lat_trainer_comm.reduce_scatter_float, allgather_float) over ctx's
 * ranks (NULL: all; else a communicator of cli_mpi_groups), rank r of p owning values
 * [r n / p, (r + 1) n / p): through the machine's shared memory when the ranks share it, else by
 * MPI_Reduce_scatter and MPI_Allgatherv; CLI_OK or CLI_FAIL. Nothing in one process. */
int cli_mpi_reduce_scatter_float(void *ctx, float *v, size_t n);
int cli_mpi_allgather_float(void *ctx, float *v, size_t n);
/* The parameters' one copy and the gradients' slots (lat_trainer_comm.shared_floats, barrier):
 * collective over ctx's ranks, the machine's shared memory (cli_shm_floats), owned by this module
 * (freed by cli_mpi_finalize), or NULL in one process or when the ranks span machines; the barrier
 * makes the writes before it seen after it. CLI_OK or CLI_FAIL. */
float *cli_mpi_shared_floats(void *ctx, size_t n, float **slots);
int cli_mpi_barrier(void *ctx);
/* The strips' point-to-point exchange (lat_trainer_comm.exchange_float): send_n[q] floats of send to
 * each rank q of ctx's communicator (NULL: all ranks), recv_n[q] from each into recv, by
 * MPI_Alltoallv; CLI_OK, or CLI_FAIL when a count passes what MPI can address. Nothing in one process. */
int cli_mpi_exchange_float(void *ctx, const float *send, const size_t *send_n, float *recv, const size_t *recv_n);
/* Collective: the ranks as groups of parts consecutive ranks; *group becomes the context that sums over
 * this rank's group, *across the one over the ranks of the same rank % parts (both owned by this module,
 * freed by cli_mpi_finalize; NULL in one process). CLI_FAIL when MPI cannot split them. */
int cli_mpi_groups(int parts, void **group, void **across);
/* The largest v over the ranks (collective). */
int cli_mpi_max(int v);
/* Collective: every rank passes its status and all return the status of the lowest failing rank (CLI_OK
 * when none failed). That rank, unless it is rank 0 (which prints its errors as they happen), prints its
 * last error (cli_last_error) then, so that a failure on any rank is named once. */
int cli_mpi_settle(int rc);
/* Collective: CLI_OK when every rank passed the same h (a hash of what it resolved: models, an
 * experiment) and runs the same version and binary; else CLI_USAGE, rank 0 saying that the ranks resolved
 * different WHAT. CLI_OK in one process. */
int cli_mpi_same(const char *cmd, const char *what, unsigned long long h);
/* Rank 0's n ints to every rank. */
int cli_mpi_bcast_int(int *v, size_t n);
/* A counter on rank 0 that every rank draws from (collective open and close): next returns 0, 1, 2, ...
 * across all ranks, each value once; in one process it counts *serial up. */
int cli_mpi_counter_open(void);
long cli_mpi_counter_next(long *serial);
void cli_mpi_counter_close(void);
/* n doubles to rank 0 with tag (CLI_FAIL in one process); receive on rank 0: 1 with a message in v and
 * *tag, or 0 when none is waiting and wait is 0. */
int cli_mpi_send(int tag, const double *v, size_t n);
int cli_mpi_receive(int wait, double *v, size_t n, int *tag);

/* The other ranks of a sweep write run folders inside the folder rank 0 holds: they adopt it instead of
 * locking it (cli_dir.c), and leave provenance to rank 0 (cli_prov.c). */
void cli_outdir_adopt(void);
void cli_provenance_off(void);

/* The subcommands. */
int cmd_run(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);

#endif
