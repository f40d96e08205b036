"""One call of every public allocator function, aimed at one restaurant's rows (a :class:`Side`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.integration.tmdata import at
from tests.security.conftest import Side


@dataclass(frozen=True)
class Call:
    function: str
    query: str
    args: Callable[[Side], tuple[Any, ...]]
    #: the refusal a caller scoped to another restaurant gets (another restaurant's ids are "not found")
    cross_tenant: str


CALLS: tuple[Call, ...] = (
    Call("assign_tables_atomic_v2", "SELECT * FROM assign_tables_atomic_v2(%s, %s, 'k2')",
         lambda s: (s.free, [s.tables[1]]), "TAN01"),
    Call("unassign_tables_atomic", "SELECT * FROM unassign_tables_atomic(%s)", lambda s: (s.assigned,), "TAN01"),
    Call("create_table_hold", "SELECT create_table_hold(%s, %s, %s, %s, now() + interval '10 minutes')",
         lambda s: (s.restaurant_id, [s.tables[3]], at(19), at(21)), "TAF03"),
    Call("extend_table_hold", "SELECT extend_table_hold(%s, now() + interval '20 minutes')",
         lambda s: (s.hold_id,), "TAN02"),
    Call("confirm_hold_assignment", "SELECT * FROM confirm_hold_assignment(%s)", lambda s: (s.hold_id,), "TAN02"),
    Call("release_table_hold", "SELECT release_table_hold(%s)", lambda s: (s.hold_id,), "TAN02"),
    Call("set_booking_status", "SELECT set_booking_status(%s, 'cancelled')", lambda s: (s.free,), "TAN01"),
    Call("move_booking", "SELECT * FROM move_booking(%s, %s, %s)", lambda s: (s.assigned, at(20), at(22)), "TAN01"),
    Call("quote_tables", "SELECT * FROM quote_tables(%s, 2, %s, %s)",
         lambda s: (s.restaurant_id, at(19, 3), at(21, 3)), "TAF03"),
    Call("hold_best_tables", "SELECT * FROM hold_best_tables(%s, 2, %s, %s, now() + interval '10 minutes')",
         lambda s: (s.restaurant_id, at(19, 4), at(21, 4)), "TAF03"),
    Call("repack_state", "SELECT repack_state(%s, 2, %s, %s)", lambda s: (s.restaurant_id, at(19, 3), at(21, 3)),
         "TAF03"),
    # a plan with no moves, read through repack_state (the fingerprint of the rows it read), holding T2 on day 5
    Call("apply_repack_plan",
         "SELECT * FROM apply_repack_plan(%s, repack_state(%s, 2, %s, %s)"
         " || jsonb_build_object('moves', '[]'::jsonb, 'table_ids', jsonb_build_array(%s::text)),"
         " now() + interval '10 minutes')",
         lambda s: (s.restaurant_id, s.restaurant_id, at(19, 5), at(21, 5), s.tables[1]), "TAF03"),
)

#: The restaurant-keyed variants (migration 0007, what Citus routes by restaurant). Their restaurant argument is
#: checked against the caller's scope, so another restaurant's id is TAF03, as for create_table_hold.
VARIANTS: tuple[Call, ...] = (
    Call("restaurant_assign_tables", "SELECT * FROM restaurant_assign_tables(%s, %s, %s, 'k3')",
         lambda s: (s.restaurant_id, s.free, [s.tables[1]]), "TAF03"),
    Call("restaurant_unassign_tables", "SELECT * FROM restaurant_unassign_tables(%s, %s)",
         lambda s: (s.restaurant_id, s.assigned), "TAF03"),
    Call("restaurant_extend_table_hold",
         "SELECT restaurant_extend_table_hold(%s, %s, now() + interval '20 minutes')",
         lambda s: (s.restaurant_id, s.hold_id), "TAF03"),
    Call("restaurant_release_table_hold", "SELECT restaurant_release_table_hold(%s, %s)",
         lambda s: (s.restaurant_id, s.hold_id), "TAF03"),
    Call("restaurant_confirm_hold_assignment", "SELECT * FROM restaurant_confirm_hold_assignment(%s, %s)",
         lambda s: (s.restaurant_id, s.hold_id), "TAF03"),
    Call("restaurant_set_booking_status", "SELECT restaurant_set_booking_status(%s, %s, 'cancelled')",
         lambda s: (s.restaurant_id, s.free), "TAF03"),
    Call("restaurant_move_booking", "SELECT * FROM restaurant_move_booking(%s, %s, %s, %s)",
         lambda s: (s.restaurant_id, s.assigned, at(20), at(22)), "TAF03"),
)
