#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void print_usage(const char *cmd, const char *summary, const cli_option *opts) {
  printf("usage: shardml %s [options]\n\n%s\n\noptions:\n", cmd, summary);
  for (const cli_option *o = opts; o->name; o++) {
    char left[64];
    snprintf(left, sizeof left, "--%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
    printf("  %-24s %s\n", left, o->help);
  }
  printf("  %-24s %s\n", "--help", "show this help");
}

static int set_value(const cli_option *o, const char *text, sml_err *err) {
  char *end = NULL;
  errno = 0;
  switch (o->kind) {
    case OPT_STRING:
      *(const char **)o->value = text;
      return SML_OK;
    case OPT_INT: {
      long long v = strtoll(text, &end, 10);
      if (errno || end == text || *end)
        return sml_fail(err, SML_EINPUT, "--%s %s: not an integer", o->name, text);
      *(int64_t *)o->value = v;
      return SML_OK;
    }
    case OPT_REAL: {
      double v = strtod(text, &end);
      if (errno || end == text || *end || !isfinite(v))
        return sml_fail(err, SML_EINPUT, "--%s %s: not a finite number", o->name, text);
      *(double *)o->value = v;
      return SML_OK;
    }
    case OPT_FLAG:
      *(int *)o->value = 1;
      return SML_OK;
  }
  return SML_EINPUT;
}

int cli_parse(const sml_comm *c, const char *cmd, const char *summary, int argc, char **argv,
              const cli_option *opts, sml_err *err) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      if (c->rank == 0) print_usage(cmd, summary, opts);
      return CLI_HELP;
    }
    if (strncmp(arg, "--", 2) != 0)
      return sml_fail(err, SML_EINPUT, "unexpected argument '%s' (see shardml %s --help)", arg, cmd);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_option *o = opts;
    while (o->name && !(strlen(o->name) == len && strncmp(o->name, name, len) == 0)) o++;
    if (!o->name)
      return sml_fail(err, SML_EINPUT, "unknown option '--%.*s' for 'shardml %s' (see shardml %s --help)",
                      (int)len, name, cmd, cmd);
    const char *value = NULL;
    if (o->kind == OPT_FLAG) {
      if (eq) return sml_fail(err, SML_EINPUT, "--%s takes no value", o->name);
    } else if (eq) {
      value = eq + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return sml_fail(err, SML_EINPUT, "--%s needs a value (%s)", o->name, o->meta ? o->meta : "");
    }
    SML_TRY(set_value(o, value, err));
  }
  return SML_OK;
}

int cli_data_options(const cli_data_args *args, int load_test, sml_data_options *out, sml_err *err) {
  sml_data_options o = {.path = args->data, .test_path = args->test_data, .load_test = load_test, .limit = args->subset};
  /* --val N (a count) or --val F (a fraction below 1); converted only in
   * range (a double beyond int64 has no conversion). */
  if (args->val < 0 || args->val >= 0x1p62)
    return sml_fail(err, SML_EINPUT, "--val %g: expected a number of images or a fraction in [0, 1)", args->val);
  if (args->val >= 1.0 || args->val < 0) o.val_count = (int64_t)args->val;
  else o.val_fraction = args->val;
  if (args->val >= 1.0 && args->val != floor(args->val)) o.val_fraction = -1; /* rejected by the loader */
  if (args->folds_mode && sml_split_mode_parse(args->folds_mode, &o.split.mode) != 0)
    return sml_fail(err, SML_EINPUT, "--folds-mode %s: expected stratified or contiguous", args->folds_mode);
  o.split.shuffle = args->shuffle;
  o.split.seed = cli_seed(args);
  *out = o;
  return SML_OK;
}

int cli_optimizer(const char *name, sml_train_config *cfg, sml_err *err) {
  if (!name) return SML_OK;
  cfg->optimizer = sml_optimizer_find(name);
  if (!cfg->optimizer)
    return sml_fail(err, SML_EINPUT, "--optimizer %s: unknown (%s)", name, sml_optimizer_names());
  return SML_OK;
}

uint64_t cli_seed(const cli_data_args *args) { return (uint64_t)args->seed; }

int cli_int_list(const char *option, const char *text, int64_t *values, int max, int *n, sml_err *err) {
  *n = 0;
  const char *p = text;
  while (*p) {
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || (*end && *end != ','))
      return sml_fail(err, SML_EINPUT, "--%s %s: expected integers separated by commas", option, text);
    if (v < 1) return sml_fail(err, SML_EINPUT, "--%s %s: %lld must be at least 1", option, text, v);
    if (*n == max) return sml_fail(err, SML_EINPUT, "--%s %s: at most %d values", option, text, max);
    values[(*n)++] = v;
    p = *end ? end + 1 : end;
  }
  if (*n == 0) return sml_fail(err, SML_EINPUT, "--%s: empty list", option);
  return SML_OK;
}

int cli_word_list(const char *option, const char *text, char *buf, size_t buflen, char **words, int max,
                  int *n, sml_err *err) {
  snprintf(buf, buflen, "%s", text);
  *n = 0;
  for (char *save = NULL, *w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
    if (*n == max) return sml_fail(err, SML_EINPUT, "--%s %s: at most %d values", option, text, max);
    words[(*n)++] = w;
  }
  if (*n == 0) return sml_fail(err, SML_EINPUT, "--%s: empty list", option);
  return SML_OK;
}

/* The option that sets each quantity library code names in its messages. */
static const struct {
  const char *quantity, *option;
} quantity_options[] = {
    {"model", "--model"},
    {"hidden layers", "--hidden"},
    {"learning rate", "--lr"},
    {"L2 strength", "--reg"},
    {"epochs", "--epochs"},
    {"batch size", "--batch"},
    {"momentum", "--momentum"},
    {"learning-rate decay", "--lr-decay"},
    {"base batch", "--base-batch"},
    {"decay interval", "--lr-step"},
    {"warm-up epochs", "--warmup-epochs"},
    {"logging interval", "--log-every"},
    {"test split", "--test-data"},
    {"validation size", "--val"},
    {"subset", "--subset"},
    {"folds", "--folds"},
    {"k", "--k"},
    {"groups", "--groups"},
    {"optimizer", "--optimizer"},
    {"beta1", "--beta1"},
    {"beta2", "--beta2"},
    {"epsilon", "--eps"},
    {"weight decay", "--weight-decay"},
    {"dropout", "--dropout"},
    {"micro-batch", "--micro-batch"},
    {"initial weight scale", "--init-scale"},
    {"early-stopping patience", "--early-stop"},
    {"checkpoints kept", "--keep"},
    {"checkpoint interval", "--checkpoint-seconds"},
};

void cli_name_option(sml_err *err) {
  if (!err->quantity[0]) return;
  const size_t qlen = strlen(err->quantity);
  for (size_t i = 0; i < sizeof quantity_options / sizeof quantity_options[0]; i++)
    if (strcmp(err->quantity, quantity_options[i].quantity) == 0 && strncmp(err->msg, err->quantity, qlen) == 0) {
      char msg[SML_ERR_LEN];
      snprintf(msg, sizeof msg, "%s%s", quantity_options[i].option, err->msg + qlen);
      snprintf(err->msg, sizeof err->msg, "%s", msg);
      return;
    }
}
