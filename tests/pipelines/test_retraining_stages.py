"""The plain-Python parts of a retraining that need no ZenML run: data identity and the lock."""

from __future__ import annotations

from pathlib import Path

import pytest

from mingo.data import load_purchases, save_purchases
from mingo.retraining.stages import identify_data
from mingo.retraining_lock import RetrainingInProgressError, retraining_lock
from tests.pipelines.conftest import small_purchases


def test_data_identity_is_the_canonical_content_not_the_file_format(tmp_path: Path) -> None:
    purchases = small_purchases().head(3000)
    save_purchases(purchases, str(tmp_path / "p.csv"))
    save_purchases(purchases, str(tmp_path / "p.parquet"))
    from_csv = identify_data("a", load_purchases(str(tmp_path / "p.csv")))
    from_parquet = identify_data("b", load_purchases(str(tmp_path / "p.parquet")))
    assert from_csv.rows == from_parquet.rows == 3000
    assert from_csv.sha256 == from_parquet.sha256

    changed = purchases.copy()
    changed.loc[changed.index[10], "gmv_success"] += 1.0
    assert identify_data("c", changed).sha256 != identify_data("d", purchases).sha256


def test_second_retraining_of_a_kind_is_refused_while_the_first_holds_the_lock(
    tmp_path: Path,
) -> None:
    with retraining_lock("binary", tmp_path) as lock_path:
        assert lock_path == tmp_path / "locks" / "retrain-binary.lock"
        with (
            pytest.raises(RetrainingInProgressError, match=r"another retraining of binary .*pid"),
            retraining_lock("binary", tmp_path),
        ):
            pass
        # Another KIND is independent.
        with retraining_lock("clustering", tmp_path):
            pass
    with retraining_lock("binary", tmp_path):
        pass
