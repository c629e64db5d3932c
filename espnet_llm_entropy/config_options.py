"""Building option dataclasses from YAML mappings (ESPnet's ``<name>_conf``), with clear errors.

Every ``*_conf`` of this package is a dataclass; these helpers give them one
way to refuse unknown keys and badly typed values, naming the option as a
user writes it (``decoding_guard_conf.min_ctc_phones``).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any, Iterable, Mapping, Optional, Type, TypeVar

T = TypeVar("T")


def check_known_keys(
    keys: Iterable[str], known: Iterable[str], prefix: str, error: Type[Exception] = ValueError
) -> None:
    """Refuse keys that are not in ``known``, naming the option, the keys and what is expected.

    The one unknown-key check of the package (``*_conf`` dataclasses go through
    :func:`dataclass_from_mapping`). A near miss gets a suggestion::

        --cka_monitor_conf: unknown option(s) ['treshold'] (did you mean 'threshold' for 'treshold'?);
        expected some of ['check_interval', 'publish_dir', ...]

    Args:
        keys: the keys given.
        known: the keys allowed.
        prefix: the option's name in messages, e.g. ``decoding_guard_conf``.
        error: the exception type (``TypeError`` for Python keyword arguments).

    Raises:
        ``error``: for any key not in ``known``.
    """
    known = sorted(known)
    unknown = sorted(set(keys) - set(known))
    if not unknown:
        return
    hints = [
        f"{close[0]!r} for {key!r}"
        for key in unknown
        for close in [difflib.get_close_matches(str(key), known, n=1)]
        if close
    ]
    hint = f" (did you mean {', '.join(hints)}?)" if hints else ""
    raise error(f"{prefix}: unknown option(s) {unknown}{hint}; expected some of {known}")


def dataclass_from_mapping(
    cls: Type[T], conf: Optional[Mapping[str, Any]], prefix: str, error: Type[Exception] = ValueError
) -> T:
    """``cls(**conf)``; keys that are not fields of ``cls`` are an error naming them (:func:`check_known_keys`).

    Args:
        cls: a dataclass.
        conf: the YAML mapping (None: all defaults).
        prefix: the option's name in messages, e.g. ``decoding_guard_conf``.
        error: the exception type for unknown keys and a ``conf`` that is not a mapping.
    """
    if conf is None:
        conf = {}
    if not isinstance(conf, Mapping):
        raise error(f"{prefix}: expected a mapping of options, got {type(conf).__name__} {conf!r}")
    check_known_keys(conf, (f.name for f in dataclasses.fields(cls)), prefix, error)
    return cls(**conf)


def is_number(value: Any) -> bool:
    """A finite int or float (bools are not numbers here)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def check_positive_number(name: str, value: Any, note: str = "", allow_none: bool = False) -> None:
    """Raise ValueError ``<name>: expected a number > 0 <note>`` unless ``value`` is one (or None when allowed)."""
    if allow_none and value is None:
        return
    if not is_number(value) or value <= 0:
        expected = "a number > 0" + (" or null" if allow_none else "") + (f" {note}" if note else "")
        raise ValueError(f"{name}: expected {expected}, got {value!r}")


def check_int_at_least(name: str, value: Any, low: int, note: str = "") -> None:
    """Raise ValueError ``<name>: expected an integer >= low <note>`` unless ``value`` is one."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(
            f"{name}: expected an integer >= {low}{f' {note}' if note else ''}, got {value!r}"
        )
