/* sweep_grid.c: the grid of a sweep: --vary lists and ranges, checked as they are read. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sweep.h"
#include "lateral/closedform.h"
#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/metrics.h"
#include "lateral/state.h"
#include "size.h"

/* A range FROM:TO:lin:N or FROM:TO:log:N (both ends included; log needs FROM, TO > 0) as N values of key
 * k, each printed with 10 significant digits. */
static int vary_range(grid *g, size_t k, const char *arg, const char *spec)
{
	char scale[8], extra;
	double lo, hi;
	long n;

	if (sscanf(spec, "%lf:%lf:%7[a-z]:%ld%c", &lo, &hi, scale, &n, &extra) != 4 ||
	    (strcmp(scale, "lin") && strcmp(scale, "log")) || !isfinite(lo) || !isfinite(hi) || n < 2 ||
	    n > MAX_VALUES || (!strcmp(scale, "log") && !(lo > 0 && hi > 0))) {
		fprintf(stderr,
			"lateral sweep: --vary '%s': expected section.key=FROM:TO:lin:N or FROM:TO:log:N "
			"(finite ends, "
			"both > 0 for log, N from 2 to %d)\n",
			arg, MAX_VALUES);
		return CLI_USAGE;
	}
	for (long j = 0; j < n; j++) {
		double f = (double)j / (double)(n - 1);
		double v = strcmp(scale, "log") ? lo + f * (hi - lo) : exp(log(lo) + f * (log(hi) - log(lo)));
		if (j == n - 1)
			v = hi; /* the end as written, not as rounded */
		snprintf(g->value[k][j], TEXTLEN, "%.10g", v);
	}
	g->n_values[k] = (size_t)n;
	g->n_keys++;
	return 0;
}

/* Each value of key k (the last one added) alone on the default model: a bad value is refused now, by the
 * model's reader, with the message naming it as "--vary section.key=value". */
static int vary_check(const grid *g, size_t k)
{
	char set[2 * TEXTLEN + 2], err[LAT_ERRLEN];
	lat_model m;
	int rc = LAT_OK;

	for (size_t j = 0; !rc && j < g->n_values[k]; j++) {
		snprintf(set, sizeof set, "%s=%s", g->key[k], g->value[k][j]);
		lat_model_init(&m);
		rc = lat_model_set_as(&m, "--vary", set, err);
		lat_model_clear(&m);
	}
	if (rc)
		fprintf(stderr, "lateral sweep: %s\n", err);
	return rc ? CLI_USAGE : 0;
}

int sweep_on_vary(const char *name, const char *arg, void *ctx)
{
	grid *g = ctx;
	const char *eq;
	size_t k = g->n_keys, len;
	const char *p;
	int rc;

	if (!strcmp(name, "resume")) {
		g->resume = 1;
		return 0;
	}
	eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1]) {
		fprintf(stderr, "lateral sweep: --vary '%s': expected section.key=v1,v2,...\n", arg);
		return CLI_USAGE;
	}
	if (k == MAX_KEYS) {
		fprintf(stderr, "lateral sweep: at most %d --vary options\n", MAX_KEYS);
		return CLI_USAGE;
	}
	len = (size_t)(eq - arg);
	if (len >= TEXTLEN || !memchr(arg, '.', len)) {
		fprintf(stderr, "lateral sweep: --vary '%s': expected section.key before '='\n", arg);
		return CLI_USAGE;
	}
	memcpy(g->key[k], arg, len);
	g->key[k][len] = 0;
	for (size_t j = 0; j < k; j++)
		if (!strcmp(g->key[j], g->key[k])) {
			fprintf(stderr, "lateral sweep: --vary %s given twice\n", g->key[k]);
			return CLI_USAGE;
		}
	g->n_values[k] = 0;
	if (strchr(eq + 1, ':')) {
		rc = vary_range(g, k, arg, eq + 1);
		return rc ? rc : vary_check(g, k);
	}
	for (p = eq + 1;;) {
		const char *comma = strchr(p, ',');
		size_t vlen = comma ? (size_t)(comma - p) : strlen(p);
		if (vlen == 0 || vlen >= TEXTLEN || g->n_values[k] == MAX_VALUES) {
			fprintf(stderr,
				"lateral sweep: --vary '%s': values must be non-empty, shorter than %d "
				"characters, "
				"at most %d of them\n",
				arg, TEXTLEN, MAX_VALUES);
			return CLI_USAGE;
		}
		memcpy(g->value[k][g->n_values[k]], p, vlen);
		g->value[k][g->n_values[k]++][vlen] = 0;
		if (!comma)
			break;
		p = comma + 1;
	}
	g->n_keys++;
	return vary_check(g, k);
}

/* Index of value of key k in run r (key 0 varies fastest, so each group of lines is contiguous). */
size_t sweep_value_index(const grid *g, size_t r, size_t k)
{
	for (size_t j = 0; j < k; j++)
		r /= g->n_values[j];
	return r % g->n_values[k];
}
