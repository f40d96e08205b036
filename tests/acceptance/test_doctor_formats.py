"""Machine output of ``doctor scan`` and ``doctor gate`` for CI (issue 12): SARIF 2.1.0 checked against the official
schema and Microsoft's validator, JUnit XML whose counts agree with the JSON, and the rule's title and category on
every finding in every format."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from tablemend import db, sandbox
from tests.acceptance import sarif_validator
from tests.acceptance.cli import run
from tests.acceptance.test_doctor_gate_cli import pre_migration_duplicate


def _seed(dsn: str, *codes: str) -> None:
    with db.connect(dsn, autocommit=True) as conn:
        for code in codes:
            sandbox.seed_state(conn, code)


def _valid_sarif(text: str, tmp_path: Path, name: str) -> dict[str, Any]:
    log: dict[str, Any] = json.loads(text)
    assert sarif_validator.schema_errors(log) == []
    path = tmp_path / f"{name}.sarif"
    path.write_text(text, encoding="utf-8")
    assert sarif_validator.multitool(path) == []
    return log


def _scan(dsn: str, fmt: str, *more: str) -> tuple[int, str]:
    done = run("doctor", "scan", "--dsn", dsn, "-f", fmt, *more)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, done.stdout


def test_scan_sarif_validates_and_matches_the_json(origin_dsn: str, tmp_path: Path) -> None:
    _seed(origin_dsn, "D1", "orphan-merge-groups", "leftover-allocation")
    code, text = _scan(origin_dsn, "json")
    envelope = json.loads(text)
    findings = envelope["result"]
    levels = {f["level"] for f in findings}
    assert {"error", "info"} <= levels, findings  # several levels: SARIF's error and note

    sarif_code, sarif_text = _scan(origin_dsn, "sarif")
    assert sarif_code == code == 1
    log = _valid_sarif(sarif_text, tmp_path, "scan")
    assert log["version"] == "2.1.0"
    (sarif_run,) = log["runs"]
    driver = sarif_run["tool"]["driver"]
    assert driver["name"] == "tablemend" and driver["version"] and driver["informationUri"]
    rules = driver["rules"]
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) and "TMD001" in ids and "TMD008" in ids
    tmd001 = rules[ids.index("TMD001")]
    assert tmd001["shortDescription"]["text"] == "Released booking still holds a table"
    assert tmd001["properties"]["category"] == "assignments" and tmd001["defaultConfiguration"]["level"] == "error"
    assert tmd001["help"]["text"].startswith("TMD001:")

    results = sarif_run["results"]
    assert len(results) == len(findings)
    by_id = {r["partialFingerprints"]["tablemendFindingId/v1"]: r for r in results}
    assert set(by_id) == {f["id"] for f in findings}
    sarif_level = {"error": "error", "warning": "warning", "info": "note"}
    for f in findings:
        r = by_id[f["id"]]
        assert r["ruleId"] == f["code"] and rules[r["ruleIndex"]]["id"] == f["code"]
        assert r["level"] == sarif_level[f["level"]]
        assert f["detail"] in r["message"]["text"] and f["title"] in r["message"]["text"]
        assert r["properties"]["remediation"] == f["remediation"] and r["properties"]["category"] == f["category"]
        (where,) = r["locations"][0]["logicalLocations"]
        assert "physicalLocation" not in r["locations"][0]
        assert r["properties"]["key"] and all(f"{k}={v}" in where["fullyQualifiedName"]
                                               for k, v in r["properties"]["key"].items())
    d1 = next(r for r in results if r["ruleId"] == "TMD001")
    assert d1["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].startswith(
        "public.booking_table_assignments(booking_id=")
    invocation = sarif_run["invocations"][0]
    assert invocation == {"executionSuccessful": True, "exitCode": 1}
    assert sarif_run["properties"]["database"] == envelope["database"]
    assert f"dbname={envelope['database']['dbname']} " in origin_dsn

    # the same state is the same fingerprint in the next run
    again = json.loads(_scan(origin_dsn, "sarif")[1])
    assert {r["partialFingerprints"]["tablemendFindingId/v1"] for r in again["runs"][0]["results"]} == set(by_id)

    # --fail-on error: the info/warning findings no longer fail the run, and the invocation says so
    error_only = json.loads(_scan(origin_dsn, "sarif", "--check", "TMD008", "--fail-on", "error")[1])
    assert error_only["runs"][0]["invocations"][0]["exitCode"] == 0
    assert {r["level"] for r in error_only["runs"][0]["results"]} == {"note"}


def test_clean_scan_sarif_and_junit(origin_dsn: str, tmp_path: Path) -> None:
    code, text = _scan(origin_dsn, "sarif", "--check", "TMD001", "--check", "TMD008")
    assert code == 0
    log = _valid_sarif(text, tmp_path, "clean")
    (sarif_run,) = log["runs"]
    assert sarif_run["results"] == [] and [r["id"] for r in sarif_run["tool"]["driver"]["rules"]] == ["TMD001",
                                                                                                       "TMD008"]
    assert sarif_run["invocations"][0] == {"executionSuccessful": True, "exitCode": 0}

    code, xml = _scan(origin_dsn, "junit", "--check", "TMD001", "--check", "TMD008")
    root = ET.fromstring(xml)
    assert code == 0 and root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "0", "0")
    assert [s.get("name") for s in root.iter("testsuite")] == ["TMD001 Released booking still holds a table",
                                                                "TMD008 Orphaned merge-group allocation"]


def test_scan_junit_counts_agree_with_the_json(origin_dsn: str) -> None:
    _seed(origin_dsn, "D1", "orphan-merge-groups", "leftover-allocation")
    code, text = _scan(origin_dsn, "json")
    findings = json.loads(text)["result"]
    junit_code, xml = _scan(origin_dsn, "junit")
    assert junit_code == code == 1
    root = ET.fromstring(xml)
    suites = root.findall("testsuite")
    failing = [f for f in findings if f["level"] in ("warning", "error")]  # --fail-on warning, the default
    assert int(root.get("failures", "-1")) == len(failing) and root.get("errors") == "0"
    assert sum(int(s.get("tests", "0")) for s in suites) == int(root.get("tests", "-1"))
    for suite in suites:
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "-1")) == len(cases)
        assert int(suite.get("failures", "-1")) == sum(1 for c in cases if c.find("failure") is not None)
    cases = {c.get("name", "").split(" ", 1)[0]: c for s in suites for c in s.findall("testcase")}
    for f in findings:
        case = cases[f["id"]]
        assert case.get("name") == f"{f['id']} {f['title']}"
        assert case.get("classname") == f"tablemend.{f['category']}.{f['code']}"
        failure = case.find("failure")
        assert (failure is not None) == (f in failing)
        body = failure.text if failure is not None else case.findtext("system-out")
        assert body is not None and f["detail"] in body and f["remediation"] in body
    props = {p.get("name"): p.get("value") for p in suites[0].iter("property")}
    assert props["category"] and props["profile"] == "origin"


def test_title_and_category_in_table_json_and_github(origin_dsn: str) -> None:
    _seed(origin_dsn, "D1")
    findings = json.loads(_scan(origin_dsn, "json", "--check", "TMD001")[1])["result"]
    assert [(f["code"], f["title"], f["category"]) for f in findings] == [
        ("TMD001", "Released booking still holds a table", "assignments")]
    table = _scan(origin_dsn, "table", "--check", "TMD001")[1]
    header = next(line for line in table.splitlines() if " id " in line)
    assert [w.strip() for w in header.strip("┃│ ").split("┃" if "┃" in header else "│")][:3] == ["id", "title",
                                                                                              "category"]
    words = set(table.replace("│", " ").split())  # a narrow column wraps the title at spaces
    assert set(["Released", "booking", "still", "holds", "a", "table"]) <= words and "assignments" in words
    (line,) = _scan(origin_dsn, "github", "--check", "TMD001")[1].splitlines()
    assert line.startswith("::error title=TMD001 Released booking still holds a table::")
    assert f"{findings[0]['id']} (assignments, safe) in " in line


def test_gate_sarif_and_junit(origin_dsn: str, tmp_path: Path) -> None:
    _seed(origin_dsn, "D1")
    clean = run("doctor", "gate", "--dsn", origin_dsn, "-f", "sarif")
    assert clean.returncode == 0, clean.stderr
    log = _valid_sarif(clean.stdout, tmp_path, "gate-clean")
    assert log["runs"][0]["results"] == [] and log["runs"][0]["invocations"][0]["exitCode"] == 0

    row = pre_migration_duplicate(origin_dsn)
    blocked = run("doctor", "gate", "--dsn", origin_dsn, "-f", "sarif")
    assert blocked.returncode == 1, blocked.stderr
    log = _valid_sarif(blocked.stdout, tmp_path, "gate-blocked")
    (sarif_run,) = log["runs"]
    rules = [r["id"] for r in sarif_run["tool"]["driver"]["rules"]]
    assert sorted({r["ruleId"] for r in sarif_run["results"]}) == ["bta_booking_table", "bta_table_slot"]
    assert all(rules[r["ruleIndex"]] == r["ruleId"] and str(row["id"]) in r["message"]["text"]
               for r in sarif_run["results"])
    assert sarif_run["invocations"][0] == {"executionSuccessful": True, "exitCode": 1}

    junit = run("doctor", "gate", "--dsn", origin_dsn, "-f", "junit")
    assert junit.returncode == 1, junit.stderr
    root = ET.fromstring(junit.stdout)
    failed = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert root.get("failures") == "2" and root.get("tests") == str(len(list(root.iter("testcase"))))
    assert sorted(n.split(" ")[0] for n in failed if n) == ["bta_booking_table", "bta_table_slot"]


def test_an_error_is_a_valid_sarif_log_and_a_junit_error(empty_dsn: str, tmp_path: Path) -> None:
    failed = run("doctor", "scan", "--dsn", empty_dsn, "-f", "sarif")
    assert failed.returncode == 2 and "TMD91" in failed.stderr
    log = _valid_sarif(failed.stdout, tmp_path, "error")
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False and invocation["exitCode"] == 2
    assert invocation["toolExecutionNotifications"][0]["descriptor"]["id"] == "TMD91"
    junit = run("doctor", "gate", "--dsn", empty_dsn, "-f", "junit")
    assert junit.returncode == 2
    root = ET.fromstring(junit.stdout)
    assert root.get("errors") == "1" and root.find("testsuite/testcase/error") is not None
