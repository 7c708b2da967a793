"""One retraining of a KIND, in modules by job (light on import: the DAGs read `request`).

- `request`: `RetrainRequest`, what a run is asked to do (trigger form, CLI options).
- `config`: the pipeline config of a KIND (shipped YAMLs in `configs/`) and `apply_request`.
- `stages`: load -> validate -> datasets -> train -> evaluate -> register -> compare ->
  conclude, as plain functions.
- `decision`: the records a retraining leaves (data identity, candidate, decision, its tags).
- `runner`: the runner interface, the in-process runner, `load_runner`.
"""
