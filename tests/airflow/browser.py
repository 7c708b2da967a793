"""The Airflow 3 UI driven by a real headless Chromium (Debian's chromium + chromium-driver).

`AirflowUI` logs in through the simple auth manager's form and reads the pages a user looks
at: the DAG list, one run (its grid and its task-instance table) and the trigger form. Every
wait is explicit (WebDriverWait on what the page must show); a wait that times out raises
`UIError` with the page's visible text and the path of a screenshot taken at that moment.

The element hooks are the UI's own `data-testid` attributes (Airflow 3.3's React UI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import (
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
# The viewport, set exactly (the window's own size includes browser chrome): the screenshots
# are this size, small enough for the README without resizing.
VIEWPORT_WIDTH = 1280
VIEWPORT_HEIGHT = 900
# Under load (2 cores shared by the scheduler, its tasks and other tests) a page of the React
# UI with its API calls can take seconds; a broken page still fails within this.
PAGE_TIMEOUT_S = 30.0
PAGE_POLL_S = 0.2
CHROMIUM_ARGS = (
    "--headless=new",
    "--no-sandbox",  # the tests run as root, where Chromium's sandbox refuses to start
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--hide-scrollbars",
    f"--window-size={VIEWPORT_WIDTH},{VIEWPORT_HEIGHT}",
)
VISIBLE_TEXT_LIMIT = 4000
PUBLISHED_COLOURS = 256
SPA_NAVIGATE = (
    "window.history.pushState(null, '', arguments[0]);"
    "window.dispatchEvent(new PopStateEvent('popstate'));"
)
# A grid cell's tooltip: "Task ID: validate_data", "State: Success", "Run ID: ...", ...
TOOLTIP_STATE = "State: "

T = TypeVar("T")


class UIError(AssertionError):
    """The page did not show what was expected; the message has its text and screenshot."""


def chromium_missing() -> str | None:
    """Why the browser cannot start here, or None (make system-deps installs both)."""
    for binary in (CHROMIUM, CHROMEDRIVER):
        if not binary.exists():
            return f"{binary} not found (Debian packages chromium and chromium-driver)"
    return None


def ui_state(label: str) -> str:
    """A state badge's label as the API spells the state: 'Upstream Failed' -> upstream_failed."""
    return label.strip().lower().replace(" ", "_")


@contextmanager
def chromium() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in CHROMIUM_ARGS:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": VIEWPORT_WIDTH,
                "height": VIEWPORT_HEIGHT,
                "deviceScaleFactor": 1,
                "mobile": False,
            },
        )
        yield driver
    finally:
        driver.quit()


@dataclass
class AirflowUI:
    """One logged-in browser on one Airflow. Screenshots go to `shot_dir`, and to
    `publish_dir` too when it is set (the README's images)."""

    driver: WebDriver
    base_url: str
    shot_dir: Path
    publish_dir: Path | None = None
    shots: list[Path] = field(default_factory=list)

    # ---------------------------------------------------------------- waiting, failing

    def visible_text(self) -> str:
        try:
            text: str = self.driver.find_element(By.TAG_NAME, "body").text
        except WebDriverException as error:
            return f"(no page text: {error.msg})"
        return text[:VISIBLE_TEXT_LIMIT]

    def fail(self, what: str) -> UIError:
        shot = self.shot_dir / "failure.png"
        self.driver.save_screenshot(str(shot))
        return UIError(
            f"{what}\nURL: {self.driver.current_url}\nscreenshot: {shot}\n"
            f"visible text:\n{self.visible_text()}"
        )

    def wait(self, what: str, condition: Callable[[WebDriver], T | None]) -> T:
        """Until `condition` returns something truthy; that value. `what` names it on failure."""
        try:
            result = WebDriverWait(
                self.driver,
                PAGE_TIMEOUT_S,
                poll_frequency=PAGE_POLL_S,
                # React replaces elements as the page's data refreshes: look again.
                ignored_exceptions=(StaleElementReferenceException,),
            ).until(condition)
        except TimeoutException:
            raise self.fail(f"after {PAGE_TIMEOUT_S:.0f} s the page does not show {what}") from None
        assert result is not None  # until() returns only a truthy value
        return result

    def open(self, path: str) -> None:
        """Go to PATH. Once the UI is loaded this is the router's own navigation (what a link
        does: history.pushState, then the app renders the route), not a reload of the whole
        single-page app: each reload re-parses megabytes of JavaScript, seconds on 2 busy cores."""
        if self.driver.current_url.startswith(self.base_url) and self.driver.find_elements(
            By.CSS_SELECTOR, "[data-testid=nav-sidebar]"
        ):
            self.driver.execute_script(SPA_NAVIGATE, path)
        else:
            self.driver.get(f"{self.base_url}{path}")

    def screenshot(self, name: str) -> Path:
        """Save the viewport as NAME (.png) in the test's directory (and publish it)."""
        shot = self.shot_dir / name
        if not self.driver.save_screenshot(str(shot)):
            raise self.fail(f"Chromium could not save the screenshot {shot}")
        self.shots.append(shot)
        if self.publish_dir is not None:
            self.publish_dir.mkdir(parents=True, exist_ok=True)
            publish_small(shot, self.publish_dir / name)
        return shot

    # ---------------------------------------------------------------- pages

    def login(self, username: str, password: str) -> None:
        """The simple auth manager's form, as a user fills it in; back on the home page."""
        self.open("/")
        user_field = self.wait(
            "the login form", lambda d: _first(d.find_elements(By.NAME, "username"))
        )
        user_field.send_keys(username)
        self.driver.find_element(By.NAME, "password").send_keys(password)
        self.driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        self.wait(
            "the signed-in UI (navigation bar) after the login",
            lambda d: (
                "/auth/login" not in d.current_url
                and d.find_elements(By.CSS_SELECTOR, "[data-testid=nav-dags-link]")
            ),
        )

    def dag_list(self, expected: Iterable[str], with_runs: Iterable[str] = ()) -> dict[str, str]:
        """Open the DAG list; per DAG card, its id -> the text of its Latest Run cell, once
        every `expected` DAG is shown and the cards of `with_runs` show their latest run."""
        wanted = set(expected)
        ran = set(with_runs)

        def listed(driver: WebDriver) -> dict[str, str] | None:
            cards = {
                card.find_element(By.CSS_SELECTOR, "[data-testid=dag-id]").text.strip(): (
                    card.find_element(By.CSS_SELECTOR, "[data-testid=latest-run]").text.strip()
                )
                for card in driver.find_elements(By.CSS_SELECTOR, "[data-testid=dag-card]")
            }
            shown = wanted <= set(cards) and all(cards.get(dag) for dag in ran)
            return cards if shown else None

        self.open("/dags")
        return self.wait(f"the DAG cards {sorted(wanted)}, a latest run on {sorted(ran)}", listed)

    def run_page(self, dag_id: str, run_id: str, task_ids: Iterable[str]) -> dict[str, str]:
        """Open one run: its grid column and its task-instance table. The states the table
        shows, per task id (API spelling), once it lists every task of `task_ids`."""
        tasks = set(task_ids)
        self.open(f"/dags/{dag_id}/runs/{quote(run_id, safe='')}")

        def table(driver: WebDriver) -> dict[str, str] | None:
            states: dict[str, str] = {}
            for row in driver.find_elements(By.CSS_SELECTOR, "tbody tr"):
                name = row.find_elements(
                    By.CSS_SELECTOR, "[data-testid=table-cell-task_display_name]"
                )
                state = row.find_elements(By.CSS_SELECTOR, "[data-testid=table-cell-state]")
                if name and state and state[0].text.strip():
                    states[name[0].text.strip()] = ui_state(state[0].text)
            return states if set(states) == tasks else None

        shown = self.wait(f"the task-instance table with the tasks {sorted(tasks)}", table)

        # The grid: one cell per task in this run's column, linking to the task instance.
        def grid(driver: WebDriver) -> bool:
            return all(
                driver.find_elements(By.CSS_SELECTOR, f'[data-testid="grid-{run_id}-{task}"]')
                for task in tasks
            )

        self.wait(f"the grid column of run {run_id} with a cell per task", grid)
        return shown

    def grid_states(self, run_id: str, task_ids: Iterable[str]) -> dict[str, str]:
        """On an open run page: the state of each task as its grid cell's tooltip says it
        (hovering the cell, as a user does), per task id (API spelling)."""
        states: dict[str, str] = {}
        for task in task_ids:

            def tooltip(driver: WebDriver, task: str = task) -> str | None:
                # Found again on every poll: the UI re-renders the grid as its data refreshes.
                cell = _first(
                    driver.find_elements(By.CSS_SELECTOR, f'[data-testid="grid-{run_id}-{task}"]')
                )
                if cell is None:
                    return None
                ActionChains(driver).move_to_element(cell).perform()
                for tip in driver.find_elements(By.CSS_SELECTOR, "[data-part=content]"):
                    lines = tip.text.splitlines()
                    if f"Task ID: {task}" in lines:
                        for line in lines:
                            if line.startswith(TOOLTIP_STATE):
                                return line.removeprefix(TOOLTIP_STATE)
                return None

            states[task] = ui_state(self.wait(f"the grid tooltip of {task}", tooltip))
        return states

    def trigger_form(self, dag_id: str, titles: Iterable[str]) -> WebElement:
        """Open the DAG's trigger form (the trigger button of its card in the DAG list); the
        dialog, once it shows the Run Parameters with every title of `titles`, scrolled to them."""
        wanted = list(titles)
        self.open("/dags")

        def click_trigger(driver: WebDriver) -> bool:
            for card in driver.find_elements(By.CSS_SELECTOR, "[data-testid=dag-card]"):
                if card.find_element(By.CSS_SELECTOR, "[data-testid=dag-id]").text == dag_id:
                    card.find_element(By.CSS_SELECTOR, "[data-testid=trigger-dag-button]").click()
                    return True
            return False

        self.wait(f"the trigger button on the card of {dag_id}", click_trigger)

        def form(driver: WebDriver) -> WebElement | None:
            for dialog in driver.find_elements(By.CSS_SELECTOR, "[role=dialog]"):
                text = dialog.text
                if "Run Parameters" in text and all(title in text for title in wanted):
                    return dialog
            return None

        dialog = self.wait(f"the trigger form with the Params {wanted}", form)
        heading = dialog.find_element(By.XPATH, ".//*[normalize-space(text())='Run Parameters']")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", heading)
        return dialog

    def input_value(self, dialog: WebElement, title: str) -> str:
        """The value in the text field of the Param titled TITLE in the trigger form."""
        field_ = dialog.find_element(
            By.XPATH,
            f".//*[normalize-space(text())='{title}']/ancestor::*[.//input][1]//input",
        )
        value: str = field_.get_attribute("value") or ""
        return value


def publish_small(shot: Path, target: Path) -> None:
    """SHOT as a 256-colour PNG: a third of the size in the repository, no visible difference
    on the flat colours of a UI."""
    with Image.open(shot) as image:
        image.convert("RGB").quantize(PUBLISHED_COLOURS, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True
        )


def _first(elements: list[WebElement], displayed: bool = False) -> WebElement | None:
    for element in elements:
        if not displayed or element.is_displayed():
            return element
    return None
