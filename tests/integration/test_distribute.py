"""``tablemend distribute`` (tablemend.distribute): what can be checked without Citus (docs/scale.md).

No Citus runs here: the refusal on a server without it, and the order the tables would be distributed in. The
distribution itself was tried by hand on a Citus 13.2 cluster (docs/scale.md says what ran).
"""

from __future__ import annotations

import pytest

from tablemend import distribute, errors
from tablemend.db import Connection

CATALOG = """
SELECT (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace) AS functions,
       (SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace) AS relations,
       (SELECT count(*) FROM pg_extension) AS extensions
"""


def test_a_server_without_citus_is_refused_and_nothing_changes(tm_conn: Connection) -> None:
    before = tm_conn.execute(CATALOG).fetchone()
    with pytest.raises(errors.CitusMissing) as caught:
        distribute.distribute(tm_conn)
    assert caught.value.sqlstate == "TMS01"
    assert "citus" in caught.value.message
    assert f"database={tm_conn.info.dbname} " in (caught.value.details or "")
    assert tm_conn.execute(CATALOG).fetchone() == before
    assert distribute.citus_version(tm_conn) is None


def test_tables_are_ordered_parents_first(tm_conn: Connection) -> None:
    order = distribute.table_order(tm_conn)
    assert order[0] == "restaurants"
    assert len(order) == len(set(order)) == 11
    edges = tm_conn.execute(
        "SELECT src.relname AS child, dst.relname AS parent FROM pg_constraint co "
        "JOIN pg_class src ON src.oid = co.conrelid JOIN pg_class dst ON dst.oid = co.confrelid "
        "WHERE co.contype = 'f' AND src.relnamespace = 'public'::regnamespace").fetchall()
    assert edges
    for e in edges:
        if e["child"] != e["parent"]:
            assert order.index(e["parent"]) < order.index(e["child"]), e
