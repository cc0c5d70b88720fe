"""A real tiny study with each training backend: trials in process, refit, results."""

import json

import pandas as pd
import pytest

import leantune
from leantune.testing import tiny_spec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    runs = {}
    for backend in ("sklearn", "minibatch"):
        root = tmp_path_factory.mktemp(backend)
        spec = leantune.load_spec(
            tiny_spec(
                training={"epochs": 2, "report_every": 10, "seed": 0, "backend": backend},
                # The training backends, not Ray: trials run in this process.
                resources={"backend": "in-process"},
            ),
            [f"output.dir={root / 'run'}"],
        )
        leantune.run(spec, show_progress=False)
        runs[backend] = root / "run"
    return runs


@pytest.mark.parametrize("backend", ["sklearn", "minibatch"])
def test_a_study_runs_end_to_end_with_each_backend(studies, backend):
    run_dir = studies[backend]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status_counts"]["feasible"] == 2
    assert 0.85 < summary["best"]["test"]["test_accuracy"] <= 1.0
    assert f"backend: {backend}" in (run_dir / "spec.yaml").read_text()


def test_batch_size_is_a_learning_axis_only_under_minibatch(studies):
    """scikit-learn updates per sample: the same rows in the same order give the same model at
    any batch size. The minibatch backend updates per batch: the models differ."""
    scores = {}
    for backend, run_dir in studies.items():
        trials = pd.read_csv(run_dir / "trials.csv").set_index("batch_size")
        scores[backend] = trials["cv_score_mean"]
    assert scores["sklearn"][16] == pytest.approx(scores["sklearn"][128], abs=1e-9)
    assert scores["minibatch"][16] != pytest.approx(scores["minibatch"][128], abs=1e-9)
