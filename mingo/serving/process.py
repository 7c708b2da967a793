"""A prediction service run as a local `mingo serve KIND --port P` process.

The demo, the local Airflow runner's smoke test and the tests all start and stop services
this one way. Each runs in its own session, so Ctrl-C in a terminal reaches the caller (which
stops its services in order) rather than killing them half-way; stopping sends SIGTERM and
then SIGKILL to the service and to its workers that outlive the grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from mingo import ModelKind

STOP_GRACE_SECONDS = 20.0


def free_local_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def mingo_executable() -> str:
    return str(Path(sys.executable).with_name("mingo"))


class ServiceFailedError(RuntimeError):
    """A prediction service exited or never became ready."""


@dataclass
class LocalService:
    kind: ModelKind
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [mingo_executable(), "serve", self.kind, "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 20) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def is_ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise ServiceFailedError(
                f"mingo serve {self.kind} exited with {self.process.returncode}; "
                f"log {self.log_path}:\n{self.log_tail()}"
            )
        try:
            return httpx.get(f"{self.url}/readyz", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM the service (it stops its workers), then SIGKILL whatever outlives it.

        BentoML's workers run in sessions of their own, so they are found as descendants of
        the service process before it is signalled, not through its process group.
        """
        if self.process is None or self.process.poll() is not None:
            return
        try:
            workers = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            workers = []
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _, survivors = psutil.wait_procs(workers, timeout=STOP_GRACE_SECONDS)
        for survivor in survivors:
            with contextlib.suppress(psutil.NoSuchProcess):
                survivor.kill()


def process_tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and all its descendants (what a pod's memory limit counts)."""
    try:
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += process.memory_info().rss
    return total


def wait_until_ready(services: list[LocalService], timeout_s: float) -> None:
    """Block until every service answers /readyz 200 (a champion is loaded)."""
    deadline = time.monotonic() + timeout_s
    waiting = list(services)
    while waiting:
        waiting = [service for service in waiting if not service.is_ready()]
        if not waiting:
            return
        if time.monotonic() >= deadline:
            names = ", ".join(f"{s.kind} ({s.log_path})" for s in waiting)
            raise ServiceFailedError(f"not ready after {timeout_s:g} s: {names}")
        time.sleep(0.5)
