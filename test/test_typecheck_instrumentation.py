"""typeguard's import-time instrumentation is skipped for ESPnet only, and can be kept."""

import subprocess
import sys
import types

import pytest

from espnet_llm_entropy.typecheck_instrumentation import (
    KEEP_CHECKS_ENV,
    SKIPPED_PACKAGES,
    skip_typeguard_instrumentation,
)

typeguard = pytest.importorskip("typeguard")


def _instrumented(function) -> bool:
    """typeguard 4 compiles argument checks into the function's code."""
    return "TypeCheckMemo" in function.__code__.co_names


def _function_in(module_name: str):
    module = types.ModuleType(module_name)
    exec("def f(x: int) -> int:\n    return x\n", module.__dict__)
    module.f.__module__ = module_name
    return module.f


def test_espnet_functions_are_left_as_they_are_user_functions_are_checked():
    assert skip_typeguard_instrumentation()  # the package's import installed it already
    assert "espnet2" in SKIPPED_PACKAGES
    espnet_like = _function_in("espnet2.some.module")
    assert typeguard.typechecked(espnet_like) is espnet_like

    @typeguard.typechecked
    def user(x: int) -> int:
        return x

    assert _instrumented(user)
    with pytest.raises(typeguard.TypeCheckError):
        user("not an int")

    @typeguard.typechecked()  # the decorator-factory form too
    def user_factory(x: int) -> int:
        return x

    with pytest.raises(typeguard.TypeCheckError):
        user_factory("not an int")


def test_espnet_imported_after_the_package_is_not_instrumented():
    from espnet2.train import preprocessor

    import espnet_llm_entropy  # noqa: F401  (first in every process of this package)

    init = preprocessor.CommonPreprocessor._speech_process
    assert not _instrumented(init)


def test_the_environment_variable_keeps_every_check():
    code = ("import espnet_llm_entropy, typeguard\n"
            "from espnet2.train import preprocessor\n"
            "print('TypeCheckMemo' in preprocessor.CommonPreprocessor._speech_process.__code__.co_names)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, KEEP_CHECKS_ENV: "1"})
    assert out.stdout.strip().splitlines()[-1] == "True"
