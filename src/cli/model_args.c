#include "model_args.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cli_model_build(const cli_model_args *a, int64_t input_dim, int num_classes, sml_model *m,
                    sml_err *err) {
  const char *kind = a->model ? a->model : "mlp";
  const char *spec = a->hidden;
  if (!spec && strcmp(kind, "mlp") == 0) spec = "256";
  int64_t hidden[SML_MAX_LAYERS];
  int n = 0;
  if (spec) {
    const char *p = spec;
    while (*p) {
      char *end;
      errno = 0;
      long long v = strtoll(p, &end, 10);
      if (errno || end == p || (*end && *end != ',') || v < 1)
        return sml_fail(err, SML_EINPUT, "--hidden %s: expected positive widths separated by commas", spec);
      if (n == SML_MAX_LAYERS - 1)
        return sml_fail(err, SML_EINPUT, "--hidden %s: at most %d hidden layers", spec, SML_MAX_LAYERS - 1);
      hidden[n++] = v;
      p = *end ? end + 1 : end;
    }
  }
  return sml_model_init(m, kind, input_dim, num_classes, hidden, n, err);
}
