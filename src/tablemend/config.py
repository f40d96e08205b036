"""Configuration files and environment twins for the ``tablemend`` command.

A file is ``tablemend.toml`` (keys at the top level) or the ``[tool.tablemend]`` table of ``pyproject.toml``, found
from the current directory upwards; the closest one wins and files are never merged (ruff's rule, so what applies
is one file you can read). ``--config PATH`` / ``TABLEMEND_CONFIG`` names one, ``--no-config`` ignores them.

Precedence: command line > environment variable > configuration file > built-in default. The file becomes click's
``default_map``, which click reads only after the command line and the environment, so the order is click's own.

Keys are option names without the dashes (``fail-on``, ``select``). A top-level key applies to every command that
takes the option; a table named after a command (``[doctor.scan]``, or ``[doctor]`` for all of them) applies to
those commands and wins over the top level. Options that name one call's input (``--booking``, ``--include``) or
skip a confirmation (``--yes``) cannot be set in a file; neither can a password.

The command tree is walked duck-typed (``params``, ``commands``, ``opts``): only the CLI layer calls this module.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tablemend.errors import ConfigBadValue, ConfigSecret, ConfigUnknownKey, ConfigUnreadable

FILE_NAME = "tablemend.toml"
PYPROJECT = "pyproject.toml"

#: options a file may not set: each names one call's input (a booking, a finding, a plan, an output file) or skips
#: the confirmation before a write; a persistent default for them would act on the wrong rows
NOT_IN_FILE = frozenset({
    "booking", "tables", "start", "end", "key", "include", "plan", "all-safe", "retry", "yes", "write-baseline",
    "sql", "out", "output", "error", "undo", "reset", "config", "no-config", "version", "install-completion",
    "show-completion",
})
#: keys of the root command itself (read by its callback, not through default_map)
ROOT_KEYS = frozenset({"quiet", "verbose"})

#: options with no environment twin, and why
NO_ENV_TWIN = {
    "help": "prints help; not a setting",
    "version": "prints the version; not a setting",
    "install-completion": "installs completion for the current shell once; not a setting",
    "show-completion": "prints the completion script once; not a setting",
    "yes": "a write is confirmed on each command line, never by a variable left in the environment",
}
#: options whose name means something else on another command: their twin names the command too, and a file sets
#: them only in that command's table
QUALIFIED = frozenset({("doctor docs", "check"), ("keys create", "restaurant")})
#: twins the doctor had before the TABLEMEND_<OPTION> scheme, still honoured (after the new name)
LEGACY_ENV = {
    "profile": "TABLEMEND_DOCTOR_PROFILE",
    "lock-timeout": "TABLEMEND_DOCTOR_LOCK_TIMEOUT",
    "statement-timeout": "TABLEMEND_DOCTOR_STATEMENT_TIMEOUT",
}


@dataclass(frozen=True)
class Source:
    """One configuration file: where it is, how to name it in messages, and its table of settings."""

    path: Path
    label: str
    table: Mapping[str, Any]


@dataclass
class Loaded:
    """The settings of one run: click's ``default_map`` and, for messages, which file key set each parameter."""

    source: Source | None
    default_map: dict[str, Any] = field(default_factory=dict)
    root: dict[str, Any] = field(default_factory=dict)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)

    def origin(self, command_path: str, param_name: str) -> str | None:
        return self.origins.get((command_path, param_name))


# --- finding and reading ----------------------------------------------------------------------------------------


def discover(start: Path | None = None) -> Path | None:
    """The closest ``tablemend.toml``, or ``pyproject.toml`` with a ``[tool.tablemend]`` table, from ``start``
    (default: the current directory) up to the filesystem root."""
    here = (start or Path.cwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / FILE_NAME
        if candidate.is_file():
            return candidate
        pyproject = directory / PYPROJECT
        if pyproject.is_file() and _has_tool_table(pyproject):
            return pyproject
    return None


def _has_tool_table(pyproject: Path) -> bool:
    try:
        raw = pyproject.read_bytes()
    except OSError:
        return False
    if b"tablemend" not in raw:  # most pyproject.toml files: no need to parse (nor to fail on) them
        return False
    return "tablemend" in _parse(pyproject, raw).get("tool", {})


def _parse(path: Path, raw: bytes) -> dict[str, Any]:
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigUnreadable(f"{path}: not valid TOML: {exc}", details=f"file={path}",
                               hint="fix the file, name another with --config, or pass --no-config") from None


def read(path: Path) -> Source:
    """Read one file (TMU11 when it is missing, unreadable or not TOML)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigUnreadable(f"configuration file {path} cannot be read: {exc.strerror or exc}",
                               details=f"file={path}", hint="name an existing file with --config or TABLEMEND_CONFIG"
                               ) from None
    document = _parse(path, raw)
    if path.name == PYPROJECT:
        table = document.get("tool", {}).get("tablemend")
        if not isinstance(table, dict):
            raise ConfigUnreadable(f"{path} has no [tool.tablemend] table", details=f"file={path}")
        return Source(path, f"{path} [tool.tablemend]", table)
    return Source(path, str(path), document)


def locate(explicit: str | None, *, disabled: bool) -> Source | None:
    """The file this run uses: the named one, else the discovered one, else none (or none with ``--no-config``)."""
    if explicit:
        return read(Path(explicit))
    if disabled:
        return None
    found = discover()
    return read(found) if found is not None else None


# --- applying to the command tree -------------------------------------------------------------------------------


def walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every command of the tree with its path (the root's path is empty), groups before their commands."""
    yield path, command
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        yield from walk(sub, (*path, name))


def options(command: Any) -> dict[str, Any]:
    """A command's options by long name without dashes (``fail-on``)."""
    found: dict[str, Any] = {}
    for param in getattr(command, "params", ()):
        if getattr(param, "param_type_name", None) != "option":
            continue
        longs = [o for o in param.opts if o.startswith("--")]
        if longs:
            found[longs[0][2:]] = param
    return found


def _key(name: str) -> str:
    return name.replace("_", "-").lower()


def load(root: Any, source: Source | None) -> Loaded:
    """Check every key of ``source`` against the command tree and build click's ``default_map`` (TMU12-TMU14)."""
    loaded = Loaded(source)
    if source is None:
        return loaded
    top = {_key(k): v for k, v in source.table.items() if not isinstance(v, dict)}
    loaded.root = {k: top.pop(k) for k in list(top) if k in ROOT_KEYS}
    for key, value in loaded.root.items():
        if not isinstance(value, bool):
            raise _bad(source, key, f"must be true or false, got {value!r}")
    tables = {k: v for k, v in source.table.items() if isinstance(v, dict)}
    loaded.default_map = _apply(root, (), {k: (v, k) for k, v in top.items()}, set(top), tables, source, loaded)
    return loaded


def _apply(command: Any, path: tuple[str, ...], inherited: dict[str, tuple[Any, str]], fresh: set[str],
           tables: Mapping[str, Any], source: Source, loaded: Loaded) -> dict[str, Any]:
    """``default_map`` below ``command``; ``inherited`` maps a key to its value and the dotted key that set it
    (``fresh``: the keys set at this level, each of which some command below must take)."""
    subs = getattr(command, "commands", None) or {}
    for name in tables:
        if name not in subs:
            raise _unknown(source, ".".join((*path, name)), "names no command", sorted(subs))
    below = [c for p, c in walk(command, path) if p != path]
    for key in fresh:
        dotted = inherited[key][1]
        _refuse_call_input(source, dotted, key)
        if not any(key in options(c) for c in below):
            every = sorted({k for c in below for k in options(c)} - NOT_IN_FILE)
            raise _unknown(source, dotted, "is an option of no command here", every)
    result: dict[str, Any] = {}
    for name, sub in subs.items():
        sub_path = (*path, name)
        own = {_key(k): v for k, v in tables.get(name, {}).items()}
        inner = {k: v for k, v in own.items() if isinstance(v, dict)}
        scalars = {k: (v, ".".join((*sub_path, k))) for k, v in own.items() if not isinstance(v, dict)}
        if getattr(sub, "commands", None):
            entry = _apply(sub, sub_path, {**inherited, **scalars}, set(scalars), inner, source, loaded)
        else:
            if inner:
                raise _unknown(source, ".".join((*sub_path, next(iter(inner)))), "names no command", [])
            takes = options(sub)
            for key, (_, dotted) in scalars.items():
                _refuse_call_input(source, dotted, key)
                if key not in takes:
                    raise _unknown(source, dotted, f"is not an option of `{' '.join(sub_path)}`",
                                   sorted(set(takes) - NOT_IN_FILE))
            entry = {}
            for key, (value, dotted) in {**inherited, **scalars}.items():
                if key in takes and (key in scalars or (" ".join(sub_path), key) not in QUALIFIED):
                    converted = _value(source, dotted, key, value, takes[key])
                    if key == "dsn" and environment_names_server():
                        continue  # DATABASE_URL and PG* are environment variables: they beat the file
                    entry[takes[key].name] = converted
                    loaded.origins[(" ".join(sub_path), takes[key].name)] = dotted
        if entry:
            result[name] = entry
    return result


def environment_names_server() -> bool:
    """Whether ``DATABASE_URL`` or libpq's variables name a server (``PGPASSWORD`` / ``PGPASSFILE`` alone do not:
    they are how a file's password-less ``dsn`` gets its password)."""
    from tablemend.db import LIBPQ_TARGET_VARS

    names = ("DATABASE_URL", *(v for v in LIBPQ_TARGET_VARS if v not in ("PGPASSWORD", "PGPASSFILE")))
    return any(os.environ.get(name) for name in names)


def _refuse_call_input(source: Source, dotted: str, key: str) -> None:
    if key in NOT_IN_FILE:
        raise ConfigUnknownKey(f"{source.label}: {dotted} cannot be set in a configuration file: it names one call's "
                               "input or confirms a write", details=f"file={source.path} key={dotted}",
                               hint=f"give --{key} on the command line")


def _value(source: Source, dotted: str, key: str, value: Any, param: Any) -> Any:
    """The TOML value as the option takes it; the option's own conversion runs when the command is parsed."""
    if getattr(param, "multiple", False):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
            raise _bad(source, dotted, f"must be a list of strings, got {value!r}")
        return [str(v) for v in value]
    if getattr(param, "is_flag", False):
        if not isinstance(value, bool):
            raise _bad(source, dotted, f"must be true or false, got {value!r}")
        return value
    if isinstance(value, bool | list | dict) or not isinstance(value, str | int | float):
        raise _bad(source, dotted, f"must be a string or a number, got {value!r}")
    if key == "dsn":
        _refuse_password(source, dotted, str(value))
    return str(value)


def _refuse_password(source: Source, dotted: str, dsn: str) -> None:
    from psycopg import conninfo

    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except Exception as exc:  # psycopg's ProgrammingError: not a connection string
        raise _bad(source, dotted, f"is not a connection string: {exc}") from None
    if parts.get("password"):
        raise ConfigSecret(f"{source.label}: {dotted} holds a password; a configuration file is meant to be "
                           "committed", details=f"file={source.path} key={dotted}",
                           hint="drop the password from the file; give it in PGPASSWORD, ~/.pgpass or a "
                           "pg_service.conf service")


def _bad(source: Source, dotted: str, what: str) -> ConfigBadValue:
    return ConfigBadValue(f"{source.label}: {dotted} {what}", details=f"file={source.path} key={dotted}")


def _unknown(source: Source, dotted: str, what: str, known: list[str]) -> ConfigUnknownKey:
    close = difflib.get_close_matches(dotted.rsplit(".", 1)[-1], known, n=3)
    hint = f"did you mean {', '.join(close)}?" if close else ("known here: " + ", ".join(known) if known else None)
    return ConfigUnknownKey(f"{source.label}: unknown key {dotted}: {what}",
                            details=f"file={source.path} key={dotted}", hint=hint)


def bad_value(loaded: Loaded, command_path: str, param_name: str, message: str) -> ConfigBadValue | None:
    """The typed error for an option that refused a value the file gave it (None when the file did not set it)."""
    dotted = loaded.origin(command_path, param_name)
    if dotted is None or loaded.source is None:
        return None
    return ConfigBadValue(f"{loaded.source.label}: {dotted}: {message}",
                          details=f"file={loaded.source.path} key={dotted}")


# --- environment twins ------------------------------------------------------------------------------------------


def env_name(command_path: str, option: str) -> str:
    """``TABLEMEND_<OPTION>``; ``TABLEMEND_<COMMAND>_<OPTION>`` for the names another command uses otherwise."""
    stem = f"{command_path} {option}" if (command_path, option) in QUALIFIED else option
    return "TABLEMEND_" + stem.upper().replace("-", "_").replace(" ", "_")


def add_env_twins(root: Any) -> Any:
    """Give every option of the tree its ``TABLEMEND_<OPTION>`` twin (shown in --help), except :data:`NO_ENV_TWIN`."""
    for path, command in walk(root):
        for name, param in options(command).items():
            if name in NO_ENV_TWIN:
                continue
            if param.envvar and name not in LEGACY_ENV:
                continue  # declared with its own twin already (TABLEMEND_DSN, TABLEMEND_PORT, …)
            twin = env_name(" ".join(path), name)
            param.envvar = [twin, LEGACY_ENV[name]] if name in LEGACY_ENV else twin
            param.show_envvar = True
    return root
