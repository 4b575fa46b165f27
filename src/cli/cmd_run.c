/* cmd_run.c: `lateral run`: the convergence study of one pool, with metrics, traces, summary and plots. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "run.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "lateral/study.h"
#include "size.h"

static int on_run_extra(const char *name, const char *arg, void *ctx)
{
	(void)name;
	(void)arg;
	*(int *)ctx = 1;
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const char summary[] =
	    "Presents inputs to one pool, settles its rate circuit to the fixed point after each input and\n"
	    "applies the anti-Hebbian rule. Writes DIR/metrics.tsv (one row every run.record_every\n"
	    "presentations), DIR/trace.tsv (rates of the first run.trace_presentations presentations),\n"
	    "DIR/summary.json, and DIR/snr.png, DIR/trace.png when gnuplot is installed, each atomically.\n"
	    "SIGINT or SIGTERM finishes the current presentation, saves the state (weights, circuit, input\n"
	    "generator, rows so far) to DIR/run_state.bin and exits with status 130 or 143; --resume\n"
	    "continues from it to the same weights and files as an uninterrupted run. A presentation that\n"
	    "fails (no steady state, solver failure, non-finite weights) stops the run with status 1; its\n"
	    "last good state is then saved there too, to continue with other settings (--set).";
	static const cli_extra extra[] = {
	    {"resume", 0, "continue from DIR/run_state.bin (same MODEL; changed keys are noted)"},
	    {NULL, 0, NULL}};
	static const char *const outputs[] = {"run_state.bin", "metrics.tsv", "trace.tsv", "summary.json",
					      "snr.png",       "trace.png",   NULL};
	cli_opts o;
	lat_model m;
	lat_sim *sim = NULL;
	run_result res;
	char state[CLI_PATHLEN];
	int resume = 0;
	run_control ctl;
	int rc = cli_parse(argc, argv, "run", summary, "out/run", 0, extra, on_run_extra, &resume, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	cli_signals_install();
	rc = cli_load_model(&o, NULL, NULL, 0, &m);
	if (rc)
		goto out;
	rc = run_prepare(&o, &m, o.outdir, 1, &sim);
	if (rc)
		goto out;
	cli_remove_stale(o.outdir, outputs);
	ctl = (run_control){.state_path = cli_path(state, sizeof state, o.outdir, "run_state.bin"),
			    .resume = resume,
			    .argc = argc,
			    .argv = argv};
	if (!o.quiet)
		printf("# lateral run: %s, N = %zu, d = %zu, alpha = %g, gamma = %g, eta = %g, %zu "
		       "presentations, "
		       "solver %s\n",
		       m.source, m.neurons, m.inputs, m.alpha, m.gamma, m.eta, m.presentations,
		       lat_method_name(m.method));
	rc = run_study_ctl(&o, &m, sim, o.outdir, 1, &ctl, &res);
	if (rc)
		goto out;
	rc = run_write_summary(&o, &m, o.outdir, &res, NULL, NULL, 0);
	if (!rc)
		rc = run_plots(&o, &m, o.outdir, 1, run_predicted_ratio(&m, sim));
	/* The run is complete: its state is of no more use. */
	if (!rc)
		unlink(state);
	if (!o.quiet) {
		printf(
		    "# 1/SNR fell from %.4g to %.4g (factor %.4g); |wbar|/|wbar_init| = %.4f, cos = %.6f\n",
		    res.init.pool.inv_snr, res.final.pool.inv_snr,
		    res.final.pool.inv_snr / res.init.pool.inv_snr, res.final.pool.mean_ratio,
		    res.final.pool.cos_mean);
		if (isfinite(res.dist_wstar))
			printf("# closed form: |W - W*| / |W*| = %.3g (W* for the %s covariance%s)\n",
			       res.dist_wstar, res.wstar_population ? "population" : "fixed inputs'",
			       res.wstar_population ? "; online updates settle within O(eta) of it" : "");
		char used[128];
		printf("# solver %s: %s", lat_method_name(m.method),
		       run_methods_text(used, sizeof used, &res));
		if (res.polished > 0)
			printf(", %.0f of %zu settles finished by a Newton polish", res.polished,
			       res.presentations);
		if (res.switches > 0)
			printf(", %.0f integrator switches", res.switches);
		printf("; t_max %g\n", lat_model_t_max(&m));
		printf("# %.3g s, %.1f us and %.1f solver steps per presentation; files in %s/\n",
		       res.seconds, res.presentations ? 1e6 * res.seconds / (double)res.presentations : 0.0,
		       res.mean_steps, o.outdir);
	}
out:
	lat_sim_free(sim);
	lat_model_clear(&m);
	return rc;
}
