/* Preprocessing: pixels scaled to [0,1] minus the mean training image.
 * Images stay uint8 until a minibatch needs floats. */
#ifndef SHARDML_PREP_H
#define SHARDML_PREP_H

#include "shardml/api.h"

#include <stddef.h>
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

/* Data augmentation while training: each image is shifted by a random
 * crop of the image padded with crop black pixels on every side (0: none)
 * and, with flip, mirrored left to right half of the time. What an image
 * gets is drawn from (seed, epoch, its global index) only, so it does not
 * depend on ranks, threads, the batch it lands in or a resume. */
typedef struct {
  int crop; /* 0..SML_AUGMENT_MAX_CROP */
  int flip; /* 0 or 1 */
} sml_augment;
#define SML_AUGMENT_MAX_CROP 64
/* "none", or elements joined by commas: crop<P> and flip ("crop2,flip").
 * Errors name the quantity "augmentation" and the element. */
SHARDML_API int sml_augment_parse(const char *spec, sml_augment *a, sml_err *err);
/* The spec back ("crop2,flip"), as sml_augment_parse reads it; "" when none. */
SHARDML_API void sml_augment_format(const sml_augment *a, char *out, size_t len);
/* out[b] = image rows[b] (height x width x channels, HWC) as augmented for
 * sample ids[b] in epoch `epoch`; out: [n, height * width * channels]. */
SHARDML_API void sml_augment_images(const sml_augment *a, uint64_t seed, int64_t epoch, const int64_t *ids,
                                    const uint8_t *const *rows, int64_t n, int height, int width, int channels,
                                    uint8_t *out);

/* Mean over all pixels of the mean image (the dataset's mean pixel value). */
SHARDML_API double sml_prep_mean_pixel(const sml_prep *p);

SHARDML_END_DECLS

#endif
