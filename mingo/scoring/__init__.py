"""Batch scores: every customer of a purchases file scored by one model version, to Parquet.

`score_uri` is what `mingo score` runs; `score_purchases` scores an in-memory frame.
"""

from mingo.scoring.batch import (
    CHUNK_CUSTOMERS,
    ScoreSummary,
    load_model,
    output_columns,
    output_schema,
    prediction_table,
    score_purchases,
    score_uri,
)

__all__ = [
    "CHUNK_CUSTOMERS",
    "ScoreSummary",
    "load_model",
    "output_columns",
    "output_schema",
    "prediction_table",
    "score_purchases",
    "score_uri",
]
