"""Monitoring of the served models: what was predicted, and how it turned out."""
