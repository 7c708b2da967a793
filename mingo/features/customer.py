"""Behavioural customer features as of a cutoff (RFM, gaps, trend, habits, seasonality).

`customer_features(purchases, as_of)` is the single implementation used by training (one call
per cutoff over all customers) and by serving (one call over the histories in a request).
Only purchases dated on or before `as_of` are used; see `mingo.features.history` for the
exact boundary. All work is vectorised over customers (sorted numpy arrays, bincount and
reduceat), so the full ClickBus file builds in seconds.

Gap statistics are undefined for a customer with a single order: they are NaN (the models
treat NaN as "no repeat yet"), while every other column is always finite.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from mingo.features.history import (
    FloatArray,
    IntArray,
    PurchaseHistory,
    most_used_codes,
    purchase_history,
)

# Brazilian school holidays and the year-end peak: the months bus travel concentrates in.
HOLIDAY_MONTHS: tuple[int, ...] = (1, 7, 12)
NIGHT_HOURS_BEFORE = 6  # orders placed 22:00-05:59 count as night orders
NIGHT_HOURS_FROM = 22
SAME_SEASON_WINDOW_DAYS = 30

FEATURE_COLUMNS: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary_log",
    "avg_order_value_log",
    "tenure_days",
    "mean_tickets",
    "gap_mean_days",
    "gap_std_days",
    "gap_last_days",
    "gap_min_days",
    "overdue_ratio",
    "orders_last_30d",
    "orders_last_90d",
    "orders_prev_90d",
    "orders_last_365d",
    "activity_trend",
    "orders_same_season_last_year",
    "share_weekend",
    "share_night",
    "share_round_trip",
    "share_multi_ticket",
    "n_routes",
    "route_diversity",
    "top_route_share",
    "last_route_is_top",
    "n_companies",
    "top_company_share",
    "share_holiday_months",
    "last_purchase_month_sin",
    "last_purchase_month_cos",
)


def customer_features(purchases: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per customer with a purchase on or before `as_of`, indexed by customer id.

    Columns are `FEATURE_COLUMNS` (float64), rows sorted by customer id.
    """
    return features_from_history(purchase_history(purchases, as_of))


def features_from_history(history: PurchaseHistory) -> pd.DataFrame:
    n = history.n_customers
    if n == 0:
        return pd.DataFrame(
            {c: pd.Series(dtype=np.float64) for c in FEATURE_COLUMNS},
            index=history.customer_ids,
        )
    cust = history.customer
    starts, ends = history.starts, history.ends
    count = (ends - starts).astype(np.float64)
    cutoff = history.cutoff_day
    age = cutoff - history.day  # days before the cutoff, >= 0

    def total(values: FloatArray | IntArray | np.ndarray) -> FloatArray:
        weights = np.asarray(values, dtype=np.float64)
        return np.bincount(cust, weights=weights, minlength=n).astype(np.float64)

    def share(mask: np.ndarray) -> FloatArray:
        return total(mask) / count

    gmv = np.clip(history.gmv, 0.0, None)
    last_day = history.day[ends - 1]
    first_day = history.day[starts]

    gaps, gap_owner = _gaps(history)
    n_gaps = np.bincount(gap_owner, minlength=n).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        gap_sum = np.bincount(gap_owner, weights=gaps, minlength=n)
        gap_mean = np.where(n_gaps > 0, gap_sum / n_gaps, np.nan)
        gap_sq = np.bincount(gap_owner, weights=gaps * gaps, minlength=n)
        gap_var = np.clip(gap_sq / n_gaps - gap_mean * gap_mean, 0.0, None)
        gap_std = np.where(n_gaps > 0, np.sqrt(gap_var), np.nan)
    gap_last = np.where(count > 1, last_day - history.day[np.maximum(ends - 2, 0)], np.nan)
    gap_min = _group_min(gaps, gap_owner, n)
    recency = (cutoff - last_day).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        overdue = np.where(gap_mean > 0, recency / gap_mean, np.where(count > 1, recency, np.nan))

    last_30 = total(age < 30)
    last_90 = total(age < 90)
    prev_90 = total((age >= 90) & (age < 180))
    same_season = total((age < 365) & (age >= 365 - SAME_SEASON_WINDOW_DAYS))
    activity = last_90 + prev_90
    trend = np.divide(last_90 - prev_90, activity, out=np.zeros(n), where=activity > 0)

    weekday = (history.day + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    hour = history.second // 3600
    night = (hour < NIGHT_HOURS_BEFORE) | (hour >= NIGHT_HOURS_FROM)
    route_counts = most_used_codes(cust, history.route, n)
    company_counts = most_used_codes(cust, history.company, n)
    top_route_code = route_counts[2]
    last_month = history.month[ends - 1]

    columns: dict[str, FloatArray] = {
        "recency_days": recency,
        "frequency": count,
        "monetary_log": np.log1p(total(gmv)),
        "avg_order_value_log": np.log1p(total(gmv) / count),
        "tenure_days": (cutoff - first_day).astype(np.float64),
        "mean_tickets": total(history.tickets) / count,
        "gap_mean_days": gap_mean,
        "gap_std_days": gap_std,
        "gap_last_days": gap_last,
        "gap_min_days": gap_min,
        "overdue_ratio": overdue,
        "orders_last_30d": last_30,
        "orders_last_90d": last_90,
        "orders_prev_90d": prev_90,
        "orders_last_365d": total(age < 365),
        "activity_trend": trend,
        "orders_same_season_last_year": same_season,
        "share_weekend": share(weekday >= 5),
        "share_night": share(night),
        "share_round_trip": share(history.round_trip),
        "share_multi_ticket": share(history.tickets > 1),
        "n_routes": route_counts[0],
        "route_diversity": route_counts[0] / count,
        "top_route_share": route_counts[1] / count,
        "last_route_is_top": (history.route[ends - 1] == top_route_code).astype(np.float64),
        "n_companies": company_counts[0],
        "top_company_share": company_counts[1] / count,
        "share_holiday_months": share(np.isin(history.month, HOLIDAY_MONTHS)),
        "last_purchase_month_sin": np.sin(2 * np.pi * (last_month - 1) / 12),
        "last_purchase_month_cos": np.cos(2 * np.pi * (last_month - 1) / 12),
    }
    return pd.DataFrame(columns, index=history.customer_ids)[list(FEATURE_COLUMNS)]


def _gaps(history: PurchaseHistory) -> tuple[FloatArray, IntArray]:
    """Days between consecutive orders of the same customer, and whose gap each one is."""
    same_customer = history.customer[1:] == history.customer[:-1]
    gaps = (history.day[1:] - history.day[:-1])[same_customer].astype(np.float64)
    return gaps, history.customer[1:][same_customer]


def _group_min(values: FloatArray, owner: IntArray, n: int) -> FloatArray:
    out = np.full(n, np.inf)
    np.minimum.at(out, owner, values)
    out[np.isinf(out)] = np.nan
    return out
