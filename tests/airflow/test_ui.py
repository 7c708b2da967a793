"""The Airflow UI in a real browser: what a user sees after `mingo airflow`.

Headless Chromium logs in through the simple auth manager's form with the stack's admin
login, then reads one finished run of `mingo_retrain_binary` (its grid column, each cell's
tooltip, and its task-instance table), the DAG list and the DAG's trigger form. The run is the
newest successful one the scheduler tests left (tests/airflow/test_s*.py run before this file);
run alone, this file triggers one itself (minutes: a real retraining).

Screenshots are saved in the test's directory; with MINGO_UPDATE_SCREENSHOTS=1 they are also
written to docs/images/ (the README's airflow-dags.png, airflow-run-grid.png,
airflow-trigger-form.png).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mingo.local_airflow import PROJECT_DAGS_FOLDER
from tests.airflow.browser import AirflowUI, chromium, chromium_missing
from tests.airflow.conftest import ALL_DAG_IDS, AirflowStackHandle
from tests.airflow.rest import AirflowRest

# As Airflow imports them: the dags folder on sys.path, the helpers as `mingo_dags`.
if str(PROJECT_DAGS_FOLDER) not in sys.path:
    sys.path.insert(0, str(PROJECT_DAGS_FOLDER))
from mingo_dags.params import retrain_params

pytestmark = pytest.mark.services

REPO_ROOT = Path(__file__).resolve().parents[2]
PUBLISHED_SCREENSHOTS = REPO_ROOT / "docs" / "images"
UPDATE_SCREENSHOTS_VARIABLE = "MINGO_UPDATE_SCREENSHOTS"
DAG_ID = "mingo_retrain_binary"
KIND = "binary"
# Only when no earlier test left a successful run: one retraining on the stack's small data
# (about 70 s on an idle machine; minutes when the 2 cores are shared).
OWN_RUN_TIMEOUT_S = 900.0


@pytest.fixture(scope="module")
def ui(
    airflow_stack: AirflowStackHandle, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowUI]:
    """One Chromium for this file, signed in through the login form."""
    missing = chromium_missing()
    if missing:
        pytest.fail(f"{missing}; `make system-deps` installs them")
    publish = os.environ.get(UPDATE_SCREENSHOTS_VARIABLE) == "1"
    with chromium() as driver:
        browser = AirflowUI(
            driver,
            airflow_stack.base_url,
            tmp_path_factory.mktemp("airflow-ui"),
            PUBLISHED_SCREENSHOTS if publish else None,
        )
        browser.login(airflow_stack.username, airflow_stack.password)
        yield browser


def finished_run(rest: AirflowRest) -> str:
    """The newest successful run of DAG_ID; triggered and waited for if there is none."""
    newest = rest.json(
        "GET",
        f"/api/v2/dags/{DAG_ID}/dagRuns",
        params={"state": "success", "order_by": "-end_date", "limit": 1},
    )["dag_runs"]
    if newest:
        run_id: str = newest[0]["dag_run_id"]
        return run_id
    # The fixture's binary DAG is manual-only: unpausing it starts nothing on its own.
    rest.set_paused(DAG_ID, False)
    run_id = rest.trigger_run(DAG_ID, {})
    state = rest.wait_for_run(DAG_ID, run_id, timeout_s=OWN_RUN_TIMEOUT_S)
    assert state == "success", f"{run_id}: {state}, tasks {rest.task_states(DAG_ID, run_id)}"
    return run_id


def page_says(ui: AirflowUI, what: str) -> str:
    """A failure message: what is wrong, and what the page shows (text and screenshot)."""
    return str(ui.fail(what))


def test_a_finished_run_shows_its_task_states_in_the_grid_and_the_table(
    ui: AirflowUI, airflow_rest: AirflowRest
) -> None:
    run_id = finished_run(airflow_rest)
    expected: dict[str, Any] = airflow_rest.task_states(DAG_ID, run_id)

    table = ui.run_page(DAG_ID, run_id, expected)
    ui.screenshot("airflow-run-grid.png")  # before the tooltips cover the table
    grid = ui.grid_states(run_id, expected)

    assert table == expected, page_says(ui, f"table states {table}, the API says {expected}")
    assert grid == expected, page_says(ui, f"grid states {grid}, the API says {expected}")
    # A successful retraining: the data passed, and the branch not taken was skipped.
    assert table["validate_data"] == "success", page_says(ui, f"validate_data {table}")
    assert {"success", "skipped"} <= set(table.values()), page_says(ui, f"states {table}")


def test_the_dag_list_shows_the_three_dags_and_the_latest_run(
    ui: AirflowUI, airflow_rest: AirflowRest
) -> None:
    # After the run test above (or the scheduler tests) the binary DAG has runs: its card
    # must show the latest one.
    runs = airflow_rest.json("GET", f"/api/v2/dags/{DAG_ID}/dagRuns", params={"limit": 1})
    with_runs = [DAG_ID] if runs["total_entries"] else []

    cards = ui.dag_list(ALL_DAG_IDS, with_runs)
    shot = ui.screenshot("airflow-dags.png")

    assert set(ALL_DAG_IDS) <= set(cards), page_says(ui, f"DAG cards {cards}")
    assert all(cards[dag] for dag in with_runs), page_says(ui, f"latest runs {cards}")
    assert shot.stat().st_size > 0


def test_the_trigger_form_renders_the_typed_params(
    ui: AirflowUI, airflow_stack: AirflowStackHandle
) -> None:
    titles = [param.schema["title"] for param in retrain_params(KIND).values()]
    assert "Purchases file" in titles and "Promotion margin (absolute)" in titles

    form = ui.trigger_form(DAG_ID, titles)
    data_uri = ui.input_value(form, "Purchases file")
    ui.screenshot("airflow-trigger-form.png")

    # The default is the scheduler's MINGO_DATA_URI, read when the DAG file was parsed.
    assert data_uri == airflow_stack.data_uri, page_says(
        ui, f"Purchases file shows {data_uri!r}, not the stack's {airflow_stack.data_uri!r}"
    )
    # With every field as the form shows it, the form can be submitted.
    (trigger,) = [
        button
        for button in form.find_elements("tag name", "button")
        if button.text.strip() == "Trigger"
    ]
    assert trigger.is_enabled(), page_says(ui, "the Trigger button is disabled")
