"""Prefixes of the tags a retraining writes on a model version (one owner for writer and reader).

Light on purpose (no import at all): the request model and the registry both use them.
"""

DECISION_TAG_PREFIX = "mingo.decision."
DATA_TAG_PREFIX = "mingo.data."
TARGET_TAG_PREFIX = "mingo.target."
REQUEST_TAG_PREFIX = "mingo.request."
