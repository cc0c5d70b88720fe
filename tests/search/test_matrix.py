"""The contract matrix: every search method with every policy and with skipping, on the
in-process backend (real trials, no Ray). Each combination runs to a sensible end."""

import pytest

from leantune.search import InProcessBackend, pick_best
from leantune.spec import load_spec
from leantune.study._policies import build_decisions
from leantune.study._prepare import prepare_study
from leantune.study._search import search, search_request, training_plan
from leantune.testing import RecordingObserver, tiny_spec
from leantune.trials import FAILED, FEASIBLE, FINISHED, STOPPED, TrialRecord

METHODS = {
    "grid": {"method": "grid"},
    "random": {"method": "random", "num_samples": 6},
    "tpe": {"method": "tpe", "num_samples": 6},
    "asha": {"method": "grid", "scheduler": {"name": "asha", "grace_period": 10}},
}
# Each: the sections it sets on the tiny study.
POLICIES = {
    "constraint": {"constraints": {"memory_mb": 1}},
    "predictive": {"constraints": {"train_time_s": 1e-4}, "stopping": {"predictive": {}}},
    "skip": {
        "constraints": {"train_time_s": 1e-4},
        "stopping": {"predictive": {}, "skip_predicted": True},
    },
    "prechelt": {"stopping": {"prechelt": {"criterion": "GL", "alpha": 0.01}}},
    "patience": {"stopping": {"patience": {"metric": "val_loss", "patience": 1}}},
    "divergence": {"stopping": {"divergence": {"explode_factor": 2}}},
    "quality floor": {"constraints": {"val_accuracy": {"min": 0.99}}},
}


def _study(tmp_path, method, policy):
    space = {"batch_size": [4, 32], "learning_rate": [0.5, 0.01], "alpha": [0.0001]}
    if method != "grid" and "num_samples" in METHODS[method]:
        space["learning_rate"] = {"log": [0.001, 0.5]}
    sections = {
        "dataset": {"source": "sklearn", "name": "iris"},
        "search": {**METHODS[method], "space": space},
        "training": {"epochs": 1, "report_every": 3, "seed": 0},
        "validation": {"test_size": 0.3, "cv_folds": 2},
        "output": {"dir": str(tmp_path / "run"), "report": False},
        **POLICIES[policy],
    }
    return load_spec(tiny_spec(**sections))


def run_in_process(spec) -> list[TrialRecord]:
    prepared = prepare_study(spec)
    decisions = build_decisions(spec, prepared.memory)
    request = search_request(prepared, training_plan(prepared, decisions))
    return search(request, decisions, RecordingObserver(), InProcessBackend())


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("method", METHODS)
def test_every_method_with_every_policy_runs_to_a_sensible_end(tmp_path, method, policy):
    spec = _study(tmp_path, method, policy)
    records = run_in_process(spec)
    assert len(records) == (4 if spec.search.method == "grid" else 6)
    for record in records:
        assert record.status != FAILED, record.error
        # A trial that ran every planned step is never called stopped.
        if record.last.get("trial_status") == FINISHED:
            assert record.status != STOPPED
        if record.status == STOPPED:
            assert record.stop_reason is not None
            assert record.last["step"] < record.last["steps_planned"]
    pick = pick_best(records, spec.goal, floors=spec.constraints.quality())
    if policy in ("constraint", "predictive", "skip", "quality floor"):
        # Every config breaks the limit: nothing may be picked.
        assert pick is None
        assert {r.status for r in records} <= {"stopped", "skipped", "infeasible", "diverged"}
    elif pick is not None:
        assert pick.record.status == FEASIBLE or pick.reached
    if method == "asha" and policy == "constraint":
        assert all(r.stop_reason is not None for r in records)
