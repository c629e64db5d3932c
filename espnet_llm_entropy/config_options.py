"""Building option dataclasses from YAML mappings (ESPnet's ``<name>_conf``), with clear errors.

Every ``*_conf`` of this package is a dataclass; these helpers give them one
way to refuse unknown keys and badly typed values, naming the option as a
user writes it (``decoding_guard_conf.min_ctc_phones``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping, Optional, Type, TypeVar

T = TypeVar("T")


def dataclass_from_mapping(cls: Type[T], conf: Optional[Mapping[str, Any]], prefix: str) -> T:
    """``cls(**conf)``; keys that are not fields of ``cls`` are a ValueError naming them.

    Args:
        cls: a dataclass.
        conf: the YAML mapping (None: all defaults).
        prefix: the option's name in messages, e.g. ``decoding_guard_conf``.
    """
    conf = dict(conf or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(conf) - known)
    if unknown:
        raise ValueError(f"{prefix}: unknown option(s) {unknown}; expected some of {sorted(known)}")
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
