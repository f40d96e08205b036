"""-v's stopwatch: each step's time, steps that start together (the scan's shared pass) timed together."""

from __future__ import annotations

import time

from tablemend.verbosity import Stopwatch


def test_steps_are_timed_one_by_one_and_together_when_they_start_together() -> None:
    said: list[str] = []
    watch = Stopwatch(said.append, "check", together=0.3)  # wide: a loaded machine may pause between calls
    watch.start("TMD001")
    watch.start("TMD002")  # announced at once with TMD001: one query for both
    time.sleep(0.35)
    watch.start("TMD007")
    watch.start("TMD007")  # the same step again is no new step
    time.sleep(0.35)
    watch.stop()
    assert [line.rsplit(": ", 1)[0] for line in said] == ["time: check TMD001, TMD002", "time: check TMD007",
                                                      "time: check total"]
    seconds = [float(line.rsplit(": ", 1)[1].rstrip("s")) for line in said]
    assert seconds[0] >= 0.35 and seconds[1] >= 0.35 and seconds[2] >= seconds[0] + seconds[1]
