/* shardml train: data-parallel minibatch training of softmax, SVM and MLP
 * models, with HDF5 checkpoints, exact resume and preemption handling.
 * Maps its options onto one typed job (shardml/job.h) and runs it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_args.h"
#include "options.h"
#include "shardml/job.h"

/* "500" -> every 500 steps; "2e" -> every 2 epochs. */
static int parse_every(const char *text, int64_t *steps, int64_t *epochs, sml_err *err) {
  char *end;
  long long v = strtoll(text, &end, 10);
  if (end == text || v < 1 || (*end && strcmp(end, "e") != 0 && strcmp(end, "epochs") != 0))
    return sml_fail(err, SML_EINPUT, "--checkpoint-every %s: expected N (steps) or Ne (epochs), N >= 1", text);
  if (*end) *epochs = v;
  else *steps = v;
  return SML_OK;
}

int cmd_train(const sml_comm *world, int argc, char **argv, sml_err *err) {
  cli_data_args data = CLI_DATA_DEFAULTS;
  cli_model_args marg = {0};
  sml_train_config cfg = sml_train_unset();
  cli_reduce_args reduce = {0};
  sml_train_job job = {.out = "shardml-out", .keep = 3};
  const char *schedule = NULL, *optimizer = NULL, *ckpt_every = NULL;
  const cli_option opts[] = {
      CLI_DATA_OPTIONS(&data),
      CLI_MODEL_OPTIONS(&marg),
      CLI_TRAIN_OPTIONS(&cfg, &optimizer, &schedule, &reduce),
      {"keep-best", OPT_FLAG, &job.keep_best, NULL,
       "keep best.h5, the model of the epoch with the best validation accuracy"},
      {"out", OPT_STRING, &job.out, "DIR", "output directory (default shardml-out)"},
      {"checkpoint-dir", OPT_STRING, &job.checkpoint_dir, "DIR",
       "write checkpoints ckpt-<step>.h5 and a 'latest' pointer here"},
      {"checkpoint-every", OPT_STRING, &ckpt_every, "N|Ne", "checkpoint every N steps, or every N epochs with Ne"},
      {"checkpoint-seconds", OPT_REAL, &job.checkpoint_seconds, "T",
       "also checkpoint when T seconds passed since the last"},
      {"keep", OPT_INT, &job.keep, "K", "checkpoints kept in --checkpoint-dir (default 3)"},
      {"resume", OPT_STRING, &job.resume, "auto|FILE",
       "continue from the newest valid checkpoint in --checkpoint-dir, or from FILE"},
      {NULL, 0, NULL, NULL, NULL}};
  SML_TRY(
      cli_parse(world, "train",
                "Train a softmax, SVM or MLP classifier with data-parallel minibatch SGD, Nesterov, Adam or AdamW.\n"
                "On SIGTERM or SIGUSR1 every rank finishes its step, a checkpoint is written (with\n"
                "--checkpoint-dir) and shardml exits with status 3.",
                "  mpirun -n 2 shardml train --model mlp --hidden 512x256 --epochs 10\n"
                "  mpirun -n 4 shardml train --model softmax --val 5000 --early-stop 3\n"
                "  mpirun -n 2 shardml train --checkpoint-dir ck --resume auto\n",
                argc, argv, opts, err));
  SML_TRY(cli_model_config(&marg, &cfg, err));
  SML_TRY(cli_optimizer(optimizer, &cfg, err));
  SML_TRY(cli_schedule(schedule, &cfg, err));
  SML_TRY(cli_mode_options(&reduce, &cfg, err));
  cfg.seed = cli_seed(&data);
  sml_train_defaults(&cfg);
  if (ckpt_every) SML_TRY(parse_every(ckpt_every, &job.checkpoint_every_steps, &job.checkpoint_every_epochs, err));
  if ((ckpt_every || job.checkpoint_seconds > 0) && !job.checkpoint_dir)
    return sml_fail(err, SML_EINPUT, "--checkpoint-every/--checkpoint-seconds need --checkpoint-dir DIR");
  if (job.resume && strcmp(job.resume, "auto") == 0 && !job.checkpoint_dir)
    return sml_fail(err, SML_EINPUT, "--resume auto needs --checkpoint-dir DIR");
  if (cfg.early_stop > 0 && data.val == 0) return sml_fail(err, SML_EINPUT, "--early-stop needs --val N|F to watch");
  if (job.keep_best && data.val == 0) return sml_fail(err, SML_EINPUT, "--keep-best needs --val N|F to judge by");
  job.cfg = cfg;
  SML_TRY(cli_data_options(&data, 1, &job.data, err));
  return sml_train_job_run(&job, world, NULL, err);
}
