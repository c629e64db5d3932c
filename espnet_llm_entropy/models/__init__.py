"""Model classes: phoneme-CTC encoder model, adaptors, HF causal LLM wrapper, LLM-ASR."""
