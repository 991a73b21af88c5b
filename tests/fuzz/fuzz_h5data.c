/* libFuzzer: shardml's HDF5 dataset reader (/images, /labels, the /test group,
 * class_names) on a file made from the input: checked before HDF5 reads it. */
#include "fuzz_common.h"
#include "shardml/dataset.h"
#include "data/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *path = fuzz_file("data", ".h5", data, size);
  sml_split_source s;
  sml_err err;
  if (sml_h5_probe(&s, path, "", &err) == SML_OK && s.count <= 256) {
    fuzz_read(&s, 0, s.count, sml_h5_read);
    sml_dataset ds = {0};
    sml_h5_read_class_names(&ds, path, &err);
  }
  unlink(path);
  return 0;
}
