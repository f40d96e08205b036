"""How much the CLI says on stderr: ``-q`` (results and errors only), normal, or ``-v`` (also timings).

stdout never changes with the level: it carries the command's result. The CLI layer sets the level once, in the root
callback; :mod:`tablemend.clitools` and the doctor's commands ask it. Timings are measured with ``time.monotonic``.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import Any


class Level(enum.IntEnum):
    quiet = 0
    normal = 1
    verbose = 2


_level = [Level.normal]


def set_level(level: Level) -> None:
    _level[0] = level


def level() -> Level:
    return _level[0]


def quiet() -> bool:
    return _level[0] is Level.quiet


def verbose() -> bool:
    return _level[0] is Level.verbose


class Stopwatch:
    """Times named steps that follow each other (a scan's checks, a repair's phases): each ``start(name)`` ends the
    step before it, ``stop()`` ends the last; ``say`` gets one line per finished step and a total."""

    def __init__(self, say: Callable[[str], Any], what: str, *, together: float = 0.002) -> None:
        #: steps that start within ``together`` seconds of each other ran as one (the scan's shared pass announces
        #: its checks at once, then runs one query for all of them): they are timed together, under all their names
        self.together = together
        self._say = say
        self._what = what
        self._began = time.monotonic()
        self._current: tuple[str, float] | None = None

    def start(self, name: str) -> None:
        now = time.monotonic()
        if self._current is not None and self._current[0] == name:
            return
        if self._current is not None and now - self._current[1] < self.together:
            self._current = (f"{self._current[0]}, {name}", self._current[1])
            return
        self._end(now)
        self._current = (name, now)

    def _end(self, now: float) -> None:
        if self._current is not None:
            name, began = self._current
            self._say(f"time: {self._what} {name}: {now - began:.3f}s")
            self._current = None

    def stop(self) -> None:
        now = time.monotonic()
        self._end(now)
        self._say(f"time: {self._what} total: {now - self._began:.3f}s")
