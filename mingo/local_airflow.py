"""Airflow 3 on one machine: the API server (UI + REST), scheduler, DAG processor and triggerer.

`mingo airflow` and the scheduler tests start Airflow this one way. Airflow is never imported
here (the `mingo` package imports no Airflow): each component is the venv's `airflow` binary,
run as a process group of its own, with the LocalExecutor, so stopping the stack stops every
task worker and the `mingo` processes those run. `airflow standalone` is not used because
SIGTERM leaves its LocalExecutor workers running.

The metadata database is PostgreSQL where the machine has its server binaries (a cluster
kept under the Airflow home, reached over a Unix socket in a private directory), SQLite
otherwise, or any URL given.

Two pitfalls this module handles: with an API port other than Airflow's default, the task
runners must be told where the execution API is (`AIRFLOW__CORE__EXECUTION_API_SERVER_URL`),
or every task fails with "connection refused"; and the components must share one JWT secret,
or the API server rejects the tokens the scheduler hands to tasks.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROJECT_DAGS_FOLDER = PROJECT_ROOT / "dags"
VENV_BIN = Path(sys.executable).parent

DEFAULT_HOST = "127.0.0.1"
DEFAULT_API_PORT = 8080
# Where the scheduler and the triggerer serve the logs of running tasks (Airflow's defaults);
# two stacks on one machine need other ports.
DEFAULT_WORKER_LOG_PORT = 8793
DEFAULT_TRIGGER_LOG_PORT = 8794
# Concurrent task instances of the LocalExecutor: a retraining is CPU-bound, so a small machine
# gains nothing from more.
DEFAULT_PARALLELISM = 4
HEALTH_TIMEOUT_SECONDS = 240.0
# Each task process parses its DAG file again before it runs (Airflow's default allows 30 s):
# on a busy two-core machine that parse took 22-35 s, and a task whose parse times out is
# rescheduled a minute later instead of running.
DAG_FILE_IMPORT_TIMEOUT_SECONDS = 120
DAG_FILE_PROCESSOR_TIMEOUT_SECONDS = 180
# Airflow imports `airflow_local_settings` from $AIRFLOW_HOME/config in every component. The
# one written here makes the scheduler import the Kubernetes provider the DAG file imports at
# its top (~5 s of CPU): the LocalExecutor's workers and their task processes are forks of the
# scheduler, so each task's parse of the DAG file finds it imported instead of paying it again.
# The project's own DAG modules are not pre-imported: an edit of dags/ must reach the next task.
LOCAL_SETTINGS_FILE = Path("config") / "airflow_local_settings.py"
LOCAL_SETTINGS_MARKER = "# Written by mingo.local_airflow"
SCHEDULER_PRE_IMPORTS = ("airflow.providers.cncf.kubernetes.operators.pod",)
STOP_GRACE_SECONDS = 20.0
MIGRATE_TIMEOUT_SECONDS = 600.0
# The simple auth manager's user (Airflow's default `admin:admin`, i.e. user admin, role
# admin) and the file where the API server writes its generated password.
ADMIN_USERNAME = "admin"
PASSWORDS_FILENAME = "simple_auth_manager_passwords.json.generated"
# Every process of one stack carries this variable (with the stack's own token), so a task
# process that left its parent's process group is still found and stopped.
STACK_MARKER_VARIABLE = "MINGO_AIRFLOW_STACK"
HEALTH_PATH = "/api/v2/monitor/health"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# Keys of the health answer, one per component plus the database.
HEALTH_KEYS = ("metadatabase", "scheduler", "triggerer", "dag_processor")
HEALTHY = "healthy"

POSTGRES_ROOT = Path("/usr/lib/postgresql")
POSTGRES_DIRNAME = "postgres"
POSTGRES_DATABASE = "airflow"
POSTGRES_SUPERUSER = "postgres"
# PostgreSQL names its socket after a port; the socket directory is private, so any will do.
POSTGRES_SOCKET_PORT = 5432
# A Unix socket path (directory + "/.s.PGSQL.5432") must fit in 107 bytes.
MAX_SOCKET_DIR_LENGTH = 90
DATABASE_SCHEMES = ("postgresql", "postgresql+psycopg2", "sqlite")
SECRETS_FILENAME = "mingo-airflow-secrets.json"
ASYNC_POSTGRES_DRIVER = "asyncpg"

DatabaseKind = Literal["postgresql", "sqlite"]


class AirflowStackError(RuntimeError):
    """A component of the Airflow stack failed or did not become healthy; says which and why."""


class AirflowStackConfig(BaseModel):
    """Where and how the stack runs. `env` is added to every component (the tasks inherit it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    home: Path = Field(description="AIRFLOW_HOME: configuration, logs, SQLite or PostgreSQL data")
    host: str = Field(default=DEFAULT_HOST, min_length=1)
    port: int = Field(default=DEFAULT_API_PORT, ge=1, le=65535)
    worker_log_port: int = Field(default=DEFAULT_WORKER_LOG_PORT, ge=1, le=65535)
    trigger_log_port: int = Field(default=DEFAULT_TRIGGER_LOG_PORT, ge=1, le=65535)
    dags_folder: Path = PROJECT_DAGS_FOLDER
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the metadata database; None = local PostgreSQL "
        "when its server binaries are installed, else SQLite under home",
    )
    parallelism: int = Field(default=DEFAULT_PARALLELISM, ge=1)
    health_timeout_s: float = Field(default=HEALTH_TIMEOUT_SECONDS, gt=0)
    stop_grace_s: float = Field(default=STOP_GRACE_SECONDS, gt=0)
    airflow_bin: Path = VENV_BIN / "airflow"
    env: dict[str, str] = Field(default_factory=dict)

    @field_validator("home", "dags_folder")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @field_validator("dags_folder")
    @classmethod
    def _has_dags(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"DAGs folder {value} does not exist")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None:
            return None
        scheme = value.split("://", 1)[0] if "://" in value else ""
        if scheme not in DATABASE_SCHEMES:
            raise ValueError(
                f"database URL must start with one of "
                f"{', '.join(s + '://' for s in DATABASE_SCHEMES)} (got {scheme or value!r})"
            )
        return value

    @model_validator(mode="after")
    def _distinct_ports(self) -> AirflowStackConfig:
        ports = (self.port, self.worker_log_port, self.trigger_log_port)
        if len(set(ports)) != len(ports):
            raise ValueError(f"the API and the two log server ports must differ (got {ports})")
        return self

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def execution_api_url(self) -> str:
        return f"{self.base_url}/execution/"


# --------------------------------------------------------------------------------------------
# The metadata database
# --------------------------------------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest PostgreSQL server binaries of the machine (Debian's layout), or None."""
    candidates = sorted(
        POSTGRES_ROOT.glob("*/bin/initdb"),
        key=lambda path: int(path.parent.parent.name) if path.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@dataclass
class LocalPostgres:
    """A PostgreSQL cluster kept under the Airflow home, for this stack alone.

    Trust authentication over a Unix socket in a directory only its owner can enter: no
    password to keep, no TCP port to clash. Started by `start`, stopped by `stop`; the data
    survives, so the runs of one `mingo airflow` are still there the next time.
    """

    root: Path
    bin_dir: Path
    socket_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:12]
        if self.as_postgres_user and not self._postgres_can_enter(self.root.parent):
            # Run as root in a private directory: the postgres account needs a place it can
            # reach; one per Airflow home, so the data still survives a restart.
            self.root = Path("/tmp") / f"mingo-airflow-pg-{digest}"
        self.socket_dir = self.root / "socket"
        if len(str(self.socket_dir)) > MAX_SOCKET_DIR_LENGTH:
            # Too long for a socket path: a private directory under /tmp, one per root.
            self.socket_dir = Path("/tmp") / f"mingo-airflow-pg-{digest}-socket"

    @staticmethod
    def _postgres_can_enter(directory: Path) -> bool:
        probe = ["runuser", "-u", POSTGRES_SUPERUSER, "--", "test", "-x", str(directory)]
        return subprocess.run(probe, capture_output=True, check=False).returncode == 0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    @property
    def as_postgres_user(self) -> bool:
        # initdb refuses to run as root: the cluster then belongs to the postgres account.
        return os.geteuid() == 0

    def url(self, database: str = POSTGRES_DATABASE) -> str:
        return f"postgresql+psycopg2://{POSTGRES_SUPERUSER}@/{database}?host={self.socket_dir}"

    def _run(self, command: list[str], what: str) -> None:
        if self.as_postgres_user:
            command = ["runuser", "-u", POSTGRES_SUPERUSER, "--", *command]
        # A session of its own: the server pg_ctl leaves running must not get the terminal's
        # Ctrl-C (the stack stops it last, after the Airflow components).
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            start_new_session=True,
        )
        if result.returncode != 0:
            raise AirflowStackError(
                f"{what} failed (exit {result.returncode}): {result.stdout}{result.stderr}"
                f"\nlog {self.log_path}:\n{log_tail(self.log_path)}"
            )

    def _own(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self.as_postgres_user:
            import pwd

            account = pwd.getpwnam(POSTGRES_SUPERUSER)
            os.chown(path, account.pw_uid, account.pw_gid)
        path.chmod(0o700)

    def start(self) -> str:
        """Create the cluster the first time, start it, create the database; return its URL."""
        self._own(self.root)
        self._own(self.socket_dir)
        if not (self.data_dir / "PG_VERSION").exists():
            self._run(
                [
                    str(self.bin_dir / "initdb"), "-D", str(self.data_dir),
                    "-U", POSTGRES_SUPERUSER, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8",
                ],
                "initdb",
            )  # fmt: skip
        options = (
            f"-c listen_addresses='' -k {self.socket_dir} -p {POSTGRES_SOCKET_PORT} "
            "-c max_connections=200"
        )
        self._run(
            [
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_path),
                "-w", "-t", "60", "-o", options, "start",
            ],
            "pg_ctl start",
        )  # fmt: skip
        self._create_database(POSTGRES_DATABASE)
        return self.url()

    def _create_database(self, name: str) -> None:
        import psycopg2

        connection = psycopg2.connect(self.url("postgres").replace("+psycopg2", ""))
        try:
            # CREATE DATABASE cannot run inside a transaction block.
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def stop(self) -> None:
        if not (self.data_dir / "postmaster.pid").exists():
            return
        command = [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w"]
        if self.as_postgres_user:
            command = ["runuser", "-u", POSTGRES_SUPERUSER, "--", *command]
        subprocess.run([*command, "stop"], capture_output=True, timeout=60, check=False)


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return "(no log written)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def processes_marked(marker: str) -> list[psutil.Process]:
    """Every process of this user whose environment carries the stack's marker."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(STACK_MARKER_VARIABLE) == marker:
                found.append(process)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def terminate(processes: list[psutil.Process], grace_s: float) -> None:
    """SIGTERM, then SIGKILL whoever is still alive after `grace_s`."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    _, alive = psutil.wait_procs(processes, timeout=grace_s)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


@dataclass
class Component:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


def _stack_secrets(home: Path) -> dict[str, str]:
    """The JWT and session secrets all components share, kept (0600) under the home."""
    path = home / SECRETS_FILENAME
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    values = {"jwt_secret": secrets.token_urlsafe(32), "secret_key": secrets.token_urlsafe(32)}
    home.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(json.dumps(values))
    return values


@dataclass
class AirflowStack:
    """A running (or stopped) Airflow stack. Use as a context manager, or start()/stop()."""

    config: AirflowStackConfig
    base_env: Mapping[str, str]
    database: DatabaseKind = field(init=False, default="sqlite")
    database_url: str = field(init=False, default="")
    marker: str = field(init=False, default_factory=lambda: secrets.token_hex(8))
    components: list[Component] = field(init=False, default_factory=list)
    _postgres: LocalPostgres | None = field(init=False, default=None, repr=False)

    @property
    def base_url(self) -> str:
        return self.config.base_url

    @property
    def username(self) -> str:
        return ADMIN_USERNAME

    @property
    def logs_dir(self) -> Path:
        return self.config.home / "process-logs"

    def password(self) -> str:
        """The admin password the API server generated (it writes the file when it starts)."""
        path = self.config.home / PASSWORDS_FILENAME
        try:
            passwords: dict[str, str] = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise AirflowStackError(f"no admin password in {path}: {error}") from error
        return passwords[ADMIN_USERNAME]

    def env(self) -> dict[str, str]:
        """The environment of every component, hence of every task and `mingo` step."""
        stack_secrets = _stack_secrets(self.config.home)
        return {
            **self.base_env,
            **self.config.env,
            # `airflow` and `mingo` are found by name by Airflow and the steps.
            "PATH": f"{self.config.airflow_bin.parent}{os.pathsep}{self.base_env.get('PATH', '')}",
            "AIRFLOW_HOME": str(self.config.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.config.dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": str(self.config.parallelism),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": self.config.execution_api_url,
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": str(DAG_FILE_IMPORT_TIMEOUT_SECONDS),
            "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": str(
                DAG_FILE_PROCESSOR_TIMEOUT_SECONDS
            ),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.database_url,
            "AIRFLOW__API__HOST": self.config.host,
            "AIRFLOW__API__PORT": str(self.config.port),
            "AIRFLOW__API__BASE_URL": self.config.base_url,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.config.worker_log_port),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(self.config.trigger_log_port),
            "AIRFLOW__API__SECRET_KEY": stack_secrets["secret_key"],
            "AIRFLOW__API_AUTH__JWT_SECRET": stack_secrets["jwt_secret"],
            STACK_MARKER_VARIABLE: self.marker,
            **self._async_database_env(),
        }

    def _async_database_env(self) -> dict[str, str]:
        """Airflow derives an async URL (asyncpg) from a PostgreSQL one; without asyncpg
        installed, every component would fail at import. An empty async URL turns Airflow's
        async engine off: only the long-poll `dagRuns/{id}/wait` endpoint and the task state
        store need it, and nothing here uses them.
        """
        if (
            self.database == "postgresql"
            and importlib.util.find_spec(ASYNC_POSTGRES_DRIVER) is None
        ):
            return {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": ""}
        return {}

    def choose_database(self) -> None:
        """The configured URL as given; else a local PostgreSQL cluster (started), else SQLite."""
        if self.config.database_url is not None:
            self.database_url = self.config.database_url
            self.database = "sqlite" if self.database_url.startswith("sqlite") else "postgresql"
            return
        bin_dir = postgres_bin_dir()
        if bin_dir is None:
            self.database = "sqlite"
            self.database_url = f"sqlite:///{self.config.home / 'airflow.db'}"
            return
        self._postgres = LocalPostgres(self.config.home / POSTGRES_DIRNAME, bin_dir)
        self.database = "postgresql"
        self.database_url = self._postgres.start()

    def start(self) -> AirflowStack:
        """Migrate the database, start the four components, wait until all are healthy."""
        if not self.config.airflow_bin.exists():
            raise AirflowStackError(f"{self.config.airflow_bin} is missing: run `make install`")
        self.config.home.mkdir(parents=True, exist_ok=True)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        try:
            self.choose_database()
            self._write_local_settings()
            self._migrate()
            for name in COMPONENTS:
                self._start_component(name)
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def _write_local_settings(self) -> None:
        path = self.config.home / LOCAL_SETTINGS_FILE
        if path.exists() and LOCAL_SETTINGS_MARKER not in path.read_text():
            return  # the user's own local settings: left alone
        imports = "".join(
            f"    import {module}  # noqa: F401\n" for module in SCHEDULER_PRE_IMPORTS
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"{LOCAL_SETTINGS_MARKER}: task processes fork from the scheduler, so what it\n"
            "# imports here each task's DAG-file parse does not import again.\n"
            "import sys\n\n"
            "if sys.argv[1:2] == ['scheduler']:\n"
            f"{imports}"
        )

    def _migrate(self) -> None:
        log_path = self.logs_dir / "db-migrate.log"
        with log_path.open("wb") as log:
            result = subprocess.run(
                [str(self.config.airflow_bin), "db", "migrate"],
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                timeout=MIGRATE_TIMEOUT_SECONDS,
                check=False,
            )
        if result.returncode != 0:
            raise AirflowStackError(
                f"`airflow db migrate` failed (exit {result.returncode}) on {self.database}; "
                f"log {log_path}:\n{log_tail(log_path)}"
            )

    def _start_component(self, name: str) -> None:
        log_path = self.logs_dir / f"{name}.log"
        command = [str(self.config.airflow_bin), name]
        if name == "api-server":
            command += ["--host", self.config.host, "--port", str(self.config.port)]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                cwd=self.config.home,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Its own group: Ctrl-C in the terminal reaches `mingo airflow` only, which
                # then stops the components in order.
                start_new_session=True,
            )
        self.components.append(Component(name, process, log_path))

    def health(self) -> dict[str, str]:
        """Status per component from the API server, {} while it does not answer."""
        import httpx

        try:
            answer = httpx.get(f"{self.base_url}{HEALTH_PATH}", timeout=5)
            body = answer.json() if answer.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            return {}
        return {key: str((body.get(key) or {}).get("status")) for key in HEALTH_KEYS}

    def check_running(self) -> None:
        """Raise if a component exited: a stack without its scheduler runs nothing."""
        for component in self.components:
            code = component.process.poll()
            if code is not None:
                raise AirflowStackError(
                    f"airflow {component.name} exited with code {code}; "
                    f"log {component.log_path}:\n{log_tail(component.log_path)}"
                )

    def wait_healthy(self) -> None:
        deadline = time.monotonic() + self.config.health_timeout_s
        status: dict[str, str] = {}
        while time.monotonic() < deadline:
            self.check_running()
            status = self.health()
            if status and all(value == HEALTHY for value in status.values()):
                return
            time.sleep(0.5)
        raise AirflowStackError(
            f"Airflow at {self.base_url} not healthy after {self.config.health_timeout_s:.0f} s "
            f"(health: {status or 'no answer'}); logs in {self.logs_dir}"
        )

    def descendants(self) -> list[psutil.Process]:
        """Every live process of the stack: the components, their children, marked strays."""
        found: dict[int, psutil.Process] = {}
        for component in self.components:
            with contextlib.suppress(psutil.NoSuchProcess):
                leader = psutil.Process(component.process.pid)
                for process in [leader, *leader.children(recursive=True)]:
                    found[process.pid] = process
        for process in processes_marked(self.marker):
            found.setdefault(process.pid, process)
        return list(found.values())

    def stop(self) -> None:
        """SIGTERM each component's group, SIGKILL what outlives the grace, then any stray.

        Task processes may leave their group (the smoke test's `mingo serve` runs in its own
        session): they are found beforehand as descendants and afterwards by the marker.
        """
        tracked = self.descendants()
        for component in self.components:
            if component.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(component.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_grace_s
        for component in self.components:
            try:
                component.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(component.process.pid, signal.SIGKILL)
                component.process.wait(timeout=10)
            # The group may outlive its leader (workers the leader did not wait for).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(component.process.pid, signal.SIGKILL)
        terminate(
            [p for p in tracked if p.is_running()] + processes_marked(self.marker),
            grace_s=self.config.stop_grace_s / 4,
        )
        if self._postgres is not None:
            self._postgres.stop()

    def __enter__(self) -> AirflowStack:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def remove_home(home: Path) -> None:
    """Delete a stopped stack's home (its database included)."""
    shutil.rmtree(home, ignore_errors=True)
