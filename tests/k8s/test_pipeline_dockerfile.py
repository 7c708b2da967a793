"""docker/pipeline.Dockerfile follows the image rules (no Docker engine here to build it)."""

from __future__ import annotations

import re
import shlex
import tomllib
from dataclasses import dataclass, field

from tests.k8s.helm import REPO_ROOT

DOCKERFILE = REPO_ROOT / "docker" / "pipeline.Dockerfile"
EXACT_TAG = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass
class Stage:
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def logical_lines(text: str) -> list[str]:
    joined = re.sub(r"\\\n", " ", text)
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("#")
    ]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ARG" and not stages:
            name, _, default = rest.partition("=")
            global_args[name.strip()] = default.strip()
        elif instruction == "FROM":
            base = rest.split()[0]
            for name, value in global_args.items():
                base = base.replace("${" + name + "}", value)
            stages.append(Stage(base))
        elif stages:
            stages[-1].instructions.append((instruction, rest))
    return global_args, stages


def test_parser_sees_every_stage() -> None:
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    assert len(stages) == 2


def test_every_base_image_is_pinned() -> None:
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    for stage in stages:
        assert EXACT_TAG.match(stage.base) or DIGEST.search(stage.base), stage.base
        assert ":latest" not in stage.base


def test_the_pin_check_rejects_floating_tags() -> None:
    for floating in ("python:3.11-slim", "python:latest", "python"):
        assert not (EXACT_TAG.match(floating) or DIGEST.search(floating)), floating
    assert EXACT_TAG.match("python:3.11.14-slim-bookworm")


def test_the_runtime_stage_runs_as_a_non_root_user() -> None:
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    users = [rest for instruction, rest in stages[-1].instructions if instruction == "USER"]
    assert users, "the final stage sets no USER: it would run as root"
    user = users[-1].split(":")[0]
    assert user not in {"0", "root"}
    assert user.isdigit(), "a numeric uid lets Kubernetes verify runAsNonRoot"


def test_dependencies_install_from_the_lock_file() -> None:
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    build = stages[0].instructions
    copied = [shlex.split(rest) for instruction, rest in build if instruction == "COPY"]
    assert any("uv.lock" in args for args in copied)
    syncs = [rest for instruction, rest in build if instruction == "RUN" and "uv sync" in rest]
    assert syncs and all("--frozen" in rest and "--no-dev" in rest for rest in syncs)


def test_the_image_carries_every_package_the_wheel_ships_and_its_sources_exist() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    sources: set[str] = set()
    for instruction, rest in stages[0].instructions:
        if instruction == "COPY" and "--from" not in rest:
            sources.update(shlex.split(rest)[:-1])
    assert set(packages) <= sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source


def test_the_entrypoint_is_the_mingo_console_script() -> None:
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "mingo" in pyproject["project"]["scripts"]
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    runtime = stages[-1].instructions
    entrypoints = [rest for instruction, rest in runtime if instruction == "ENTRYPOINT"]
    assert entrypoints == ['["mingo"]']
