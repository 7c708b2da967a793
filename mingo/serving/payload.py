"""Turns a validated `PredictRequest` into the canonical purchases frame of mingo.data.schema.

The services feed this frame to `mingo.models.api.predict`, the very function training-time
scoring uses, so serving computes features with the training code and nothing else.
"""

from __future__ import annotations

import pandas as pd

from mingo.data import schema
from mingo.serving.schemas import PredictRequest


def purchases_frame(request: PredictRequest) -> pd.DataFrame:
    """One row per purchase, columns exactly `schema.COLUMNS`, dtypes as schema.py states."""
    columns: dict[str, list[object]] = {name: [] for name in schema.COLUMNS}
    for customer in request.customers:
        for purchase in customer.purchases:
            columns[schema.ORDER_ID].append(purchase.nk_ota_localizer_id)
            columns[schema.CUSTOMER_ID].append(customer.customer_id)
            columns[schema.DATE].append(purchase.date_purchase)
            columns[schema.TIME].append(purchase.time_purchase.strftime("%H:%M:%S"))
            columns[schema.ORIGIN].append(purchase.place_origin_departure)
            columns[schema.DESTINATION].append(purchase.place_destination_departure)
            columns[schema.RETURN_ORIGIN].append(purchase.place_origin_return)
            columns[schema.RETURN_DESTINATION].append(purchase.place_destination_return)
            columns[schema.COMPANY].append(purchase.fk_departure_ota_bus_company)
            columns[schema.RETURN_COMPANY].append(purchase.fk_return_ota_bus_company)
            columns[schema.GMV].append(purchase.gmv_success)
            columns[schema.TICKETS].append(purchase.total_tickets_quantity_success)
    frame = pd.DataFrame(columns, columns=list(schema.COLUMNS))
    frame[schema.DATE] = pd.to_datetime(frame[schema.DATE]).astype("datetime64[ns]")
    frame[schema.GMV] = frame[schema.GMV].astype("float64")
    frame[schema.TICKETS] = frame[schema.TICKETS].astype("int64")
    for name in schema.STRING_COLUMNS:
        frame[name] = frame[name].astype(object)
    return frame
