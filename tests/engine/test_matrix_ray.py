"""The decision matrix's Ray half: sampled search with skipping (it crashed on Tune's metric
check), ASHA beside a driver-only rule, and a fast trial whose stop arrives after it finished,
on real Ray Tune trials."""

import pytest

from leantune.engine import RayTuneBackend
from leantune.spec import load_spec
from leantune.stoppers import Decision, StoppingPolicy, StopReason, TrialHistory
from leantune.study._policies import build_decisions
from leantune.study._prepare import prepare_study
from leantune.study._search import search, search_request, training_plan
from leantune.testing import RecordingObserver, tiny_spec
from leantune.trials import FAILED, FEASIBLE, FINISHED, STOPPED

pytestmark = pytest.mark.slow


def _run(tmp_path, **sections):
    spec = load_spec(
        tiny_spec(
            dataset={"source": "sklearn", "name": "iris"},
            output={"dir": str(tmp_path / "run"), "report": False},
            **sections,
        )
    )
    prepared = prepare_study(spec)
    decisions = build_decisions(spec, prepared.memory)
    request = search_request(prepared, training_plan(prepared, decisions))
    return search(request, decisions, RecordingObserver(), RayTuneBackend())


@pytest.mark.parametrize("method", ["random", "tpe"])
def test_a_sampled_search_with_skipping_runs_to_its_end(ray_session, tmp_path, method):
    records = _run(
        tmp_path,
        search={
            "method": method,
            "num_samples": 6,
            "space": {"batch_size": [1, 32], "learning_rate": {"log": [1e-3, 0.1]}},
        },
        constraints={"train_time_s": 0.01},
        stopping={"predictive": {}, "skip_predicted": True},
        training={"epochs": 2, "report_every": 5, "seed": 0},
    )
    assert len(records) == 6
    assert all(r.status != FAILED for r in records), [r.error for r in records]


def test_asha_beside_prechelt_on_ray(ray_session, tmp_path):
    records = _run(
        tmp_path,
        search={
            "method": "grid",
            "scheduler": {"name": "asha", "grace_period": 10},
            "space": {"batch_size": [4, 16], "learning_rate": [0.3, 0.01, 0.001]},
        },
        stopping={"prechelt": {"criterion": "GL", "alpha": 1}},
        training={"epochs": 2, "report_every": 2, "seed": 0},
    )
    assert len(records) == 6
    for record in records:
        assert record.status != FAILED, record.error
        if record.last.get("trial_status") == FINISHED:
            assert record.status != STOPPED


class _LateQualityStop(StoppingPolicy):
    """A driver-only quality rule that says stop at every trial's second report."""

    def decide(self, history: TrialHistory) -> Decision:
        if len(history) >= 2:
            return Decision.stop_because(StopReason("prechelt", "val_loss", 2.0, 1.0, 0))
        return Decision.carry_on()


def test_a_fast_trial_stopped_late_by_the_driver_is_judged_on_its_complete_record(
    ray_session, tmp_path
):
    from leantune.search import run_search

    spec = load_spec(tiny_spec(output={"dir": str(tmp_path / "run"), "report": False}))
    prepared = prepare_study(spec)
    decisions = build_decisions(spec, prepared.memory)
    # A second between batches: a trial of a few ms sends every report, its last included,
    # in one batch, so the driver's stop reaches it only after it finished.
    request = search_request(prepared, training_plan(prepared, decisions))
    records = run_search(request, _LateQualityStop(), RecordingObserver(), backend=RayTuneBackend())
    assert records
    for record in records:
        assert record.last["trial_status"] == FINISHED
        assert record.status == FEASIBLE
        assert record.late_stop is not None and record.late_stop.rule == "prechelt"
