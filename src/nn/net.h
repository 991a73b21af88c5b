/* Networks given as a spec (model kind "cnn"), inside the library: the
 * model calls these for a model with layers (m->nops > 0); building one is
 * sml_model_init_net (shardml/model.h). */
#ifndef SHARDML_NET_H
#define SHARDML_NET_H

#include <stddef.h>
#include <stdint.h>

#include "shardml/model.h"

/* Appends entry <name><layer> of d0 (x d1 when ndim is 2) floats to m's
 * table and buffer (model.c; every model kind builds its table with it). */
sml_param_entry *sml_model_add_param(sml_model *m, const char *name, int layer, int ndim, int64_t d0, int64_t d1,
                                     int regularized);
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
/* Batch normalization as PyTorch's: running averages move by 0.1 of the
 * batch's statistics (its unbiased variance), epsilon under the root. */
#define SML_BN_MOMENTUM 0.1
#define SML_BN_EPSILON 1e-5

/* A training pass (drop not NULL) of a network with batch normalization
 * in parts, for a caller that agrees each one's sums over the whole batch
 * itself (sml_net_forward and sml_net_backward agree them through ws->sum;
 * the reproducible mode adds up its micro-batches' exactly).
 * forward_part runs the layers from `from` (0 to start) up to the next
 * batch normalization l, puts this batch's sums of its input into ws->bn[l]
 * (sml_net_sums_len(m, l) doubles) and returns l; the caller replaces them
 * by the whole batch's, calls sml_net_agree(m, ws, l), and goes on with
 * from = l. Returns m->nops once the scores are in ws->act[m->nops].
 * backward_part likewise from `from` = m->nops down: it stops at batch
 * normalization l with this batch's sums of dy and dy * xhat in ws->bn[l]
 * (already added to the gradients of beta and gamma), the caller replaces
 * them by the whole batch's and goes on with from = l; -1 at the end. A
 * batch of B = 0 computes nothing but stops at the same layers. */
int sml_net_forward_part(const sml_model *m, const float *params, const float *x, int64_t B, const sml_dropout *drop,
                         sml_workspace *ws, int from);
/* After forward_part returned m->nops: the summed loss of the scores,
 * their gradient into ws->grad_a (where backward_part starts). */
double sml_net_loss(const sml_model *m, const uint8_t *labels, int64_t B, sml_workspace *ws);
int64_t sml_net_sums_len(const sml_model *m, int l);
void sml_net_agree(const sml_model *m, sml_workspace *ws, int l);
int sml_net_backward_part(const sml_model *m, const float *params, float *grad, const float *x, int64_t B,
                          const sml_dropout *drop, sml_workspace *ws, const sml_grad_hook *hook, int from);
/* After a training step's update: the running averages of every batch
 * normalization move towards the statistics the step's forward pass
 * agreed in ws (the same on every rank). */
void sml_net_update_running(const sml_model *m, float *params, const sml_workspace *ws);

/* "conv+relu 32x28x28 (320 parameters); maxpool 32x14x14 (0 parameters); ..." */
void sml_net_describe(const sml_model *m, char *out, size_t len);

#endif
