# shellcheck shell=bash
# Job runners used by asr.sh (it sources this file). run.pl runs every job on
# this machine. For a cluster, point them at ESPnet's queue.pl or slurm.pl
# with a config file (see egs2/TEMPLATE/asr1/cmd.sh in your ESPnet checkout).
#   train_cmd:  data preparation and statistics jobs
#   cuda_cmd:   training jobs (asr.sh adds --gpu N)
#   decode_cmd: decoding jobs
export train_cmd="run.pl"
export cuda_cmd="run.pl"
export decode_cmd="run.pl"
