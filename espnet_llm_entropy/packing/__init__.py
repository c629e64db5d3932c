"""Sharing trained models the ESPnet way: pack (asr.sh stage 14), load anywhere, prepare an upload (stage 15).

* :mod:`.pack_model`: an LLM-ASR experiment -> ESPnet's pack format, with
  the phone inventory, the LLM tokenizer, the base LLM's identity and
  optionally the base LLM itself;
* :mod:`.packed_model`: open a pack file or its unpacked folder (safe,
  all-or-nothing extraction; paths resolved into the pack);
* :mod:`.llm_identity`: the base LLM a pack needs and the fingerprint check;
* :mod:`.hf_upload`: ESPnet's Hugging Face model-repository layout with a
  model card, and the upload.

Load a pack with
:meth:`espnet_llm_entropy.speech2text.LLMSpeech2Text.from_pretrained`.
"""
