"""``tablemend keys create | list | revoke``: the key is printed once, only its hash is stored, bad input changes
nothing."""

from __future__ import annotations

import hashlib
import uuid

from tablemend import db
from tests.acceptance.cli import result_of, run


def _count(dsn: str) -> int:
    with db.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) AS n FROM tablemend.api_keys").fetchone()
    return int(row["n"]) if row else 0


def test_create_list_revoke(tm_dsn: str) -> None:
    with db.connect(tm_dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO restaurants (id, name) VALUES (%s, 'R')", (uuid.UUID(int=5),))
    created = run("keys", "create", "--name", "backend", "--restaurant", str(uuid.UUID(int=5)), "--scope", "read",
                  "--scope", "assign", "--dsn", tm_dsn)
    assert created.returncode == 0, created.stderr
    secret = created.stdout.strip()
    assert secret.startswith("tmk_") and len(secret) > 40
    with db.connect(tm_dsn, autocommit=True) as conn:
        stored = conn.execute("SELECT id, key_hash, prefix, scopes FROM tablemend.api_keys").fetchall()
    assert len(stored) == 1 and bytes(stored[0]["key_hash"]) == hashlib.sha256(secret.encode()).digest()
    assert stored[0]["prefix"] == secret[:12] and stored[0]["scopes"] == ["read", "assign"]
    listed = run("keys", "list", "--dsn", tm_dsn, "-f", "json")
    assert listed.returncode == 0 and secret not in listed.stdout
    rows = result_of(listed.stdout)
    assert rows[0]["name"] == "backend" and rows[0]["restaurants"] == [str(uuid.UUID(int=5))]
    revoked = run("keys", "revoke", str(stored[0]["id"]), "--dsn", tm_dsn)
    assert revoked.returncode == 0, revoked.stderr
    assert result_of(run("keys", "list", "--dsn", tm_dsn, "-f", "json").stdout) == []


def test_bad_input_is_one_error_and_changes_nothing(tm_dsn: str) -> None:
    cases = [
        (("keys", "create", "--name", "x", "--restaurant", "nope"), "TMU01", 2),
        (("keys", "create", "--name", "x", "--restaurant", str(uuid.uuid4())), "TMU01", 2),
        (("keys", "create", "--name", "x", "--all-restaurants", "--scope", "admin"), "TMU01", 2),
        (("keys", "create", "--name", "x"), "TMU01", 2),
        (("keys", "revoke", str(uuid.uuid4())), "TMH09", 4),
    ]
    for args, code, exit_code in cases:
        result = run(*args, "--dsn", tm_dsn)
        assert result.returncode == exit_code, (args, result.stderr)
        assert f"[{code}]" in result.stderr and result.stdout == ""
    assert _count(tm_dsn) == 0
