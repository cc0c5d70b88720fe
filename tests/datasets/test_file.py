"""A user's CSV or Parquet file with a named target column."""

import numpy as np
import pandas as pd
import pytest

from leantune.datasets import _file, load_dataset, load_file
from leantune.errors import DatasetError
from leantune.spec import DatasetSpec


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "size": rng.normal(size=12),
            "count": np.arange(12),
            "color": ["red", "green", "blue"] * 4,
            "fresh": [True, False] * 6,
            "label": ["yes", "no", "no", "yes"] * 3,
        }
    )


def test_a_csv_loads_with_text_columns_one_hot_encoded(tmp_path, table):
    path = tmp_path / "fruit.csv"
    table.to_csv(path, index=False)
    data = load_dataset(DatasetSpec(path=path, target="label"))  # source inferred: file
    assert data.name == "fruit" and data.task == "classification"
    assert data.classes.tolist() == ["no", "yes"]
    assert data.X.shape == (12, 6) and data.X.dtype == np.float64 and data.X.flags.c_contiguous
    assert data.feature_names == [
        "size",
        "count",
        "fresh",
        "color=blue",
        "color=green",
        "color=red",
    ]
    np.testing.assert_array_equal(data.X[:3, 3:], np.eye(3)[[2, 1, 0]])
    assert data.provenance["one_hot_columns"] == {"color": 3}
    assert data.provenance["source"] == "file" and data.provenance["synthetic"] is False
    assert data.provenance["location"] == str(path.resolve())


def test_a_parquet_file_keeps_its_types(tmp_path, table):
    table["color"] = table["color"].astype("category")
    path = tmp_path / "fruit.parquet"
    table.to_parquet(path)
    data = load_file(path, "size", name="mine")
    assert data.name == "mine" and data.task == "regression"
    assert data.X.shape == (12, 7)  # count, fresh, and 3 + 2 one-hot columns
    assert data.provenance["format"] == "parquet"
    assert data.provenance["one_hot_columns"] == {"color": 3, "label": 2}
    np.testing.assert_allclose(data.y, table["size"])


def test_a_gzipped_tsv_is_read_and_named_after_its_stem(tmp_path, table):
    path = tmp_path / "fruit.tsv.gz"
    table.to_csv(path, sep="\t", index=False)
    assert load_file(path, "label").name == "fruit"


def test_text_columns_are_rejected_when_asked(tmp_path, table):
    path = tmp_path / "fruit.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DatasetError) as error:
        load_dataset(DatasetSpec(path=path, target="label", categorical="error"))
    message = str(error.value)
    assert message.startswith("dataset.categorical: is 'error', so every feature must be numeric")
    assert "'color' (e.g. 'red')" in message and "categorical: onehot" in message


def test_a_missing_target_column_names_the_columns_and_the_closest(tmp_path, table):
    path = tmp_path / "fruit.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DatasetError) as error:
        load_file(path, "lable")
    message = str(error.value)
    assert message.startswith("dataset.target: must be one of the columns of")
    assert "'size', 'count', 'color', 'fresh', 'label'; got 'lable' (did you mean 'label'?)" in (
        message
    )


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("absent.csv", None, "dataset.path: must be an existing CSV or Parquet file; got .* not"),
        ("table.xlsx", b"", "dataset.path: must end in .csv, .csv.gz, .tsv"),
        ("broken.parquet", b"PAR1 not really", "dataset.path: could not read .* as PARQUET"),
        ("empty.csv", b"", "dataset.path: could not read .* as CSV"),
        ("bad.csv", b"a,b\n\xff\xfe,1\n", "dataset.path: could not read .* as CSV"),
    ],
)
def test_a_file_that_cannot_be_read_is_a_clear_error(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(DatasetError, match=expected):
        load_file(path, "b")


def test_missing_values_are_errors_naming_rows_and_columns(tmp_path, table):
    table.loc[[4, 7], "size"] = np.nan
    table.loc[7, "color"] = None
    path = tmp_path / "holes.csv"
    table.to_csv(path, index=False)
    with pytest.raises(
        DatasetError,
        match=r"missing values in 2 rows \(first: row 4\), in "
        r"columns 'size', 'color'",
    ):
        load_file(path, "label")
    table = table.dropna()
    table.loc[table.index[2], "label"] = None
    table.to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"dataset.target: column 'label' .* empty in 1 rows"):
        load_file(path, "label")


def test_a_header_only_file_is_an_empty_set(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("a,b,label\n")
    with pytest.raises(DatasetError, match=r"is empty \(0 rows"):
        load_file(path, "label")


def test_infinite_values_are_rejected(tmp_path):
    path = tmp_path / "inf.csv"
    pd.DataFrame({"a": [1.0, np.inf, 2.0, 3.0], "label": [0, 1, 0, 1]}).to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"NaN or inf in 1 rows \(first: row 1\)"):
        load_file(path, "label")


def test_an_identifier_column_is_not_one_hot_encoded(tmp_path, table, monkeypatch):
    monkeypatch.setattr(_file, "MAX_ONEHOT_VALUES", 5)
    table["id"] = [f"row-{i}" for i in range(12)]
    path = tmp_path / "ids.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DatasetError, match=r"at most 5 distinct values a column; got 'id' \(12"):
        load_file(path, "label")


def test_a_single_class_target_is_rejected(tmp_path, table):
    table["label"] = "yes"
    path = tmp_path / "one.csv"
    table.to_csv(path, index=False)
    with pytest.raises(DatasetError, match="at least 2 classes"):
        load_file(path, "label")
