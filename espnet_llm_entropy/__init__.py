"""espnet-llm-entropy: LLM-based ASR for ESPnet and entropy-allocation analysis.

Call :func:`register` once before building ESPnet parsers so that this
package's classes appear in ESPnet's ``ClassChoices`` (``--model``,
``--encoder`` ... of ``espnet2.tasks.asr``).
"""

from espnet_llm_entropy.typecheck_instrumentation import skip_typeguard_instrumentation

skip_typeguard_instrumentation()  # before anything imports ESPnet (see the module)

from espnet_llm_entropy.offline import block_nltk_downloads  # noqa: E402
from espnet_llm_entropy.registry import register  # noqa: E402

block_nltk_downloads()

__version__ = "0.1.0"
__all__ = ["register", "__version__"]
