"""Train a phoneme-CTC encoder or an LLM-ASR model (ESPnet trainer).

Same options as ``espnet2.bin.asr_train`` plus ours (see
``espnet_llm_entropy.tasks.llm_asr``); ``--help`` lists them all and
``--print_config`` prints a complete YAML config.
"""

from typing import List, Optional


def main(cmd: Optional[List[str]] = None) -> None:
    import contextlib
    import sys

    import espnet_llm_entropy

    # ESPnet prints an import notice on stdout; keep stdout clean for --print_config
    with contextlib.redirect_stdout(sys.stderr):
        espnet_llm_entropy.register()
        from espnet_llm_entropy.tasks.llm_asr import LLMASRTask

    LLMASRTask.main(cmd=cmd)


if __name__ == "__main__":
    main()
