"""tablemend's error taxonomy.

Every error the library raises is a :class:`TablemendError`. Errors that come from the database carry the project-owned
SQLSTATE that the PL/pgSQL function set with ``USING ERRCODE``; a subclass registers its code with
``class X(TablemendError, sqlstate="TMC01")`` and :func:`for_sqlstate` finds it. Each class also says which HTTP status
and which CLI exit code it maps to, so the HTTP layer and the CLI never decide that themselves.

Driver exceptions are translated into these classes in exactly one place: :mod:`tablemend.db`.
"""

from __future__ import annotations

from typing import Any, ClassVar

_BY_SQLSTATE: dict[str, type[TablemendError]] = {}


class TablemendError(Exception):
    """Base class: a message plus PostgREST-style ``details`` and ``hint``."""

    sqlstate: ClassVar[str] = "TM000"
    http_status: ClassVar[int] = 500
    exit_code: ClassVar[int] = 2

    def __init_subclass__(cls, sqlstate: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if sqlstate is not None:
            if sqlstate in _BY_SQLSTATE:
                raise TypeError(f"SQLSTATE {sqlstate} is already registered to {_BY_SQLSTATE[sqlstate].__name__}")
            cls.sqlstate = sqlstate
            _BY_SQLSTATE[sqlstate] = cls

    def __init__(
        self,
        message: str,
        *,
        details: str | None = None,
        hint: str | None = None,
        sqlstate: str | None = None,
        constraint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.hint = hint
        self.constraint = constraint
        if sqlstate is not None:
            self.sqlstate = sqlstate  # type: ignore[misc]  # instance keeps the exact code from the server

    def to_json(self) -> dict[str, str | None]:
        """The one JSON error shape (PostgREST's): ``{code, message, details, hint}``."""
        return {"code": self.sqlstate, "message": self.message, "details": self.details, "hint": self.hint}

    def __str__(self) -> str:
        parts = [self.message]
        if self.details:
            parts.append(f"DETAIL: {self.details}")
        if self.hint:
            parts.append(f"HINT: {self.hint}")
        return "\n".join(parts)


def for_sqlstate(sqlstate: str | None) -> type[TablemendError] | None:
    """The registered class for a SQLSTATE, or None."""
    if sqlstate is None:
        return None
    return _BY_SQLSTATE.get(sqlstate)


# --- usage and environment --------------------------------------------------------------------------------------------


class UsageError(TablemendError, sqlstate="TMU01"):
    """Bad input from the caller, found before anything was sent to the database."""

    http_status = 422
    exit_code = 2


class ConnectionFailed(TablemendError, sqlstate="TMU02"):
    """The database could not be reached (bad DSN, server down, database missing, authentication failed)."""

    http_status = 503
    exit_code = 2


class EmbeddedClusterError(TablemendError, sqlstate="TMU03"):
    """The embedded PostgreSQL cluster could not be created, started or stopped."""

    exit_code = 2


class MigrationError(TablemendError, sqlstate="TMU04"):
    """A schema migration could not be applied, or the applied state disagrees with the files."""

    exit_code = 2


class DatabaseError(TablemendError):
    """An error from the server with a SQLSTATE tablemend does not own (kept verbatim)."""

    http_status = 500
    exit_code = 2


# --- doctor -----------------------------------------------------------------------------------------------------------


class DoctorError(TablemendError, sqlstate="TMD90"):
    """A doctor operation could not be carried out; nothing was changed."""

    http_status = 409
    exit_code = 2


class ProfileNotDetected(DoctorError, sqlstate="TMD91"):
    """The database matches no doctor profile (neither the origin's schema nor tablemend's)."""

    http_status = 422


class RepairRefused(DoctorError, sqlstate="TMD92"):
    """A repair was not applied: nothing to repair, not confirmed, or a finding that may not be auto-repaired."""


class LockUnavailable(DoctorError, sqlstate="TMD93"):
    """A repair could not get its locks (or finish) within lock_timeout / statement_timeout; nothing was changed."""

    http_status = 503


class UndoConflict(DoctorError, sqlstate="TMD94"):
    """An undo would conflict with rows written after the repair; the row is named and nothing was changed."""


class RepairNotFound(DoctorError, sqlstate="TMD95"):
    """No repair with that id in the journal (or it was already undone)."""

    http_status = 404


class FindingNotFound(DoctorError, sqlstate="TMD96"):
    """A finding named with --include does not exist (any more)."""

    http_status = 404
