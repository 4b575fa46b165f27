/* optim.h: SGD with momentum and AdamW over one flat float parameter array (PyTorch's update rules). */
#ifndef LATERAL_OPTIM_H
#define LATERAL_OPTIM_H

#include <stddef.h>

#include "lateral/experiment.h"

typedef struct lat_optim lat_optim;

/* Optimiser for n parameters with e's kind and hyper-parameters (momentum, betas, eps, weight decay).
 * Returns a new object (free with lat_optim_free) or NULL with err. */
lat_optim *lat_optim_alloc(const lat_experiment *e, size_t n, char *err);
void lat_optim_free(lat_optim *o);

/* One step at learning rate lr:
 *   sgd:   g' = g + wd w;  v = momentum v + g';  w -= lr v
 *   adamw: w -= lr wd w;  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;
 *          w -= lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps) */
void lat_optim_step(lat_optim *o, float *w, const float *g, double lr);

/* The learning rate of epoch (0-based): lr * lr_gamma^(number of milestones <= epoch). */
double lat_optim_lr(const lat_experiment *e, size_t epoch);

/* The optimiser's state for checkpoints: a float array of *n values (moments) and the step count. */
float *lat_optim_state(lat_optim *o, size_t *n);
unsigned long *lat_optim_steps(lat_optim *o);
/* 1 when v may be value i of the state (for checking a checkpoint): finite, and for adamw's second
 * moments (the second half) not negative. */
int lat_optim_value_ok(const lat_optim *o, size_t i, float v);

#endif
