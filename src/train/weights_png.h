/* Drawing a linear model's weights (the model itself is saved as a final
 * checkpoint: shardml/checkpoint.h). */
#ifndef SHARDML_WEIGHTS_PNG_H
#define SHARDML_WEIGHTS_PNG_H

#include "shardml/dataset.h"
#include "shardml/model.h"
#include "shardml/train.h"

/* The classic "class templates": each row of the first weight matrix
 * rescaled to 0-255 and drawn as an HxWxC image, classes side by side.
 * Call on one rank. */
int sml_weights_png(const char *path, const sml_model *m, const float *params, const sml_dataset *ds, sml_err *err);

#endif
