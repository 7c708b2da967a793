"""The multiclass prediction service (Kubernetes: `multiclass-prediction`)."""

from bento_services.prediction_service import SETTINGS, build_prediction_service

MulticlassPrediction = build_prediction_service("multiclass", SETTINGS)
