"""tablemend's error taxonomy.

Every error the library raises is a :class:`TablemendError`. Errors that come from the database carry the project-owned
SQLSTATE that the PL/pgSQL function set with ``USING ERRCODE``; a subclass registers its code with
``class X(TablemendError, sqlstate="TMC01")`` and :func:`for_sqlstate` finds it. Each class also says which HTTP status
and which CLI exit code it maps to, so the HTTP layer and the CLI never decide that themselves.

Driver exceptions are translated into these classes in exactly one place: :mod:`tablemend.db`.
"""

from __future__ import annotations

import re
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

    @property
    def fields(self) -> dict[str, str]:
        """The DETAIL's ``key=value`` ids (every error has them; empty when the DETAIL has none)."""
        return detail_fields(self.details)

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


class SchemaMissing(TablemendError, sqlstate="TMU06"):
    """The database does not have tablemend's schema (or is behind it): nothing was sent to it."""

    http_status = 503
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


class DoctorBookingNotFound(DoctorError, sqlstate="TMD60"):
    """The doctor was asked about a booking the database does not have (exit 4 and 404, as the allocator's TAN01)."""

    http_status = 404
    exit_code = 4


class IndexBuildFailed(DoctorError, sqlstate="TMD73"):
    """``repair --create-indexes``: a recommended index could not be built concurrently; the invalid index it left
    was dropped and no repair ran."""


class IndexesNeedAutocommit(DoctorError, sqlstate="TMD74"):
    """CREATE / DROP INDEX CONCURRENTLY cannot run inside a transaction: the connection must be in autocommit mode."""

    http_status = 422


class FindingsRemain(DoctorError, sqlstate="TMD84"):
    """A repair changed nothing: every finding needs --include (confirm) or a person (human). Exit code 1, as a scan
    with findings, so scripts notice; the details name each remaining finding."""

    exit_code = 1


class PlanDrift(DoctorError, sqlstate="TMD85"):
    """``repair --plan``: rows the reviewed plan changes no longer match their planned before-images (the database
    moved on since the plan was made); every such row is named and nothing was changed."""


class PlanFileInvalid(DoctorError, sqlstate="TMD86"):
    """``repair --plan``: the file is not a doctor plan (unreadable, not JSON, another format or profile, or edited
    so its findings no longer match their ids); nothing was changed."""

    http_status = 422


class PlanMismatch(DoctorError, sqlstate="TMD87"):
    """``repair --plan``: applying the plan's findings changed other rows than the plan lists; rolled back, nothing
    was changed."""


class JournalAppendOnly(DoctorError, sqlstate="TMD97"):
    """Raised by the database: rows of tablemend_doctor.journal / journal_changes are never updated or deleted."""


class RowSecurityRefused(DoctorError, sqlstate="TMD70"):
    """Row-level security would hide rows from the doctor's reads: it refuses rather than report a subset as the whole.

    The message names the tables; the hint names the ways out (a role that owns them or has BYPASSRLS, or an explicit
    ``--restaurant R`` scope)."""

    http_status = 403


class RestaurantScopeIncomplete(DoctorError, sqlstate="TMD71"):
    """Under ``--restaurant R`` the doctor cannot see all of R's rows (R itself, or rows R's visible rows refer to)."""

    http_status = 403


class ErrorNotRecognised(DoctorError, sqlstate="TMD72"):
    """``explain --error`` got a message that matches none of the origin allocator's known message shapes."""

    http_status = 422


# --- HTTP service (tablemend serve) -----------------------------------------------------------------------------------
# Raised by the api/ face and the keys module before anything reaches the allocator or the doctor; nothing changed.


class ServiceError(TablemendError):
    """Base of the HTTP service's own refusals (authentication, request shape)."""

    http_status = 400
    exit_code = 2


class AuthenticationRequired(ServiceError, sqlstate="TMH01"):
    """The request carries no API key (``Authorization: Bearer <key>`` or ``apikey`` header)."""

    http_status = 401


class InvalidApiKey(ServiceError, sqlstate="TMH02"):
    """The API key is unknown or revoked."""

    http_status = 401


class ScopeMissing(ServiceError, sqlstate="TMH03"):
    """The API key lacks the scope (read, assign, repair) the route needs."""

    http_status = 403


class RestaurantForbidden(ServiceError, sqlstate="TMH04"):
    """The API key is not scoped to the restaurant the request names."""

    http_status = 403


class UnknownFunction(ServiceError, sqlstate="TMH05"):
    """No RPC function of that name is served (PostgREST's 404 for an unknown function)."""

    http_status = 404


class InvalidJson(ServiceError, sqlstate="TMH06"):
    """The body is not valid JSON, or not a JSON object."""

    http_status = 400


class InvalidParameter(ServiceError, sqlstate="TMH07"):
    """An argument is unknown, missing, of the wrong type, or too long (arrays are capped)."""

    http_status = 422


class PayloadTooLarge(ServiceError, sqlstate="TMH08"):
    """The request body is larger than the service accepts."""

    http_status = 413


class ApiKeyNotFound(ServiceError, sqlstate="TMH09"):
    """No API key with that id (``tablemend keys revoke``)."""

    http_status = 404
    exit_code = 4


# --- allocator --------------------------------------------------------------------------------------------------------
# Raised by tablemend's own PL/pgSQL functions (sql/migrations/0002_allocator.sql) with USING ERRCODE; DETAIL is
# space-separated key=value pairs with the ids involved (see :func:`detail_fields`). SQLSTATE class TA: TAV validation
# (422, exit 2), TAN not found (404, exit 4), TAC conflict (409, exit 3), TAI integrity guard (409, exit 3).


#: ``key=value``: a value is SQL-quoted ('a b', '' for a quote), a range (["a","b")), or runs to the next space
_DETAIL_FIELD = re.compile(r"""(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)=('(?:[^']|'')*'|[\[(][^\])]*[\])]|\S*)""")


def detail_fields(details: str | None) -> dict[str, str]:
    """``{"booking_id": "…", "table_id": "…", …}`` from an allocator DETAIL (``key=value key=value``); a quoted value
    loses its quotes (``idempotency_key='  '`` is two spaces), a range keeps its spaces."""
    fields: dict[str, str] = {}
    for key, value in _DETAIL_FIELD.findall(details or ""):
        if len(value) >= 2 and value[0] == value[-1] == "'":
            value = value[1:-1].replace("''", "'")
        fields[key] = value
    return fields


class AllocatorError(TablemendError):
    """Base of every error raised by the allocator's SQL functions."""


class AllocatorValidationError(AllocatorError):
    """The request itself is invalid; nothing was read or changed because of it."""

    http_status = 422
    exit_code = 2


class AllocatorNotFound(AllocatorError):
    """The booking or hold named by the request does not exist."""

    http_status = 404
    exit_code = 4


class AllocatorConflict(AllocatorError):
    """The request is valid but the current state refuses it (occupied, held, key reused, ...)."""

    http_status = 409
    exit_code = 3


class InvalidTableList(AllocatorValidationError, sqlstate="TAV01"):
    """The table-id list is NULL, empty or contains NULL."""


class InvalidWindow(AllocatorValidationError, sqlstate="TAV02"):
    """Only one bound of a window was given, or the window is empty or reversed."""


class UnknownTable(AllocatorValidationError, sqlstate="TAV03"):
    """A table id exists in no restaurant."""


class TableOfOtherRestaurant(AllocatorValidationError, sqlstate="TAV04"):
    """A table belongs to a restaurant other than the booking's (or the hold's)."""


class TableNotAssignable(AllocatorValidationError, sqlstate="TAV05"):
    """A table is inactive or out of service."""


class TablesInDifferentZones(AllocatorValidationError, sqlstate="TAV06"):
    """The requested tables are not all in one zone."""


class TableNotMovable(AllocatorValidationError, sqlstate="TAV07"):
    """A fixed table was requested together with other tables."""


class TablesNotAdjacent(AllocatorValidationError, sqlstate="TAV08"):
    """Adjacency was required and the tables do not form one connected group."""


class InvalidArgument(AllocatorValidationError, sqlstate="TAV09"):
    """A required argument is missing or malformed (NULL booking or hold id, blank key, past expiry)."""


class BookingNotFound(AllocatorNotFound, sqlstate="TAN01"):
    """No booking with that id (in that restaurant)."""


class HoldNotFound(AllocatorNotFound, sqlstate="TAN02"):
    """No hold with that id."""


class TableOccupied(AllocatorConflict, sqlstate="TAC01"):
    """A live booking already occupies one of the tables over an overlapping window; DETAIL names it.

    Also raised for a raw exclusion violation (23P01) of ``booking_table_assignments_no_overlap`` from a direct write.
    """


class HoldConflict(AllocatorConflict, sqlstate="TAC02"):
    """An active, unexpired hold of another booking (or an unowned one) covers a table over the window."""


class IdempotencyMismatch(AllocatorConflict, sqlstate="TAC03"):
    """The idempotency key was used for a different request; DETAIL ``field=`` names the first difference."""


class IdempotencyInProgress(AllocatorConflict, sqlstate="TAC04"):
    """Another transaction is executing a call with the same booking and idempotency key right now."""


class InsufficientCapacity(AllocatorConflict, sqlstate="TAC05"):
    """The tables seat fewer guests than the booking's party size."""


class BookingNotAssignable(AllocatorConflict, sqlstate="TAC06"):
    """The booking is cancelled, no_show, completed or waitlisted: it cannot hold tables."""


class HoldNotActive(AllocatorConflict, sqlstate="TAC07"):
    """The hold expired, was released or was confirmed (and the retried confirm no longer matches)."""


class HoldBookingMismatch(AllocatorConflict, sqlstate="TAC08"):
    """The hold belongs to another booking than the one confirming it."""


class ZoneLocked(AllocatorConflict, sqlstate="TAC09"):
    """An assignment row disagrees with its booking's zone lock or its table's zone.

    The functions never raise it (re-assignment replaces the set, zone and all); it is the translation of a raw
    foreign-key violation (23503) of the zone keys from a direct write.
    """


# --- auto-assign (sql/migrations/0006_auto_assign.sql, tablemend.autoassign) ---


class InvalidPartySize(AllocatorValidationError, sqlstate="TAV20"):
    """The party size is missing, below 1 or above 1000."""


class InvalidLimit(AllocatorValidationError, sqlstate="TAV21"):
    """The candidate limit is missing or outside 1..100."""


class UnknownZone(AllocatorValidationError, sqlstate="TAV22"):
    """The zone is not a zone of the restaurant."""


class UnknownRestaurant(AllocatorValidationError, sqlstate="TAV23"):
    """No restaurant with that id."""


class InvalidRepackPlan(AllocatorValidationError, sqlstate="TAV24"):
    """A re-pack plan document is malformed or belongs to another restaurant."""


class PartyTooLarge(AllocatorConflict, sqlstate="TAC20"):
    """No table or connected group of up to 4 tables fits the party even with every table free (DETAIL ``reason=``
    party_too_large, or party_too_small when it is below every table's min_party_size)."""


class NoFreeTables(AllocatorConflict, sqlstate="TAC21"):
    """Table sets that fit the party exist, but every one is occupied or held over the window."""


class ZoneClosed(AllocatorConflict, sqlstate="TAC22"):
    """The requested zone has no assignable table (none active and in service, or none with the seating)."""


class RepackPlanStale(AllocatorConflict, sqlstate="TAC23"):
    """A re-pack plan read rows that have changed since it was proposed; nothing was applied."""


class RepackNotFound(AllocatorConflict, sqlstate="TAC24"):
    """No re-pack plan frees a table set for the party (every fitting set is blocked by something that cannot move)."""


class LedgerInconsistent(AllocatorConflict, sqlstate="TAI01"):
    """An idempotency ledger row does not describe its booking's current assignment (refused at commit)."""


# --- bounded input and scope (migration 0003, docs/security.md) -------------------------------------------------------


class WindowOutOfRange(AllocatorValidationError, sqlstate="TAV10"):
    """A window is infinite, outside the supported dates, or too long; DETAIL ``field=`` names the bound."""


class HoldExpiryOutOfRange(AllocatorValidationError, sqlstate="TAV11"):
    """A hold's expiry lies further ahead than the longest hold allowed."""


class IdempotencyKeyTooLong(AllocatorValidationError, sqlstate="TAV12"):
    """An idempotency key is longer than allowed."""


class TooManyTables(AllocatorValidationError, sqlstate="TAV13"):
    """More table ids were passed than one call accepts."""


class AllocatorForbidden(AllocatorError):
    """The caller may not act here: no restaurant scope, or a scope that does not cover the request."""

    http_status = 403
    exit_code = 2


class ScopeRequired(AllocatorForbidden, sqlstate="TAF01"):
    """A login that cannot see every restaurant called a function without setting ``tablemend.restaurant_id``."""


class InvalidScope(AllocatorForbidden, sqlstate="TAF02"):
    """``tablemend.restaurant_id`` is set to something that is not a uuid."""


class RestaurantOutOfScope(AllocatorForbidden, sqlstate="TAF03"):
    """The request names a restaurant other than the caller's scope."""


class PermissionDenied(TablemendError, sqlstate="42501"):
    """PostgreSQL refused the call: the login's roles lack the privilege (docs/security.md lists the grants)."""

    http_status = 403
    exit_code = 2


#: Raw constraint violations from direct writes that mean the same as an allocator error.
_BY_CONSTRAINT: dict[tuple[str, str], type[TablemendError]] = {
    ("23P01", "booking_table_assignments_no_overlap"): TableOccupied,
    ("23P01", "table_hold_members_no_overlap"): HoldConflict,
    ("23503", "booking_table_assignments_booking_zone_fkey"): ZoneLocked,
    ("23503", "booking_table_assignments_table_zone_fkey"): ZoneLocked,
}


#: Citus names a shard's copy of a constraint after the constraint and the shard id: ``…_no_overlap_102245``.
_SHARD_SUFFIX = re.compile(r"_[0-9]+$")
#: Citus can pass a shard's exclusion violation on as XX000 (from INSERT … SELECT); only the message names it.
_EXCLUSION_MESSAGE = re.compile(r'violates exclusion constraint "([^"]+)"')


def constraint_name(constraint: str | None) -> str | None:
    """The constraint a (possibly shard-suffixed) name stands for: ``x_102245`` is ``x`` when ``x`` is one of
    tablemend's own constraints; any other name is returned unchanged."""
    if constraint is None:
        return None
    known = {name for _, name in _BY_CONSTRAINT}
    base = _SHARD_SUFFIX.sub("", constraint)
    return base if constraint not in known and base in known else constraint


def for_constraint(sqlstate: str | None, constraint: str | None,
                   message: str | None = None) -> type[TablemendError] | None:
    """The class for a raw constraint violation on one of tablemend's own constraints, or None.

    Understands a shard's copy of a constraint (Citus suffixes the shard id) and an exclusion violation that reached
    the client as XX000, named only in ``message``.
    """
    if sqlstate == "XX000" and message and (m := _EXCLUSION_MESSAGE.search(message)):
        sqlstate, constraint = "23P01", m.group(1)
    if sqlstate is None or constraint is None:
        return None
    return _BY_CONSTRAINT.get((sqlstate, constraint_name(constraint) or constraint))


# --- server integrity (tablemend.integrity, the doctor's index rebuild) ----------------------------------------------


class ServerProbeFailed(TablemendError, sqlstate="TMU10"):
    """The GiST rescan self-test could not run (no TEMPORARY privilege, read-only server, unexpected plan)."""

    http_status = 503
    exit_code = 2


class IndexRebuildRefused(DoctorError, sqlstate="TMD82"):
    """A damaged index was not rebuilt: live rows already overlap (the rebuild would fail); they are named."""


class IndexRebuildFailed(DoctorError, sqlstate="TMD83"):
    """REINDEX INDEX CONCURRENTLY failed; the half-built copy was dropped and the old index is unchanged."""


# --- scale-out on Citus (tablemend.distribution, tablemend.distribute, docs/scale.md) ---------------------------------


class ScaleError(TablemendError):
    """``tablemend distribute`` could not distribute the schema; nothing was changed by the failing step."""

    http_status = 503
    exit_code = 2


class CitusMissing(ScaleError, sqlstate="TMS01"):
    """The server has no Citus: the extension is not installed in the database (``CREATE EXTENSION citus``)."""


class SchemaNotDistributable(ScaleError, sqlstate="TMS02"):
    """The schema has defects that keep it from distributing by restaurant (``tablemend.distribution.check``)."""


class SchemaNotMigrated(ScaleError, sqlstate="TMS03"):
    """The database has pending tablemend migrations; run ``tablemend migrate`` first."""


class DistributeFailed(ScaleError, sqlstate="TMS04"):
    """Citus refused one step of the distribution; the step, its object and Citus's message are named."""


# --- configuration, rule selection and baselines (tablemend.config, tablemend.doctor.selection / baseline) -----------


class ConfigError(UsageError):
    """A configuration file (``tablemend.toml`` or ``[tool.tablemend]``) cannot be used; the command did nothing."""


class ConfigUnreadable(ConfigError, sqlstate="TMU11"):
    """The configuration file is missing (``--config PATH``), unreadable, or not valid TOML."""


class ConfigUnknownKey(ConfigError, sqlstate="TMU12"):
    """A key the configuration file may not hold: no command takes it, or it names one call's input."""


class ConfigBadValue(ConfigError, sqlstate="TMU13"):
    """A configuration value of the wrong type, or one the option it sets refuses."""


class ConfigSecret(ConfigError, sqlstate="TMU14"):
    """A password in the configuration file: give it in PGPASSWORD, ~/.pgpass or a service file instead."""


class BaselineInvalid(UsageError, sqlstate="TMU15"):
    """A baseline file (``doctor scan --baseline``) is missing, unreadable, or not a tablemend baseline."""


class UnknownCheckCode(UsageError, sqlstate="TMU16"):
    """``--select`` / ``--ignore`` name a code or prefix no check has, or leave no check to run."""


class Interrupted(TablemendError, sqlstate="TMU17"):
    """The command was interrupted (Ctrl-C, SIGINT): an open transaction was rolled back; what earlier transactions
    committed (a ``--batch`` repair's finished batches) stays, and the journal lists it."""

    http_status = 500
    exit_code = 130
