/* libFuzzer: the IDX reader (raw or gzip) on an images file and a labels
 * file made from one input; whatever the header says, the probe either
 * refuses the pair or the records it announces are read. */
#include <string.h>

#include "fuzz_common.h"
#include "shardml/dataset.h"
#include "data/formats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const uint8_t *img, *lab;
  size_t nimg, nlab;
  fuzz_split(data, size, &img, &nimg, &lab, &nlab);
  const int gz = nimg >= 2 && img[0] == 0x1f && img[1] == 0x8b;
  const char *ipath = fuzz_file("train-images-idx3-ubyte", gz ? ".gz" : "", img, nimg);
  const char *lpath = fuzz_file("train-labels-idx1-ubyte", gz ? ".gz" : "", lab, nlab);
  sml_split_source s;
  sml_err err;
  if (sml_idx_probe(&s, ipath, lpath, &err) == SML_OK && s.count <= 4096) {
    const int64_t n = s.count < 64 ? s.count : 64; /* the last records: the end of the file */
    fuzz_read(&s, s.count - n, n, sml_idx_read);
  }
  unlink(ipath);
  unlink(lpath);
  return 0;
}
