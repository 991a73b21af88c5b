/* Options shared by the subcommands that build a parametric model. */
#ifndef SHARDML_CLI_MODEL_ARGS_H
#define SHARDML_CLI_MODEL_ARGS_H

#include "options.h"
#include "shardml/model.h"

typedef struct {
  const char *model;
  const char *hidden;  /* "256" or "512,256" */
} cli_model_args;

#define CLI_MODEL_OPTIONS(args)                                                        \
  {"model", OPT_STRING, &(args)->model, "NAME", "softmax | svm | mlp (default mlp)"},   \
  {"hidden", OPT_STRING, &(args)->hidden, "W[,W...]",                                  \
   "hidden layer widths of the mlp (default 256)"}

/* Builds the model for input_dim inputs and num_classes classes. */
int cli_model_build(const cli_model_args *a, int64_t input_dim, int num_classes, sml_model *m,
                    sml_err *err);

#endif
