/* optim.c: SGD with momentum and AdamW (decoupled weight decay) on flat float arrays. */
#include <config.h>

#include <math.h>
#include <stdlib.h>

#include "lateral/err.h"
#include "lateral/optim.h"
#include "size.h"

/* Below this many parameters a step is not worth a parallel region. */
#define OPTIM_PAR_MIN 65536

struct lat_optim {
	lat_optimizer kind;
	size_t n;
	double momentum, beta1, beta2, eps, wd;
	unsigned long t;
	float *state; /* sgd: velocity (n); adamw: m then v (2 n) */
};

const char *const lat_optimizer_names[] = {[LAT_OPT_SGD] = "sgd", [LAT_OPT_ADAMW] = "adamw", NULL};

lat_optim *lat_optim_alloc(const lat_optim_opts *opts, size_t n, char *err)
{
	lat_optim *o = calloc(1, sizeof *o);
	size_t floats;

	/* calloc checks its own product */
	if (!o || lat_size_mul(n, opts->kind == LAT_OPT_ADAMW ? 2 : 1, &floats) || lat_size_add(floats, 1, &floats))
		goto nomem;
	o->kind = opts->kind;
	o->n = n;
	o->momentum = opts->momentum;
	o->beta1 = opts->beta1;
	o->beta2 = opts->beta2;
	o->eps = opts->eps;
	o->wd = opts->weight_decay;
	o->state = calloc(floats, sizeof *o->state);
	if (!o->state)
		goto nomem;
	return o;
nomem:
	lat_err_set(err, LAT_ENOMEM, "out of memory for the optimiser state (%zu parameters)", n);
	lat_optim_free(o);
	return NULL;
}

void lat_optim_free(lat_optim *o)
{
	if (!o)
		return;
	free(o->state);
	free(o);
}

int lat_optim_step(lat_optim *o, float *w, const float *g, double lr)
{
	return lat_optim_step_range(o, w, g, lr, 0, o->n);
}

/* Each loop sums w - w over the new parameters: 0 while all are finite, NaN otherwise, in any order. */
int lat_optim_step_range(lat_optim *o, float *w, const float *g, double lr, size_t lo, size_t hi)
{
	size_t n = o->n;
	float check = 0;

	o->t++;
	if (o->kind == LAT_OPT_SGD) {
		float mu = (float)o->momentum, wd = (float)o->wd, a = (float)lr;
		float *v = o->state;
		/* element-wise, so threads and vector lanes give the same bits as one loop */
#pragma omp parallel for simd if (hi - lo > OPTIM_PAR_MIN) reduction(+ : check)
		for (size_t k = lo; k < hi; k++) {
			float gk = g[k] + wd * w[k];
			v[k] = mu * v[k] + gk;
			w[k] -= a * v[k];
			check += w[k] - w[k];
		}
	} else {
		float b1 = (float)o->beta1, b2 = (float)o->beta2, eps = (float)o->eps;
		float decay = (float)(1 - lr * o->wd);
		double c1 = 1 - pow(o->beta1, (double)o->t), c2 = 1 - pow(o->beta2, (double)o->t);
		float step = (float)(lr / c1), root_c2 = (float)sqrt(c2);
		float *m = o->state, *v = o->state + n;
#pragma omp parallel for simd if (hi - lo > OPTIM_PAR_MIN) reduction(+ : check)
		for (size_t k = lo; k < hi; k++) {
			w[k] *= decay;
			m[k] = b1 * m[k] + (1 - b1) * g[k];
			v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
			w[k] -= step * m[k] / (sqrtf(v[k]) / root_c2 + eps);
			check += w[k] - w[k];
		}
	}
	return !(check == 0);
}

double lat_optim_lr(const lat_optim_opts *o, size_t epoch)
{
	double lr = o->lr;
	for (size_t i = 0; i < o->n_milestones; i++)
		if (o->milestones[i] <= epoch)
			lr *= o->lr_gamma;
	return lr;
}

float *lat_optim_state(lat_optim *o, size_t *n)
{
	*n = (o->kind == LAT_OPT_ADAMW ? 2 : 1) * o->n;
	return o->state;
}

unsigned long *lat_optim_steps(lat_optim *o)
{
	return &o->t;
}

int lat_optim_value_ok(const lat_optim *o, size_t i, float v)
{
	return isfinite(v) && !(o->kind == LAT_OPT_ADAMW && i >= o->n && v < 0);
}
