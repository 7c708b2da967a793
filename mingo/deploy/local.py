"""The local counterpart of a rollout: ask a running `mingo serve` to load the champion.

A local prediction service resolves the champion when it starts and on POST /admin/reload,
so restarting it or calling reload is what makes it serve a new champion.
"""

from __future__ import annotations

import httpx

from mingo.deploy.kubernetes import DeployError
from mingo.deploy.smoke import API_KEY_HEADER


def reload_local_service(
    base_url: str, *, expected_version: str, api_key: str | None = None, timeout_s: float = 120.0
) -> str:
    """POST /admin/reload and check the service now serves expected_version; returns it."""
    headers = {API_KEY_HEADER: api_key} if api_key else {}
    try:
        response = httpx.post(f"{base_url}/admin/reload", headers=headers, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise DeployError(f"POST {base_url}/admin/reload failed: {error!r}") from error
    if response.status_code != 200:
        raise DeployError(
            f"POST {base_url}/admin/reload answered HTTP {response.status_code}: "
            f"{response.text[:500]}"
        )
    served = str(response.json().get("model_version"))
    if served != expected_version:
        raise DeployError(
            f"{base_url} reloaded version {served}, but version {expected_version} was expected"
        )
    return served
