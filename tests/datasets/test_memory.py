"""Data given in Python: arrays, or a DataFrame holding its target column."""

import numpy as np
import pandas as pd
import pytest

from leantune.datasets import DatasetError, load_memory


def test_arrays_and_a_dataframe_with_its_target_column_load_alike():
    X = np.arange(20.0).reshape(10, 2)
    y = np.array([0, 1] * 5)
    from_arrays = load_memory(X, y)
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "label": y})
    from_frame = load_memory(frame, "label", name="mine")
    assert from_arrays.task == from_frame.task == "classification"
    np.testing.assert_array_equal(from_arrays.X, from_frame.X)
    assert from_frame.feature_names == ["a", "b"] and from_frame.name == "mine"
    assert from_arrays.provenance["source"] == "memory"


def test_a_missing_or_misspelled_target_is_named():
    frame = pd.DataFrame({"a": [1.0, 2.0], "label": [0, 1]})
    with pytest.raises(DatasetError, match=r"dataset.target: .*got 'lable' \(did you mean"):
        load_memory(frame, "lable")
    with pytest.raises(DatasetError, match="source 'memory' needs the target"):
        load_memory(frame)
