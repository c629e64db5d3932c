# shellcheck shell=bash
# local/path.sh of the llm_asr1 recipes (sourced by ESPnet's path.sh): the
# plugin is a pip package of the active environment; nothing to add here.
:
