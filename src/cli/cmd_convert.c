/* shardml convert: any supported dataset -> shardml's HDF5 layout. Rank 0
 * reads the whole dataset and writes the file; other ranks only wait for
 * the agreed result, so the command works under mpirun too. */
#include <stdio.h>

#include "options.h"

int cmd_convert(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  const char *out = NULL;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      {"out", OPT_STRING, &out, "FILE", "output HDF5 file (written to a temporary name, then renamed)"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(cli_parse(world, "convert", "Write a dataset (training and test splits) in shardml's HDF5 layout.",
                    "  shardml convert --out fashion.h5\n"
                    "  shardml convert --data data_batch_1.bin --test-data test_batch.bin --out c.h5\n",
                    argc, argv, opts, err));
  if (!out) return sml_fail(err, SML_EINPUT, "--out FILE is required");
  if (data.val != 0) return sml_fail(err, SML_EINPUT, "--val: convert writes whole splits; drop --val");

  /* Checked on every rank: a failure returned by rank 0 alone would leave
   * the others waiting in the agreement below. */
  sml_data_options dopt;
  SML_TRY(cli_data_options(&data, 1, &dopt, err));
  SML_TRY(cli_check_outputs(world, (const char *const[]){out}, 1, err));
  int status = SML_OK;
  if (world->rank == 0) {
    sml_comm self = sml_comm_self();
    sml_dataset ds;
    status = sml_dataset_load(&ds, &dopt, &self, err);
    if (status == SML_OK) {
      status = sml_h5_write_dataset(&ds, out, err);
      if (status == SML_OK)
        fprintf(stderr, "shardml: wrote %s: %lld training and %lld test images, %dx%dx%d\n", out,
                (long long)ds.train.total, (long long)ds.test.total, ds.height, ds.width, ds.channels);
      sml_dataset_free(&ds);
    }
  }
  return sml_agree(world, status, err);
}
