"""Point-in-time customer features: one implementation for training and serving.

Only purchases dated on or before the cutoff (`as_of`, whole day included) are used.
"""

from mingo.features.customer import FEATURE_COLUMNS, customer_features, features_from_history
from mingo.features.history import PurchaseHistory, purchase_history
from mingo.features.routes import (
    Route,
    route_feature_columns,
    route_features,
    route_features_from_history,
    route_key,
    route_keys,
    top_routes,
    top_routes_from_history,
)

__all__ = [
    "FEATURE_COLUMNS",
    "PurchaseHistory",
    "Route",
    "customer_features",
    "features_from_history",
    "purchase_history",
    "route_feature_columns",
    "route_features",
    "route_features_from_history",
    "route_key",
    "route_keys",
    "top_routes",
    "top_routes_from_history",
]
