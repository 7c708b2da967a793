"""One retraining of a KIND at a time on a machine: an OS file lock under MINGO_HOME.

Retrainings on other machines (pods sharing one registry) are caught by the registry-side
check in `mingo.promotion` (the champion must not have moved since it was read).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from mingo import ModelKind


class RetrainingInProgressError(RuntimeError):
    """Another retraining of the same KIND holds the lock."""


@contextmanager
def retraining_lock(kind: ModelKind, home: Path) -> Iterator[Path]:
    """Hold `$MINGO_HOME/locks/retrain-<kind>.lock` for the whole retraining.

    An OS file lock: it is released when the process exits, even when killed, so a crash
    never leaves a stale lock. It serialises retrainings that share a MINGO_HOME; runs on
    other machines are caught by the registry-side check in `mingo.promotion`.
    """
    locks = home / "locks"
    locks.mkdir(parents=True, exist_ok=True)
    path = locks / f"retrain-{kind}.lock"
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            raise RetrainingInProgressError(
                f"another retraining of {kind} is running ({holder}); lock {path}"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
        handle.flush()
        yield path
    finally:
        handle.close()
