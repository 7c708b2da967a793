"""ZenML's step artifacts in S3 (MINGO_ZENML_ARTIFACT_URI) against the real S3 server.

A retraining run stores every step output under the bucket, the lineage ZenML records points
there, and the artifacts load back in a fresh process after MINGO_HOME's local artifact files
are gone (as after a pod is deleted). The stored stack configuration holds no credential.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.fixtures.services import S3Server
from tests.pipelines.conftest import (
    REPO_ROOT,
    clean_env,
    explain,
    last_json_line,
    run_mingo,
    small_purchases,
    write_purchases_csv,
)

BUCKET = "mingo-zenml"
PREFIX = "artifacts"

# Runs in a fresh process (ZenML reads its paths when first imported): prepare the stack as
# `mingo train` does, then read the last retraining run's lineage and load its artifacts.
READ_LINEAGE = """
import json
from mingo.config import load_settings
from zenml_pipelines.environment import prepare_zenml
prepare_zenml(load_settings())
from zenml.client import Client
from zenml.enums import StackComponentType

client = Client()
stack = client.active_stack_model
store = stack.components[StackComponentType.ARTIFACT_STORE][0]
run = client.list_pipeline_runs(sort_by="desc:created", size=1).items[0]
outputs = {}
for step_name, step in run.steps.items():
    for name, versions in step.outputs.items():
        version = versions[0]
        value = version.load()
        outputs[f"{step_name}.{name}"] = {"uri": version.uri, "type": type(value).__name__}
decision = run.steps["promote_or_reject"].outputs["decision"][0].load()
stores = client.list_stack_components(type=StackComponentType.ARTIFACT_STORE, size=50).items
print(json.dumps({
    "stack": stack.name,
    "flavor": store.flavor_name,
    "store_config": store.configuration,
    "artifact_stores": sorted(component.name for component in stores),
    "outputs": outputs,
    "decision_version": decision.candidate_version,
}))
"""


def read_lineage(env: dict[str, str]) -> Any:
    result = subprocess.run(
        [sys.executable, "-c", READ_LINEAGE],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, explain(result)
    return last_json_line(result)


def test_retraining_stores_zenml_artifacts_in_s3_and_loads_them_without_local_files(
    s3_server: S3Server, tmp_path: Path
) -> None:
    s3_server.make_bucket(BUCKET)
    csv = write_purchases_csv(small_purchases(), tmp_path / "purchases.csv")
    home = tmp_path / "home"
    env = clean_env(
        home,
        MINGO_ZENML_ARTIFACT_URI=f"s3://{BUCKET}/{PREFIX}",
        MINGO_S3_ENDPOINT_URL=s3_server.endpoint_url,
        AWS_ACCESS_KEY_ID=s3_server.access_key,
        AWS_SECRET_ACCESS_KEY=s3_server.secret_key,
    )
    result = run_mingo(["train", "binary", "--data", str(csv)], env)
    assert result.returncode == 0, explain(result)
    decision = last_json_line(result)

    # ZenML's local artifact stores live beside its SQLite store (stores/<component id>):
    # nothing was written there, so a deleted pod's disk takes no artifact with it.
    local_artifacts = [
        path
        for path in (home / "zenml" / "stores").rglob("*")
        if path.is_file() and "default_zen_store" not in path.parts
    ]
    assert local_artifacts == []
    # Artifacts load in a fresh process with no file of the run's except ZenML's database.
    shutil.rmtree(home / "mlartifacts")

    lineage = read_lineage(env)
    assert lineage["stack"] == "mingo-s3"
    assert lineage["flavor"] == "s3"
    assert lineage["artifact_stores"] == ["default", "mingo-s3-artifacts"]
    assert lineage["store_config"]["path"] == f"s3://{BUCKET}/{PREFIX}"
    assert lineage["store_config"]["client_kwargs"] == {"endpoint_url": s3_server.endpoint_url}
    assert not {"key", "secret", "token"} & {
        key for key, value in lineage["store_config"].items() if value
    }
    assert lineage["decision_version"] == decision["candidate_version"]

    outputs = lineage["outputs"]
    assert {"train_model.candidate_model", "promote_or_reject.decision"} <= outputs.keys()
    assert outputs["train_model.candidate_model"]["type"] == "TrainedModel"
    assert outputs["build_datasets.train_set"]["type"] == "Dataset"
    client = s3_server.client()
    for name, output in outputs.items():
        assert output["uri"].startswith(f"s3://{BUCKET}/{PREFIX}/"), (name, output)
        key_prefix = output["uri"].removeprefix(f"s3://{BUCKET}/")
        stored = list(client.list_objects(BUCKET, prefix=key_prefix + "/", recursive=True))
        assert stored, f"{name}: nothing in the bucket under {output['uri']}"

    # The credentials stay in the environment: ZenML's database does not hold the secret.
    databases = [path for path in home.rglob("*.db") if path.is_file()]
    assert databases
    for database in databases:
        assert s3_server.secret_key.encode() not in database.read_bytes(), database


# One process, three settings in turn on one MINGO_HOME: the S3 stack is registered once,
# follows a changed endpoint, and is left for the default stack when the setting goes away.
SWITCH_STACKS = """
import json, sys
from mingo.config import load_settings
from zenml_pipelines.environment import activate_artifact_store, prepare_zenml
settings = prepare_zenml(load_settings())
from zenml.client import Client
from zenml.enums import StackComponentType

def state():
    client = Client()
    store = client.active_stack_model.components[StackComponentType.ARTIFACT_STORE][0]
    stores = client.list_stack_components(type=StackComponentType.ARTIFACT_STORE, size=50)
    return {
        "stack": client.active_stack_model.name,
        "path": store.configuration.get("path"),
        "client_kwargs": store.configuration.get("client_kwargs"),
        "stores": sorted(component.name for component in stores.items),
    }

seen = [state()]
prepare_zenml(settings)
seen.append(state())
activate_artifact_store(settings.model_copy(update={"data_s3_endpoint_url": sys.argv[1]}))
seen.append(state())
activate_artifact_store(settings.model_copy(update={"zenml_artifact_uri": None}))
seen.append(state())
print(json.dumps(seen))
"""


def test_the_s3_stack_is_registered_once_follows_the_settings_and_can_be_left(
    tmp_path: Path,
) -> None:
    endpoint, moved = "http://127.0.0.1:9", "http://s3.example.internal:8333"
    env = clean_env(
        tmp_path / "home",
        MINGO_ZENML_ARTIFACT_URI=f"s3://{BUCKET}/{PREFIX}/",
        MINGO_S3_ENDPOINT_URL=endpoint,
    )
    result = subprocess.run(
        [sys.executable, "-c", SWITCH_STACKS, moved],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, explain(result)
    first, again, moved_state, left = last_json_line(result)
    both = ["default", "mingo-s3-artifacts"]
    s3_stack = {
        "stack": "mingo-s3",
        "path": f"s3://{BUCKET}/{PREFIX}",
        "client_kwargs": {"endpoint_url": endpoint},
        "stores": both,
    }
    assert first == s3_stack
    assert again == s3_stack
    assert moved_state == {**s3_stack, "client_kwargs": {"endpoint_url": moved}}
    assert left["stack"] == "default" and left["stores"] == both
    assert not str(left["path"]).startswith("s3://")
