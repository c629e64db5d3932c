"""The programmatic recognizer's helpers."""


def test_sample_rate_accepts_asr_sh_style_sizes():
    import argparse

    from espnet_llm_entropy.speech2text import sample_rate_of

    assert sample_rate_of(argparse.Namespace(frontend_conf={"fs": "16k"})) == 16000
    assert sample_rate_of(argparse.Namespace(frontend_conf={"fs": 8000})) == 8000
    assert sample_rate_of(argparse.Namespace(frontend_conf=None)) == 16000
