/* libFuzzer: the NumPy reader on an images and a labels .npy made from one
 * input, or, when the input is a zip, on a .npz holding both; whatever the
 * headers and the zip directory say, the probe either refuses the pair or
 * the records it announces are read (deflated members inflated). */
#include <string.h>

#include "fuzz_common.h"
#include "shardml/dataset.h"
#include "data/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sml_split_source s;
  sml_err err;
  const char *paths[2] = {NULL, NULL};
  int ok;
  if (size >= 4 && memcmp(data, "PK", 2) == 0) {
    paths[0] = fuzz_file("arrays", ".npz", data, size);
    ok = sml_npy_probe(&s, paths[0], "x_train.npy", paths[0], "y_train.npy", &err) == SML_OK;
  } else {
    const uint8_t *img, *lab;
    size_t nimg, nlab;
    fuzz_split(data, size, &img, &nimg, &lab, &nlab);
    paths[0] = fuzz_file("x_train", ".npy", img, nimg);
    paths[1] = fuzz_file("y_train", ".npy", lab, nlab);
    ok = sml_npy_probe(&s, paths[0], NULL, paths[1], NULL, &err) == SML_OK;
  }
  if (ok && s.count <= 4096 && (int64_t)s.height * s.width * s.channels <= (1 << 16)) {
    int largest;
    sml_npy_largest_label(&s, &largest, &err);
    const int64_t n = s.count < 64 ? s.count : 64; /* the last records: the end of the file */
    fuzz_read(&s, s.count - n, n, sml_npy_read);
  }
  for (int i = 0; i < 2; i++)
    if (paths[i]) unlink(paths[i]);
  return 0;
}
