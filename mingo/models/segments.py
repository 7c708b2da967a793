"""Readable names and profiles for customer segments, from their average behaviour."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

# A segment mostly made of single-order customers is named for that unless another trait
# (groups, holidays) stands out more.
ONE_TIME_MAJORITY = 0.6

PROFILE_COLUMNS: tuple[str, ...] = (
    "frequency",
    "recency_days",
    "tenure_days",
    "avg_order_value_log",
    "mean_tickets",
    "orders_last_365d",
    "share_holiday_months",
    "share_multi_ticket",
    "route_diversity",
)


def segment_profiles(features: pd.DataFrame, segments: np.ndarray) -> list[dict[str, Any]]:
    """Per segment: id, name, size, share and mean behaviour in plain units (JSON-safe)."""
    frame = features[list(PROFILE_COLUMNS)].copy()
    frame["avg_order_value"] = np.expm1(frame.pop("avg_order_value_log"))
    frame["share_single_order"] = (frame["frequency"] <= 1).astype(np.float64)
    frame["segment"] = segments
    means = frame.groupby("segment").mean()
    sizes = frame.groupby("segment").size()
    overall = frame.drop(columns="segment").mean()
    spread = frame.drop(columns="segment").std(ddof=0).replace(0.0, 1.0)
    names = _names(means, overall, spread)
    return [
        {
            "segment": int(s),
            "name": names[s],
            "size": int(sizes[s]),
            "share": float(sizes[s] / len(frame)),
            "profile": {c: round(float(v), 4) for c, v in means.loc[s].items()},
        }
        for s in means.index
    ]


def _names(means: pd.DataFrame, overall: pd.Series, spread: pd.Series) -> dict[int, str]:
    """Each segment is named after the trait that sets it most apart from the average customer.

    Two segments with the same trait keep distinct names through a recency qualifier.
    """
    z = (means - overall) / spread
    traits = pd.DataFrame(
        {
            "one-time buyers": np.where(
                means["share_single_order"] >= ONE_TIME_MAJORITY,
                2.0 * means["share_single_order"],
                -10.0,
            ),
            "frequent commuters": z["frequency"] + z["orders_last_365d"],
            "high-value groups": z["avg_order_value"] + z["mean_tickets"] + z["share_multi_ticket"],
            "seasonal travellers": 2 * z["share_holiday_months"],
            "new customers": -z["tenure_days"] - z["recency_days"],
            "lapsed customers": z["recency_days"] - z["orders_last_365d"],
            "explorers": np.where(
                means["frequency"] >= 2, 2 * z["route_diversity"] - z["frequency"], -10.0
            ),
        },
        index=means.index,
    )
    chosen = {int(s): str(traits.loc[s].idxmax()) for s in means.index}
    recency = dict(zip(means.index.astype(int), means["recency_days"].astype(float), strict=True))
    names: dict[int, str] = {}
    for segment, trait in chosen.items():
        peers = [s for s, t in chosen.items() if t == trait]
        if len(peers) == 1:
            names[segment] = trait
            continue
        by_recency = sorted(peers, key=recency.__getitem__)
        rank = by_recency.index(segment)
        qualifier = (
            "recent" if rank == 0 else "lapsed" if rank == len(peers) - 1 else f"group {rank + 1}"
        )
        names[segment] = f"{trait} ({qualifier})"
    return names
