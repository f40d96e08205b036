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


def test_every_error_has_fields_from_its_detail() -> None:
    # docs/allocator-client.md: every error carries `fields`; UsageError once had none (issue 12)
    assert UsageError("bad", details="table_id=abc").fields == {"table_id": "abc"}
    assert ConnectionFailed("down").fields == {}


def test_detail_fields_keep_quoted_values_and_ranges_whole() -> None:
    from tablemend.errors import detail_fields

    parsed = detail_fields("booking_id=b1 idempotency_key='  ' window=[\"2030-06-01 19:00:00+00\",\"2030-06-01 "
                           "21:00:00+00\") note='it''s' empty=")
    assert parsed == {"booking_id": "b1", "idempotency_key": "  ",
                      "window": "[\"2030-06-01 19:00:00+00\",\"2030-06-01 21:00:00+00\")", "note": "it's", "empty": ""}


def test_a_naive_window_bound_is_an_invalid_window() -> None:
    import datetime as dt

    from tablemend.allocator import check_window
    from tablemend.errors import InvalidWindow

    naive = dt.datetime(2030, 6, 1, 19)
    with pytest.raises(InvalidWindow, match="no time zone"):
        check_window(naive, naive + dt.timedelta(hours=2))
