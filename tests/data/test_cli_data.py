"""`mingo data generate` and `mingo data validate` through the real Typer application."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from mingo.cli.app import app
from mingo.data import schema
from mingo.data.io import load_purchases
from mingo.data.rules import RULE_GMV_IN_RANGE, RULE_RETURN_LEG_CONSISTENT
from tests.data.files import (
    edit_csv_rows,
    set_field,
    small_purchases,
    write_parquet_with_nested_column,
    write_standard_csv,
)
from tests.fixtures.services import (
    S3Server,
    service_work_dir,
    start_s3_server,
    stop_process_group,
)

runner = CliRunner()


def mingo(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


@pytest.fixture(scope="module")
def clean_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("clean")
    return write_standard_csv(small_purchases(), directory / "purchases.csv")


def test_generate_writes_csv_and_parquet_that_validate(tmp_path: Path) -> None:
    for suffix in (".csv", ".parquet"):
        target = tmp_path / f"out{suffix}"
        result = mingo(
            "data", "generate", "--customers", "120", "--seed", "4", "--out", str(target)
        )
        assert result.exit_code == 0, result.output
        frame = load_purchases(str(target))
        assert f"wrote {len(frame):,} rows, 120 customers" in result.stdout
        assert frame[schema.CUSTOMER_ID].nunique() == 120
        validated = mingo("data", "validate", str(target))
        assert validated.exit_code == 0, validated.output
        assert f"valid: {len(frame):,} rows, {len(frame):,} usable, 0 dropped" in (validated.stdout)


def test_generate_with_dirty_rows_reports_them_as_dropped(tmp_path: Path) -> None:
    target = tmp_path / "dirty.csv"
    generated = mingo(
        "data", "generate", "--customers", "200", "--out", str(target), "--dirty-rows", "12"
    )
    assert generated.exit_code == 0, generated.output
    validated = mingo("data", "validate", str(target))
    assert validated.exit_code == 0
    assert "12 dropped" in validated.stdout
    assert "dropped: column 'place_destination_departure': rule 'destination differs" in (
        validated.stdout
    )


def test_generate_rejects_an_unsupported_target(tmp_path: Path) -> None:
    result = mingo("data", "generate", "--customers", "5", "--out", str(tmp_path / "x.txt"))
    assert result.exit_code == 1
    assert "unsupported format '.txt'" in result.stderr


@dataclass(frozen=True)
class Corruption:
    name: str
    make: Callable[[Path, Path], Path]  # (clean csv, target) -> corrupted file
    expected: str  # text stderr (or stdout for drops) must contain


def _edit(rows: list[int], column: str, value: str) -> Callable[[Path, Path], Path]:
    return lambda source, target: edit_csv_rows(source, target, rows, set_field(column, value))


def _drop_column(source: Path, target: Path) -> Path:
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.drop(columns=[schema.GMV]).to_csv(target, index=False)
    return target


def _add_column(source: Path, target: Path) -> Path:
    frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    frame.assign(channel="app").to_csv(target, index=False)
    return target


def _empty(source: Path, target: Path) -> Path:
    target.write_text("")
    return target


def _header_only(source: Path, target: Path) -> Path:
    target.write_text(source.read_text().splitlines()[0] + "\n")
    return target


def _duplicate_ids(source: Path, target: Path) -> Path:
    lines = source.read_text().splitlines()
    order_id = lines[3].split(",")[0]
    lines[7] = ",".join([order_id, *lines[7].split(",")[1:]])
    target.write_text("\n".join(lines) + "\n")
    return target


def _short_row(source: Path, target: Path) -> Path:
    lines = source.read_text().splitlines()
    lines[6] = ",".join(lines[6].split(",")[:-2])
    target.write_text("\n".join(lines) + "\n")
    return target


def _bad_return_leg(record: dict[str, str]) -> dict[str, str]:
    return {**record, schema.RETURN_DESTINATION: record[schema.ORIGIN]}


def _loop_trip(record: dict[str, str]) -> dict[str, str]:
    return {**record, schema.DESTINATION: record[schema.ORIGIN]}


REJECTED = [
    Corruption("missing column", _drop_column, "column 'gmv_success': rule 'column present'"),
    Corruption(
        "extra column", _add_column, "column 'channel': rule 'column belongs to the schema'"
    ),
    Corruption("empty file", _empty, "file: rule 'file has a header and at least one data row'"),
    Corruption(
        "header only", _header_only, "file: rule 'file has a header and at least one data row'"
    ),
    Corruption(
        "bad date",
        _edit([5, 17, 22], schema.DATE, "2021-02-30"),
        "column 'date_purchase': rule 'date parses as YYYY-MM-DD or DD/MM/YYYY': "
        "3 rows, first rows 5, 17, 22",
    ),
    Corruption(
        "bad time",
        _edit([3], schema.TIME, "12h30"),
        "column 'time_purchase': rule 'time parses as HH:MM:SS': 1 row, first rows 3",
    ),
    Corruption(
        "non-numeric gmv",
        _edit([2, 4], schema.GMV, "R$ 10"),
        "column 'gmv_success': rule 'gmv is a number': 2 rows, first rows 2, 4",
    ),
    Corruption(
        "non-integer tickets",
        _edit([9], schema.TICKETS, "two"),
        "column 'total_tickets_quantity_success': rule 'tickets is a whole number': 1 row",
    ),
    Corruption(
        "duplicate order ids",
        _duplicate_ids,
        "column 'nk_ota_localizer_id': rule 'order id is unique': 2 rows, first rows 3, 7",
    ),
    Corruption(
        "future date",
        _edit([11], schema.DATE, "2999-01-01"),
        "column 'date_purchase': rule 'date is not in the future': 1 row, first rows 11",
    ),
    Corruption(
        "wrong field count",
        _short_row,
        "file: rule 'row has as many fields as the header': 1 row, first rows 6",
    ),
    Corruption(
        "gmv above the bound",
        _edit([3], schema.GMV, "250000.0"),
        f"column 'gmv_success': rule '{RULE_GMV_IN_RANGE}': 1 row, first rows 3",
    ),
    Corruption(
        "empty return company",
        _edit([5], schema.RETURN_COMPANY, ""),
        "column 'fk_return_ota_bus_company': rule 'value present': 1 row, first rows 5",
    ),
    Corruption(
        "empty customer id",
        _edit([8], schema.CUSTOMER_ID, ""),
        "column 'fk_contact': rule 'value present': 1 row, first rows 8",
    ),
]

DROPPED = [
    Corruption(
        "negative gmv",
        _edit([4, 6], schema.GMV, "-35.9"),
        "dropped: column 'gmv_success': rule 'gmv > 0': 2 rows, first rows 4, 6",
    ),
    Corruption(
        "tickets < 1",
        _edit([10], schema.TICKETS, "0"),
        "dropped: column 'total_tickets_quantity_success': rule 'tickets >= 1': 1 row",
    ),
    Corruption(
        "bad return sentinels",
        lambda source, target: edit_csv_rows(source, target, [12, 13], _bad_return_leg),
        f"dropped: column 'place_origin_return': rule '{RULE_RETURN_LEG_CONSISTENT}': "
        "2 rows, first rows 12, 13",
    ),
    Corruption(
        "origin == destination",
        lambda source, target: edit_csv_rows(source, target, [1], _loop_trip),
        "dropped: column 'place_destination_departure': rule 'destination differs from "
        "origin': 1 row, first rows 1",
    ),
]


@pytest.mark.parametrize("corruption", REJECTED, ids=lambda c: c.name)
def test_rejected_file_exits_2_naming_column_rule_and_rows(
    corruption: Corruption, clean_csv: Path, tmp_path: Path
) -> None:
    corrupted = corruption.make(clean_csv, tmp_path / "corrupted.csv")
    result = mingo("data", "validate", str(corrupted))
    assert result.exit_code == 2, result.output
    assert corruption.expected in result.stderr
    assert "rejected" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("corruption", DROPPED, ids=lambda c: c.name)
def test_dirty_rows_are_dropped_and_counted(
    corruption: Corruption, clean_csv: Path, tmp_path: Path
) -> None:
    corrupted = corruption.make(clean_csv, tmp_path / "dirty.csv")
    result = mingo("data", "validate", str(corrupted))
    assert result.exit_code == 0, result.output
    assert corruption.expected in result.stdout


def test_missing_file_exits_2_without_traceback(tmp_path: Path) -> None:
    result = mingo("data", "validate", str(tmp_path / "nowhere.csv"))
    assert result.exit_code == 2
    assert f"{tmp_path / 'nowhere.csv'}: no such file" in result.stderr
    assert "Traceback" not in result.output


def test_generate_and_validate_on_s3(s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.make_bucket("mingo-data-cli")
    env = {**s3_server.env(), "MINGO_S3_ENDPOINT_URL": s3_server.endpoint_url}
    uri = f"s3://{bucket}/generated/purchases.parquet"
    generated = mingo("data", "generate", "--customers", "80", "--out", uri, env=env)
    assert generated.exit_code == 0, generated.output
    assert "80 customers" in generated.stdout
    validated = mingo("data", "validate", uri, env=env)
    assert validated.exit_code == 0, validated.output
    assert "0 dropped" in validated.stdout
    missing = mingo("data", "validate", f"s3://{bucket}/absent.csv", env=env)
    assert missing.exit_code == 2
    assert f"no object 'absent.csv' in bucket '{bucket}'" in missing.stderr


def test_one_way_orders_with_a_return_company_id_are_usable_rows(
    clean_csv: Path, tmp_path: Path
) -> None:
    def one_way_with_company(record: dict[str, str]) -> dict[str, str]:
        return {
            **record,
            schema.RETURN_ORIGIN: schema.NO_RETURN_PLACE,
            schema.RETURN_DESTINATION: schema.NO_RETURN_PLACE,
            schema.RETURN_COMPANY: record[schema.COMPANY],
        }

    edited = edit_csv_rows(clean_csv, tmp_path / "noisy.csv", [2, 4, 6], one_way_with_company)
    rows = len(load_purchases(str(edited)))
    result = mingo("data", "validate", str(edited))
    assert result.exit_code == 0, result.output
    assert f"valid: {rows:,} rows, {rows:,} usable, 0 dropped" in result.stdout


@pytest.mark.parametrize(
    ("kind", "type_name"), [("list", "list<element: double>"), ("binary", "binary")]
)
def test_nested_parquet_column_exits_2_from_validate_and_evaluate(
    kind: str, type_name: str, tmp_path: Path
) -> None:
    path = write_parquet_with_nested_column(
        small_purchases(), tmp_path / f"{kind}.parquet", schema.GMV, kind
    )
    expected = f"column 'gmv_success': rule 'column holds text, numbers or dates, not {type_name}'"
    for command in (["data", "validate"], ["evaluate", "binary", "--data"]):
        result = mingo(*command, str(path))
        assert result.exit_code == 2, (command, result.output)
        assert expected in result.stderr, command
        assert "Traceback" not in result.output


def test_evaluate_exits_2_on_gmv_out_of_range(clean_csv: Path, tmp_path: Path) -> None:
    path = _edit([4], schema.GMV, "1e9")(clean_csv, tmp_path / "huge-gmv.csv")
    result = mingo("evaluate", "binary", "--data", str(path))
    assert result.exit_code == 2, result.output
    assert f"column 'gmv_success': rule '{RULE_GMV_IN_RANGE}': 1 row, first rows 4" in (
        result.stderr
    )


def test_s3_server_down_exits_1_and_a_bad_file_exits_2(tmp_path: Path) -> None:
    """A SeaweedFS server of its own, stopped mid-test: the outage is retryable (exit 1),
    while a bad file on a healthy server is bad data (exit 2)."""
    work_dir = service_work_dir("mingo-s3-down-")
    server = start_s3_server(work_dir)
    try:
        bucket = server.make_bucket("mingo-outage")
        env = {**server.env(), "MINGO_S3_ENDPOINT_URL": server.endpoint_url}
        good, bad = f"s3://{bucket}/purchases.csv", f"s3://{bucket}/bad.parquet"
        generated = mingo("data", "generate", "--customers", "60", "--out", good, env=env)
        assert generated.exit_code == 0, generated.output
        local_bad = write_parquet_with_nested_column(
            small_purchases(), tmp_path / "bad.parquet", schema.GMV, "list"
        )
        server.client().fput_object(bucket, "bad.parquet", str(local_bad))
        assert mingo("data", "validate", good, env=env).exit_code == 0
        for command in (["data", "validate", bad], ["evaluate", "binary", "--data", bad]):
            result = mingo(*command, env=env)
            assert result.exit_code == 2, (command, result.output)
            assert "column 'gmv_success'" in result.stderr
    finally:
        stop_process_group(server.process)
        shutil.rmtree(work_dir, ignore_errors=True)

    for command in (["data", "validate", good], ["evaluate", "binary", "--data", good]):
        result = mingo(*command, env=env)
        assert result.exit_code == 1, (command, result.output)
        assert f"S3 endpoint {server.endpoint_url} unreachable" in result.stderr
        assert "retry later" in result.stderr
        assert "Traceback" not in result.output
