from __future__ import annotations

import pytest

from tablemend.errors import ConnectionFailed, TablemendError, UsageError, for_sqlstate


def test_subclasses_register_their_sqlstate() -> None:
    assert for_sqlstate("TMU01") is UsageError
    assert for_sqlstate("TMU02") is ConnectionFailed
    assert for_sqlstate("XX000") is None
    assert for_sqlstate(None) is None


def test_a_sqlstate_cannot_be_registered_twice() -> None:
    with pytest.raises(TypeError, match="already registered"):

        class Clash(TablemendError, sqlstate="TMU01"):
            pass


def test_json_shape_is_postgrests() -> None:
    err = UsageError("bad table id", details="table_id=abc", hint="pass a uuid")
    assert err.to_json() == {"code": "TMU01", "message": "bad table id", "details": "table_id=abc",
                             "hint": "pass a uuid"}
    assert err.http_status == 422
    assert "DETAIL: table_id=abc" in str(err)
