/* libFuzzer: the checkpoint loader on a file made from the input, as eval
 * loads a model and as a resume loads a checkpoint of a fixed run. */
#include "fuzz_common.h"
#include "shardml/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("ckpt", ".h5", data, size);
  sml_err err;
  sml_saved_model sm;
  if (sml_saved_model_load(&sm, path, &err) == SML_OK) sml_saved_model_free(&sm);
  /* The resume path: the run the seed checkpoint was made by (softmax on
   * 23 images of 4x3x2, batch 5, 2 epochs, SGD). */
  sml_train_config cfg = sml_train_unset();
  snprintf(cfg.model, sizeof cfg.model, "softmax");
  cfg.epochs = 2;
  cfg.batch = 5;
  cfg.log_every = 2;
  sml_train_defaults(&cfg);
  sml_model m;
  if (sml_train_model(&cfg, 24, 3, &m, &err) == SML_OK) {
    sml_train_state st;
    sml_train_state_init(&st, &m, &cfg, (23 + 4) / 5);
    sml_dataset_identity id = {.n_train = 23, .n_val = 0, .n_test = 7, .label_checksum = 0xf4bc70e7452244feull};
    int ranks, threads;
    sml_checkpoint_read(path, &m, &cfg, &id, &st, &ranks, &threads, &err);
    sml_train_state_free(&st);
  }
  unlink(path);
  return 0;
}
