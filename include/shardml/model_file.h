/* Saving a trained model (HDF5, via the io writer) and drawing its weights. */
#ifndef SHARDML_MODEL_FILE_H
#define SHARDML_MODEL_FILE_H

#include "shardml/dataset.h"
#include "shardml/model.h"
#include "shardml/train.h"

/* /params/<name> for every tensor of the parameter table, attributes for
 * the model, its architecture, the hyperparameters and the dataset. Call on
 * one rank. */
int sml_model_save(const char *path, const sml_model *m, const float *params,
                   const sml_dataset *ds, const sml_train_config *cfg, double test_acc, sml_err *err);

/* The classic "class templates": each row of the first weight matrix
 * rescaled to 0-255 and drawn as an HxWxC image, classes side by side.
 * Call on one rank. */
int sml_weights_png(const char *path, const sml_model *m, const float *params,
                    const sml_dataset *ds, sml_err *err);

#endif
