"""The metrics package is cheap to import and exports its public API; analysis re-exports it."""

import subprocess
import sys

import pytest

import espnet_llm_entropy.analysis as analysis
import espnet_llm_entropy.metrics as metrics


@pytest.mark.parametrize("package", ["espnet_llm_entropy.metrics", "espnet_llm_entropy.analysis"])
def test_import_pulls_in_no_espnet_or_transformers(package):
    code = (
        f"import sys, {package} as a\n"
        "assert 'espnet_llm_entropy.metrics.cka' not in sys.modules, 'metrics imported eagerly'\n"
        "assert 'torch' not in sys.modules, 'torch imported eagerly'\n"
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
    assert expected <= set(metrics.__all__)
    for name in metrics.__all__:
        assert callable(getattr(metrics, name)), name
    # a function must not be shadowed by a submodule of the same name
    import espnet_llm_entropy.metrics.layer_cka  # noqa: F401

    assert callable(metrics.cka_matrix) and metrics.cka_matrix.__module__.endswith("layer_cka")


def test_analysis_reexports_the_same_objects():
    assert set(analysis.__all__) == set(metrics.__all__)
    for name in metrics.__all__:
        assert getattr(analysis, name) is getattr(metrics, name), name


@pytest.mark.parametrize("package", [metrics, analysis])
def test_unknown_name_raises_attribute_error(package):
    with pytest.raises(AttributeError, match="not_a_metric"):
        package.not_a_metric
