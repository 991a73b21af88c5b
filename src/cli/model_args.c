#include "model_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_model_config(const cli_model_args *a, sml_train_config *cfg, sml_err *err) {
  snprintf(cfg->model, sizeof cfg->model, "%s", a->model ? a->model : a->net ? "cnn" : "mlp");
  cfg->nhidden = 0;
  if (a->net) {
    if (strcmp(cfg->model, "cnn") != 0)
      return sml_fail(err, SML_EINPUT, "--net: gives the layers of a cnn, not of a %s model", cfg->model);
    if (a->hidden) return sml_fail(err, SML_EINPUT, "--hidden: an mlp's widths; a cnn's layers are all in --net");
    if (strlen(a->net) >= sizeof cfg->net)
      return sml_fail(err, SML_EINPUT, "--net: longer than %d characters", (int)sizeof cfg->net - 1);
    snprintf(cfg->net, sizeof cfg->net, "%s", a->net);
    return SML_OK;
  }
  if (!a->hidden) return SML_OK; /* the default widths come with the other defaults */
  for (const char *p = a->hidden; *p;) {
    char *end;
    errno = 0;
    long long v = strtoll(p, &end, 10);
    if (errno || end == p || (*end && *end != 'x' && *end != ',') || v < 1 || (*end && !end[1]))
      return sml_fail(err, SML_EINPUT, "--hidden %s: expected positive widths joined by x (e.g. 512x256)", a->hidden);
    if (cfg->nhidden == SML_MAX_LAYERS - 1)
      return sml_fail(err, SML_EINPUT, "--hidden %s: at most %d hidden layers", a->hidden, SML_MAX_LAYERS - 1);
    cfg->hidden[cfg->nhidden++] = v;
    p = *end ? end + 1 : end;
  }
  return SML_OK;
}
