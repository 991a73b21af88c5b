/* Stop signals: SIGTERM and SIGUSR1 as a request to stop at the next step
 * boundary, with a checkpoint (sml_train then returns SML_EXIT_PREEMPTED). */
#ifndef SHARDML_SIGNALS_H
#define SHARDML_SIGNALS_H

#include "shardml/api.h"

SHARDML_BEGIN_DECLS

/* SIGTERM and SIGUSR1 (SLURM's warnings before a time limit or a
 * preemption) set a flag instead of killing the process; the trainer polls
 * it once a step, inside its allreduce, so every rank stops at the same step.
 * Installed by the first statement of main (before MPI_Init), so that a
 * signal at any time means "stop": one during start-up stops training at
 * its first step. SHARDML_FAULT=signal-at-start raises SIGUSR1 right after
 * installing (for the tests). */
SHARDML_API void sml_signals_install(void);
/* Blocks both until the next sml_signals_install: around exec, which
 * resets handlers but keeps the blocked mask and what is pending. */
SHARDML_API void sml_signals_hold(void);
SHARDML_API int sml_signal_pending(void); /* the signal number, or 0 */

SHARDML_END_DECLS

#endif
