"""docker/Dockerfile: the stages of the four images, their base, users and installs, and the
pipeline image's contract with the pods Airflow starts from it.

`make images` builds and runs the images for real (docker/README.md); these checks read the
Dockerfile, the lock and Airflow's own pod builder, so they run without a container engine.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from importlib.metadata import packages_distributions
from pathlib import Path
from typing import cast

import pytest

from tests.k8s.conftest import RenderedChart
from tests.k8s.helm import REPO_ROOT

DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
EXACT_TAG = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
KINDS = ("binary", "multiclass", "clustering")
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
TRAINING_STACK = ("apache-airflow", "apache-airflow-providers-cncf-kubernetes", "zenml")
EXECUTE_WORKLOAD = "airflow.sdk.execution_time.execute_workload"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Dockerfile:
    args: dict[str, str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)

    def chain(self, name: str) -> list[Stage]:
        """The stages an image of target `name` is made of, its external base first."""
        names = {stage.name for stage in self.stages}
        chain = [self.stage(name)]
        while chain[0].base in names:
            chain.insert(0, self.stage(chain[0].base))
        return chain

    def instructions(self, name: str, kind: str) -> list[str]:
        return [
            rest for stage in self.chain(name) for ins, rest in stage.instructions if ins == kind
        ]

    def exec_form(self, name: str, kind: str) -> list[str] | None:
        """The last ENTRYPOINT or CMD of the target, as the argv a container gets."""
        values = self.instructions(name, kind)
        if not values:
            return None
        value = values[-1]
        parsed: list[str] = json.loads(value) if value.startswith("[") else ["/bin/sh", "-c", value]
        return parsed

    def env(self, name: str) -> dict[str, str]:
        env: dict[str, str] = {}
        for rest in self.instructions(name, "ENV"):
            for assignment in shlex.split(rest):
                key, _, value = assignment.partition("=")
                env[key] = value.replace("$PATH", env.get("PATH", "$PATH"))
        return env


def logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip()
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def parse_dockerfile(text: str) -> Dockerfile:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip()
        elif instruction == "FROM":
            words = rest.split()
            base = words[0]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else f"#{len(stages)}"
            stages.append(Stage(name, base))
        elif stages:
            stages[-1].instructions.append((instruction, rest))
    return Dockerfile(args, stages)


@pytest.fixture(scope="module")
def dockerfile() -> Dockerfile:
    return parse_dockerfile(DOCKERFILE.read_text())


def effective_argv(
    image: Dockerfile, target: str, command: list[str] | None, args: list[str] | None
) -> list[str]:
    """What a container of `target` runs, by Kubernetes' rules: `command` replaces the image's
    ENTRYPOINT, `args` its CMD, and an ENTRYPOINT kept from the image prefixes the args."""
    entrypoint = command if command is not None else (image.exec_form(target, "ENTRYPOINT") or [])
    cmd = args if args is not None else (image.exec_form(target, "CMD") or [])
    if command is not None and args is None:
        cmd = []
    return [*entrypoint, *cmd]


# --- stages, base and layers -------------------------------------------------------------


def test_the_stages_share_their_layers_as_designed(dockerfile: Dockerfile) -> None:
    parents = {stage.name: stage.base for stage in dockerfile.stages}
    assert parents["base"] == "${BASE_IMAGE}"
    assert parents["serving-deps"] == "base"
    assert parents["serving"] == "serving-deps"
    assert parents["prediction"] == "serving"
    # The pipeline image sits on the very serving dependencies the prediction images hold.
    assert parents["pipeline-deps"] == "serving-deps"
    assert parents["pipeline"] == "pipeline-deps"
    # The last stage is the default target: a build without --target makes the pipeline image.
    assert dockerfile.stages[-1].name == "pipeline"


def test_the_dependency_layers_read_only_the_lock_and_pyproject(dockerfile: Dockerfile) -> None:
    """An edit of the code or the docs keeps the dependency layers (a warm rebuild reinstalls
    nothing): nothing else is copied before the last dependency install."""
    for target in ("prediction", "pipeline"):
        copied: set[str] = set()
        for stage in dockerfile.chain(target):
            for instruction, rest in stage.instructions:
                if instruction == "RUN" and "--no-install-project" in rest:
                    assert copied == {"pyproject.toml", "uv.lock"}, (target, copied)
                if instruction == "COPY" and "--from" not in rest:
                    copied.update(shlex.split(rest)[:-1])
        assert {"mingo", "README.md"} <= copied, target


def test_the_old_pipeline_dockerfile_path_builds_the_pipeline_image() -> None:
    old = REPO_ROOT / "docker" / "pipeline.Dockerfile"
    assert old.resolve() == DOCKERFILE.resolve()
    ignore = REPO_ROOT / "docker" / "pipeline.Dockerfile.dockerignore"
    assert ignore.resolve() == (REPO_ROOT / "docker" / "Dockerfile.dockerignore").resolve()


def test_the_default_base_is_a_pinned_official_python_3_11_slim(dockerfile: Dockerfile) -> None:
    base = dockerfile.args["BASE_IMAGE"]
    assert base.startswith("python:3.11.") and "-slim" in base, base
    assert EXACT_TAG.match(base) or DIGEST.search(base), base
    stage_names = {stage.name for stage in dockerfile.stages}
    for stage in dockerfile.stages:
        assert stage.base in stage_names | {"${BASE_IMAGE}", "scratch"}, stage.base


def test_the_pin_check_rejects_floating_tags() -> None:
    for floating in ("python:3.11-slim", "python:latest", "python"):
        assert not (EXACT_TAG.match(floating) or DIGEST.search(floating)), floating
    assert EXACT_TAG.match("python:3.11.14-slim-bookworm")


def test_the_build_context_carries_what_the_images_copy(dockerfile: Dockerfile) -> None:
    wheel_packages = PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    for target in ("prediction", "pipeline"):
        sources = {
            source
            for rest in dockerfile.instructions(target, "COPY")
            if "--from" not in rest
            for source in shlex.split(rest)[:-1]
        }
        assert set(wheel_packages) <= sources, target
        for source in sources:
            assert (REPO_ROOT / source).exists(), source
    ignore = (REPO_ROOT / "docker" / "Dockerfile.dockerignore").read_text().splitlines()
    for needed in ("pyproject.toml", "uv.lock", *(f"{p}/**" for p in wheel_packages)):
        assert f"!{needed}" in ignore, needed


# --- what each image installs --------------------------------------------------------------


def uv_syncs(dockerfile: Dockerfile, target: str) -> list[str]:
    return [rest for rest in dockerfile.instructions(target, "RUN") if "uv sync" in rest]


def test_every_install_comes_from_the_lock_file_without_dev_tools(dockerfile: Dockerfile) -> None:
    for target in ("prediction", "pipeline"):
        copied = [shlex.split(rest) for rest in dockerfile.instructions(target, "COPY")]
        assert any("uv.lock" in args for args in copied), target
        syncs = uv_syncs(dockerfile, target)
        for sync in syncs:
            assert "--frozen" in sync and "--no-default-groups" in sync, sync
        # Dependencies first (reused while the lock stays), then the project as a wheel.
        assert all("--no-install-project" in sync for sync in syncs[:-1]), target
        assert "--no-editable" in syncs[-1], target


def test_the_prediction_images_install_no_training_stack(dockerfile: Dockerfile) -> None:
    for sync in uv_syncs(dockerfile, "prediction"):
        assert "--extra" not in sync and "--all-extras" not in sync, sync
    # The pipeline image adds the extra on top of the serving dependencies, then the project.
    serving, *pipeline = uv_syncs(dockerfile, "pipeline")
    assert serving == uv_syncs(dockerfile, "prediction")[0]
    assert pipeline and all("--extra pipeline" in sync for sync in pipeline), pipeline


def test_the_training_stack_is_the_pipeline_extra_and_developers_get_it() -> None:
    def names(requirements: list[str]) -> set[str]:
        return {
            re.split(r"[\[=<>~! ;]", requirement, maxsplit=1)[0] for requirement in requirements
        }

    assert not names(PYPROJECT["project"]["dependencies"]) & set(TRAINING_STACK)
    assert set(TRAINING_STACK) <= names(PYPROJECT["project"]["optional-dependencies"]["pipeline"])
    assert "mingo[pipeline]" in PYPROJECT["dependency-groups"]["dev"]
    # The project environment's sync (the ZenML server's own venv syncs another project).
    install = [
        line
        for line in (REPO_ROOT / "Makefile").read_text().splitlines()
        if "sync" in line and "--project" not in line and "UV_PROJECT_ENVIRONMENT" not in line
    ]
    assert install and all("--extra pipeline" in line for line in install), install
    lock = tomllib.loads((REPO_ROOT / "uv.lock").read_text())
    mingo = next(package for package in lock["package"] if package["name"] == "mingo")
    assert not {dep["name"] for dep in mingo["dependencies"]} & set(TRAINING_STACK)
    assert set(TRAINING_STACK) <= {
        dep["name"] for dep in mingo["optional-dependencies"]["pipeline"]
    }


def locked_distributions(*extra: str) -> set[str]:
    uv = Path(sys.executable).with_name("uv")
    exported = subprocess.run(
        [str(uv), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", *extra],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return {
        re.split(r"[=\s;]", line, maxsplit=1)[0].lower()
        for line in exported.splitlines()
        if line and line[0].isalnum()
    }


@pytest.fixture(scope="module")
def absent_from_prediction_images() -> set[str]:
    """Import names that only distributions of the pipeline extra provide, per uv.lock."""
    only_pipeline = locked_distributions("--extra", "pipeline") - locked_distributions()
    assert set(TRAINING_STACK) <= only_pipeline
    return {
        module
        for module, dists in packages_distributions().items()
        if {dist.lower().replace("_", "-") for dist in dists} <= only_pipeline
    }


# Runs in a fresh interpreter in which the names in argv[1] (a JSON file) cannot be imported,
# as in a prediction image: optional imports (pydantic's email_validator, ...) fall back as
# they do there, and a hard dependency on the training stack fails.
SERVING_PROBE = """
import importlib, importlib.abc, json, pkgutil, sys
absent = set(json.load(open(sys.argv[1])))

class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in absent:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
for name in sys.argv[2:]:
    importlib.import_module(name)
from _bentoml_sdk import Service
import mlflow.sklearn  # what mingo.serving.champion imports to load a champion
names = []
for package in ("mingo.serving", "mingo.models", "mingo.features", "mingo.data", "bento_services"):
    module = importlib.import_module(package)
    names.append(package)
    names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
services = {}
for name in names:
    module = importlib.import_module(name)
    services[name] = sum(isinstance(value, Service) for value in vars(module).values())
top_level = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps({"top_level": top_level, "services": services}))
"""


def run_serving_probe(
    directory: Path, absent: set[str], *first_imports: str
) -> subprocess.CompletedProcess[str]:
    probe = directory / "probe.py"
    probe.write_text(SERVING_PROBE)
    absent_file = directory / "absent.json"
    absent_file.write_text(json.dumps(sorted(absent)))
    env = {**os.environ, "MINGO_HOME": str(directory / "mingo"), "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, str(probe), str(absent_file), *first_imports],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def serving_probe(
    tmp_path_factory: pytest.TempPathFactory, absent_from_prediction_images: set[str]
) -> dict[str, object]:
    """Every module a prediction service runs (the services, mingo's serving, models, features
    and data, MLflow's sklearn flavour), imported without the pipeline extra's packages."""
    result = run_serving_probe(
        tmp_path_factory.mktemp("serving-probe"), absent_from_prediction_images
    )
    assert result.returncode == 0, result.stderr[-2000:]
    loaded: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def test_the_serving_code_imports_without_the_pipeline_extra(
    serving_probe: dict[str, object], absent_from_prediction_images: set[str]
) -> None:
    assert {"airflow", "zenml", "kubernetes"} <= absent_from_prediction_images
    top_level = set(cast(list[str], serving_probe["top_level"]))
    assert {"bentoml", "mlflow", "sklearn"} <= top_level
    # Only what the interpreter had loaded before the probe began (setuptools' .pth hook in a
    # developer venv) may come from the extra.
    assert top_level & absent_from_prediction_images <= {"_distutils_hack"}


@pytest.mark.parametrize("module", ["zenml", "airflow.sdk", "kubernetes.client"])
def test_the_probe_fails_on_an_import_of_the_training_stack(
    tmp_path: Path, absent_from_prediction_images: set[str], module: str
) -> None:
    result = run_serving_probe(tmp_path, absent_from_prediction_images, module)
    assert result.returncode != 0
    assert f"No module named '{module.split('.')[0]}'" in result.stderr


# --- how the images start ------------------------------------------------------------------


def test_each_prediction_image_serves_its_kind_by_one_command(
    dockerfile: Dockerfile, serving_probe: dict[str, object], rendered: RenderedChart
) -> None:
    argv = dockerfile.exec_form("prediction", "CMD")
    assert dockerfile.exec_form("prediction", "ENTRYPOINT") is None
    assert argv is not None and argv[:2] == ["/bin/sh", "-c"]
    assert 'exec bentoml serve "bento_services.${MINGO_KIND}_service"' in argv[2]
    assert dockerfile.env("prediction")["MINGO_KIND"] == "${KIND}"
    # `bentoml serve MODULE` (no `:attribute`) finds the service only when the module holds
    # exactly one.
    services: dict[str, int] = serving_probe["services"]  # type: ignore[assignment]
    for kind in KINDS:
        assert services[f"bento_services.{kind}_service"] == 1, kind
    # The chart runs the pods as the image's user, on the port the service listens on.
    user = dockerfile.instructions("prediction", "USER")[-1].split(":")[0]
    for kind in KINDS:
        pod = rendered.named("Deployment", f"{kind}-prediction")["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsUser"] == int(user)
        assert pod["containers"][0]["ports"][0]["containerPort"] == int(
            dockerfile.env("prediction")["BENTOML_PORT"]
        )


def test_the_pipeline_image_runs_as_a_numeric_non_root_user(dockerfile: Dockerfile) -> None:
    user = dockerfile.instructions("pipeline", "USER")[-1].split(":")[0]
    assert user.isdigit() and user != "0", "a numeric uid lets Kubernetes verify runAsNonRoot"


def test_the_pipeline_image_has_no_entrypoint(dockerfile: Dockerfile) -> None:
    # ENTRYPOINT ["mingo"] turned every args-only pod into `mingo <args>`.
    assert dockerfile.instructions("pipeline", "ENTRYPOINT") == []
    # A bare `run` of the image shows the CLI.
    assert dockerfile.exec_form("pipeline", "CMD") == ["mingo", "--help"]


def test_python_on_path_is_the_venv_the_image_installs(dockerfile: Dockerfile) -> None:
    env = dockerfile.env("pipeline")
    venv = env["VIRTUAL_ENV"]
    assert env["PATH"].split(":")[0] == f"{venv}/bin"
    # `uv sync --active` installs into $VIRTUAL_ENV: the venv whose bin leads PATH.
    assert all("--active" in sync for sync in uv_syncs(dockerfile, "pipeline"))


# Airflow's own pod builder makes the worker pod of a task whose pod_override names the
# pipeline image. In a subprocess with a throwaway AIRFLOW_HOME: Airflow reads (and writes) its
# configuration when first imported.
EXECUTOR_POD_PROBE = """
import json, sys, uuid
from importlib.util import find_spec
from airflow.executors.workloads.base import BundleInfo
from airflow.executors.workloads.task import ExecuteTask, TaskInstanceDTO
from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator, workload_to_command_args
from kubernetes.client import models as k8s

image = sys.argv[1]
ti = TaskInstanceDTO(
    id=uuid.uuid4(), task_id="decide", dag_id="mingo_retrain_binary",
    run_id="manual__2026-01-01", try_number=1, dag_version_id=uuid.uuid4(),
    pool_slots=1, priority_weight=1,
)
workload = ExecuteTask(
    ti=ti, dag_rel_path="mingo_retrain.py", bundle_info=BundleInfo(name="dags-folder"),
    token="token", log_path=None,
)
base_worker_pod = k8s.V1Pod(
    metadata=k8s.V1ObjectMeta(name="worker"),
    spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", image="apache/airflow")]),
)
pod_override = k8s.V1Pod(spec=k8s.V1PodSpec(containers=[k8s.V1Container(name="base", image=image)]))
pod = PodGenerator.construct_pod(
    dag_id=ti.dag_id, task_id=ti.task_id, pod_id="mingo-decide", try_number=1,
    kube_image="apache/airflow", date=None, args=workload_to_command_args(workload),
    pod_override_object=pod_override, base_worker_pod=base_worker_pod, namespace="airflow",
    scheduler_job_id="1", run_id=ti.run_id,
)
container = pod.spec.containers[0]
print(json.dumps({
    "image": container.image, "command": container.command, "args": container.args,
    "module_found": find_spec(sys.argv[2]) is not None,
}))
"""


def test_the_kubernetes_executor_worker_runs_airflow_in_the_pipeline_image(
    dockerfile: Dockerfile, tmp_path: Path
) -> None:
    """By Kubernetes' rules the worker container must run Airflow's task runner."""
    image = "registry.example/mingo-pipeline:0.1.0"
    probe = tmp_path / "executor_pod.py"
    probe.write_text(EXECUTOR_POD_PROBE)
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path / "airflow")}
    result = subprocess.run(
        [sys.executable, str(probe), image, EXECUTE_WORKLOAD],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    container = json.loads(result.stdout.strip().splitlines()[-1])
    assert container["image"] == image
    assert container["command"] is None, "the executor gives args only"
    argv = effective_argv(dockerfile, "pipeline", container["command"], container["args"])
    assert argv[:3] == ["python", "-m", EXECUTE_WORKLOAD], argv[:3]
    # The module exists in the Airflow the lock pins (the pipeline image installs the same).
    assert container["module_found"]


def test_the_argv_rule_would_catch_an_entrypoint() -> None:
    old = parse_dockerfile('FROM python:3.11.14-slim-bookworm AS pipeline\nENTRYPOINT ["mingo"]\n')
    args = ["python", "-m", EXECUTE_WORKLOAD, "--json-string", "{}"]
    assert effective_argv(old, "pipeline", None, args)[:2] == ["mingo", "python"]
    # A pod that names its command (KubernetesPodOperator's cmds) replaces the ENTRYPOINT.
    assert effective_argv(old, "pipeline", ["mingo"], ["train", "binary"]) == [
        "mingo",
        "train",
        "binary",
    ]
