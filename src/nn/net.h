/* Networks given as a spec (model kind "cnn"), inside the library: the
 * model calls these for a model with layers (m->nops > 0); building one is
 * sml_model_init_net (shardml/model.h). */
#ifndef SHARDML_NET_H
#define SHARDML_NET_H

#include <stddef.h>
#include <stdint.h>

#include "shardml/model.h"

/* The buffers a batch of B needs (into a zeroed ws). */
void sml_net_workspace(sml_workspace *ws, const sml_model *m, int64_t B);
/* Scores [B, C] inside ws; x is [B, h*w*c] as prepared (HWC). With drop
 * (training) the dropout layers drop values, without it they pass them on. */
const float *sml_net_forward(const sml_model *m, const float *params, const float *x, int64_t B,
                             const sml_dropout *drop, sml_workspace *ws);
/* After sml_net_forward of the same batch (with drop, if any) and the loss's dscores in
 * ws->grad_a: ACCUMULATES the data-loss gradient into grad, telling hook
 * (if not NULL) as layers finish, last first. */
void sml_net_backward(const sml_model *m, const float *params, float *grad, const float *x, int64_t B,
                      const sml_dropout *drop, sml_workspace *ws, const sml_grad_hook *hook);
/* "conv+relu 32x28x28 (320 parameters); maxpool 32x14x14 (0 parameters); ..." */
void sml_net_describe(const sml_model *m, char *out, size_t len);

#endif
