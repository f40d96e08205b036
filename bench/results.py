"""Where a benchmark's figures go: a JSON report and a PNG plot in ``bench/results/``, and the machine they came from.

The plot needs matplotlib (``pip install -e '.[bench]'``); without it the JSON is still written and the plot is named
as skipped, so a run is never lost to a missing plotting library.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

_LABELS = {"baseline": "raw-write baseline", "assign": "tablemend allocator",
           "origin": "origin assign_tables_atomic_v2"}
_COLOURS = {"baseline": "tab:grey", "assign": "tab:blue", "origin": "tab:red"}


def machine() -> dict[str, Any]:
    """CPU count, load averages (1/5/15 min) at the end of the run, CPU model, OS and Python."""
    model = "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "?")
    load = [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else []
    return {"cpus": os.cpu_count(), "load": load, "cpu_model": model, "os": platform.platform(),
            "python": sys.version.split()[0]}


def table(by_clients: dict[str, dict[str, Any]]) -> str:
    """The three columns as text: per client count, calls/s, ratio to the baseline, p50 / p99, refusals."""
    lines = [f"{'clients':>7} | " + " | ".join(f"{_LABELS[k]:<46}" for k in _LABELS)]
    for n, row in by_clients.items():
        cells = []
        for kind in _LABELS:
            c = row.get(kind)
            if c is None:
                cells.append(f"{'-':<46}")
                continue
            errs = sum(c["errors"].values())
            cells.append(f"{c['per_s']:8.1f}/s x{c['ratio']:<6.3f} p50 {c['p50_ms']:6.2f} p99 {c['p99_ms']:7.2f}"
                         f" err {errs:<3d}")
        lines.append(f"{n:>7} | " + " | ".join(cells))
    return "\n".join(lines)


def write(out: Path, name: str, report: dict[str, Any]) -> list[Path]:
    """``<name>-<UTC time>.json`` and, when matplotlib is installed, ``.png`` in ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = out / f"{name}-{stamp}.json"
    path.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    written = [path]
    png = plot(report, out / f"{name}-{stamp}.png")
    if png is not None:
        written.append(png)
    return written


def plot(report: dict[str, Any], path: Path) -> Path | None:
    """Calls/s and p99 by client count, one line per column; None (and a note on stderr) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return None
    rows = report["by_clients"]
    clients = [int(n) for n in rows]
    fig, (speed, tail) = plt.subplots(1, 2, figsize=(11, 4.2))
    for kind, label in _LABELS.items():
        xs = [n for n in clients if kind in rows[str(n)]]
        if not xs:
            continue
        speed.plot(xs, [rows[str(n)][kind]["per_s"] for n in xs], marker="o", label=label, color=_COLOURS[kind])
        if kind != "baseline":
            tail.plot(xs, [rows[str(n)][kind]["p99_ms"] for n in xs], marker="o", label=label,
                      color=_COLOURS[kind])
    speed.set(xlabel="clients", ylabel="succeeded calls / s", title="throughput (1- to 3-table bookings)",
              xticks=clients)
    speed.set_yscale("log")
    tail.axhline(15, color="grey", linestyle="--", linewidth=1, label="target p99 15 ms")
    tail.set(xlabel="clients", ylabel="p99 latency (ms, worst table count)", title="p99 latency", xticks=clients)
    tail.set_yscale("log")
    for ax in (speed, tail):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    m = report.get("machine", {})
    fig.suptitle(f"bench.allocator ({report.get('mode', '?')}) on PostgreSQL {report.get('server_version', '?')}, "
                 f"{m.get('cpus', '?')} CPUs, load {m.get('load', '?')}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
