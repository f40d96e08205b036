from __future__ import annotations

import pytest

from tablemend.sqlfiles import read, split_named


def test_split_named_returns_each_block() -> None:
    text = "-- name: first\nSELECT 1;\n\n-- name: second\nSELECT 2\nFROM x;\n"
    assert split_named(text) == {"first": "SELECT 1;", "second": "SELECT 2\nFROM x;"}


def test_duplicate_names_are_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        split_named("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;")


def test_schema_is_shipped_with_the_package() -> None:
    assert "btree_gist" in read("schema.sql")
