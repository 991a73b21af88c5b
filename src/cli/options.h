/* src/cli/: the shardml program: options, help, and one file per command. */
/* Table-driven command-line options: every subcommand declares its options
 * once, and gets parsing, validation messages that name the option, and
 * --help text from the same table. */
#ifndef SHARDML_CLI_OPTIONS_H
#define SHARDML_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "shardml/dataset.h"
#include "shardml/comm.h"
#include "shardml/error.h"
#include "shardml/train.h"

/* OPT_WORD: an enumerated value or list of them (softmax, L2, Adam...),
 * case-insensitive: stored lower-case. OPT_INT also reads integral reals (1e4). */
/* OPT_COUNT_OR_FRACTION: a whole count N >= 1 or a fraction in [0, 1), into
 * a double; "2.0" is refused, since it reads as either. */
typedef enum { OPT_STRING, OPT_WORD, OPT_INT, OPT_REAL, OPT_FLAG, OPT_COUNT_OR_FRACTION } opt_kind;

typedef struct {
  const char *name; /* without the leading "--"; NULL ends a table */
  opt_kind kind;
  void *value;      /* const char **, int64_t *, double *, int * */
  const char *meta; /* e.g. "DIR" */
  const char *help;
} cli_option;

/* Returned by cli_parse when --help (after printing usage) or
 * --list-options (after listing the options, one "--name\tkind\tMETA\thelp" a
 * line: the bad-options test and docs/reference.md's generator read it)
 * was given. */
#define CLI_HELP (-1)

/* Parses argv[1..] ("--name value" or "--name=value"). --help prints the
 * summary (reflowed to 80 columns), the options and the examples (lines of
 * at most 80 columns, each ending in a newline). */
int cli_parse(const sml_comm *c, const char *cmd, const char *summary, const char *examples, int argc, char **argv,
              const cli_option *opts, sml_err *err);

/* The data options every subcommand that reads a dataset shares. */
typedef struct {
  const char *data;
  const char *test_data;
  double val;
  int64_t subset;
  const char *folds_mode; /* stratified (default) | contiguous */
  int shuffle;
  int64_t seed;
} cli_data_args;
/* The option-table macros are kept as tables (no formatter). */
/* clang-format off */
#define CLI_DATA_DEFAULTS {.seed = 1}

#define CLI_DATA_OPTIONS(args)                                                                   \
  {"data", OPT_STRING, &(args)->data, "PATH",                                                    \
   "dataset directory or file (IDX[.gz], CIFAR-10 .bin, HDF5 .h5, NumPy .npy/.npz); default " SML_DEFAULT_DATA_DIR}, \
  {"test-data", OPT_STRING, &(args)->test_data, "FILE", "test split from a separate file"},       \
  {"val", OPT_COUNT_OR_FRACTION, &(args)->val, "N|F",                                                       \
   "hold out N training images (or a fraction F < 1) for validation, by --folds-mode; default 0"}, \
  {"subset", OPT_INT, &(args)->subset, "N", "use only the first N images of the training file (default all)"}, \
  {"folds-mode", OPT_WORD, &(args)->folds_mode, "MODE",                                        \
   "stratified (default: every fold and --val has each class in proportion) or contiguous (blocks; --val: the last N)"}, \
  {"shuffle", OPT_FLAG, &(args)->shuffle, NULL, "deal images to folds and --val in a random order seeded by --seed"}, \
  {"seed", OPT_INT, &(args)->seed, "S", "seed of every random choice: initialisation, minibatch order, --shuffle (default 1)"}
/* clang-format on */

/* The name a mistyped one most likely meant (an option, a command): the
 * only one that is a prefix of it or that it is a prefix of, else the
 * closest within 2 edits (1 for names of up to 4 letters); NULL if none. */
const char *cli_closest(const char *name, size_t len, const char *const *names, size_t n);

/* Output files the command will write (NULL entries skipped), checked on
 * rank 0 before any work: a path that cannot be written is refused at
 * once, under the user's name for it, not after the work. Collective. */
int cli_check_outputs(const sml_comm *c, const char *const *paths, int n, sml_err *err);

/* Turns parsed data options into loader options (fails on a bad --folds-mode). */
int cli_data_options(const cli_data_args *args, int load_test, sml_data_options *out, sml_err *err);
/* --seed (default 1). */
uint64_t cli_seed(const cli_data_args *args);

/* Library code names the quantity it found wrong ("learning rate 0: must be
 * positive"); this names the option that set it instead ("--lr 0: must be
 * positive"), and the option for a few phrases that name a setting ("with
 * automatic resume" -> "with --resume auto"). */
void cli_name_option(sml_err *err);

/* The optimizer and its hyperparameters, for train and search. */
/* clang-format off */
#define CLI_OPTIMIZER_OPTIONS(cfg, name, reduce)                                                                 \
  {"optimizer", OPT_WORD, name, "NAME", "update rule: sgd (default), nesterov, adam, adamw, rmsprop (docs/guide.md)"}, \
  {"momentum", OPT_REAL, &(cfg)->opt.momentum, "MU", "momentum of sgd and nesterov (default 0.9)"},        \
  {"beta1", OPT_REAL, &(cfg)->opt.beta1, "B1", "decay of the gradient average, adam(w) (default 0.9)"},     \
  {"beta2", OPT_REAL, &(cfg)->opt.beta2, "B2", "decay of the squared-gradient average (default 0.999)"},     \
  {"eps", OPT_REAL, &(cfg)->opt.eps, "EPS", "added to the root of the squared-gradient average (default 1e-8)"}, \
  {"weight-decay", OPT_REAL, &(cfg)->opt.weight_decay, "WD", "decoupled weight decay, w -= lr WD w (adamw; default 0.01)"}, \
  {"dropout", OPT_REAL, &(cfg)->dropout, "P", "drop hidden units with probability P while training (mlp; default 0)"}, \
  {"augment", OPT_STRING, &(reduce)->augment, "LIST", \
   "training images shifted by a random crop of the image padded by P pixels and/or mirrored: crop<P>,flip (default none)"}, \
  {"reproducible", OPT_FLAG, &(cfg)->reproducible, NULL,                                          \
   "the same bits for any number of ranks and threads (exact sums of fixed micro-batches)"},      \
  {"micro-batch", OPT_INT, &(cfg)->micro_batch, "M", "--reproducible: images per micro-batch (default batch/4 in [64, 256])"}, \
  {"overlap", OPT_WORD, &(reduce)->overlap, "on|off", "sum gradient buckets over the ranks during the backward pass (default off; with --reproducible its exact sums, tensor by tensor)"}, \
  {"bucket-mb", OPT_REAL, &(cfg)->bucket_mb, "MB", "--overlap on: size of those buckets (default 0.25)"}, \
  {"grad-dtype", OPT_WORD, &(reduce)->grad_dtype, "fp32|bf16|fp16", \
   "type of the gradient sums on the wire; 16 bits halve the bytes, with error feedback (default fp32)"}

/* train's training set-up (the fuzz harness parses exactly these too):
 * everything but the data, the model and the job's files. */
#define CLI_TRAIN_OPTIONS(cfg, optimizer, schedule, reduce)                                                      \
  {"epochs", OPT_INT, &(cfg)->epochs, "E", "passes over the training set (default 20)"},                 \
  {"batch", OPT_INT, &(cfg)->batch, "B", "global minibatch size, split over the ranks (default 128)"},   \
  {"lr", OPT_REAL, &(cfg)->lr, "ETA", "learning rate (default: adam(w) 1e-3; sgd svm 0.01, softmax 0.02, mlp 0.05)"}, \
  {"reg", OPT_REAL, &(cfg)->reg, "LAMBDA", "L2 regularisation: loss += LAMBDA * sum W^2; biases are not regularised (default 1e-4)"}, \
  CLI_OPTIMIZER_OPTIONS(cfg, optimizer, reduce),                                                                 \
  {"schedule", OPT_WORD, schedule, "step|cosine", "learning-rate schedule (default step)"},              \
  {"lr-decay", OPT_REAL, &(cfg)->lr_decay, "GAMMA", "step schedule: lr *= GAMMA every --lr-step epochs (default 0.95)"}, \
  {"lr-step", OPT_INT, &(cfg)->lr_step, "N", "epochs between decays (default 1)"},                       \
  {"lr-scaling", OPT_FLAG, &(cfg)->lr_scaling, NULL, "linear scaling: lr * batch / --base-batch (large global batches)"}, \
  {"base-batch", OPT_INT, &(cfg)->base_batch, "B", "reference batch of --lr-scaling (default 128)"},      \
  {"warmup-epochs", OPT_REAL, &(cfg)->warmup_epochs, "W", "ramp the learning rate up linearly over W epochs (default 0)"}, \
  {"init-scale", OPT_REAL, &(cfg)->init_scale, "STD", "initial weight std (default: 1e-3 linear, He for mlp)"}, \
  {"early-stop", OPT_INT, &(cfg)->early_stop, "N", "stop after N epochs without a better validation accuracy (needs --val)"}, \
  {"log-every", OPT_INT, &(cfg)->log_every, "N", "record the loss every N steps into steps.csv (default 0: off)"}
/* clang-format on */

/* --optimizer NAME into cfg (NULL: leave the default); lists the known ones in errors. */
int cli_optimizer(const char *name, sml_train_config *cfg, sml_err *err);
/* --schedule step|cosine into cfg (NULL: step). */
int cli_schedule(const char *name, sml_train_config *cfg, sml_err *err);
/* The gradient sum's options given as words (NULL: not given). */
typedef struct {
  const char *overlap;    /* on | off */
  const char *grad_dtype; /* fp32 | bf16 | fp16 */
  const char *augment;    /* crop<P>,flip | none */
} cli_reduce_args;
/* Sets them (and the augmentation, read by both modes) into cfg; options that only one arithmetic mode reads
 * (--micro-batch without --reproducible, --overlap or --bucket-mb with it)
 * are refused rather than silently ignored. */
int cli_mode_options(const cli_reduce_args *a, sml_train_config *cfg, sml_err *err);

/* "1,3,5" -> values (each >= 1, at most max and SML_LIST_MAX_WORDS); names the option in errors. */
int cli_int_list(const char *option, const char *text, int64_t *values, int max, int *n, sml_err *err);
/* values[n] sorted ascending, repeats dropped (a grid axis: "5,1,3,3" is 1,3,5). */
void cli_sort_unique(int64_t *values, int *n);
/* "a,b" -> pointers into buf (a copy of text split at commas); an empty
 * text, an empty value (a stray comma), more than max values or a text
 * longer than buf are errors that name the option. */
#define SML_LIST_MAX_WORDS 64
int cli_word_list(const char *option, const char *text, char *buf, size_t buflen, char **words, int max, int *n,
                  sml_err *err);

/* Subcommands: each returns an SML_* status, with err filled on failure. */
typedef int (*cli_command_fn)(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_info(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_convert(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_train(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_search(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_gradcheck(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_knn(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_cv(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_eval(const sml_comm *world, int argc, char **argv, sml_err *err);
int cmd_predict(const sml_comm *world, int argc, char **argv, sml_err *err);

#endif
