"""Two packs of the shared tiny trained model (``trained_sft``), for the packing tests."""

import os

import pytest


@pytest.fixture(scope="session")
def packs(trained_sft, tmp_path_factory):
    """The same model packed without the base LLM (``lean``, zip) and with it (``full``, tar.gz).

    Packed from the experiment's parent directory, as asr.sh packs from the
    recipe directory; the output folder is outside it, so ESPnet stores the
    packed files under absolute names (without the leading ``/``).
    """
    from espnet_llm_entropy.packing.pack_model import pack_llm_asr

    out = tmp_path_factory.mktemp("packs")
    cwd = os.getcwd()
    os.chdir(trained_sft.exp.parent)
    try:
        lean = pack_llm_asr(trained_sft.config, trained_sft.model_file, out / "lean.zip")
        full = pack_llm_asr(trained_sft.config, trained_sft.model_file, out / "full.tar.gz", include_llm=True)
    finally:
        os.chdir(cwd)
    return {"lean": lean, "full": full}
