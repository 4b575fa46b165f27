/* lateral.h: umbrella header of liblateral (link with `pkg-config --libs lateral`). */
#ifndef LATERAL_LATERAL_H
#define LATERAL_LATERAL_H

#include "lateral/err.h"
#include "lateral/io.h"
#include "lateral/ode.h"
#include "lateral/circuit.h"
#include "lateral/model.h"
#include "lateral/rule.h"
#include "lateral/closedform.h"
#include "lateral/metrics.h"
#include "lateral/sim.h"
#include "lateral/layer.h"
#include "lateral/loss.h"
#include "lateral/data.h"
#include "lateral/share.h"
#include "lateral/experiment.h"
#include "lateral/net.h"
#include "lateral/optim.h"
#include "lateral/trainer.h"
#include "lateral/ckpt.h"
#include "lateral/state.h"
#include "lateral/study.h"

/* Thread safety: see each header. GSL's error handler is process-wide: a host program should call
 * gsl_set_error_handler_off() before using the library, as the lateral CLI does. */

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif

#endif
