"""SQL lives in ``.sql`` files inside the package; this module loads them by name.

A file of named queries is split on header lines ``-- name: <query_name>``; the text up to the next header is the
query. No SQL is ever built with f-strings: identifiers go through :mod:`psycopg.sql`.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import LiteralString, cast

_HEADER = re.compile(r"^--\s*name:\s*([A-Za-z_][A-Za-z0-9_]*)\s*$", re.MULTILINE)


def read(relative: str) -> LiteralString:
    """The text of ``sql/<relative>`` (e.g. ``"schema.sql"``, ``"origin/schema.sql"``).

    Typed as ``LiteralString``: the text is shipped with the package, never built from input.
    """
    return (resources.files("tablemend") / "sql" / relative).read_text(encoding="utf-8")


def read_package_file(package: str, relative: str) -> LiteralString:
    """The text of a data file inside any tablemend sub-package (e.g. doctor check SQL)."""
    return (resources.files(package) / relative).read_text(encoding="utf-8")


def split_named(text: LiteralString) -> dict[str, LiteralString]:
    """``{name: query}`` for every ``-- name:`` block in ``text``."""
    parts = _HEADER.split(text)
    queries: dict[str, LiteralString] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = cast(LiteralString, body.strip())
    return queries


@functools.cache
def queries(relative: str = "queries.sql") -> dict[str, LiteralString]:
    """Named queries of one file, cached."""
    return split_named(read(relative))


def query(name: str, relative: str = "queries.sql") -> LiteralString:
    try:
        return queries(relative)[name]
    except KeyError:
        raise KeyError(f"no query named {name!r} in sql/{relative}") from None
