"""Benchmarks: speed and memory claims measured side by side, never in timed tests."""
