"""Retraining steps grouped by stage; each calls `mingo.retraining` and nothing more."""
