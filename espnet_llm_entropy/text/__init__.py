"""Text front-ends: Mandarin/English phones, phone inventories, LLM tokenizers.

Importing this package is cheap: pypinyin, the CMU dictionary and g2p_en's
neural predictor load on first use.

Main entry points:

* :class:`~espnet_llm_entropy.text.phonemizer.Phonemizer`: transcript ->
  phone list (Mandarin initials/finals with tone, English ARPAbet);
* :class:`~espnet_llm_entropy.text.phone_inventory.PhoneInventory`: the phone
  token list (``<blank>`` = 0, ``<unk>`` = 1), encode/decode;
* :func:`~espnet_llm_entropy.text.phone_text_conversion.convert_text_to_phones`:
  Kaldi text file -> phone text file (CLI: ``espnet_llm_entropy.bin.text_to_phones``).
"""

from espnet_llm_entropy.text.phone_inventory import PhoneInventory, PhoneInventoryError
from espnet_llm_entropy.text.phonemizer import Phonemizer, PhonemizeResult, UnknownSymbolError

__all__ = ["Phonemizer", "PhonemizeResult", "UnknownSymbolError", "PhoneInventory", "PhoneInventoryError"]
