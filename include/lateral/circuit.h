/* circuit.h: one pool's rate circuit and its closed forms.
 *
 *   tau     dr_i/dt   = -r_i + phi(z_i - alpha r_inh + b)        i = 1..N, phi = identity or max(0, .)
 *   tau_inh dr_inh/dt = -r_inh + (1/N) sum_j r_j - b
 *   tau_b   db/dt     = rho (r_target - (1/N) sum_j r_j)            (only when the bias is dynamic)
 *
 * State layout of one circuit (lat_circuit_dim values): y[0..N-1] = r_i, y[N] = r_inh, y[N+1] = b
 * when the bias is dynamic. A batch holds K independent circuits with the same parameters, each with
 * its own drive vector z (K x N, row-major) and state (K x dim, row-major). */
#ifndef LATERAL_CIRCUIT_H
#define LATERAL_CIRCUIT_H

#include <stddef.h>

#include "lateral/ode.h"

/* Thread safety: reentrant: every function works on the caller's arrays and a const circuit. */

#ifdef __cplusplus
extern "C" {
#endif

/* Parameters of one circuit: a plain value type (the configuration floor fills it from a model file). */
/* The values of lat_circuit.relu by name, NULL-terminated: "linear" (0), "relu" (1). */
extern const char *const lat_nonlinearity_names[];

typedef struct {
	size_t n;            /* excitatory neurons N >= 1 */
	double tau, tau_inh; /* time constants (> 0) */
	double alpha;        /* inhibition strength (> -1) */
	double bias;         /* b when constant; the initial b when dynamic */
	int relu;            /* 0: linear units (the reference case), 1: rectified */
	int bias_dynamic;    /* 1: b is a state variable with homeostatic dynamics */
	double bias_tau;     /* tau_b (> 0 when dynamic) */
	double bias_rho;     /* rho */
	double rate_target;  /* r_target */
} lat_circuit;

/* Returns LAT_OK or LAT_EINVAL with a message naming the offending parameter. */
int lat_circuit_check(const lat_circuit *c, char *err);

/* Number of state variables of one circuit: N + 1, plus 1 when the bias is dynamic. */
size_t lat_circuit_dim(const lat_circuit *c);

/* Pure right-hand side of one circuit: borrows everything, writes dim values to dydt. */
void lat_circuit_rhs(const lat_circuit *c, const double *z, const double *y, double *dydt);

/* Steady-state residual of one circuit: max over state variables k of |tau_k dy_k/dt|, i.e. the
 * residual of the fixed-point equations in rate units (tau_k = tau, tau_inh or tau_b). */
double lat_circuit_residual(const lat_circuit *c, const double *z, const double *y);

/* Dense Jacobian d(dydt)/dy of one circuit at y, row-major dim x dim, written to jac. */
void lat_circuit_jacobian(const lat_circuit *c, const double *z, const double *y, double *jac);

/* Solves (I - gamma J(y)) x = x in place for one circuit in O(N), using the bordered-diagonal
 * (arrowhead) structure of J. Returns LAT_OK or LAT_ESOLVER if the system is singular. */
int lat_circuit_newton_solve(const lat_circuit *c, const double *z, const double *y, double gamma,
			     double *x);

/* Per-state-variable residual gains of one circuit: an error e_k <= eps / gain[k] in every state
 * variable at once moves no row of lat_circuit_residual by more than 3 eps. max(1, |alpha|) for r_inh
 * (it enters every neuron's input), 1 for b, and for a rate 1 (max(1, |rho|) with a dynamic b, whose
 * row sees the mean rate). Writes lat_circuit_dim values. */
void lat_circuit_error_gains(const lat_circuit *c, double *gain);

/* One Newton step towards the fixed point: solves J(y) dy = -f in O(N), J the Jacobian at y (the relu
 * active set of y) and f = rhs(y). Returns LAT_OK or LAT_ESOLVER when J is singular there. */
int lat_circuit_steady_solve(const lat_circuit *c, const double *z, const double *y, const double *f,
			     double *dy);

/* Checks a candidate fixed point y_fix reached by Newton from the trajectory state y_from: the
 * linearisation at y_fix must be stable (Routh-Hurwitz on the 2x2 or 3x3 block of the pool mean,
 * r_inh and b; every other eigenvalue is -1/tau), and with relu units the active set {u_i > 0} of
 * y_fix must equal that of y_from (else the affine solve assumed the wrong regime). Returns one of
 * the LAT_FIXED_ codes; with a nonzero code, why (LAT_ERRLEN, may be NULL) says what was measured. */
int lat_circuit_fixed_check(const lat_circuit *c, const double *z, const double *y_from, const double *y_fix,
			    char *why);

/* The slowest decay rate kappa > 0 of the linear circuit (all units active): min(1/tau, -max Re
 * lambda) over the eigenvalues of its Jacobian. Residuals decay like exp(-kappa t) once settling. */
double lat_circuit_slowest_rate(const lat_circuit *c);

/* Analytic steady state of one circuit under drive z (docs/science.md section 2):
 * r_inh* = zbar / (1 + alpha), r_i* = b + z_i - alpha/(1+alpha) zbar, with b = c->bias when constant and
 * b* = r_target - zbar/(1+alpha) when dynamic. With relu units this is returned only when every unit
 * is active at that point; otherwise LAT_EINVAL (no closed form). Writes dim values to ystar. */
int lat_circuit_steady(const lat_circuit *c, const double *z, double *ystar, char *err);

/* Closed-form propagator of the linear circuit with constant bias: the state at time t from y0
 * (differences from the pool mean decay as exp(-t/tau); the mean rate and r_inh form a 2x2 linear
 * system solved by its matrix exponential). Writes y(t) to y (dim values; y may alias y0 only if
 * they are the same pointer). LAT_EINVAL for relu units or a dynamic bias. */
int lat_circuit_exact(const lat_circuit *c, const double *z, const double *y0, double t, double *y,
		      char *err);

/* An upper bound t on the time after which the residual of the linear, constant-bias circuit started
 * at y0 stays below tol, from the exact envelopes of its modes (differences decay as e^{-t/tau}, the
 * mean mode as e^{Re(lambda) t} with its amplitude). O(N). LAT_EINVAL (no bound) for relu units, a
 * dynamic bias, or near-critical damping, where the envelope constant is useless. */
int lat_circuit_settle_bound(const lat_circuit *c, const double *z, const double *y0, double tol, double *t);

/* K independent circuits sharing c, with drives z (K x N). The struct only borrows; the caller may
 * change z between settles (the ODE system reads it at every evaluation). */
/* The values of lat_circuit.relu by name, NULL-terminated: "linear" (0), "relu" (1). */
extern const char *const lat_nonlinearity_names[];

typedef struct {
	const lat_circuit *c;
	size_t n_circuits;
	const double *z;
} lat_circuit_batch;

/* Fills sys with callbacks over the whole batch (dim = K * lat_circuit_dim): rhs, residual (max over
 * circuits), newton_solve (block-wise O(K N)), jacobian (dense, small systems only), error_gains,
 * steady_solve and fixed_check (block-wise) and, for linear units with constant bias, exact and
 * settle_bound. sys borrows b, which must outlive it. */
void lat_circuit_batch_system(const lat_circuit_batch *b, lat_ode_system *sys);

/* One circuit whose weights evolve with its rates while the input x is held ("continuous" timing):
 * state [r (N), r_inh, (b), W (N x d row-major)], z_i = W_i . x, and
 *   tau dW_i/dt = -eta [ (r_i - b) x + gamma (W_i - W_i^init) ].
 * Borrows everything. */
/* The values of lat_circuit.relu by name, NULL-terminated: "linear" (0), "relu" (1). */
extern const char *const lat_nonlinearity_names[];

typedef struct {
	const lat_circuit *c;
	size_t d;
	const double *x;      /* input (d) */
	const double *w_init; /* W^init (N x d) */
	double eta, gamma;
} lat_circuit_plastic;

/* Fills sys for the plastic circuit: rhs and residual only (dim = circuit dim + N d). */
void lat_circuit_plastic_system(const lat_circuit_plastic *p, lat_ode_system *sys);

#ifdef __cplusplus
}
#endif

#endif
