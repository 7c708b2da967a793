"""A small client of Airflow 3's REST API (`/api/v2`), as automation would drive it.

Authentication is the simple auth manager's: `POST /auth/token` with the user and password
gives a JWT, sent as a bearer token; a 401 (the token expired) fetches a new one once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
REQUEST_TIMEOUT_S = 30.0
POLL_INTERVAL_S = 1.0


class AirflowRestError(AssertionError):
    """An answer of the API was not what the caller needed; the message has its body."""


@dataclass
class AirflowRest:
    base_url: str
    username: str
    password: str
    _token: str | None = field(default=None, repr=False)
    _http: httpx.Client = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._http = httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT_S)

    def close(self) -> None:
        self._http.close()

    # ---------------------------------------------------------------- authentication

    def token(self) -> str:
        """A fresh JWT for `/api/v2` (what the UI's login gets, too)."""
        answer = self._http.post(
            "/auth/token", json={"username": self.username, "password": self.password}
        )
        if answer.status_code not in (200, 201):
            raise AirflowRestError(f"POST /auth/token: {answer.status_code} {answer.text}")
        token: str = answer.json()["access_token"]
        self._token = token
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One authenticated call; the answer is returned whatever its status."""
        if self._token is None:
            self.token()
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._token}", **kwargs.pop("headers", {})}
            answer = self._http.request(method, path, headers=headers, **kwargs)
            if answer.status_code != 401 or attempt == 1:
                return answer
            self.token()
            kwargs["headers"] = {k: v for k, v in headers.items() if k != "Authorization"}
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """One call that must succeed (2xx); its JSON body."""
        answer = self.request(method, path, **kwargs)
        if not answer.is_success:
            raise AirflowRestError(f"{method} {path}: {answer.status_code} {answer.text[:2000]}")
        return answer.json()

    # ---------------------------------------------------------------- DAGs

    def dag(self, dag_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.json("GET", f"/api/v2/dags/{dag_id}")
        return result

    def dag_ids(self) -> set[str]:
        body = self.json("GET", "/api/v2/dags", params={"limit": 100})
        return {dag["dag_id"] for dag in body["dags"]}

    def wait_for_dags(self, dag_ids: Iterable[str], timeout_s: float = 120) -> None:
        """Until the DAG processor has parsed and stored every DAG of `dag_ids`."""
        wanted = set(dag_ids)
        deadline = time.monotonic() + timeout_s
        found: set[str] = set()
        while time.monotonic() < deadline:
            found = self.dag_ids()
            if wanted <= found:
                return
            time.sleep(POLL_INTERVAL_S)
        raise AirflowRestError(f"DAGs {sorted(wanted - found)} not listed after {timeout_s} s")

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.json("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": paused})

    # ---------------------------------------------------------------- runs

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> httpx.Response:
        """POST a manual run (no logical date), as the trigger form does; the raw answer."""
        return self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        )

    def trigger_run(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Trigger a run that must be accepted; its run id."""
        answer = self.trigger(dag_id, conf)
        if not answer.is_success:
            raise AirflowRestError(f"trigger {dag_id}: {answer.status_code} {answer.text}")
        run_id: str = answer.json()["dag_run_id"]
        return run_id

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.json(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}"
        )
        return result

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float) -> str:
        """Poll until the run succeeded or failed; its final state."""
        deadline = time.monotonic() + timeout_s
        state = "unknown"
        while time.monotonic() < deadline:
            state = str(self.run(dag_id, run_id)["state"])
            if state in TERMINAL_RUN_STATES:
                return state
            time.sleep(POLL_INTERVAL_S)
        raise AirflowRestError(
            f"{dag_id} run {run_id} still {state} after {timeout_s} s; tasks: "
            f"{self.task_states(dag_id, run_id)}"
        )

    # ---------------------------------------------------------------- task instances

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        body = self.json(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances",
            params={"limit": 100},
        )
        return {ti["task_id"]: ti for ti in body["task_instances"]}

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        return {task: ti["state"] for task, ti in self.task_instances(dag_id, run_id).items()}

    def wait_for_task_state(
        self, dag_id: str, run_id: str, task_id: str, states: set[str], timeout_s: float
    ) -> str:
        """Poll until `task_id` is in one of `states`; that state."""
        deadline = time.monotonic() + timeout_s
        state: str | None = None
        while time.monotonic() < deadline:
            state = self.task_states(dag_id, run_id).get(task_id)
            if state in states:
                return state
            time.sleep(POLL_INTERVAL_S / 2)
        raise AirflowRestError(
            f"{dag_id} {run_id}: {task_id} is {state}, not one of {sorted(states)}, "
            f"after {timeout_s} s"
        )

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
        """The log of one try, as the UI shows it: one line per structured log event."""
        body = self.json(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/"
            f"{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = body.get("content") or []
        if isinstance(content, str):
            return content
        lines = []
        for entry in content:
            if isinstance(entry, dict):
                lines.append(str(entry.get("event", "")))
                if entry.get("error_detail"):
                    lines.append(str(entry["error_detail"]))
            else:
                lines.append(str(entry))
        return "\n".join(lines)

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        """Mark a task instance as a user does in the UI (e.g. `failed`)."""
        self.json(
            "PATCH",
            f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}",
            json={"new_state": state},
        )
