"""A real ZenML server on a throwaway MariaDB, as the cluster runs it (docs/ZENML_SERVER.md).

- ``mariadb_server`` (:class:`MariaDbServer`): Debian's ``mariadbd`` with its own datadir under a
  temp dir, on a free loopback port, with one database and one user for the ZenML server.
- ``zenml_server`` (:class:`ZenmlServer`): ZenML's FastAPI app (the entrypoint of ZenML's own
  server image) under uvicorn, from the separate virtualenv ``.venv-zenml-server``
  (``make zenml-server-env``: ``zenml[server]`` cannot share the project environment with
  Airflow), its store in ``mariadb_server``, activated with an admin account, and a service
  account with an API key for the pipeline pods.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pymysql
import pytest

from tests.fixtures.services import (
    LOOPBACK,
    ServiceStartError,
    distinct_free_ports,
    in_work_dir,
    log_tail,
    start_logged_process,
    stop_process_group,
    wait_until,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
ZENML_SERVER_VENV = REPO_ROOT / ".venv-zenml-server"
MARIADBD = Path("/usr/sbin/mariadbd")
MARIADB_INSTALL_DB = Path("/usr/bin/mariadb-install-db")
# ZenML's server application: what its Docker image and Helm chart run under uvicorn.
ZENML_SERVER_APP = "zenml.zen_server.zen_server_api:app"
ZENML_DATABASE = "zenml"
ZENML_DB_USER = "zenml"
ZENML_ADMIN = "mingo-admin"
PIPELINE_SERVICE_ACCOUNT = "mingo-pipelines"
API = "/api/v1"
# First start creates ZenML's 53 tables in MariaDB (~8 s here) before the app answers.
ZENML_START_TIMEOUT_S = 180
MARIADB_START_TIMEOUT_S = 60


@dataclass
class MariaDbServer:
    port: int
    database: str
    user: str
    password: str
    data_dir: Path = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def store_url(self) -> str:
        """The ZENML_STORE_URL of a ZenML server whose database this is."""
        return f"mysql://{self.user}:{self.password}@{LOOPBACK}:{self.port}/{self.database}"

    def connect(self) -> pymysql.connections.Connection[Any]:
        return pymysql.connect(
            host=LOOPBACK,
            port=self.port,
            user=self.user,
            password=self.password,
            database=self.database,
            connect_timeout=2,
        )

    def query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, args)
                return list(cursor.fetchall())
        finally:
            connection.close()


def start_mariadb_server(work_dir: Path) -> MariaDbServer:
    for binary in (MARIADBD, MARIADB_INSTALL_DB):
        if not binary.exists():
            raise ServiceStartError(
                f"{binary} is missing: run `make system-deps` (Debian's mariadb-server)"
            )
    data_dir = work_dir / "data"
    password = secrets.token_urlsafe(18)
    # mariadbd refuses to run as root unless told to; elsewhere it runs as the caller.
    as_user = ["--user=root"] if os.geteuid() == 0 else []
    install = subprocess.run(
        [
            str(MARIADB_INSTALL_DB),
            "--no-defaults",
            f"--datadir={data_dir}",
            *as_user,
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if install.returncode != 0:
        raise ServiceStartError(
            f"mariadb-install-db failed (exit {install.returncode}):\n"
            f"{install.stdout[-2000:]}\n{install.stderr[-2000:]}"
        )
    # Run once at startup, before the port opens: no root session is ever needed.
    init_file = work_dir / "init.sql"
    init_file.write_text(
        f"CREATE DATABASE IF NOT EXISTS {ZENML_DATABASE} "
        "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n"
        f"CREATE USER IF NOT EXISTS '{ZENML_DB_USER}'@'{LOOPBACK}' IDENTIFIED BY '{password}';\n"
        f"GRANT ALL PRIVILEGES ON {ZENML_DATABASE}.* TO '{ZENML_DB_USER}'@'{LOOPBACK}';\n"
    )
    init_file.chmod(0o600)
    (port,) = distinct_free_ports(1)
    log_path = work_dir / "mariadb.log"
    command = [
        str(MARIADBD),
        "--no-defaults",
        f"--datadir={data_dir}",
        *as_user,
        "--skip-networking=0",
        f"--bind-address={LOOPBACK}",
        f"--port={port}",
        f"--socket={work_dir / 'mysqld.sock'}",
        f"--pid-file={work_dir / 'mysqld.pid'}",
        f"--init-file={init_file}",
        "--character-set-server=utf8mb4",
        "--collation-server=utf8mb4_unicode_ci",
        # A throwaway test database: durability is not worth the fsyncs on a shared machine.
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-buffer-pool-size=64M",
        "--skip-log-bin",
        "--skip-name-resolve",
    ]
    process = start_logged_process(command, env=dict(os.environ), log_path=log_path, cwd=work_dir)
    server = MariaDbServer(
        port=port,
        database=ZENML_DATABASE,
        user=ZENML_DB_USER,
        password=password,
        data_dir=data_dir,
        process=process,
        log_path=log_path,
    )

    def accepts_the_zenml_user() -> bool:
        try:
            server.connect().close()
        except pymysql.err.Error:
            return False
        return True

    try:
        wait_until(
            accepts_the_zenml_user,
            timeout_s=MARIADB_START_TIMEOUT_S,
            what="MariaDB",
            process=process,
            log_path=log_path,
        )
    except BaseException:
        stop_process_group(process)
        raise
    return server


@dataclass
class ZenmlServer:
    url: str
    admin_username: str
    admin_password: str
    service_account_id: str
    api_key: str
    database: MariaDbServer = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    log_path: Path = field(repr=False)

    def client_env(self) -> dict[str, str]:
        """What a pipeline pod sets to record its runs here (docs/ZENML_SERVER.md)."""
        return {"ZENML_STORE_URL": self.url, "ZENML_STORE_API_KEY": self.api_key}

    def api_key_session(self) -> httpx.Client:
        """An HTTP client authenticated as the pipelines' service account (its API key)."""
        token = login(self.url, {"grant_type": "zenml-api-key", "password": self.api_key})
        return httpx.Client(
            base_url=self.url + API, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )


def login(url: str, form: dict[str, str]) -> str:
    response = httpx.post(f"{url}{API}/login", data=form, timeout=30)
    response.raise_for_status()
    return str(response.json()["access_token"])


def server_health(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def create_pipeline_api_key(url: str, admin_username: str, admin_password: str) -> tuple[str, str]:
    """Create the pipelines' service account and an API key for it, as the admin would."""
    token = login(url, {"username": admin_username, "password": admin_password})
    with httpx.Client(
        base_url=url + API, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as admin:
        account = admin.post(
            "/service_accounts",
            json={"name": PIPELINE_SERVICE_ACCOUNT, "active": True},
        )
        account.raise_for_status()
        account_id = str(account.json()["id"])
        key = admin.post(f"/service_accounts/{account_id}/api_keys", json={"name": "pipelines"})
        key.raise_for_status()
        return account_id, str(key.json()["body"]["key"])


def start_zenml_server(work_dir: Path, database: MariaDbServer) -> ZenmlServer:
    uvicorn = ZENML_SERVER_VENV / "bin" / "uvicorn"
    if not uvicorn.exists():
        raise ServiceStartError(
            f"{uvicorn} is missing: run `make zenml-server-env` (the ZenML server's own "
            "virtualenv, locked in scripts/zenml-server-env)"
        )
    (port,) = distinct_free_ports(1)
    admin_password = secrets.token_urlsafe(18)
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ZENML_", "MLFLOW_", "AWS_", "MINGO_", "VIRTUAL_ENV", "PYTHON"))
    }
    env = {
        **inherited,
        "PATH": f"{uvicorn.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(work_dir),
        "ZENML_STORE_URL": database.store_url,
        "ZENML_CONFIG_PATH": str(work_dir / "config"),
        "ZENML_LOCAL_STORES_PATH": str(work_dir / "stores"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        # Signs the server's tokens; in the cluster a Secret shared by every replica.
        "ZENML_SERVER_JWT_SECRET_KEY": secrets.token_hex(32),
        # Activate on first start with this admin (the dashboard's onboarding otherwise).
        "ZENML_SERVER_AUTO_ACTIVATE": "true",
        "ZENML_DEFAULT_USER_NAME": ZENML_ADMIN,
        "ZENML_DEFAULT_USER_PASSWORD": admin_password,
    }
    log_path = work_dir / "zenml-server.log"
    command = [
        str(uvicorn),
        ZENML_SERVER_APP,
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-server-header",
    ]
    process = start_logged_process(command, env=env, log_path=log_path, cwd=work_dir)
    url = f"http://{LOOPBACK}:{port}"
    try:
        wait_until(
            lambda: server_health(url),
            timeout_s=ZENML_START_TIMEOUT_S,
            what="ZenML server",
            process=process,
            log_path=log_path,
        )
        service_account_id, api_key = create_pipeline_api_key(url, ZENML_ADMIN, admin_password)
    except httpx.HTTPError as error:
        stop_process_group(process)
        raise ServiceStartError(
            f"ZenML server set-up failed: {error}; log {log_path}:\n{log_tail(log_path)}"
        ) from error
    except BaseException:
        stop_process_group(process)
        raise
    return ZenmlServer(
        url=url,
        admin_username=ZENML_ADMIN,
        admin_password=admin_password,
        service_account_id=service_account_id,
        api_key=api_key,
        database=database,
        process=process,
        log_path=log_path,
    )


@pytest.fixture(scope="session")
def mariadb_server() -> Iterator[MariaDbServer]:
    with in_work_dir(
        "mingo-mariadb-", start_mariadb_server, lambda server: stop_process_group(server.process)
    ) as server:
        yield server


@pytest.fixture(scope="session")
def zenml_server(mariadb_server: MariaDbServer) -> Iterator[ZenmlServer]:
    with in_work_dir(
        "mingo-zenml-server-",
        lambda work_dir: start_zenml_server(work_dir, mariadb_server),
        # Its state is in MariaDB: no need to wait out uvicorn's graceful shutdown.
        lambda server: stop_process_group(server.process, grace_s=3.0),
    ) as server:
        yield server
