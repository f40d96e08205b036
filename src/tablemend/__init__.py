"""tablemend: a PostgreSQL table allocator for restaurant bookings, and an integrity doctor."""

from __future__ import annotations

from tablemend.allocator import Allocator
from tablemend.errors import TablemendError

__version__ = "0.1.0"

__all__ = ["Allocator", "TablemendError", "__version__"]
