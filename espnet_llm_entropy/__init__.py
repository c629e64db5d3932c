"""espnet-llm-entropy: LLM-based ASR for ESPnet and entropy-allocation analysis.

Call :func:`register` once before building ESPnet parsers so that this
package's classes appear in ESPnet's ``ClassChoices`` (``--model``,
``--encoder`` ... of ``espnet2.tasks.asr``).
"""

from espnet_llm_entropy.offline import block_nltk_downloads
from espnet_llm_entropy.registry import register

block_nltk_downloads()

__version__ = "0.1.0"
__all__ = ["register", "__version__"]
