import pytest

from leantune.stoppers import AnyOf, ConstraintPolicy, TrialHistory, from_constraints
from leantune.testing import NeverStop


def _history(*memory):
    return TrialHistory([{"step": 100 * (i + 1), "memory_mb": m} for i, m in enumerate(memory)])


def test_a_constraint_stops_the_first_time_the_metric_exceeds_it():
    policy = ConstraintPolicy("memory_mb", 200)
    assert not policy.decide(_history(150)).stop
    assert not policy.decide(_history(150, 200)).stop  # equal is within the limit
    decision = policy.decide(_history(150, 200, 231.5))
    assert decision.stop
    reason = decision.reason
    assert (reason.rule, reason.metric, reason.value, reason.threshold, reason.step) == (
        "constraint",
        "memory_mb",
        231.5,
        200.0,
        300,
    )
    assert reason.describe() == "memory_mb 231.5 > 200 at step 300"


def test_a_report_without_the_metric_never_stops():
    assert not ConstraintPolicy("cpu_percent", 50).decide(_history(999)).stop


def test_thresholds_are_checked_when_the_policy_is_built():
    with pytest.raises(ValueError, match="must be a number > 0. Got -1"):
        ConstraintPolicy("memory_mb", -1)


def test_any_of_gives_the_first_stopping_policy_its_say():
    history = TrialHistory([{"step": 5, "memory_mb": 300, "train_time_s": 9}])
    policy = AnyOf(
        [NeverStop(), ConstraintPolicy("train_time_s", 1), ConstraintPolicy("memory_mb", 1)]
    )
    assert policy.decide(history).reason.metric == "train_time_s"


def test_from_constraints_with_no_limits_never_stops():
    assert not from_constraints({}).decide(_history(1e9)).stop


def test_a_history_cannot_be_changed_by_a_policy():
    history = _history(1)
    with pytest.raises(TypeError):
        history.last["memory_mb"] = 0
    assert history.values("memory_mb") == [1.0]
