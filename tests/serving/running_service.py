"""A prediction service run the way users run it (`mingo serve KIND --port P`), for the tests.

Starting and stopping are the project's own (`mingo.serving.process.LocalService`); the
tests add status probes on any path.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from mingo import ModelKind
from mingo.serving.process import LocalService
from tests.fixtures.services import free_loopback_port


class RunningService(LocalService):
    def __init__(self, kind: ModelKind, env: dict[str, str], log_path: Path) -> None:
        super().__init__(kind=kind, port=free_loopback_port(), log_path=log_path)
        self.env = env

    def start(self) -> RunningService:  # type: ignore[override]
        super().start(self.env)
        return self

    def status(self, path: str) -> int | None:
        try:
            return httpx.get(self.url + path, timeout=5).status_code
        except httpx.HTTPError:
            return None

    def wait_for(self, path: str, status: int, timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"mingo serve {self.kind} exited:\n{self.log_tail(30)}")
            if self.status(path) == status:
                return
            time.sleep(0.3)
        raise TimeoutError(f"{self.url}{path} never answered {status}:\n{self.log_tail(30)}")
