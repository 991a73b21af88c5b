#include "options.h"

#include "base/list.h"
#include "io/io.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Help fits 80 columns: option names in a 27-column margin, their text
 * wrapped beside it; the summary reflowed (its line breaks are spaces). */
#define HELP_WIDTH 80
#define HELP_MARGIN 27

/* Prints text word-wrapped from column `col` (where the cursor is) to
 * HELP_WIDTH, continuation lines indented by `indent`. */
static void print_wrapped(const char *text, int col, int indent) {
  const char *p = text;
  int at_line_start = 1;
  while (*p) {
    while (*p == ' ' || *p == '\n') p++;
    const char *w = p;
    while (*p && *p != ' ' && *p != '\n') p++;
    int len = (int)(p - w);
    if (len == 0) break;
    if (!at_line_start && col + 1 + len > HELP_WIDTH) {
      printf("\n%*s", indent, "");
      col = indent;
      at_line_start = 1;
    }
    if (!at_line_start) {
      putchar(' ');
      col++;
    }
    printf("%.*s", len, w);
    col += len;
    at_line_start = 0;
  }
  putchar('\n');
}

static void print_usage(const char *cmd, const char *summary, const char *examples, const cli_option *opts) {
  printf("usage: shardml %s [options]\n\n", cmd);
  print_wrapped(summary, 0, 0);
  printf("\noptions:\n");
  for (const cli_option *o = opts;; o++) {
    const char *name = o->name ? o->name : "help", *meta = o->name ? o->meta : NULL;
    char left[64];
    int n = snprintf(left, sizeof left, "  --%s%s%s", name, meta ? " " : "", meta ? meta : "");
    if (n >= HELP_MARGIN - 1) printf("%s\n%*s", left, HELP_MARGIN, ""); /* long names: text below */
    else printf("%-*s", HELP_MARGIN, left);
    print_wrapped(o->name ? o->help : "show this help", HELP_MARGIN, HELP_MARGIN);
    if (!o->name) break;
  }
  printf("%-*s", HELP_MARGIN, "  --list-options");
  print_wrapped("one line per option (name, kind, value, help; tab-separated), for scripts", HELP_MARGIN, HELP_MARGIN);
  if (examples && *examples) printf("\nexamples:\n%s", examples);
}

/* Levenshtein distance, for "did you mean" (names are short). */
static size_t edit_distance(const char *a, size_t na, const char *b) {
  size_t nb = strlen(b), row[64];
  if (na >= 63 || nb >= 63) return (size_t)-1;
  for (size_t j = 0; j <= nb; j++) row[j] = j;
  for (size_t i = 1; i <= na; i++) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= nb; j++) {
      size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      diag = up;
      row[j] = best;
    }
  }
  return row[nb];
}

const char *cli_closest(const char *name, size_t len, const char *const *names, size_t n) {
  const char *prefixed = NULL, *best = NULL;
  int prefixes = 0;
  size_t best_d = (size_t)-1;
  for (size_t i = 0; i < n; i++) {
    const size_t nlen = strlen(names[i]);
    /* --epoch for --epochs, --checkpoint-directory for --checkpoint-dir */
    if (len > 0 && strncmp(names[i], name, len < nlen ? len : nlen) == 0) {
      prefixed = names[i];
      prefixes++;
    }
    size_t d = edit_distance(name, len, names[i]);
    if (d < best_d) {
      best_d = d;
      best = names[i];
    }
  }
  if (prefixes == 1) return prefixed;
  return best_d <= (len <= 4 ? 1u : 2u) ? best : NULL;
}

static const char *closest_option(const char *name, size_t len, const cli_option *opts) {
  const char *names[128];
  size_t n = 0;
  for (const cli_option *o = opts; o->name && n < sizeof names / sizeof names[0]; o++) names[n++] = o->name;
  return cli_closest(name, len, names, n);
}

/* Integers may be written in any form strtod reads (1e4, 60000.0) as long
 * as the value is integral and fits: -1 when the text is no integer, -2
 * when it is one beyond int64. */
static int parse_integer(const char *text, int64_t *out) {
  char *end;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (!errno && end != text && !*end) {
    *out = v;
    return 0;
  }
  errno = 0;
  double d = strtod(text, &end);
  if (end == text || *end || isnan(d)) return -1;
  if (isinf(d) || d < -0x1p63 || d >= 0x1p63) return -2; /* also what strtod calls ERANGE above DBL_MAX */
  if (errno || d != floor(d)) return -1;
  *out = (int64_t)d;
  return 0;
}

/* A real option's value: the whole text a finite number. */
static int parse_finite(const cli_option *o, const char *text, double *out, sml_err *err) {
  char *end = NULL;
  errno = 0;
  *out = strtod(text, &end);
  if (errno || end == text || *end || !isfinite(*out))
    return sml_fail(err, SML_EINPUT, "--%s %s: not a finite number", o->name, text);
  return SML_OK;
}

static int set_value(const cli_option *o, char *text, sml_err *err) {
  /* No option means anything by an empty value (a path, a list, a number):
   * "--data $DIR" with DIR unset is a script's mistake, said as such. */
  if (o->kind != OPT_FLAG && !*text)
    return sml_fail(err, SML_EINPUT, "--%s: empty value (expected %s)", o->name, o->meta ? o->meta : "a value");
  switch (o->kind) {
    case OPT_WORD: /* enumerated values are case-insensitive: stored lower-case */
      for (char *p = text; *p; p++) *p = (char)tolower((unsigned char)*p);
      *(const char **)o->value = text;
      return SML_OK;
    case OPT_STRING:
      *(const char **)o->value = text;
      return SML_OK;
    case OPT_INT:
      switch (parse_integer(text, (int64_t *)o->value)) {
        case 0:
          return SML_OK;
        case -2:
          return sml_fail(err, SML_EINPUT, "--%s %s: out of range (at most 2^63 - 1 in size)", o->name, text);
        default:
          return sml_fail(err, SML_EINPUT, "--%s %s: not an integer", o->name, text);
      }
    case OPT_REAL: {
      double v;
      SML_TRY(parse_finite(o, text, &v, err));
      *(double *)o->value = v;
      return SML_OK;
    }
    case OPT_FLAG:
      *(int *)o->value = 1;
      return SML_OK;
    case OPT_COUNT_OR_FRACTION: {
      double v;
      SML_TRY(parse_finite(o, text, &v, err));
      if (v < 0 || v >= 0x1p62)
        return sml_fail(err, SML_EINPUT, "--%s %g: expected a number of images or a fraction in [0, 1)", o->name, v);
      /* 2.0 and 2.5 could mean 2 images or a mistyped fraction: say both
       * (1e4 and 1.5e3 are whole counts, as --subset reads them). */
      if (v >= 1.0 && (v != floor(v) || (strchr(text, '.') && !strpbrk(text, "eE"))))
        return sml_fail(err, SML_EINPUT,
                        "--%s %s: a number of images is written whole (--%s %.0f) and a fraction is below 1 "
                        "(e.g. --%s 0.2)",
                        o->name, text, o->name, floor(v), o->name);
      *(double *)o->value = v;
      return SML_OK;
    }
  }
  return SML_EINPUT;
}

/* One line per option, "--name<TAB>kind<TAB>META<TAB>help", for scripts:
 * shell completion, the test that gives every option bad values, and the
 * generator of docs/reference.md's option tables. */
static void print_option_list(const cli_option *opts) {
  static const char *const kinds[] = {[OPT_STRING] = "string", [OPT_WORD] = "word", [OPT_INT] = "int",
                                      [OPT_REAL] = "real",     [OPT_FLAG] = "flag", [OPT_COUNT_OR_FRACTION] = "real"};
  for (const cli_option *o = opts; o->name; o++)
    printf("--%s\t%s\t%s\t%s\n", o->name, kinds[o->kind], o->meta ? o->meta : "", o->help);
}

int cli_parse(const sml_comm *c, const char *cmd, const char *summary, const char *examples, int argc, char **argv,
              const cli_option *opts, sml_err *err) {
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      if (c->rank == 0) print_usage(cmd, summary, examples, opts);
      return CLI_HELP;
    }
    if (strcmp(arg, "--list-options") == 0) {
      if (c->rank == 0) print_option_list(opts);
      return CLI_HELP;
    }
    if (strncmp(arg, "--", 2) != 0)
      return sml_fail(err, SML_EINPUT, "unexpected argument '%s' (see shardml %s --help)", arg, cmd);
    const char *name = arg + 2, *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const cli_option *o = opts;
    while (o->name && !(strlen(o->name) == len && strncmp(o->name, name, len) == 0)) o++;
    if (!o->name) {
      const char *guess = closest_option(name, len, opts);
      if (guess)
        return sml_fail(err, SML_EINPUT, "unknown option '--%.*s' for 'shardml %s'; did you mean --%s?", (int)len, name,
                        cmd, guess);
      return sml_fail(err, SML_EINPUT, "unknown option '--%.*s' for 'shardml %s' (see shardml %s --help)", (int)len,
                      name, cmd, cmd);
    }
    char *value = NULL;
    if (o->kind == OPT_FLAG) {
      if (eq) return sml_fail(err, SML_EINPUT, "--%s takes no value", o->name);
    } else if (eq) {
      value = argv[i] + 2 + len + 1;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return sml_fail(err, SML_EINPUT, "--%s needs a value (%s)", o->name, o->meta ? o->meta : "");
    }
    SML_TRY(set_value(o, value, err));
  }
  return SML_OK;
}

int cli_check_outputs(const sml_comm *c, const char *const *paths, int n, sml_err *err) {
  int status = SML_OK;
  for (int i = 0; c->rank == 0 && i < n && status == SML_OK; i++)
    if (paths[i]) status = sml_output_check(paths[i], err);
  return sml_agree(c, status, err);
}

int cli_data_options(const cli_data_args *args, int load_test, sml_data_options *out, sml_err *err) {
  sml_data_options o = {
      .path = args->data, .test_path = args->test_data, .load_test = load_test, .limit = args->subset};
  /* --val N (a count) or --val F (a fraction below 1). The option's kind checked the range and wholeness; a value set by code
   * (search, tests) is checked again here. */
  if (args->val < 0 || args->val >= 0x1p62 || (args->val >= 1.0 && args->val != floor(args->val)))
    return sml_fail(err, SML_EINPUT, "--val %g: expected a whole number of images or a fraction in [0, 1)", args->val);
  if (args->val >= 1.0) o.val_count = (int64_t)args->val;
  else o.val_fraction = args->val;
  if (args->seed < 0) return sml_fail(err, SML_EINPUT, "--seed %lld: must not be negative", (long long)args->seed);
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
  if (!cfg->optimizer) return sml_fail(err, SML_EINPUT, "--optimizer %s: unknown (%s)", name, sml_optimizer_names());
  return SML_OK;
}

int cli_schedule(const char *name, sml_train_config *cfg, sml_err *err) {
  if (name && strcmp(name, "step") != 0 && strcmp(name, "cosine") != 0)
    return sml_fail(err, SML_EINPUT, "--schedule %s: expected step or cosine", name);
  cfg->schedule = name && strcmp(name, "cosine") == 0 ? SML_SCHEDULE_COSINE : SML_SCHEDULE_STEP;
  return SML_OK;
}

int cli_mode_options(const cli_reduce_args *a, sml_train_config *cfg, sml_err *err) {
  if (!cfg->reproducible && cfg->micro_batch != SML_UNSET)
    return sml_fail(err, SML_EINPUT,
                    "--micro-batch %lld: only with --reproducible (the default mode sums whole "
                    "batches, it has no micro-batches)",
                    (long long)cfg->micro_batch);
  if (a->overlap && strcmp(a->overlap, "on") != 0 && strcmp(a->overlap, "off") != 0)
    return sml_fail(err, SML_EINPUT, "--overlap %s: expected on or off", a->overlap);
  if (a->overlap) cfg->overlap = strcmp(a->overlap, "on") == 0;
  sml_grad_dtype dtype = SML_GRAD_FP32;
  if (a->grad_dtype && sml_grad_dtype_parse(a->grad_dtype, &dtype) != 0)
    return sml_fail(err, SML_EINPUT, "--grad-dtype %s: expected fp32, bf16 or fp16", a->grad_dtype);
  cfg->grad_dtype = dtype;
  if (a->augment) SML_TRY(sml_augment_parse(a->augment, &cfg->augment, err));
  /* --reproducible's exchanges are its own: --overlap on sums its exact
   * sums tensor by tensor during the backward pass, not in buckets. */
  if (cfg->reproducible && !isnan(cfg->bucket_mb))
    return sml_fail(err, SML_EINPUT,
                    "--bucket-mb: only in the default mode (--reproducible sums whole tensors, "
                    "overlapped with --overlap on)");
  if (cfg->overlap != 1 && !isnan(cfg->bucket_mb))
    return sml_fail(err, SML_EINPUT, "--bucket-mb %g: only with --overlap on (off sums the whole gradient at once)",
                    cfg->bucket_mb);
  return SML_OK;
}

uint64_t cli_seed(const cli_data_args *args) { return (uint64_t)args->seed; }

int cli_int_list(const char *option, const char *text, int64_t *values, int max, int *n, sml_err *err) {
  char buf[2048], *words[SML_LIST_MAX_WORDS];
  if (max > SML_LIST_MAX_WORDS) max = SML_LIST_MAX_WORDS;
  SML_TRY(cli_word_list(option, text, buf, sizeof buf, words, max, n, err));
  for (int i = 0; i < *n; i++) {
    if (parse_integer(words[i], &values[i]) != 0)
      return sml_fail(err, SML_EINPUT, "--%s %s: expected integers separated by commas", option, text);
    if (values[i] < 1)
      return sml_fail(err, SML_EINPUT, "--%s %s: %lld must be at least 1", option, text, (long long)values[i]);
  }
  return SML_OK;
}

static int compare_int64(const void *a, const void *b) {
  const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

void cli_sort_unique(int64_t *values, int *n) {
  if (*n < 2) return;
  qsort(values, (size_t)*n, sizeof *values, compare_int64);
  int kept = 1;
  for (int i = 1; i < *n; i++)
    if (values[i] != values[kept - 1]) values[kept++] = values[i];
  *n = kept;
}

int cli_word_list(const char *option, const char *text, char *buf, size_t buflen, char **words, int max, int *n,
                  sml_err *err) {
  *n = 0;
  if (!*text) return sml_fail(err, SML_EINPUT, "--%s: empty list", option);
  if (strlen(text) >= buflen)
    return sml_fail(err, SML_EINPUT, "--%s: a list of more than %zu characters", option, buflen - 1);
  memcpy(buf, text, strlen(text) + 1);
  char *cursor = buf;
  for (char *w; (w = sml_list_next(&cursor));) {
    if (!*w) return sml_fail(err, SML_EINPUT, "--%s %s: an empty value (a stray comma)", option, text);
    if (*n == max) return sml_fail(err, SML_EINPUT, "--%s %s: at most %d values", option, text, max);
    words[(*n)++] = w;
  }
  return SML_OK;
}

/* The option that sets each quantity library code names in its messages. */
static const struct {
  const char *quantity, *option;
} quantity_options[] = {
    {"model", "--model"},
    {"hidden layers", "--hidden"},
    {"network", "--net"},
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
    {"random configurations", "--random"},
    {"optimizer", "--optimizer"},
    {"beta1", "--beta1"},
    {"beta2", "--beta2"},
    {"epsilon", "--eps"},
    {"weight decay", "--weight-decay"},
    {"dropout", "--dropout"},
    {"augmentation", "--augment"},
    {"micro-batch", "--micro-batch"},
    {"bucket size", "--bucket-mb"},
    {"gradient wire type", "--grad-dtype"},
    {"initial weight scale", "--init-scale"},
    {"early-stopping patience", "--early-stop"},
    {"checkpoints kept", "--keep"},
    {"checkpoint interval", "--checkpoint-seconds"},
};

/* Phrases library code uses for a setting, anywhere in a message, and the
 * option that chooses it on the command line. */
static const struct {
  const char *phrase, *option;
} phrase_options[] = {
    {"with automatic resume", "with --resume auto"},
    {"the reproducible mode", "--reproducible"},
};

static void name_phrases(sml_err *err) {
  for (size_t i = 0; i < sizeof phrase_options / sizeof phrase_options[0]; i++) {
    char *at = strstr(err->msg, phrase_options[i].phrase);
    if (!at) continue;
    char msg[SML_ERR_LEN];
    snprintf(msg, sizeof msg, "%.*s%s%s", (int)(at - err->msg), err->msg, phrase_options[i].option,
             at + strlen(phrase_options[i].phrase));
    snprintf(err->msg, sizeof err->msg, "%s", msg);
  }
}

void cli_name_option(sml_err *err) {
  name_phrases(err);
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
