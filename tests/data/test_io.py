"""Loading and saving purchases: CSV variants, Parquet, local paths and a real S3 server."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest

from mingo.config import S3Settings, load_settings
from mingo.data import schema
from mingo.data.errors import DataError, DataUnavailableError, DataValidationError
from mingo.data.io import load_purchases, save_purchases
from tests.data.files import (
    edit_csv_rows,
    set_field,
    small_purchases,
    write_day_first_semicolon_csv,
    write_parquet_with_nested_column,
    write_standard_csv,
)
from tests.fixtures.services import S3Server


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return small_purchases()


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_local_round_trip_gives_the_same_frame(
    purchases: pd.DataFrame, tmp_path: Path, suffix: str
) -> None:
    target = tmp_path / "nested" / f"purchases{suffix}"
    save_purchases(purchases, str(target))
    pd.testing.assert_frame_equal(load_purchases(str(target)), purchases)


def test_csv_is_written_like_the_real_file(purchases: pd.DataFrame, tmp_path: Path) -> None:
    path = write_standard_csv(purchases, tmp_path / "purchases.csv")
    header, first_row = path.read_text().splitlines()[:2]
    assert header == ",".join(schema.COLUMNS)
    fields = dict(zip(schema.COLUMNS, first_row.split(","), strict=True))
    assert fields[schema.DATE] == purchases[schema.DATE].iloc[0].strftime("%Y-%m-%d")
    assert '"' not in first_row


def test_sentinel_ids_stay_strings(purchases: pd.DataFrame, tmp_path: Path) -> None:
    loaded = load_purchases(str(write_standard_csv(purchases, tmp_path / "p.csv")))
    one_way = loaded[schema.RETURN_ORIGIN] == schema.NO_RETURN_PLACE
    assert one_way.sum() > 0.9 * len(loaded)
    sentinel = loaded.loc[one_way, schema.RETURN_COMPANY] == schema.NO_RETURN_COMPANY
    assert sentinel.mean() > 0.95  # the rest: one-way orders with a company id, kept as is
    pd.testing.assert_series_equal(loaded[schema.RETURN_COMPANY], purchases[schema.RETURN_COMPANY])
    assert pd.api.types.is_string_dtype(loaded[schema.RETURN_COMPANY])


def test_semicolon_day_first_variant_loads_to_the_same_frame(
    purchases: pd.DataFrame, tmp_path: Path
) -> None:
    standard = load_purchases(str(write_standard_csv(purchases, tmp_path / "standard.csv")))
    variant_path = write_day_first_semicolon_csv(purchases, tmp_path / "variant.csv")
    assert ";" in variant_path.read_text().splitlines()[1]
    pd.testing.assert_frame_equal(load_purchases(str(variant_path)), standard)


def test_missing_file_names_the_uri(tmp_path: Path) -> None:
    missing = tmp_path / "absent.csv"
    with pytest.raises(DataError, match=r"absent\.csv: no such file"):
        load_purchases(str(missing))


def test_unsupported_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "purchases.json"
    path.write_text("{}")
    with pytest.raises(DataError, match=r"unsupported format '\.json'"):
        load_purchases(str(path))


def test_rejected_file_raises_with_column_rule_and_rows(
    purchases: pd.DataFrame, tmp_path: Path
) -> None:
    source = write_standard_csv(purchases, tmp_path / "good.csv")
    broken = edit_csv_rows(source, tmp_path / "bad.csv", [2, 9], set_field(schema.TIME, "25:61"))
    with pytest.raises(DataValidationError) as raised:
        load_purchases(str(broken))
    assert "column 'time_purchase': rule 'time parses as HH:MM:SS': 2 rows, first rows 2, 9" in (
        str(raised.value)
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_s3_without_endpoint_says_what_to_set() -> None:
    with pytest.raises(DataError, match="MINGO_S3_ENDPOINT_URL or MLFLOW_S3_ENDPOINT_URL"):
        load_purchases("s3://bucket/purchases.csv")


def test_unreachable_s3_endpoint_is_named() -> None:
    endpoint = f"http://127.0.0.1:{_free_port()}"
    s3 = S3Settings(endpoint_url=endpoint, access_key_id="key", secret_access_key="secret")
    with pytest.raises(
        DataUnavailableError, match=f"s3://bucket/p.csv: S3 endpoint {endpoint} unreachable"
    ) as raised:
        load_purchases("s3://bucket/p.csv", s3)
    # An outage is retryable: it must never be taken for bad data.
    assert not isinstance(raised.value, DataError)
    with pytest.raises(DataUnavailableError, match="unreachable"):
        save_purchases(small_purchases().head(3), "s3://bucket/p.parquet", s3)


def test_s3_round_trip_and_errors(s3_server: S3Server, purchases: pd.DataFrame) -> None:
    # The settings the environment of a pod would give (load_settings reads nothing else).
    s3 = load_settings(s3_server.env()).data_s3
    bucket = s3_server.make_bucket("mingo-data-io")

    for suffix in (".csv", ".parquet"):
        uri = f"s3://{bucket}/purchases/round-trip{suffix}"
        save_purchases(purchases, uri, s3)
        pd.testing.assert_frame_equal(load_purchases(uri, s3), purchases)
    stored = s3_server.client().stat_object(bucket, "purchases/round-trip.csv")
    assert stored.size is not None and stored.size > 100 * len(purchases)

    with pytest.raises(DataError, match=f"no object 'absent.csv' in bucket '{bucket}'"):
        load_purchases(f"s3://{bucket}/absent.csv", s3)
    with pytest.raises(DataError, match="bucket 'no-such-bucket' does not exist"):
        load_purchases("s3://no-such-bucket/purchases.csv", s3)
    with pytest.raises(DataError, match="bucket 'no-such-bucket' does not exist"):
        save_purchases(purchases, "s3://no-such-bucket/purchases.csv", s3)
    wrong_secret = s3.model_copy(update={"secret_access_key": s3_server.secret_key + "x"})
    with pytest.raises(DataError, match="AWS_SECRET_ACCESS_KEY does not match"):
        load_purchases(f"s3://{bucket}/purchases/round-trip.csv", wrong_secret)


def test_files_written_by_pandas_load_to_the_same_frame(
    purchases: pd.DataFrame, tmp_path: Path
) -> None:
    purchases.to_parquet(tmp_path / "pandas.parquet")
    purchases.to_csv(tmp_path / "pandas.csv", index=False)
    pd.testing.assert_frame_equal(load_purchases(str(tmp_path / "pandas.parquet")), purchases)
    pd.testing.assert_frame_equal(load_purchases(str(tmp_path / "pandas.csv")), purchases)


def test_windows_line_endings_and_byte_order_mark_are_accepted(
    purchases: pd.DataFrame, tmp_path: Path
) -> None:
    standard = write_standard_csv(purchases, tmp_path / "standard.csv")
    windows = tmp_path / "windows.csv"
    windows.write_bytes(b"\xef\xbb\xbf" + standard.read_bytes().replace(b"\n", b"\r\n"))
    pd.testing.assert_frame_equal(load_purchases(str(windows)), purchases)


def test_package_exports_the_entry_points() -> None:
    import mingo.data

    assert mingo.data.load_purchases is load_purchases
    assert mingo.data.save_purchases is save_purchases
    with pytest.raises(AttributeError, match="no attribute 'load'"):
        _ = mingo.data.load  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("column", "kind", "type_name"),
    [
        (schema.GMV, "list", "list<element: double>"),
        (schema.CUSTOMER_ID, "binary", "binary"),
        (schema.ORIGIN, "struct", "struct<value: string>"),
    ],
)
def test_parquet_columns_without_a_text_form_are_rejected_by_name(
    purchases: pd.DataFrame, tmp_path: Path, column: str, kind: str, type_name: str
) -> None:
    path = write_parquet_with_nested_column(purchases, tmp_path / "nested.parquet", column, kind)
    with pytest.raises(DataValidationError) as raised:
        load_purchases(str(path))
    problems = raised.value.report.rejecting_problems()
    # Named once, with its type; its cells are not judged again value by value.
    assert [(p.column, p.rule) for p in problems] == [
        (column, f"column holds text, numbers or dates, not {type_name}")
    ]
