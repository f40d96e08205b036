"""The scan benchmark's generator and measurement at a tiny size: every seeded drift is found, by code and count,
and the result has the fields the benchmark reports (speed is not asserted here)."""

from __future__ import annotations

from bench import origin_data
from bench.scan import run_size

from tablemend import db


def test_generator_and_scan_find_the_seeded_drift(origin_conn: db.Connection) -> None:
    n = 3_000
    result = run_size(origin_conn, n)
    expected = origin_data.expected_findings(n)
    assert expected == {"TMD001": 30, "TMD002": 3, "TMD003": 6, "TMD005": 6, "TMD007": 3, "TMD008": 3,
                        "TMD009": 3, "TMD010": 3, "TMD011": 3, "TMD012": 3, "TMD016": 3}
    assert result["findings"] == expected and result["drift_found"] is True
    assert set(result["server_findings"]) <= {"TMD022"}
    assert result["rows"]["bookings"] == n
    assert result["rows"]["booking_table_assignments"] == sum(origin_data.holds_tables(i) for i in range(n))
    for field in ("seq_read_s", "seq_count_s", "scan_s", "ratio", "ratio_vs_count", "ru_maxrss_delta_kib",
                  "tracemalloc_peak_kib", "per_check_s", "slowest_check", "generate_s"):
        assert field in result, field
    assert result["scan_s"] > 0 and result["seq_read_s"] > 0
    # the shared pass's checks are timed together
    from tablemend.doctor.scanner import SHARED_PASS

    assert set(result["per_check_s"]) >= (set(expected) - set(SHARED_PASS)) | {"shared_pass"}
    # --reuse: the same database measured again without generating, its size and rows read from it
    again = run_size(origin_conn, n, reuse=True)
    assert (again["findings"], again["rows"], again["generate_s"]) == (expected, result["rows"], 0.0)
    assert again["drift_found"] is True and again["load_avg_1m"] >= 0
