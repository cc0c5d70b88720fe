"""The `dataset` section of a study: which keys each source takes, and the errors for the rest."""

import pytest

from leantune import SpecError, load_spec
from leantune.spec import dump_spec
from leantune.testing import tiny_spec


def _dataset(**section):
    return load_spec(tiny_spec(dataset=section)).dataset


def _problems(**section):
    with pytest.raises(SpecError) as error:
        load_spec(tiny_spec(dataset=section))
    return error.value.problems


def test_the_source_follows_from_the_keys_when_it_is_left_out():
    assert _dataset(name="iris").source == "sklearn"
    assert _dataset(path="data.csv", target="y").source == "file"
    assert _dataset(synthetic_like="mnist").source == "synthetic"


def test_a_spec_with_an_inferred_source_dumps_and_loads_to_the_same_spec(tmp_path):
    spec = load_spec(tiny_spec(dataset={"synthetic_like": "mnist", "seed": 4}))
    path = tmp_path / "again.yaml"
    path.write_text(dump_spec(spec))
    assert load_spec(path) == spec


def test_a_stand_in_cannot_pass_for_the_real_set():
    (line,) = _problems(source="pmlb", name="mnist", synthetic_like="mnist")
    assert (
        "dataset.synthetic_like: applies only to source 'synthetic'; got it with source 'pmlb'"
        in (line)
    )
    assert "never passes for the real set" in line
    (line,) = _problems(synthetic_like="mnist", name="mnist")
    assert "dataset.name: applies only to source 'sklearn', 'pmlb', 'file' or 'memory'" in line


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"source": "pmlb"}, "dataset.name: is required for source 'pmlb'"),
        ({"path": "a.csv"}, "dataset.target: is required for source 'file' (the column"),
        ({"source": "file", "target": "y"}, "dataset.path: is required for source 'file'"),
        ({"source": "synthetic"}, "dataset.synthetic_like: is required for source 'synthetic'"),
        ({"name": "iris", "target": "y"}, "dataset.target: applies only to source 'file'"),
        ({"name": "iris", "seed": 1}, "dataset.seed: applies only to source 'synthetic'"),
        (
            {"name": "iris", "cache_dir": "/x"},
            "dataset.cache_dir: applies only to source 'pmlb' or 'synthetic'",
        ),
        (
            {"path": "a.csv", "target": "y", "categorical": "drop"},
            "dataset.categorical: must be 'onehot' or 'error'; got 'drop'",
        ),
        (
            {"source": "csv", "name": "x"},
            "dataset.source: must be 'sklearn', 'pmlb', 'file', 'synthetic' or",
        ),
    ],
)
def test_each_misplaced_or_missing_key_is_named(section, expected):
    problems = _problems(**section)
    assert any(expected in line for line in problems), problems
