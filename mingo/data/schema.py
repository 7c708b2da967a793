"""The 12-column ClickBus purchase schema: one typed definition used everywhere.

A *canonical purchases frame* is what every loader returns and every consumer accepts:
exactly the columns of `COLUMNS`, in that order, with
- id and place columns as `str` (pandas object/string dtype),
- `date_purchase` as `datetime64[ns]` at midnight (the date only),
- `time_purchase` as `str` "HH:MM:SS",
- `gmv_success` as float64, `total_tickets_quantity_success` as int64.
"""

from __future__ import annotations

from typing import Final

ORDER_ID: Final = "nk_ota_localizer_id"
CUSTOMER_ID: Final = "fk_contact"
DATE: Final = "date_purchase"
TIME: Final = "time_purchase"
ORIGIN: Final = "place_origin_departure"
DESTINATION: Final = "place_destination_departure"
RETURN_ORIGIN: Final = "place_origin_return"
RETURN_DESTINATION: Final = "place_destination_return"
COMPANY: Final = "fk_departure_ota_bus_company"
RETURN_COMPANY: Final = "fk_return_ota_bus_company"
GMV: Final = "gmv_success"
TICKETS: Final = "total_tickets_quantity_success"

COLUMNS: Final[tuple[str, ...]] = (
    ORDER_ID,
    CUSTOMER_ID,
    DATE,
    TIME,
    ORIGIN,
    DESTINATION,
    RETURN_ORIGIN,
    RETURN_DESTINATION,
    COMPANY,
    RETURN_COMPANY,
    GMV,
    TICKETS,
)

STRING_COLUMNS: Final[tuple[str, ...]] = (
    ORDER_ID,
    CUSTOMER_ID,
    TIME,
    ORIGIN,
    DESTINATION,
    RETURN_ORIGIN,
    RETURN_DESTINATION,
    COMPANY,
    RETURN_COMPANY,
)

# Sentinels the real file uses for a one-way order (no return leg).
NO_RETURN_PLACE: Final = "0"
NO_RETURN_COMPANY: Final = "1"
