"""Configuration files and environment twins, without a database: discovery, the file → default_map mapping, and the
walk over every command's options (click introspection) that proves each option has its TABLEMEND_<OPTION> twin."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tablemend import config
from tablemend.cli import command
from tablemend.errors import ConfigBadValue, ConfigSecret, ConfigUnknownKey, ConfigUnreadable


def _kind(param: Any) -> tuple[bool, bool]:
    """A flag, a list, or one value (TABLEMEND_FORMAT is one value of two enums: both take table and json)."""
    return (bool(param.is_flag), bool(param.multiple))


def test_every_option_has_an_environment_twin() -> None:
    root = command()
    missing, twins = [], {}
    for path, cmd in config.walk(root):
        for name, param in config.options(cmd).items():
            if name in config.NO_ENV_TWIN:
                assert not param.envvar, f"{' '.join(path)} --{name} is listed as having no twin"
                continue
            if not param.envvar or not param.show_envvar:
                missing.append(f"{' '.join(path)} --{name}")
                continue
            for var in [param.envvar] if isinstance(param.envvar, str) else param.envvar:
                assert var.startswith("TABLEMEND_"), var
                twins.setdefault(var, set()).add(_kind(param))
    assert not missing, f"options without an environment twin: {missing}"
    # one variable never means two kinds of value (a list here, a flag there)
    assert {v: k for v, k in twins.items() if len(k) > 1} == {}
    assert "TABLEMEND_BASELINE" in twins and "TABLEMEND_IGNORE" in twins and "TABLEMEND_QUIET" in twins


def test_help_shows_the_twins(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        command()(["doctor", "scan", "--help"], prog_name="tablemend")
    assert done.value.code == 0
    shown = " ".join(capsys.readouterr().out.split())
    for twin in ("TABLEMEND_SELECT", "TABLEMEND_IGNORE", "TABLEMEND_BASELINE", "TABLEMEND_FAIL_ON",
                 "TABLEMEND_PROFILE,"):
        assert twin in shown, twin


def _outside(found: Path | None, tmp_path: Path) -> bool:
    return found is None or tmp_path not in found.parents


def test_discovery_closest_file_wins(tmp_path: Path) -> None:
    top, inner = tmp_path / "a", tmp_path / "a" / "b" / "c"
    inner.mkdir(parents=True)
    assert _outside(config.discover(inner), tmp_path)
    (top / "pyproject.toml").write_text('[project]\nname = "tablemend-user"\n', encoding="utf-8")
    assert _outside(config.discover(inner), tmp_path)  # a pyproject.toml without [tool.tablemend] is passed by
    (top / "pyproject.toml").write_text('[tool.tablemend]\nprofile = "origin"\n', encoding="utf-8")
    assert config.discover(inner) == top / "pyproject.toml"
    (inner.parent / "tablemend.toml").write_text('profile = "tablemend"\n', encoding="utf-8")
    assert config.discover(inner) == inner.parent / "tablemend.toml"


def _load(tmp_path: Path, text: str) -> config.Loaded:
    path = tmp_path / "tablemend.toml"
    path.write_text(text, encoding="utf-8")
    return config.load(command(), config.read(path))


def test_top_level_keys_apply_to_every_command_sections_win(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'profile = "origin"\nrestaurant = "R"\nignore = "TMD014, TMD022"\nquiet = true\n'
                             '[doctor]\nlock-timeout = "9s"\n[doctor.scan]\nprofile = "tablemend"\n')
    doctor = loaded.default_map["doctor"]
    assert doctor["scan"]["profile"] == "tablemend" and doctor["plan"]["profile"] == "origin"
    assert doctor["scan"]["ignore"] == ["TMD014", "TMD022"] and doctor["repair"]["lock_timeout"] == "9s"
    assert loaded.root == {"quiet": True}
    assert "keys" not in loaded.default_map  # `keys create --restaurant` is another option: only its own table
    assert loaded.origin("doctor scan", "profile") == "doctor.scan.profile"
    assert loaded.origin("doctor undo", "lock_timeout") == "doctor.lock-timeout"


@pytest.mark.parametrize(("text", "error", "key"), [
    ('colour = "red"\n', ConfigUnknownKey, "colour"),
    ('[doctor]\nbooking = "x"\n', ConfigUnknownKey, "doctor.booking"),
    ('[db.start]\ndsn = "x"\n', ConfigUnknownKey, "db.start.dsn"),
    ('[doctor.scan]\nfail-on = ["error"]\n', ConfigBadValue, "doctor.scan.fail-on"),
    ('quiet = "yes"\n', ConfigBadValue, "quiet"),
    ('dsn = "host=h password=p"\n', ConfigSecret, "dsn"),
    ('[doctor.scan]\nselect = "TMD001"\nselect = "TMD002"\n', ConfigUnreadable, "tablemend.toml"),
])
def test_bad_files_name_the_file_and_key(tmp_path: Path, text: str, error: type[Exception], key: str) -> None:
    with pytest.raises(error) as raised:
        _load(tmp_path, text)
    assert str(tmp_path / "tablemend.toml") in str(raised.value) and key in str(raised.value)


def test_a_dsn_without_password_is_fine(tmp_path: Path) -> None:
    loaded = _load(tmp_path, 'dsn = "postgresql://app@db.internal/bookings"\n')
    assert loaded.default_map["doctor"]["scan"]["dsn"] == "postgresql://app@db.internal/bookings"


def test_a_server_named_in_the_environment_beats_the_files_dsn(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """DATABASE_URL and libpq's PG* variables are environment variables: above the file (PGPASSWORD alone is how
    the file's password-less dsn gets its password, so it does not count)."""
    for name in ("DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE",
                 "PGSERVICEFILE", "PGPASSWORD", "PGPASSFILE"):
        monkeypatch.delenv(name, raising=False)
    text = 'dsn = "postgresql://app@db.internal/bookings"\n'
    monkeypatch.setenv("PGPASSWORD", "from-the-environment")
    assert _load(tmp_path, text).default_map["doctor"]["scan"]["dsn"] == "postgresql://app@db.internal/bookings"
    for name, value in (("DATABASE_URL", "postgresql://other/db"), ("PGDATABASE", "other")):
        with monkeypatch.context() as env:
            env.setenv(name, value)
            assert "dsn" not in _load(tmp_path, text).default_map.get("doctor", {}).get("scan", {}), name
