"""Errors as Citus delivers them reach callers as tablemend's typed errors (docs/scale.md).

No Citus runs here, so the server raises the exact shapes Citus produces: a shard-suffixed constraint name on a
23P01, and an exclusion violation wrapped as XX000 that names its constraint only in the message. The driver's real
exception objects go through :func:`tablemend.db.translate`.
"""

from __future__ import annotations

import pytest

from tablemend import errors
from tablemend.db import Connection, translated

SHARD_SUFFIXED = """
DO $$ BEGIN
    RAISE EXCEPTION 'conflicting key value violates exclusion constraint "booking_table_assignments_no_overlap_102245"'
        USING ERRCODE = '23P01', CONSTRAINT = 'booking_table_assignments_no_overlap_102245',
              DETAIL = 'Key (restaurant_id, table_id, assignment_window)=(…) conflicts with existing key (…).';
END $$
"""

WRAPPED = """
DO $$ BEGIN
    RAISE EXCEPTION 'conflicting key value violates exclusion constraint "table_hold_members_no_overlap_102310"'
        USING ERRCODE = 'XX000';
END $$
"""

OTHER_INTERNAL = "DO $$ BEGIN RAISE EXCEPTION 'could not create distributed plan' USING ERRCODE = 'XX000'; END $$"


def test_a_shard_suffixed_exclusion_violation_is_table_occupied(tm_conn: Connection) -> None:
    with pytest.raises(errors.TableOccupied) as caught, translated():
        tm_conn.execute(SHARD_SUFFIXED)
    assert caught.value.sqlstate == "23P01"
    assert caught.value.constraint == "booking_table_assignments_no_overlap_102245"


def test_an_xx000_wrapped_exclusion_violation_is_a_hold_conflict(tm_conn: Connection) -> None:
    with pytest.raises(errors.HoldConflict) as caught, translated():
        tm_conn.execute(WRAPPED)
    assert caught.value.sqlstate == "XX000"


def test_another_internal_error_stays_a_database_error(tm_conn: Connection) -> None:
    with pytest.raises(errors.DatabaseError) as caught, translated():
        tm_conn.execute(OTHER_INTERNAL)
    assert not isinstance(caught.value, errors.AllocatorError)
