"""Share, don't copy: trials read the study's arrays zero-copy from Ray's object store."""

import numpy as np
import pytest

from leantune.datasets import make_splits, make_synthetic
from leantune.engine import SearchRequest, TrainingPlan, TrialData, run_search
from leantune.testing import NeverStop, RecordingObserver

pytestmark = pytest.mark.slow

# 40 MB of features: large enough that a private copy would stand out of any allocator noise.
ROWS, FEATURES = 50_000, 100


@pytest.fixture(scope="module")
def trial_data():
    data = make_synthetic("shared", rows=ROWS, features=FEATURES, task="classification", classes=4)
    splits = make_splits(data, test_size=0.3, cv_folds=2, holdout_size=0.2, seed=0)
    return TrialData(data.X, data.y, data.task, data.n_classes, splits.folds), data.megabytes


def test_a_trial_gets_read_only_views_of_the_shared_arrays(ray_session, trial_data, tmp_path):
    from ray import tune

    data, megabytes = trial_data

    # Defined here so Ray ships it by value: the test module is not importable on a worker.
    def probe(config, data):
        import psutil

        from leantune.metrics import private_memory_mb

        arrays = {"X": data.X, "y": data.y}
        for i, fold in enumerate(data.folds):
            arrays |= {f"train_idx{i}": fold.train_idx, f"val_idx{i}": fold.val_idx}
        before = private_memory_mb(psutil.Process())
        checksum = float(data.X.sum())  # reads every page of X
        rise = private_memory_mb(psutil.Process()) - before
        tune.report(
            {
                "owned": sorted(k for k, a in arrays.items() if a.flags.owndata),
                "writeable": sorted(k for k, a in arrays.items() if a.flags.writeable),
                "rise_mb": rise,
                "checksum": checksum,
            }
        )

    tuner = tune.Tuner(
        tune.with_parameters(probe, data=data),  # as the engine passes TrialData
        param_space={"trial": tune.grid_search([0, 1])},
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 2 and not results.errors
    for result in results:
        metrics = result.metrics
        assert metrics["owned"] == [] and metrics["writeable"] == []
        assert metrics["checksum"] == pytest.approx(float(data.X.sum()))
        # Reading all 40 MB made no private copy: the pages count as shared memory.
        assert metrics["rise_mb"] < 0.1 * megabytes


def test_the_trial_loop_holds_no_copy_of_the_dataset(ray_session, trial_data, tmp_path):
    data, megabytes = trial_data
    request = SearchRequest(
        name="share",
        param_space={
            "model": ["logistic"],
            "batch_size": [2048],
            "learning_rate": [0.01],
            "alpha": [1e-4],
        },
        data=data,
        plan=TrainingPlan(epochs=1, report_every=5),
        storage_dir=tmp_path / "ray",
    )
    (record,) = run_search(request, NeverStop(), RecordingObserver())
    assert record.status == "feasible"
    # The loop read every training and validation row of both folds; a copy of X (or of a
    # fold's rows) would raise its private memory by 20 to 40 MB.
    peak_rise = max(report["memory_rise_mb"] for report in record.reports)
    assert peak_rise < 0.25 * megabytes, np.round([r["memory_rise_mb"] for r in record.reports])
