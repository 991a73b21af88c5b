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

/* A network's first-layer convolution filters (CS231n's "learned filters"),
 * each rescaled to 0-255 over its own range and drawn C == 3 in colour, else
 * grey, 16 to a row. The model's first layer must be a convolution. Call on
 * one rank. */
int sml_filters_png(const char *path, const sml_model *m, const float *params, sml_err *err);

#endif
