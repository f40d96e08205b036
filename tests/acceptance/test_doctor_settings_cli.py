"""Configuration and suppression (issue 12): a baseline so CI fails only on new drift, --select / --ignore, the
configuration file and its precedence, -q / -v. The installed CLI in a subprocess, against fresh origin databases."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tablemend import db, sandbox
from tablemend.doctor import bulk
from tests.acceptance.cli import error_lines, result_of, run

#: TMD022 reports the server (the GiST rescan bug of some minor versions), not the data
SERVER = "TMD022"


def _seed(dsn: str, code: str) -> sandbox.StateCase:
    with db.connect(dsn, autocommit=True) as conn:
        return sandbox.seed_state(conn, code)


def _codes(stdout: str) -> list[str]:
    return sorted(r["code"] for r in result_of(stdout) if r["code"] != SERVER)


def test_baseline_reports_only_new_drift(origin_dsn: str, tmp_path: Path) -> None:
    first = _seed(origin_dsn, "D1")
    accepted = tmp_path / "baseline.json"

    written = run("doctor", "scan", "--dsn", origin_dsn, "--write-baseline", str(accepted), "-f", "json")
    assert written.returncode == 0, written.stderr  # recording the current state is not a failure
    entries = json.loads(accepted.read_text(encoding="utf-8"))["findings"]
    assert "TMD001" in [e["code"] for e in entries]
    assert f"wrote baseline {accepted}" in written.stderr

    quiet = run("doctor", "scan", "--dsn", origin_dsn, "--baseline", str(accepted), "-f", "json")
    assert quiet.returncode == 0, quiet.stderr  # nothing new: exit 0 although the drift is still there
    assert result_of(quiet.stdout) == []
    assert f"0 new finding(s), {len(entries)} suppressed by the baseline" in quiet.stderr

    second = _seed(origin_dsn, "D1")  # the same kind of drift in another restaurant: a new finding
    noisy = run("doctor", "scan", "--dsn", origin_dsn, "--baseline", str(accepted), "-f", "json")
    assert noisy.returncode == 1, noisy.stderr
    rows = result_of(noisy.stdout)
    assert [(r["code"], r["restaurant"]) for r in rows] == [("TMD001", str(second.restaurant_id))]
    assert str(first.restaurant_id) not in noisy.stdout
    assert f"1 new finding(s), {len(entries)} suppressed" in noisy.stderr

    # the baselined drift is repaired: its entry is stale, and said so
    repaired = run("doctor", "repair", "--dsn", origin_dsn, "--restaurant", str(first.restaurant_id), "--all-safe",
                   "--yes")
    assert repaired.returncode == 0, repaired.stderr
    after = run("doctor", "scan", "--dsn", origin_dsn, "--baseline", str(accepted), "-f", "json")
    assert after.returncode == 1 and _codes(after.stdout) == ["TMD001"]
    assert "1 baseline entry no longer found" in after.stderr, after.stderr


def test_a_bad_baseline_is_tmu15_before_connecting(tmp_path: Path) -> None:
    bogus = tmp_path / "b.json"
    bogus.write_text('{"findings": []}', encoding="utf-8")
    for path in (bogus, tmp_path / "missing.json"):
        result = run("doctor", "scan", "--dsn", "postgresql://nobody@127.0.0.1:1/none", "--baseline", str(path))
        assert result.returncode == 2 and result.stdout == ""
        assert error_lines(result.stderr)[0].startswith("error [TMU15]"), result.stderr


def test_select_and_ignore_codes_and_prefixes(origin_dsn: str) -> None:
    case = _seed(origin_dsn, "D1")
    everything = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    assert "TMD001" in _codes(everything.stdout)

    ignored = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json", "--ignore", "TMD001")
    assert "TMD001" not in _codes(ignored.stdout), ignored.stdout
    by_prefix = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json", "--select", "tmd00", "--ignore", "TMD002")
    assert _codes(by_prefix.stdout) == ["TMD001"], by_prefix.stderr
    assert SERVER not in by_prefix.stdout  # TMD022 is outside TMD00*

    for args, code in ((["--select", "TMD9"], "TMU16"), (["--ignore", "XYZ"], "TMU16"),
                       (["--ignore", "TMD"], "TMU16")):
        refused = run("doctor", "scan", "--dsn", origin_dsn, *args)
        assert refused.returncode == 2 and refused.stdout == "", (args, refused.stdout)
        assert error_lines(refused.stderr)[0].startswith(f"error [{code}]"), (args, refused.stderr)

    # an ignored check is neither shown nor repaired
    skipped = run("doctor", "repair", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "--all-safe",
                  "--yes", "--ignore", "TMD001,TMD022", "-f", "json")
    assert skipped.returncode == 0, skipped.stderr
    still = run("doctor", "scan", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "-f", "json")
    assert "TMD001" in _codes(still.stdout)
    # a selected check whose repair can expose an ignored one: said before the repair
    narrow = run("doctor", "repair", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "--all-safe",
                 "--yes", "--select", "TMD001", "-f", "json")
    assert narrow.returncode == 0, narrow.stderr
    assert "note: TMD001's repair can leave findings of TMD007, TMD008" in narrow.stderr, narrow.stderr
    assert result_of(narrow.stdout)["changes"] > 0
    # what it left is what the selection left out: only findings its repair can expose; the rest is clean
    left = _codes(run("doctor", "scan", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "-f",
                      "json").stdout)
    assert "TMD001" not in left and set(left) <= bulk.EXPOSES["TMD001"], left
    rest = run("doctor", "repair", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "--all-safe", "--yes",
               "--ignore", "TMD022")
    assert rest.returncode == 0 or not left, rest.stderr
    clean = run("doctor", "scan", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "-f", "json")
    assert _codes(clean.stdout) == []
    finding = next(r for r in result_of(still.stdout) if r["code"] == "TMD001")["id"]
    contradiction = run("doctor", "repair", "--dsn", origin_dsn, "--include", finding, "--ignore", "TMD001", "--yes")
    assert contradiction.returncode == 2 and "TMU16" in contradiction.stderr


def test_configuration_file_and_precedence(origin_dsn: str, tmp_path: Path) -> None:
    _seed(origin_dsn, "D1")
    project = tmp_path / "project"
    deeper = project / "src" / "deeper"
    deeper.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.tablemend]\nformat = "json"\nignore = ["TMD022"]\n\n'
        '[tool.tablemend.doctor.scan]\nfail-on = "error"\n', encoding="utf-8")

    found = run("doctor", "scan", "--dsn", origin_dsn, cwd=deeper)  # discovered from a subdirectory upwards
    assert found.returncode == 1, found.stderr  # TMD001 is an error
    assert _codes(found.stdout) == ["TMD001"] and SERVER not in found.stdout

    by_env = run("doctor", "scan", "--dsn", origin_dsn, cwd=deeper, env={"TABLEMEND_FORMAT": "github"})
    assert by_env.stdout.startswith("::error title=TMD001"), by_env.stdout  # the variable beats the file
    by_option = run("doctor", "scan", "--dsn", origin_dsn, "-f", "table", cwd=deeper,
                    env={"TABLEMEND_FORMAT": "github"})
    assert "TMD001" in by_option.stdout and "::error" not in by_option.stdout  # the option beats both
    ignored_file = run("--no-config", "doctor", "scan", "--dsn", origin_dsn, cwd=deeper)
    assert ignored_file.stdout.lstrip().startswith("doctor scan") or "TMD001" in ignored_file.stdout
    assert not ignored_file.stdout.startswith("[")

    closer = deeper / "tablemend.toml"  # the closest file wins; files are not merged
    closer.write_text('[doctor.scan]\nselect = ["TMD013"]\nformat = "json"\n', encoding="utf-8")
    nearest = run("doctor", "scan", "--dsn", origin_dsn, cwd=deeper)
    assert nearest.returncode == 0 and result_of(nearest.stdout) == [], nearest.stderr
    named = run("--config", str(project / "pyproject.toml"), "doctor", "scan", "--dsn", origin_dsn, cwd=deeper)
    assert _codes(named.stdout) == ["TMD001"]


def test_a_bad_configuration_is_a_typed_error_and_nothing_is_done(origin_dsn: str, tmp_path: Path) -> None:
    case = _seed(origin_dsn, "D1")
    config = tmp_path / "tablemend.toml"
    cases = {
        'fial-on = "error"\n': ("TMU12", "fial-on"),
        '[doctor.repair]\nyes = true\n': ("TMU12", "doctor.repair.yes"),
        '[doctor.scna]\nprofile = "origin"\n': ("TMU12", "doctor.scna"),
        'dsn = "postgresql://u:secret@localhost/db"\n': ("TMU14", "dsn"),
        'statement-timeout = ["1s"]\n': ("TMU13", "statement-timeout"),
        '[doctor.repair]\nformat = "github"\n': ("TMU13", "doctor.repair.format"),
        'profile = \n': ("TMU11", str(config)),
    }
    for text, (code, key) in cases.items():
        config.write_text(text, encoding="utf-8")
        result = run("doctor", "repair", "--dsn", origin_dsn, "--all-safe", "--yes", cwd=tmp_path)
        assert result.returncode == 2 and result.stdout == "", (text, result.stdout, result.stderr)
        first = error_lines(result.stderr)[0]
        assert first.startswith(f"error [{code}]") and str(config) in first and key in first, (text, first)
        assert "database:" not in result.stderr  # refused before connecting
    missing = run("--config", str(tmp_path / "none.toml"), "doctor", "scan", "--dsn", origin_dsn)
    assert missing.returncode == 2 and "TMU11" in missing.stderr
    # nothing was repaired by any of those runs
    left = run("doctor", "scan", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id), "-f", "json")
    assert "TMD001" in _codes(left.stdout)


def test_environment_twin_end_to_end(origin_dsn: str) -> None:
    _seed(origin_dsn, "D1")
    result = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json",
                 env={"TABLEMEND_IGNORE": "TMD001 TMD022", "TABLEMEND_FAIL_ON": "error"})
    assert result.returncode == 0, result.stderr
    assert "TMD001" not in result.stdout


def test_quiet_and_verbose(origin_dsn: str) -> None:
    case = _seed(origin_dsn, "D1")
    normal = run("doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    assert normal.stderr.startswith("database: ")

    quiet = run("-q", "doctor", "scan", "--dsn", origin_dsn, "-f", "json")
    assert quiet.returncode == normal.returncode == 1
    assert quiet.stderr == "" and quiet.stdout == normal.stdout
    failing = run("-q", "doctor", "scan", "--dsn", origin_dsn, "--select", "TMD9")
    assert failing.returncode == 2 and failing.stderr.startswith("error [TMU16]")  # errors are still printed
    assert run("-q", "-v", "doctor", "scan", "--dsn", origin_dsn).returncode == 2

    verbose = run("-v", "doctor", "scan", "--dsn", origin_dsn, "-f", "json", "--select", "TMD001,TMD013")
    assert verbose.stdout == run("doctor", "scan", "--dsn", origin_dsn, "-f", "json", "--select",
                                 "TMD001,TMD013").stdout
    lines = verbose.stderr.splitlines()
    assert any(ln.startswith("time: check TMD001 released-booking-holds-table: ") for ln in lines), lines
    assert any(ln.startswith("time: check TMD013 ") for ln in lines) and lines[-1].startswith("time: check total:")

    repaired = run("--verbose", "doctor", "repair", "--dsn", origin_dsn, "--restaurant", str(case.restaurant_id),
                   "--all-safe", "--yes")
    assert repaired.returncode == 0, repaired.stderr
    assert any(ln.startswith("time: phase ") and "finding TMD001" in ln  # alone, or with the shared pass's checks
               for ln in repaired.stderr.splitlines()), repaired.stderr


def test_version_and_completion() -> None:
    from tablemend import __version__

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"tablemend {__version__}"
    completed = run(env={"_TABLEMEND_COMPLETE": "complete_bash", "COMP_WORDS": "tablemend doctor sc",
                         "COMP_CWORD": "2"})
    assert completed.returncode == 0 and completed.stdout.split() == ["scan"]
    options = run(env={"_TABLEMEND_COMPLETE": "complete_bash", "COMP_WORDS": "tablemend doctor scan --bas",
                       "COMP_CWORD": "3"})
    assert options.stdout.split() == ["--baseline"]
    script = run("--show-completion", "bash")
    assert script.returncode == 0 and "_TABLEMEND_COMPLETE" in script.stdout


def test_index_verification_runs_in_a_whole_scan_only_when_asked(origin_dsn: str) -> None:
    """TMD023 reads every occupancy index whole: a whole-database scan leaves it out and says so, also when another
    check is ignored; --verify-indexes or naming it exactly runs it (issue 10: a scan at the speed of a read)."""
    _seed(origin_dsn, "D1")

    def timed(*args: str) -> tuple[set[str], str]:
        done = run("-v", "doctor", "scan", "--dsn", origin_dsn, "-f", "json", *args)
        assert done.returncode in (0, 1), done.stderr  # (a selection can find nothing: TMD022 on a fixed server)
        ran = {code for ln in done.stderr.splitlines() if ln.startswith("time: check ")
               for code in re.findall(r"TMD\d{3}", ln.split(":")[1])}
        return ran, done.stderr

    for args in ((), ("--ignore", "TMD014"), ("--select", "TMD02")):
        ran, stderr = timed(*args)
        assert "TMD023" not in ran and "TMD021" in ran, (args, stderr)
        assert "note: TMD023 " in stderr and "--verify-indexes" in stderr, (args, stderr)
    for args in (("--verify-indexes",), ("--ignore", "TMD014", "--verify-indexes"), ("--select", "TMD023,TMD001")):
        ran, stderr = timed(*args)
        assert "TMD023" in ran, (args, stderr)
        assert "note: TMD023 " not in stderr, (args, stderr)
