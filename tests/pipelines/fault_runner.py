"""A retraining runner that crashes on purpose: `mingo train --runner <this module>:...`.

It is the in-process runner with one difference: the process dies (`os._exit`, no cleanup,
like a killed pod) right after the candidate is registered and before it is judged.
"""

from __future__ import annotations

import os

from mingo.config import Settings
from mingo.retraining.decision import Decision
from mingo.retraining.runner import InProcessRunner, Progress, RetrainingPlan

EXIT_AFTER_REGISTER = "tests.pipelines.fault_runner:ExitAfterRegister"
FAULT_EXIT_CODE = 86


class ExitAfterRegister(InProcessRunner):
    def run(
        self, plan: RetrainingPlan, settings: Settings, progress: Progress | None = None
    ) -> Decision:
        def die_after_register(stage: str, detail: str) -> None:
            if progress is not None:
                progress(stage, detail)
            if stage == "register":
                os._exit(FAULT_EXIT_CODE)

        return super().run(plan, settings, die_after_register)
