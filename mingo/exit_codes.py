"""Exit codes of the `mingo` commands, one owner for the CLI, the DAGs and the tests.

Light (standard library only): the DAG files read them while the scheduler parses them.
"""

from __future__ import annotations

# The run completed (for `mingo train`: promoted or not).
EXIT_OK = 0
# Anything else went wrong, an unreachable S3 or MLflow included: retrying may help.
EXIT_FAILED = 1
# The data is invalid (the message names column, rows and rule): retrying changes nothing.
EXIT_BAD_DATA = 2
# Another retraining of the same KIND holds the lock.
EXIT_BUSY = 3
