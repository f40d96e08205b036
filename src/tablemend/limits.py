"""Input limits of the allocator, in one place for Python (the SQL twin is ``input_limits()`` in migration 0003).

The Allocator and the CLI refuse input beyond these before anything is sent; the SQL functions refuse the same on
their own (for callers that reach the database directly). ``tests/unit`` and ``tests/security`` keep both equal.
"""

from __future__ import annotations

import datetime as dt

#: Windows (bookings, assignments, holds) lie within [WINDOW_EARLIEST, WINDOW_LATEST]: finite, no year 1900 or 9999.
WINDOW_EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
WINDOW_LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)
#: The longest window one booking or hold may span.
WINDOW_MAX_LENGTH = dt.timedelta(hours=24)
#: A hold expires at most this long after it is created or extended.
HOLD_MAX_TTL = dt.timedelta(hours=1)
#: Characters of an idempotency key (the ledger's btree index refuses rows of about 2.7 kB).
IDEMPOTENCY_KEY_MAX_LENGTH = 256
#: Table ids one call may pass (before duplicates are removed).
TABLE_IDS_MAX = 64
