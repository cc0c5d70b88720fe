"""`leantune.load` on a run directory someone edited runs nothing: it reads the model only as
leantune wrote it (skops, scikit-learn's and leantune's types), and says so in one line."""

from __future__ import annotations

import json
import pickle
import shutil

import pytest
import yaml

import leantune
from leantune.errors import LeantuneError
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow


class _Planted:
    """Unpickling this creates a file: what a crafted model.pkl could do with os.system."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    spec = tiny_spec(output={"dir": str(root / "run"), "report": False})
    spec["search"]["space"]["batch_size"] = [16]
    return leantune.run(leantune.load_spec(spec), show_progress=False).run_dir


def test_an_untouched_run_directory_loads_its_model(run_dir):
    assert leantune.load(run_dir).best_estimator is not None


def test_a_run_directory_tampered_to_pickle_is_refused_and_runs_nothing(run_dir, tmp_path):
    tampered = shutil.copytree(run_dir, tmp_path / "tampered")
    marker = tmp_path / "planted-code-ran"
    model = tampered / "model"
    mlmodel = yaml.safe_load((model / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"].update(serialization_format="cloudpickle", pickled_model="m.pkl")
    (model / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    (model / "m.pkl").write_bytes(pickle.dumps(_Planted(str(marker))))

    with pytest.raises(LeantuneError) as refused:
        leantune.load(tampered)

    assert not marker.exists()
    [line] = refused.value.problems
    assert "serialization_format must be 'skops'" in line and "trust=True" in line


def test_a_summary_pointing_the_model_elsewhere_is_refused(run_dir, tmp_path):
    tampered = shutil.copytree(run_dir, tmp_path / "tampered")
    summary = json.loads((tampered / "summary.json").read_text())
    summary["best"]["model"] = str(tmp_path / "elsewhere")
    (tampered / "summary.json").write_text(json.dumps(summary))

    with pytest.raises(LeantuneError, match="best.model must be a folder inside the run"):
        leantune.load(tampered)
