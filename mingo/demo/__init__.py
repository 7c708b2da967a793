"""`mingo demo`: the whole retraining loop on one machine, on the embedded stack.

Generate purchases, retrain the three models with the ZenML pipeline (`mingo train`),
promote, serve them with BentoML (`mingo serve`), ask them for predictions, then run the
next scheduled retraining on newer data, show its decision and the reloaded services.
"""
