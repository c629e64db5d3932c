"""Token ids -> transcript text, without broken characters.

Why this exists. A byte-level BPE tokenizer (GPT-2, Qwen, Llama 3 and the
demo's own tokenizer of :mod:`espnet_llm_entropy.text.llm_tokenizer`) has
a token for every single byte, and one Chinese character is three UTF-8
bytes, which may be three tokens. Greedy decoding can stop (EOS, length
budget, loop trimming) after the first one or two bytes of a character, or
emit a byte that can never start a character. ``tokenizer.decode`` turns
such bytes into U+FFFD (the Unicode replacement character), which then
ends up in ``1best_recog/text`` and is counted by CER as a character.

What :func:`text_from_token_ids` does instead, for byte-level tokenizers:

1. special tokens (EOS, pad, ...) and ids the tokenizer does not know
   (a model vocabulary padded beyond the tokenizer's) are skipped;
2. every other token is mapped back to its bytes (the inverse of the
   GPT-2 byte -> printable-character table); added non-special tokens
   contribute their text as UTF-8;
3. the byte string is decoded as UTF-8 and every byte that is not part of
   a complete, valid character is dropped, wherever it is: an incomplete
   sequence at the end (the usual case), an incomplete sequence cut short
   by the next character in the middle, a stray continuation byte or an
   invalid byte. They are dropped, not replaced: a partial character has
   no meaning a reader could use, and a placeholder would count as an
   error unit in scoring. The valid characters around them are kept;
4. the transcript is made one line: every run of whitespace (spaces,
   tabs, line breaks) becomes one space, other control characters are
   removed, and the ends are stripped. A Kaldi ``text`` file has one
   utterance per line, so a line break in a hypothesis would corrupt it.

Other tokenizers (SentencePiece-style, WordPiece, ...) are decoded with
their own ``decode(ids, skip_special_tokens=True)``; any U+FFFD in its
result (e.g. SentencePiece byte-fallback pieces ``<0xE4>`` that do not
form a character) is removed, then step 4 applies. So the output never
contains U+FFFD or a partial multibyte sequence, for every tokenizer.
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Dict, Iterable, List, Optional

logger = logging.getLogger(__name__)

REPLACEMENT_CHARACTER = "\ufffd"


@lru_cache(maxsize=1)
def byte_level_alphabet() -> Dict[str, int]:
    """The GPT-2 byte-level table, inverted: printable character -> byte value.

    Byte-level BPE shows every byte as one printable character: the bytes of
    ``!``..``~``, ``¡``..``¬`` and ``®``..``ÿ`` stand for themselves, the
    other 68 bytes (controls, space, ...) are shifted to code points from
    256 upwards, in increasing byte order (space -> ``Ġ``, newline -> ``Ċ``).
    """
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    table = {chr(b): b for b in printable}
    shifted = 0
    for b in range(256):
        if b not in printable:
            table[chr(256 + shifted)] = b
            shifted += 1
    return table


def _decoder_types(tokenizer) -> List[str]:
    """The ``type`` names of the fast tokenizer's decoder (a Sequence is flattened)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return []
    try:
        decoder = json.loads(backend.to_str()).get("decoder") or {}
    except (ValueError, AttributeError):  # an unusual backend: treat as not byte-level
        return []
    if decoder.get("type") == "Sequence":
        return [d.get("type") for d in decoder.get("decoders", [])]
    return [decoder.get("type")]


def is_byte_level(tokenizer) -> bool:
    """True when the tokenizer's text comes from GPT-2-style byte-level tokens only.

    Only a decoder that is exactly ``ByteLevel`` qualifies: a sequence that
    does more (replacements, stripping) is left to the tokenizer's own
    ``decode``.
    """
    return _decoder_types(tokenizer) == ["ByteLevel"]


def _special_ids(tokenizer) -> set:
    return set(getattr(tokenizer, "all_special_ids", []) or [])


def _added_texts(tokenizer) -> Dict[int, str]:
    """Added (non-special) tokens: id -> literal text (not byte-mapped)."""
    added = getattr(tokenizer, "added_tokens_decoder", None) or {}
    return {i: tok.content for i, tok in added.items() if not getattr(tok, "special", False)}


def byte_level_bytes(tokenizer, ids: Iterable[int]) -> bytes:
    """The raw bytes that byte-level tokens ``ids`` stand for (special tokens skipped).

    Args:
        tokenizer: a byte-level Hugging Face tokenizer (:func:`is_byte_level`).
        ids: token ids, e.g. a generated sequence (L,).

    Returns:
        The concatenated bytes, which need not be valid UTF-8.
    """
    table = byte_level_alphabet()
    special = _special_ids(tokenizer)
    added = _added_texts(tokenizer)
    out = bytearray()
    for token_id in ids:
        token_id = int(token_id)
        if token_id in special:
            continue
        if token_id in added:
            out += added[token_id].encode("utf-8")
            continue
        token = tokenizer.convert_ids_to_tokens(token_id)
        if token is None:  # beyond the tokenizer's vocabulary
            continue
        for char in token:
            byte = table.get(char)
            out += char.encode("utf-8") if byte is None else bytes([byte])
    return bytes(out)


def one_line(text: str) -> str:
    """Whitespace runs -> one space, other control characters removed, ends stripped."""
    import unicodedata

    kept = "".join(
        c for c in text if c.isspace() or unicodedata.category(c) not in ("Cc", "Cs")
    )
    return " ".join(kept.split())


def text_from_token_ids(tokenizer, ids: Iterable[int], utt_id: Optional[str] = None) -> str:
    """The transcript of generated token ids: one line, no U+FFFD, no partial character.

    Args:
        tokenizer: the LLM's Hugging Face tokenizer (byte-level BPE or any other).
        ids: token ids (L,) as ints or a 1-D tensor; special tokens are skipped.
        utt_id: only for the debug message when bytes are dropped.

    Returns:
        The text (see the module docstring for what is dropped and why).
    """
    ids = [int(i) for i in ids]
    if is_byte_level(tokenizer):
        raw = byte_level_bytes(tokenizer, ids)
        text = raw.decode("utf-8", errors="ignore")
        dropped = len(raw) - len(text.encode("utf-8"))
    else:
        text = tokenizer.decode(ids, skip_special_tokens=True)
        dropped = text.count(REPLACEMENT_CHARACTER)
        text = text.replace(REPLACEMENT_CHARACTER, "")
    if dropped:
        logger.debug(
            "%sdropped %d byte(s)/piece(s) that formed no complete UTF-8 character",
            f"{utt_id}: " if utt_id else "", dropped,
        )
    return one_line(text)
