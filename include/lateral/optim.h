/* optim.h: SGD with momentum and AdamW over one flat float parameter array (PyTorch's update rules). */
#ifndef LATERAL_OPTIM_H
#define LATERAL_OPTIM_H

#include <stddef.h>

/* Thread safety: an optimiser belongs to one thread at a time. */

#ifdef __cplusplus
extern "C" {
#endif

/* The optimiser kinds and their names in enum order, NULL-terminated ("sgd", "adamw"). */
typedef enum { LAT_OPT_SGD, LAT_OPT_ADAMW } lat_optimizer;
extern const char *const lat_optimizer_names[];

#define LAT_OPTIM_MAX_MILESTONES 16

/* An optimiser's settings (the experiment file's train.* keys fill them). */
typedef struct {
	lat_optimizer kind;
	double lr, weight_decay;
	double momentum;	       /* sgd */
	double beta1, beta2, eps;      /* adamw */
	size_t milestones[LAT_OPTIM_MAX_MILESTONES]; /* epochs at which lr is multiplied by lr_gamma */
	size_t n_milestones;
	double lr_gamma;
} lat_optim_opts;

typedef struct lat_optim lat_optim;

/* Optimiser for n parameters with o's kind and hyper-parameters (momentum, betas, eps, weight decay; o is
 * copied). Returns a new object (free with lat_optim_free) or NULL with err. */
lat_optim *lat_optim_alloc(const lat_optim_opts *o, size_t n, char *err);
void lat_optim_free(lat_optim *o);

/* One step at learning rate lr:
 *   sgd:   g' = g + wd w;  v = momentum v + g';  w -= lr v
 *   adamw: w -= lr wd w;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *          w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)
 * Returns 0 when every new parameter is finite, 1 otherwise (checked in the same pass over w, so a
 * caller need not read w again to know). */
int lat_optim_step(lat_optim *o, float *w, const float *g, double lr);

/* The same step on parameters [lo, hi) of the n alone (lo <= hi <= n): w, g and the state outside it
 * are neither read nor written, so processes that each step one range of a data-parallel network
 * (lat_trainer_comm's reduce_scatter_float) get the bits of one whole step. The step count advances
 * once per call. */
int lat_optim_step_range(lat_optim *o, float *w, const float *g, double lr, size_t lo, size_t hi);

/* The learning rate of epoch (0-based): lr * lr_gamma^(number of milestones <= epoch). */
double lat_optim_lr(const lat_optim_opts *o, size_t epoch);

/* The optimiser's state for checkpoints: a float array of *n values (moments) and the step count. */
float *lat_optim_state(lat_optim *o, size_t *n);
unsigned long *lat_optim_steps(lat_optim *o);
/* 1 when v may be value i of the state (for checking a checkpoint): finite, and for adamw's second
 * moments (the second half) not negative. */
int lat_optim_value_ok(const lat_optim *o, size_t i, float v);

#ifdef __cplusplus
}
#endif

#endif
