/* libFuzzer: the CIFAR-10 binary reader (1 label byte + 3072 pixel bytes
 * per record) on a batch file made from the input. */
#include "fuzz_common.h"
#include "shardml/dataset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char files[1][SML_PATH_LEN];
  snprintf(files[0], SML_PATH_LEN, "%s", fuzz_file("data_batch_1", ".bin", data, size));
  sml_split_source s;
  sml_err err;
  if (sml_cifar_probe(&s, files, 1, &err) == SML_OK && s.count <= 64) {
    const int64_t dim = (int64_t)s.height * s.width * s.channels;
    uint8_t *images = malloc((size_t)(s.count * dim) + 1), *labels = malloc((size_t)s.count + 1);
    sml_read_range r = {.first = 0, .count = s.count, .images = images, .labels = labels};
    sml_cifar_read(&s, 1, &r, &err);
    free(images);
    free(labels);
  }
  unlink(files[0]);
  return 0;
}
