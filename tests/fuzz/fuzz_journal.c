/* libFuzzer: the search journal reader on arbitrary text (torn lines,
 * out-of-range tasks, configurations and folds, results without "done"). */
#include <string.h>

#include "fuzz_common.h"
#include "shardml/tasks.h"

#define SIGNATURE 0x0123456789abcdefull

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Half the inputs get the right header, so the parser is reached. */
  static const char header[] = "# shardml search journal v1 signature=0123456789abcdef\n";
  const int with_header = size > 0 && (data[0] & 1);
  char *text = malloc(sizeof header + size);
  size_t n = 0;
  if (with_header) {
    memcpy(text, header, sizeof header - 1);
    n = sizeof header - 1;
    data++, size--;
  }
  memcpy(text + n, data, size);
  n += size;
  FILE *f = fmemopen(text, n ? n : 1, "r");
  if (!f) abort();
  enum { NCONFIGS = 5, NFOLDS = 3, NTASKS = NCONFIGS * NFOLDS };
  sml_cv_table t = {.nconfigs = NCONFIGS, .nfolds = NFOLDS};
  double score[NTASKS], fit[NTASKS], score_time[NTASKS], train[NTASKS];
  t.score = score;
  t.fit_time = fit;
  t.score_time = score_time;
  t.train_score = train;
  char done[NTASKS + 1] = {0};
  int ndone = 0, nskipped = 0;
  sml_err err;
  sml_journal_parse(f, "fuzz-journal", SIGNATURE, NTASKS, done, &t, &ndone, &nskipped, &err);
  fclose(f);
  free(text);
  if (ndone < 0 || ndone > NTASKS) abort(); /* each task counted once at most */
  return 0;
}
