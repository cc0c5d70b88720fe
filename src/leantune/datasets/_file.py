"""A user's own table: a CSV or Parquet file with a named target column.

Every other column is a feature. Numeric and boolean columns are used as they are; text and
categorical columns are one-hot encoded (one 0/1 column per value), or rejected when the spec
says `categorical: error`. Missing values are an error, not silently dropped or filled.
"""

from __future__ import annotations

import collections
import csv
import difflib
import gzip
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from leantune.datasets._dataset import Dataset
from leantune.datasets._prepare import build_dataset, frame_to_float
from leantune.errors import DatasetError

if TYPE_CHECKING:
    import pandas as pd

# How each suffix is read; `.gz` and other compressions pandas detects on its own.
_FORMATS = {
    ".csv": "csv",
    ".csv.gz": "csv",
    ".tsv": "tsv",
    ".tsv.gz": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
# One-hot encoding makes one column per distinct value: past this many, the column is more likely
# an identifier or free text than a category, and the matrix would balloon.
MAX_ONEHOT_VALUES = 1000
# A header is checked before the table is parsed: a file of a million columns would hold the
# parser for minutes. Far beyond any table leantune trains on (MNIST has 784 features).
MAX_COLUMNS = 50_000
MAX_HEADER_BYTES = 16 << 20


def load_file(
    path: Path | str,
    target: str,
    *,
    categorical: str = "onehot",
    name: str | None = None,
    task: str | None = None,
) -> Dataset:
    """Read `path`, split off `target`, encode or reject non-numeric columns, check the rest."""
    path = Path(path).expanduser()
    kind = _format(path)
    name = name or _stem(path)
    frame = _read(path, kind)
    if target not in frame.columns:
        columns = [str(c) for c in frame.columns]
        close = difflib.get_close_matches(target, columns, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise DatasetError(
            f"dataset.target: must be one of the columns of {str(path)!r}: "
            f"{_names(columns)}; got {target!r}{hint}"
        )
    y = frame[target]
    missing_target = y.isna().to_numpy()
    if missing_target.any():
        raise DatasetError(
            f"dataset.target: column {target!r} of {str(path)!r} is empty in "
            f"{int(missing_target.sum())} rows (first: row {int(np.argmax(missing_target))}); "
            "drop or fill them first"
        )
    features = frame.drop(columns=target)
    _reject_missing(path, features)
    features, encoded = _encode(path, features, categorical)
    columns = [str(c) for c in features.columns]
    return build_dataset(
        name,
        frame_to_float(features, list(features.columns)),
        y.to_numpy(),
        task=task,
        feature_names=columns,
        provenance={
            "source": "file",
            "location": str(path.resolve()),
            "format": kind,
            "target": target,
            "one_hot_columns": encoded,
            "dropped_rows_with_nan": 0,
            "synthetic": False,
        },
    )


def _format(path: Path) -> str:
    suffix = "".join(path.suffixes[-2:]).lower() if len(path.suffixes) > 1 else ""
    kind = _FORMATS.get(suffix) or _FORMATS.get(path.suffix.lower())
    if kind is None:
        raise DatasetError(f"dataset.path: must end in {', '.join(_FORMATS)}; got {str(path)!r}")
    if not path.is_file():
        # A FIFO or device is never read: it could block, or stream without end.
        problem = (
            "is a directory"
            if path.is_dir()
            else "is not a regular file (a FIFO, socket or device)"
            if path.exists()
            else "does not exist"
        )
        raise DatasetError(
            f"dataset.path: must be an existing CSV or Parquet file; got {str(path)!r}, which "
            f"{problem} (relative paths start from {Path.cwd()})"
        )
    return kind


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(_FORMATS, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _read(path: Path, kind: str) -> pd.DataFrame:
    import pandas as pd  # seconds to import: only when a file is read

    _check_columns(path, _parquet_columns(path) if kind == "parquet" else _header(path, kind))
    try:
        if kind == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except ImportError as error:
        raise DatasetError(
            f"dataset.path: reading Parquet needs pyarrow ({error}); pip install pyarrow"
        ) from None
    except (*_READ_ERRORS, pd.errors.ParserError) as error:
        raise DatasetError(_unreadable(path, kind, error)) from None


# What a damaged file raises: pyarrow's ArrowInvalid and pandas' EmptyDataError are
# ValueErrors; a truncated .gz ends in EOFError, a corrupt one in zlib.error.
_READ_ERRORS = (OSError, ValueError, UnicodeDecodeError, EOFError, zlib.error)


def _unreadable(path: Path, kind: str, error: BaseException) -> str:
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"dataset.path: could not read {str(path)!r} as {kind.upper()}: {reason}"


def _header(path: Path, kind: str) -> list[tuple[str, str]]:
    """The column names of a CSV or TSV file, from its first line alone."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            line = stream.readline(MAX_HEADER_BYTES + 1)
    except _READ_ERRORS as error:
        raise DatasetError(_unreadable(path, kind, error)) from None
    if len(line) > MAX_HEADER_BYTES:
        raise DatasetError(
            f"dataset.path: a header line may be at most {MAX_HEADER_BYTES >> 20} MiB; "
            f"{str(path)!r} has a longer one (a file with no line breaks, or too many columns)"
        )
    text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
    names = next(csv.reader([text], delimiter="\t" if kind == "tsv" else ","), [])
    return [(name, "") for name in names]


def _parquet_columns(path: Path) -> list[tuple[str, str]]:
    """The columns of a Parquet file with their types, from its footer alone."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        return []  # _read says which package to install
    try:
        schema = pq.read_schema(path)
    except _READ_ERRORS as error:
        raise DatasetError(_unreadable(path, "parquet", error)) from None
    return [(field.name, _nested(field.type)) for field in schema]


def _nested(kind: object) -> str:
    """The type of a column that holds lists, structs or maps ("" for any other)."""
    import pyarrow as pa

    return str(kind) if pa.types.is_nested(kind) else ""


def _check_columns(path: Path, columns: list[tuple[str, str]]) -> None:
    if len(columns) > MAX_COLUMNS:
        raise DatasetError(
            f"dataset.path: a table may have at most {MAX_COLUMNS:,} columns; "
            f"{str(path)!r} has {len(columns):,}"
        )
    counts = collections.Counter(name for name, _ in columns)
    twice = sorted(name for name, count in counts.items() if count > 1)
    if twice:
        # pandas would rename the second `y` to `y.1` and train on it: the label would leak.
        raise DatasetError(
            f"dataset.path: column names must be unique; {str(path)!r} names "
            f"{_names(twice)} more than once. Rename or drop "
            "the copies"
        )
    nested = [f"{name!r} ({kind})" for name, kind in columns if kind]
    if nested:
        raise DatasetError(
            f"dataset {str(path)!r}: feature columns must be numbers, booleans or text; got "
            f"{', '.join(nested[:5])}{' and more' if len(nested) > 5 else ''}, which hold "
            "lists or records. Flatten them into columns first"
        )


def _reject_missing(path: Path, features: pd.DataFrame) -> None:
    missing = features.isna()
    rows = missing.any(axis=1).to_numpy()
    if rows.any():
        columns = [str(c) for c, n in missing.sum().items() if n]
        raise DatasetError(
            f"dataset {str(path)!r}: features have missing values in {int(rows.sum())} rows "
            f"(first: row {int(np.argmax(rows))}), in columns {_names(columns)}; drop or "
            "impute them first"
        )


def _encode(
    path: Path, features: pd.DataFrame, categorical: str
) -> tuple[pd.DataFrame, dict[str, int]]:
    import pandas as pd

    """Booleans become 0/1; text and categories are one-hot encoded, or rejected."""
    text, other = [], []
    for column, dtype in features.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
            continue
        if (
            isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(dtype)
            or (pd.api.types.is_string_dtype(dtype))
        ):
            text.append(column)
        else:
            other.append(f"{column!r} ({dtype})")
    if other:
        raise DatasetError(
            f"dataset {str(path)!r}: feature columns must be numbers, booleans or text; got "
            f"{', '.join(other)}. Convert them to numbers first"
        )
    if not text:
        return features, {}
    if categorical == "error":
        examples = ", ".join(f"{c!r} (e.g. {features[c].iloc[0]!r})" for c in text[:5])
        more = f" and {len(text) - 5} more" if len(text) > 5 else ""
        raise DatasetError(
            f"dataset.categorical: is 'error', so every feature must be numeric; got text "
            f"columns {examples}{more} in {str(path)!r}. Set categorical: onehot to encode "
            "them, or convert them to numbers first"
        )
    counts = {str(c): int(features[c].nunique()) for c in text}
    too_many = {c: n for c, n in counts.items() if n > MAX_ONEHOT_VALUES}
    if too_many:
        listed = ", ".join(f"{c!r} ({n:,} values)" for c, n in too_many.items())
        raise DatasetError(
            f"dataset {str(path)!r}: one-hot encoding allows at most {MAX_ONEHOT_VALUES:,} "
            f"distinct values a column; got {listed}. An identifier or free text is no "
            "category: drop the column, or encode it as numbers first"
        )
    # Values as text, so 1 and "1" in one object column make one category, not two.
    as_text = features.astype({c: str for c in text})
    encoded = pd.get_dummies(as_text, columns=text, prefix_sep="=", dtype=np.float64)
    return encoded, counts


def _names(columns: list[str], shown: int = 10) -> str:
    listed = ", ".join(repr(c) for c in columns[:shown])
    return listed + (f", … ({len(columns)} in all)" if len(columns) > shown else "")
