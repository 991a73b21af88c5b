/* Options shared by the subcommands that build a parametric model. */
#ifndef SHARDML_CLI_MODEL_ARGS_H
#define SHARDML_CLI_MODEL_ARGS_H

#include "options.h"
#include "shardml/train.h"

typedef struct {
  const char *model;
  const char *hidden; /* "256", "512x256" (or the older "512,256"): one hidden layer per width */
  const char *net;    /* a network's layers (model cnn) */
} cli_model_args;

/* clang-format off */
#define CLI_MODEL_OPTIONS(args)                                                        \
  {"model", OPT_WORD, &(args)->model, "NAME", "softmax | svm | mlp | cnn (default mlp; cnn with --net)"},   \
  {"hidden", OPT_STRING, &(args)->hidden, "WxW...",                                    \
   "hidden layer widths of the mlp, e.g. 512x256 for two layers (default 256)"},       \
  {"net", OPT_STRING, &(args)->net, "LAYERS",                                          \
   "a convolutional network (model cnn): layers conv<F>x<K>[s<S>][p<P>], pool<K>, avgpool<K>, fc<N>, bn, "\
   "dropout<P>, relu, comma-separated, e.g. conv32x3,bn,relu,pool2,fc10"}
/* clang-format on */

/* Puts the model kind and hidden widths into cfg (names the option in errors). */
int cli_model_config(const cli_model_args *a, sml_train_config *cfg, sml_err *err);

#endif
