"""Evaluate a ValidatingAdmissionPolicy's CEL with cel-python (a real CEL implementation, in
the project's dev group), the way the API server applies it: matchConditions (all true, else the
policy does not apply), then `variables` in order, then every validation must be true.

Run as a script (its own process: cel-python's global state stays out of the test run):
    python cel_policy_eval.py < {"policy": {...}, "cases": [{"name", "request", "object",
    "oldObject"}]}
prints {name: "not-matched" | "allowed" | "denied: <message>"}.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def evaluate(policy: dict[str, Any], case: dict[str, Any]) -> str:
    import celpy
    from celpy import celtypes

    environment = celpy.Environment()

    def run(expression: str, activation: dict[str, Any]) -> Any:
        program = environment.program(environment.compile(expression))
        return program.evaluate(activation)

    activation: dict[str, Any] = {
        "object": celpy.json_to_cel(case["object"]),
        "oldObject": celpy.json_to_cel(case["oldObject"]),
        "request": celpy.json_to_cel(case["request"]),
    }
    spec = policy["spec"]
    for condition in spec.get("matchConditions", []):
        if not bool(run(condition["expression"], activation)):
            return "not-matched"
    variables = celtypes.MapType({})
    for variable in spec.get("variables", []):
        activation["variables"] = variables
        variables[celtypes.StringType(variable["name"])] = run(variable["expression"], activation)
    activation["variables"] = variables
    for validation in spec["validations"]:
        result = run(validation["expression"], activation)
        if not isinstance(result, celtypes.BoolType):
            raise TypeError(f"{validation['expression']!r} gave {result!r}, not a bool")
        if not bool(result):
            return f"denied: {validation['message']}"
    return "allowed"


def main() -> None:
    given = json.load(sys.stdin)
    print(json.dumps({case["name"]: evaluate(given["policy"], case) for case in given["cases"]}))


if __name__ == "__main__":
    main()
