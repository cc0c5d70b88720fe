"""examples/custom_trainable.py: a training function of one's own, on data given in memory,
gets the system metrics, the limits, tracking, the ledger and the report."""

import importlib.util
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "custom_trainable.py"


@pytest.fixture
def example():
    import ray.cloudpickle

    spec = importlib.util.spec_from_file_location("custom_trainable", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_trainable"] = module
    spec.loader.exec_module(module)
    # Run as a script, its function would travel to Ray's workers by value; imported here,
    # from a folder the workers cannot import, it must be told to.
    ray.cloudpickle.register_pickle_by_value(module)
    yield module
    ray.cloudpickle.unregister_pickle_by_value(module)
    del sys.modules["custom_trainable"]


def test_the_custom_trainable_example_runs_and_is_tuned_like_any_model(
    ray_session, tmp_path, example
):
    # One epoch, no report (the report's own tests draw one): seconds saved, same path.
    result = example.main(
        str(tmp_path / "run"),
        overrides=["output.report=false", "training.epochs=1"],
        show_progress=False,
    )
    run_dir = tmp_path / "run"
    trials = pd.read_csv(run_dir / "trials.csv")
    assert len(trials) == 4 and set(trials["model"]) == {"train"}
    assert set(trials["status"]) <= {"feasible", "infeasible"}
    assert (trials["steps_done"] == trials["steps_planned"]).all()
    for column in ("train_time_s", "memory_mb", "inference_latency_ms", "cv_val_accuracy"):
        assert trials[column].notna().all(), column
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["dataset"]["source"] == "memory" and summary["dataset"]["rows"] == 1797
    assert result.best_config is not None and result.best_config["model"] == "train"
    assert result.best_estimator.predict(example.load_digits().data[:3]).shape == (3,)
    assert (run_dir / "ledger.json").is_file() and (run_dir / "mlflow.db").is_file()
