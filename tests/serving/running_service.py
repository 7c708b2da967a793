"""A prediction service run the way users run it (`mingo serve KIND --port P`), for the tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from mingo import ModelKind
from tests.fixtures.services import free_loopback_port

MINGO = str(Path(sys.executable).with_name("mingo"))


@dataclass
class RunningService:
    kind: ModelKind
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_loopback_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RunningService:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [MINGO, "serve", self.kind, "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def status(self, path: str) -> int | None:
        try:
            return httpx.get(self.url + path, timeout=5).status_code
        except httpx.HTTPError:
            return None

    def wait_for(self, path: str, status: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"mingo serve {self.kind} exited:\n{self.log_tail()}")
            if self.status(path) == status:
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.url}{path} never answered {status}:\n{self.log_tail()}")

    def stop(self) -> None:
        """SIGTERM the arbiter (it stops its workers); kill any worker that outlives it."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            workers = psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            workers = []
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        _, alive = psutil.wait_procs(workers, timeout=10)
        for worker in alive:
            worker.kill()
