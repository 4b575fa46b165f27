/* cmd_trace.c: `lateral trace`: dense rate trajectories of the first presentations. */
#include <config.h>

#include <stdio.h>

#include "cli.h"
#include "run.h"
#include "lateral/err.h"

int cmd_trace(int argc, char **argv)
{
	static const char summary[] =
	    "Presents the first run.trace_presentations inputs and samples the rates every run.trace_dt\n"
	    "(default min(tau, tau_inh)/10) until each settles. Writes DIR/trace.tsv with columns\n"
	    "presentation, t (cumulative), r_1..r_N, r_inh, b; DIR/metrics.tsv; DIR/trace.png with gnuplot.";
	cli_opts o;
	lat_model m;
	lat_sim *sim = NULL;
	run_result res;
	int rc = cli_parse(argc, argv, "trace", summary, "out/trace", 0, NULL, NULL, NULL, &o);

	if (rc)
		return rc < 0 ? CLI_OK : rc;
	rc = cli_load_model(&o, NULL, NULL, 0, &m);
	if (rc)
		goto out;
	if (m.trace_presentations == 0) {
		rc = cli_fail(o.cmd, LAT_ECONFIG, "run.trace_presentations = 0: nothing to trace (set it >= 1)");
		goto out;
	}
	/* Only the traced presentations are run (no key constrains run.presentations beyond >= 0). */
	m.presentations = m.trace_presentations;
	rc = run_prepare(&o, &m, o.outdir, 1, &sim);
	if (rc)
		goto out;
	o.quiet = 1; /* the table is for long runs; trace reports its files */
	rc = run_study(&o, &m, sim, o.outdir, 1, &res);
	if (!rc)
		rc = run_plots(&o, &m, o.outdir, 1, run_predicted_ratio(&m, sim));
	if (!rc)
		printf("lateral trace: %zu presentations of %zu neurons traced (%.1f solver steps each); "
		       "files in %s/\n",
		       m.presentations, m.neurons, res.mean_steps, o.outdir);
out:
	lat_sim_free(sim);
	lat_model_clear(&m);
	return rc;
}
