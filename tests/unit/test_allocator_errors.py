"""Every SQLSTATE the allocator's SQL raises has exactly one Python class with its HTTP status and exit code."""

from __future__ import annotations

import re

import pytest

from tablemend import errors, sqlfiles

EXPECTED: dict[str, tuple[type[errors.TablemendError], int, int]] = {
    "TAV01": (errors.InvalidTableList, 422, 2),
    "TAV02": (errors.InvalidWindow, 422, 2),
    "TAV03": (errors.UnknownTable, 422, 2),
    "TAV04": (errors.TableOfOtherRestaurant, 422, 2),
    "TAV05": (errors.TableNotAssignable, 422, 2),
    "TAV06": (errors.TablesInDifferentZones, 422, 2),
    "TAV07": (errors.TableNotMovable, 422, 2),
    "TAV08": (errors.TablesNotAdjacent, 422, 2),
    "TAV09": (errors.InvalidArgument, 422, 2),
    "TAN01": (errors.BookingNotFound, 404, 4),
    "TAN02": (errors.HoldNotFound, 404, 4),
    "TAC01": (errors.TableOccupied, 409, 3),
    "TAC02": (errors.HoldConflict, 409, 3),
    "TAC03": (errors.IdempotencyMismatch, 409, 3),
    "TAC04": (errors.IdempotencyInProgress, 409, 3),
    "TAC05": (errors.InsufficientCapacity, 409, 3),
    "TAC06": (errors.BookingNotAssignable, 409, 3),
    "TAC07": (errors.HoldNotActive, 409, 3),
    "TAC08": (errors.HoldBookingMismatch, 409, 3),
    "TAC09": (errors.ZoneLocked, 409, 3),
    "TAI01": (errors.LedgerInconsistent, 409, 3),
    "TAV10": (errors.WindowOutOfRange, 422, 2),
    "TAV11": (errors.HoldExpiryOutOfRange, 422, 2),
    "TAV12": (errors.IdempotencyKeyTooLong, 422, 2),
    "TAV13": (errors.TooManyTables, 422, 2),
    "TAF01": (errors.ScopeRequired, 403, 2),
    "TAF02": (errors.InvalidScope, 403, 2),
    "TAF03": (errors.RestaurantOutOfScope, 403, 2),
}


@pytest.mark.parametrize("sqlstate", sorted(EXPECTED))
def test_each_code_has_its_class_status_and_exit_code(sqlstate: str) -> None:
    cls, http, code = EXPECTED[sqlstate]
    assert errors.for_sqlstate(sqlstate) is cls
    assert (cls.http_status, cls.exit_code) == (http, code)
    assert issubclass(cls, errors.AllocatorError)


def test_every_raise_in_the_allocator_sql_uses_a_registered_ta_code() -> None:
    text = sqlfiles.read("migrations/0002_allocator.sql") + sqlfiles.read("migrations/0003_security.sql")
    raises = re.findall(r"RAISE EXCEPTION[^;]*;", text, flags=re.DOTALL)
    assert raises
    codes = set()
    for statement in raises:
        found = re.findall(r"ERRCODE = '([A-Z0-9]{5})'", statement)
        assert found, statement
        codes.update(found)
    codes.update(re.findall(r"ERRCODE = '([A-Z0-9]{5})'", text))
    assert all(errors.for_sqlstate(c) is not None for c in codes), codes
    # every class except the boundary-only ZoneLocked is raised by the SQL itself
    assert set(EXPECTED) - codes == {"TAC09"}


def test_detail_fields_parse_key_value_pairs() -> None:
    err = errors.TableOccupied(
        "occupied", details="booking_id=b1 table_id=t1 window=[2030-06-01T19:00:00Z,2030-06-01T21:00:00Z) junk"
    )
    assert err.fields == {"booking_id": "b1", "table_id": "t1", "window": "[2030-06-01T19:00:00Z,2030-06-01T21:00:00Z)"}
    assert errors.detail_fields(None) == {}


def test_raw_violations_of_own_constraints_map_to_allocator_classes() -> None:
    assert errors.for_constraint("23P01", "booking_table_assignments_no_overlap") is errors.TableOccupied
    assert errors.for_constraint("23P01", "table_hold_members_no_overlap") is errors.HoldConflict
    assert errors.for_constraint("23503", "booking_table_assignments_booking_zone_fkey") is errors.ZoneLocked
    assert errors.for_constraint("23P01", "no_overlapping_table_assignments") is None  # the origin's stays raw
    assert errors.for_constraint("23505", None) is None


def test_a_shard_suffixed_constraint_maps_like_its_constraint() -> None:
    # Citus names a shard's copy of a constraint after the shard: <constraint>_<shard id>
    assert errors.for_constraint("23P01", "booking_table_assignments_no_overlap_102245") is errors.TableOccupied
    assert errors.for_constraint("23P01", "table_hold_members_no_overlap_102310") is errors.HoldConflict
    assert errors.for_constraint("23503", "booking_table_assignments_table_zone_fkey_7") is errors.ZoneLocked
    suffixed = "booking_table_assignments_no_overlap_102245"
    assert errors.constraint_name(suffixed) == "booking_table_assignments_no_overlap"
    # a name that is not one of tablemend's keeps its digits, and so stays unmapped
    origin = "no_overlapping_table_assignments_102245"
    assert errors.constraint_name(origin) == origin
    assert errors.for_constraint("23P01", "no_overlapping_table_assignments_102245") is None
    assert errors.for_constraint("23505", "booking_table_assignments_no_overlap_102245") is None  # wrong SQLSTATE


def test_an_exclusion_violation_wrapped_as_xx000_maps_by_its_message() -> None:
    message = 'conflicting key value violates exclusion constraint "booking_table_assignments_no_overlap_102245"'
    assert errors.for_constraint("XX000", None, message) is errors.TableOccupied
    assert errors.for_constraint("XX000", None, "could not connect to the worker") is None
    assert errors.for_constraint("XX000", None, None) is None
    # only XX000 is read from its message: another code says what it says
    assert errors.for_constraint("23505", None, message) is None
