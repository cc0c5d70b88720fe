"""The Python API: Optuna's names on a study's result, and a `dir(leantune)` of what to use."""

from __future__ import annotations

import pandas as pd

import leantune
from leantune.study import StudyResult
from leantune.study._results import FinalModel


def _result(objective_value=None):
    config = {"model": "logistic", "batch_size": 16, "learning_rate": 0.1, "alpha": 0.0001}
    best = {"config": config, "cv_metric": "val_accuracy", "cv_score_mean": 0.97}
    if objective_value is not None:
        best["objective_value"] = objective_value
    final = FinalModel(
        config=config,
        test_metrics={},
        model_size_bytes=1,
        inference_ms_per_sample=0.001,
        inference_ms_per_1000=1.0,
        status="feasible",
        error=None,
        baseline={},
        estimator=None,
    )
    trials = pd.DataFrame({"trial_id": ["a", "b"], "status": ["feasible", "stopped"]})
    return StudyResult(None, {"study": "s", "best": best}, trials, [], final)


def test_a_result_answers_to_optunas_names():
    result = _result()
    assert result.best_params == result.best_config and result.best_params["batch_size"] == 16
    assert result.best_value == 0.97  # the CV score when it is the objective
    assert _result(objective_value=0.0021).best_value == 0.0021  # else the objective's value
    frame = result.trials_dataframe()
    assert list(frame["trial_id"]) == ["a", "b"]
    frame.loc[0, "status"] = "changed"
    assert result.trials.loc[0, "status"] == "feasible"  # a copy, as Optuna's is


def test_a_result_without_a_pick_has_no_best():
    result = StudyResult(None, {"study": "s", "best": None}, pd.DataFrame(), [], None)
    assert result.best_params is None and result.best_value is None


def test_dir_lists_the_api_only():
    names = dir(leantune)
    assert names == sorted(leantune.__all__)
    assert not {"Any", "TYPE_CHECKING", "annotations"} & set(names)
    assert all(hasattr(leantune, name) for name in names)
