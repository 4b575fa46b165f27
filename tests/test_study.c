/* test_study.c: the core study: records and metrics rows as the options say, a stop rule, and an
 * interrupted, saved and resumed study that ends with the same weights and text as an uninterrupted one. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lateral/err.h"
#include "lateral/model.h"
#include "lateral/study.h"
#include "runner.h"

#define PRESENTATIONS 300
#define RECORD_EVERY 40

static void model(lat_model *m)
{
	char err[LAT_ERRLEN];
	lat_model_init(m);
	m->neurons = 6;
	m->inputs = 4;
	m->presentations = PRESENTATIONS;
	m->record_every = RECORD_EVERY;
	CU_ASSERT_EQUAL_FATAL(lat_model_finalize(m, err), LAT_OK);
}

static size_t rows_of(const char *text, size_t len)
{
	size_t n = 0;
	for (size_t k = 0; k < len; k++)
		n += text[k] == '\n';
	return n;
}

typedef struct {
	size_t records, last, interrupt_at, calls;
} counts;

static void on_record(void *ctx, const lat_sim_status *st, double settle, double steps, int last)
{
	counts *c = ctx;
	(void)settle;
	(void)steps;
	c->records++;
	c->last += last;
	CU_ASSERT(last || st->presentation % RECORD_EVERY == 0);
}

static int interrupted(void *ctx)
{
	counts *c = ctx;
	return ++c->calls == c->interrupt_at ? 15 : 0;
}

static int stop_at_100(void *ctx, const lat_sim *sim, size_t p)
{
	(void)ctx;
	(void)sim;
	return p == 100;
}

/* A whole study: a record at 0, every 40th presentation and the last (300), so 1 + 7 + 1 rows. */
static void test_records(void)
{
	lat_study_opts so = {.presentations = PRESENTATIONS, .record_every = RECORD_EVERY};
	counts c = {0};
	lat_study_hooks h = {.on_record = on_record, .ctx = &c};
	lat_study_result res;
	char err[LAT_ERRLEN];
	lat_model m;
	lat_sim *sim;
	lat_study *st;
	size_t len;
	const char *text;

	model(&m);
	sim = lat_model_sim_alloc(&m, NULL, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sim);
	st = lat_study_alloc(&so, sim, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	CU_ASSERT_EQUAL(lat_study_start(st, NULL, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_study_run(st, &h, err), LAT_OK);
	CU_ASSERT_EQUAL(c.records, 8);
	CU_ASSERT_EQUAL(c.last, 1);
	text = lat_study_metrics_text(st, &len);
	CU_ASSERT_EQUAL(rows_of(text, len), 1 + 9); /* header, 9 records */
	CU_ASSERT_PTR_NULL(lat_study_trace_text(st, &len));
	lat_study_report(st, &res);
	CU_ASSERT_EQUAL(res.presentations, PRESENTATIONS);
	CU_ASSERT_EQUAL(res.final.presentation, PRESENTATIONS);
	CU_ASSERT(res.final.pool.snr > res.init.pool.snr);
	CU_ASSERT(res.p50 > 0 && res.p50 <= res.p90 && res.p90 <= PRESENTATIONS);
	CU_ASSERT_EQUAL(res.by_method[LAT_METHOD_EXACT], PRESENTATIONS);
	lat_study_free(st);
	/* a stop rule ends the study where it says, with a last record there */
	lat_sim_free(sim);
	sim = lat_model_sim_alloc(&m, NULL, err);
	st = lat_study_alloc(&so, sim, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(st);
	memset(&c, 0, sizeof c);
	h.stop = stop_at_100;
	lat_study_start(st, NULL, err);
	CU_ASSERT_EQUAL(lat_study_run(st, &h, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_study_done(st), 100);
	CU_ASSERT_EQUAL(c.records, 3); /* 40, 80, and 100 (the last) */
	CU_ASSERT_EQUAL(c.last, 1);
	lat_study_free(st);
	lat_sim_free(sim);
	lat_model_clear(&m);
}

/* Interrupted after presentation 123, saved, resumed in a new study of a new simulation: the same
 * weights (bit for bit) and the same metrics text as a study that ran through. */
static void test_interrupt_resume(void)
{
	lat_study_opts so = {.presentations = PRESENTATIONS, .record_every = RECORD_EVERY};
	counts c = {.interrupt_at = 123};
	lat_study_hooks h = {.interrupted = interrupted, .ctx = &c};
	char err[LAT_ERRLEN], path[] = "/tmp/lateral-test-study-XXXXXX", *saved = NULL;
	const char *ta, *tb;
	size_t la, lb;
	lat_model m;
	lat_sim *a, *b;
	lat_study *sa, *sb;
	int fd = mkstemp(path);

	CU_ASSERT_FATAL(fd >= 0);
	close(fd);
	model(&m);
	a = lat_model_sim_alloc(&m, NULL, err);
	b = lat_model_sim_alloc(&m, NULL, err);
	CU_ASSERT_FATAL(a && b);
	sa = lat_study_alloc(&so, a, err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sa);
	lat_study_start(sa, NULL, err);
	CU_ASSERT_EQUAL(lat_study_run(sa, &h, err), LAT_OK);
	CU_ASSERT_EQUAL(lat_study_interrupted(sa), 15);
	CU_ASSERT_EQUAL(lat_study_done(sa), 123);
	CU_ASSERT_EQUAL(lat_study_save(sa, path, "model text", err), LAT_OK);
	lat_study_free(sa);
	/* the reference runs through on b */
	sb = lat_study_alloc(&so, b, err);
	lat_study_start(sb, NULL, err);
	CU_ASSERT_EQUAL(lat_study_run(sb, NULL, err), LAT_OK);
	/* a fresh simulation continues from the file */
	lat_sim_free(a);
	a = lat_model_sim_alloc(&m, NULL, err);
	sa = lat_study_alloc(&so, a, err);
	CU_ASSERT_EQUAL_FATAL(lat_study_resume(sa, path, &saved, err), LAT_OK);
	CU_ASSERT_STRING_EQUAL(saved, "model text");
	CU_ASSERT_EQUAL(lat_study_done(sa), 123);
	CU_ASSERT_EQUAL(lat_study_run(sa, NULL, err), LAT_OK);
	CU_ASSERT(memcmp(lat_sim_weights(a), lat_sim_weights(b), 6 * 4 * sizeof(double)) == 0);
	ta = lat_study_metrics_text(sa, &la);
	tb = lat_study_metrics_text(sb, &lb);
	CU_ASSERT_EQUAL(la, lb);
	CU_ASSERT(la == lb && memcmp(ta, tb, la) == 0);
	free(saved);
	lat_study_free(sa);
	lat_study_free(sb);
	lat_sim_free(a);
	lat_sim_free(b);
	lat_model_clear(&m);
	unlink(path);
}

static void test_bad_options(void)
{
	lat_study_opts so = {.presentations = 0, .record_every = 1};
	char err[LAT_ERRLEN] = "";
	lat_model m;
	lat_sim *sim;

	model(&m);
	sim = lat_model_sim_alloc(&m, NULL, err);
	CU_ASSERT_PTR_NULL(lat_study_alloc(&so, sim, err));
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "presentations > 0"));
	so.presentations = 10;
	so.trace_presentations = 1; /* traced without a buffer */
	CU_ASSERT_PTR_NULL(lat_study_alloc(&so, sim, err));
	lat_study_free(NULL);
	lat_sim_free(sim);
	lat_model_clear(&m);
}

static CU_TestInfo tests[] = {{"records, metrics rows and a stop rule", test_records},
			      {"interrupted, saved and resumed = uninterrupted", test_interrupt_resume},
			      {"bad options", test_bad_options},
			      CU_TEST_INFO_NULL};
static CU_SuiteInfo suites[] = {{.pName = "study", .pTests = tests}, CU_SUITE_INFO_NULL};

int main(void)
{
	return test_run(suites);
}
