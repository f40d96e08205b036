"""Values in a reviewable SQL script (``doctor plan --sql``): one quoting function for literals and comments.

The script is read by a person and then run with ``psql``, so no value may end a comment or a literal, start a psql
meta-command, or depend on settings: every value becomes an ``E'…'`` literal (or a ``--`` comment) made only of
printable ASCII, with quotes doubled and everything else (backslash, newline, any non-ASCII character) escaped. That
reads the same under any ``standard_conforming_strings`` and client encoding; a NUL cannot be in PostgreSQL text.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f", "\\": "\\\\"}


#: printable ASCII but the backslash: the text is its own escape (ids and instants; 20,000 findings name them at scale)
_PLAIN = re.compile(r"[\x20-\x5b\x5d-\x7e]*")


def _escape(text: str, quote: str) -> str:
    """``text`` as printable ASCII: backslash escapes for the rest, ``quote`` doubled (for E'' strings)."""
    if _PLAIN.fullmatch(text):
        return text.replace(quote, quote * 2) if quote else text
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if ch in _NAMED:
            out.append(_NAMED[ch])
        elif ch == quote:
            out.append(quote * 2)
        elif 0x20 <= code < 0x7F:
            out.append(ch)
        elif code == 0:
            raise ValueError("a NUL character cannot be part of a PostgreSQL value")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out)


def _array_text(values: Sequence[Any]) -> str:
    """PostgreSQL's array input syntax (``{"a","b",NULL}``), every element double-quoted."""
    parts: list[str] = []
    for v in values:
        if v is None:
            parts.append("NULL")
        elif isinstance(v, list | tuple):
            parts.append(_array_text(v))
        else:
            text = _text(v)
            parts.append('"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
    return "{" + ",".join(parts) + "}"


def _text(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return json.dumps(value, sort_keys=True)
    return str(value)


def literal(value: Any) -> str:
    """``value`` as a SQL literal that nothing in it can end: NULL, true/false, a number, or ``E'…'``."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) or (isinstance(value, float | decimal.Decimal) and math.isfinite(value)):
        return str(value)
    if isinstance(value, list | tuple):
        return literal(_array_text(value))
    if isinstance(value, str | uuid.UUID | float | decimal.Decimal | dt.datetime | dt.date | dt.time | Mapping):
        return "E'" + _escape(_text(value), "'") + "'"
    raise TypeError(f"cannot render a {type(value).__name__} into a SQL script")


def comment(text: str) -> str:
    """One ``--`` comment line: data shown escaped, so it can never continue onto a line of its own."""
    return "-- " + _escape(text, "")


def bind(statement: str, params: Mapping[str, Any]) -> str:
    """``statement`` with each ``%(name)s`` replaced by :func:`literal` of ``params[name]`` (and ``%%`` by ``%``), in
    one pass, so a value that contains a placeholder is never substituted again."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in params:
            raise KeyError(f"no value for %({name})s")
        return literal(params[name])

    return _PLACEHOLDER.sub(one, statement)
