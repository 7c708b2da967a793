"""The clustering prediction service (Kubernetes: `clustering-prediction`)."""

from bento_services.prediction_service import SETTINGS, build_prediction_service

ClusteringPrediction = build_prediction_service("clustering", SETTINGS)
