/* libFuzzer: the CIFAR-10 binary reader (1 label byte + 3072 pixel bytes
 * per record) on a batch file made from the input. */
#include "fuzz_common.h"
#include "shardml/dataset.h"
#include "data/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char files[1][SML_PATH_LEN];
  snprintf(files[0], SML_PATH_LEN, "%s", fuzz_file("data_batch_1", ".bin", data, size));
  sml_split_source s;
  sml_err err;
  if (sml_cifar_probe(&s, files, 1, &err) == SML_OK && s.count <= 64) fuzz_read(&s, 0, s.count, sml_cifar_read);
  unlink(files[0]);
  return 0;
}
