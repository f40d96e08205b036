"""API keys of the HTTP service: create, list, revoke, authenticate.

A key is ``tmk_`` plus 43 URL-safe characters (32 random bytes). Only its SHA-256 is stored (a key has 256 bits of
entropy, so a slow password hash buys nothing), with the first 12 characters as a ``prefix`` to tell keys apart.
Each key is scoped to restaurants (or to all of them: an operator key) and to scopes: ``read`` (status, findings,
the page), ``assign`` (the allocator's writes), ``repair`` (the doctor's repair and undo).

    with db.connect(dsn, autocommit=True) as conn:
        created = keys.create(conn, "backend", restaurants=[rid], scopes=["read", "assign"])
        print(created.secret)          # shown once, never stored
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tablemend import sqlfiles
from tablemend.db import Connection, translated
from tablemend.errors import ApiKeyNotFound, InvalidApiKey, UsageError

SCOPES: tuple[str, ...] = ("read", "assign", "repair")
KEY_PREFIX = "tmk_"
_SHOWN = 12
_FILE = "keys.sql"


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the secret itself)."""

    id: uuid.UUID
    name: str
    prefix: str
    all_restaurants: bool
    restaurant_ids: frozenset[uuid.UUID]
    scopes: frozenset[str]
    created_at: dt.datetime
    created_by: str
    revoked_at: dt.datetime | None

    def allows(self, restaurant_id: uuid.UUID) -> bool:
        return self.all_restaurants or restaurant_id in self.restaurant_ids

    def as_row(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "prefix": self.prefix,
                "restaurants": "all" if self.all_restaurants else sorted(str(r) for r in self.restaurant_ids),
                "scopes": [s for s in SCOPES if s in self.scopes], "created_at": self.created_at,
                "created_by": self.created_by, "revoked_at": self.revoked_at}


@dataclass(frozen=True)
class CreatedKey:
    key: ApiKey
    secret: str


def hash_key(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def _key(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(row["id"], row["name"], row["prefix"], row["all_restaurants"], frozenset(row["restaurant_ids"]),
                  frozenset(row["scopes"]), row["created_at"], row["created_by"], row["revoked_at"])


def parse_scopes(scopes: Iterable[str]) -> list[str]:
    wanted = [s.strip() for s in scopes if s.strip()]
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown or not wanted:
        raise UsageError(f"invalid scopes {', '.join(unknown) or '(none)'}", details=f"scopes={wanted}",
                         hint=f"One or more of: {', '.join(SCOPES)}.")
    return [s for s in SCOPES if s in wanted]


def create(conn: Connection, name: str, *, restaurants: Iterable[uuid.UUID] = (), all_restaurants: bool = False,
           scopes: Iterable[str] = ("read",)) -> CreatedKey:
    """A new key; its secret is returned once and only its hash is stored."""
    if not name.strip():
        raise UsageError("a key needs a name", hint="Pass --name, e.g. 'backend-eu'.")
    ids = sorted(set(restaurants))
    if all_restaurants == bool(ids):
        raise UsageError("scope the key to restaurants, or to all of them (not both, not neither)",
                         hint="Pass --restaurant ID (repeatable) or --all-restaurants.")
    chosen = parse_scopes(scopes)
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with translated(), conn.transaction():
        unknown = conn.execute(sqlfiles.query("unknown_restaurants", _FILE), {"ids": ids}).fetchall()
        if unknown:
            missing = ", ".join(str(r["id"]) for r in unknown)
            raise UsageError(f"no restaurant {missing}", details=f"restaurant_ids={missing}",
                             hint="Check the restaurant ids.")
        row = conn.execute(sqlfiles.query("create", _FILE), {
            "name": name.strip(), "prefix": secret[:_SHOWN], "key_hash": hash_key(secret),
            "all_restaurants": all_restaurants, "restaurant_ids": ids, "scopes": chosen,
        }).fetchone()
    assert row is not None
    return CreatedKey(_key(row), secret)


def list_keys(conn: Connection, *, include_revoked: bool = False) -> list[ApiKey]:
    with translated():
        rows = conn.execute(sqlfiles.query("list", _FILE), {"include_revoked": include_revoked}).fetchall()
    return [_key(r) for r in rows]


def revoke(conn: Connection, key_id: uuid.UUID) -> ApiKey:
    """Revoke a key (revoking twice keeps the first time); :class:`ApiKeyNotFound` for an unknown id."""
    with translated():
        row = conn.execute(sqlfiles.query("revoke", _FILE), {"id": key_id}).fetchone()
    if row is None:
        raise ApiKeyNotFound(f"no API key {key_id}", details=f"key_id={key_id}", hint="See `tablemend keys list`.")
    return _key(row)


def authenticate(conn: Connection, secret: str) -> ApiKey:
    """The active key with this secret, or :class:`InvalidApiKey` (unknown and revoked keys look the same)."""
    with translated():
        row = conn.execute(sqlfiles.query("authenticate", _FILE), {"key_hash": hash_key(secret)}).fetchone()
    if row is None:
        raise InvalidApiKey("invalid API key", hint="The key is unknown or revoked; see `tablemend keys list`.")
    return _key(row)


def active_count(conn: Connection) -> int:
    with translated():
        row = conn.execute(sqlfiles.query("active_count", _FILE)).fetchone()
    return int(row["n"]) if row else 0
