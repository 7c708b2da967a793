"""`bentoml build` of a service, and proof that the Bento carries every module it runs.

The Bento's `src/` is imported with the repository taken off `sys.path`, then a champion is
loaded from the registry and scores a request: any project module the service needs at run
time but the bentofile forgot to include fails this test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mingo import MODEL_KINDS
from tests.serving.conftest import ChampionRegistry, customer_payloads

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BENTOML = str(Path(sys.executable).with_name("bentoml"))

CHECK_SCRIPT = """
import json, sys
from pathlib import Path
project, src, tracking_uri, body = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
sys.path[:] = [src] + [p for p in sys.path if Path(p or ".").resolve() != Path(project)]
import bento_services.binary_service, bento_services.multiclass_service
import bento_services.clustering_service
from mingo.serving.champion import load_champion
from mingo.serving.predictor import ChampionPredictor
from mingo.serving.schemas import PredictRequest
answers = {}
for kind in ("binary", "multiclass", "clustering"):
    predictor = ChampionPredictor(kind, lambda kind=kind: load_champion(kind, tracking_uri))
    assert predictor.try_load(), kind
    answers[kind] = predictor.predict(PredictRequest.model_validate_json(body)).model_dump()
outside = sorted(
    name for name, module in sys.modules.items()
    if name.split(".")[0] in ("mingo", "bento_services")
    and not str(getattr(module, "__file__", "") or src).startswith(src)
)
print(json.dumps({"outside": outside, "answers": answers}))
"""


def test_bento_build_carries_the_code_the_service_runs(
    tmp_path: Path, champion_registry: ChampionRegistry
) -> None:
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "true",
    }
    built = subprocess.run(
        [BENTOML, "build", "-f", "bento_services/bentofile.binary.yaml", "-o", "tag", "."],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    tag = built.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    name, version = tag.split(":")
    bento = tmp_path / "bentoml" / "bentos" / name / version
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    for package in ("bentoml==", "mlflow==", "scikit-learn==", "skops=="):
        assert package in requirements
    for heavy in ("zenml", "apache-airflow"):
        assert heavy not in requirements

    body = json.dumps(
        {"customers": customer_payloads(champion_registry.purchases)[:2], "as_of": "2024-04-01"}
    )
    checked = subprocess.run(
        [
            sys.executable,
            "-c",
            CHECK_SCRIPT,
            str(PROJECT_ROOT),
            str(bento / "src"),
            champion_registry.tracking_uri,
            body,
        ],
        cwd=bento / "src",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stderr[-3000:]
    report = json.loads(checked.stdout.strip().splitlines()[-1])
    assert report["outside"] == []
    assert set(report["answers"]) == set(MODEL_KINDS)
    for kind in MODEL_KINDS:
        assert len(report["answers"][kind]["predictions"]) == 2
