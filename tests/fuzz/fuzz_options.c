/* libFuzzer: the option parser and the checks of a training set-up on
 * arbitrary argument vectors (the input split at NUL bytes), as train
 * parses them; every value is refused or within range, never undefined. */
#include <string.h>

#include "../../src/cli/model_args.h"
#include "../../src/cli/options.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  memcpy(text, data, size);
  text[size] = '\0';
  char *argv[64];
  int argc = 0;
  argv[argc++] = "train";
  for (size_t i = 0; i <= size && argc < 63;) {
    argv[argc++] = text + i;
    i += strlen(text + i) + 1;
  }
  argv[argc] = NULL;

  cli_data_args dargs = CLI_DATA_DEFAULTS;
  cli_model_args marg = {0};
  sml_train_config cfg = sml_train_unset();
  cli_reduce_args reduce = {0};
  const char *optimizer = NULL, *schedule = NULL;
  const cli_option opts[] = {CLI_DATA_OPTIONS(&dargs),
                             CLI_MODEL_OPTIONS(&marg),
                             CLI_TRAIN_OPTIONS(&cfg, &optimizer, &schedule, &reduce),
                             {NULL, 0, NULL, NULL, NULL}};
  const sml_comm none = {.rank = 1, .size = 2}; /* not rank 0: --help prints nothing */
  sml_err err;
  sml_data_options dopt;
  if (cli_parse(&none, "train", "", "", argc, argv, opts, &err) == SML_OK &&
      cli_model_config(&marg, &cfg, &err) == SML_OK && cli_optimizer(optimizer, &cfg, &err) == SML_OK &&
      cli_schedule(schedule, &cfg, &err) == SML_OK && cli_mode_options(&reduce, &cfg, &err) == SML_OK &&
      cli_data_options(&dargs, 1, &dopt, &err) == SML_OK) {
    sml_train_defaults(&cfg);
    sml_model m;
    const int64_t n_train = 60000;
    if (sml_train_config_check(&cfg, n_train, &err) == SML_OK && sml_train_model(&cfg, 784, 10, &m, &err) == SML_OK)
      sml_train_memory_check(&m, &cfg, n_train, 1, &err);
  }
  cli_name_option(&err);
  free(text);
  return 0;
}
