"""Retraining steps grouped by stage; each calls `mingo.retraining.stages` and nothing more."""
