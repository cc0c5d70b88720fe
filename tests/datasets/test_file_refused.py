# ruff: noqa: E501  (a table of cases, one a line)
"""Issue 24: data files that hung the check, leaked the label, or ended in a traceback. Each is
refused with one line naming the file and the limit, before pandas parses the table."""

from __future__ import annotations

import gzip
import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from leantune.datasets import load_file
from leantune.errors import DatasetError

ROWS = "".join(f"{i % 7 / 7:.3f},{i % 2}\n" for i in range(40))


def _csv(text: str) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / "data.csv"
        path.write_text(text)
        return path

    return write


def _gz(payload: bytes, keep: float = 1.0) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        packed = io.BytesIO()
        with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as stream:
            stream.write(payload)
        data = packed.getvalue()
        path = directory / "data.csv.gz"
        path.write_bytes(data[: int(len(data) * keep)])
        return path

    return write


def _parquet(table: pa.Table) -> Callable[[Path], Path]:
    def write(directory: Path) -> Path:
        path = directory / "data.parquet"
        pq.write_table(table, path)
        return path

    return write


def _frame(**columns: list) -> pa.Table:
    return pa.Table.from_pandas(pd.DataFrame({**columns, "y": [0, 1] * 10}))


LONG_TABLE = ("a,b,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(5000))).encode()
CASES = {
    # Duplicate names: pandas renames the second `y` to `y.1`, a feature holding the label.
    "duplicate-target": (_csv("a,y,y\n" + "".join(f"{i},{i % 2},{i % 2}\n" for i in range(40))), "names 'y' more than once"),
    "duplicate-feature": (_csv("a,a,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(40))), "names 'a' more than once"),
    "duplicate-three-times": (_csv("a,a,a,y\n" + "".join(f"1,2,3,{i % 2}\n" for i in range(40))), "names 'a' more than once"),
    "duplicate-gz": (_gz(b"a,y,y\n" + ROWS.replace("\n", ",1\n").encode()), "names 'y' more than once"),
    "duplicate-parquet": (_parquet(pa.table([[1.0] * 4, [2.0] * 4, [0, 1] * 2], names=["a", "a", "y"])), "names 'a' more than once"),
    # Nested Parquet columns: pandas' unique() raised TypeError: unhashable type.
    "parquet-list": (_parquet(_frame(v=[[1, 2]] * 20)), "'v' (list<element: int64>)"),
    "parquet-struct": (_parquet(_frame(v=[{"p": 1, "q": 2}] * 20)), "which hold lists or records"),
    "parquet-list-of-text": (_parquet(_frame(v=[["a", "b"]] * 20)), "list<element: string>"),
    "parquet-nested-list": (_parquet(_frame(v=[[[1], [2]]] * 20)), "which hold lists or records"),
    "parquet-map": (_parquet(pa.table({"v": pa.array([[("k", 1)]] * 4, type=pa.map_(pa.string(), pa.int64())), "y": [0, 1, 0, 1]})), "map<string, int64"),
    # Damaged compression: a truncated .gz ended in click's "Aborted." (EOFError), exit 1.
    "gz-truncated": (_gz(LONG_TABLE, keep=0.5), "data.csv.gz' as CSV: Compressed file ended"),
    "gz-truncated-in-header": (_gz(LONG_TABLE, keep=0.02), "data.csv.gz' as CSV"),
    "gz-empty-file": (_gz(b"", keep=0.0), "data.csv.gz' as CSV"),
    "gz-not-gzip": (lambda d: (d / "data.csv.gz").write_text("a,y\n1,0\n") and d / "data.csv.gz", "data.csv.gz' as CSV"),
    "gz-corrupt": (lambda d: (d / "data.csv.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 200) and d / "data.csv.gz", "data.csv.gz' as CSV"),
    # Headers parsed in full hung for minutes.
    "a-million-columns": (_gz((",".join(f"c{i}" for i in range(1_000_000)) + ",y\n").encode()), "has 1,000,001"),
    "just-past-the-limit": (_gz((",".join(["x"] * 50_000) + ",y\n").encode()), "has 50,001"),
    "a-header-without-line-breaks": (_gz(b"x," * (9 << 20)), "a header line may be at most 16 MiB"),
    "a-wide-parquet": (_parquet(pa.table({f"c{i}": [1.0] for i in range(50_001)})), "has 50,001"),
    "a-wide-tsv": (lambda d: (d / "data.tsv").write_text("\t".join(["x"] * 60_000) + "\n") and d / "data.tsv", "has 60,000"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
def test_a_faulty_data_file_is_refused_in_one_line(case, tmp_path):
    write, expected = CASES[case]
    path = write(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(DatasetError) as refused:
        load_file(path, "y")

    [line] = refused.value.problems
    assert expected in line and "\n" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_table_with_unique_names_still_loads(tmp_path):
    (tmp_path / "ok.csv").write_text("a,a.1,y\n" + "".join(f"{i},{i},{i % 2}\n" for i in range(40)))
    assert load_file(tmp_path / "ok.csv", "y").X.shape == (40, 2)
