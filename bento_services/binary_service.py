"""The binary prediction service (Kubernetes: `binary-prediction`)."""

from bento_services.prediction_service import SETTINGS, build_prediction_service

BinaryPrediction = build_prediction_service("binary", SETTINGS)
