"""Hand freed heap memory back to the operating system after large requests.

glibc keeps memory that Python and numpy freed in its arenas, so after a burst of large bodies
a worker's resident set stays near its peak although nothing uses it; the pod is then judged
(and OOM-killed) on memory it does not need. `malloc_trim(0)` returns the free pages at the top
and inside the arenas. Elsewhere than glibc it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Final

# A drain that scored at least this many customers is followed by a trim (~ms for a large
# heap); smaller ones are not, so a stream of single-customer requests pays nothing.
TRIM_AFTER_CUSTOMERS: Final = 1_000


@cache
def _malloc_trim() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None


def release_free_memory() -> bool:
    """Ask glibc to return free heap pages to the system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
