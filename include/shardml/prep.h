/* Preprocessing: pixels scaled to [0,1] minus the mean training image.
 * Images stay uint8 until a minibatch needs floats. */
#ifndef SHARDML_PREP_H
#define SHARDML_PREP_H

#include "shardml/api.h"

#include <stdint.h>

#include "shardml/dataset.h"
#include "shardml/comm.h"

SHARDML_BEGIN_DECLS

typedef struct {
  int64_t dim; /* D = height * width * channels */
  float *mean; /* [D], mean of pixel/255 over the whole training split */
} sml_prep;

/* Collective: exact integer pixel sums per rank, one allreduce, so the mean
 * is the same for any number of ranks. */
SHARDML_API void sml_prep_init(sml_prep *p, const sml_shard *train, int64_t dim, const sml_comm *c);
SHARDML_API void sml_prep_free(sml_prep *p);

/* out[b, :] = images[idx[b], :] / 255 - mean, for b < batch.
 * out: [batch, D]; idx: [batch] indices into the shard (NULL: 0..batch-1). */
SHARDML_API void sml_prep_batch(const sml_prep *p, const uint8_t *images, const int64_t *idx, int64_t batch,
                                float *out);
/* The same for images given by pointer: out[b, :] = rows[b][:] / 255 - mean. */
SHARDML_API void sml_prep_rows(const sml_prep *p, const uint8_t *const *rows, int64_t batch, float *out);

/* Mean over all pixels of the mean image (the dataset's mean pixel value). */
SHARDML_API double sml_prep_mean_pixel(const sml_prep *p);

SHARDML_END_DECLS

#endif
