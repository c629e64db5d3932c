"""The analysis package is cheap to import and exports its public API."""

import subprocess
import sys

import espnet_llm_entropy.analysis as analysis


def test_import_pulls_in_no_espnet_or_transformers():
    code = (
        "import sys, espnet_llm_entropy.analysis as a\n"
        "assert 'espnet_llm_entropy.analysis.cka' not in sys.modules, 'metrics imported eagerly'\n"
        "[getattr(a, name) for name in a.__all__]\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('espnet', 'espnet2', 'transformers', 'peft')]\n"
        "assert not heavy, heavy\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_public_names_resolve_to_callables():
    expected = {
        "linear_cka", "CKAAccumulator", "cka_matrix", "CKAMatrixAccumulator", "spectral_entropy",
        "effective_rank", "rankme", "CovarianceAccumulator", "accessible_information",
        "ctc_forced_align", "llm_entropy_reduction", "allocation_summary",
    }
    assert expected <= set(analysis.__all__)
    for name in analysis.__all__:
        assert callable(getattr(analysis, name)), name
    # a function must not be shadowed by a submodule of the same name
    import espnet_llm_entropy.analysis.layer_cka  # noqa: F401

    assert callable(analysis.cka_matrix) and analysis.cka_matrix.__module__.endswith("layer_cka")


def test_unknown_name_raises_attribute_error():
    try:
        analysis.not_a_metric
    except AttributeError as err:
        assert "not_a_metric" in str(err)
    else:
        raise AssertionError("expected AttributeError")
