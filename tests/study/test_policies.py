from leantune import load_spec
from leantune.stoppers import (
    AnyOf,
    ConstraintPolicy,
    DivergencePolicy,
    PatiencePolicy,
    PrecheltPolicy,
    PredictivePolicy,
)
from leantune.study._policies import build_policy
from leantune.testing import tiny_spec


def _kinds(policy):
    kinds = []
    for part in policy.policies:
        kinds += _kinds(part) if isinstance(part, AnyOf) else [type(part)]
    return kinds


def test_defaults_are_divergence_and_the_constraints():
    spec = load_spec(tiny_spec(constraints={"memory_mb": 500, "train_time_s": 9}))
    assert _kinds(build_policy(spec)) == [DivergencePolicy, ConstraintPolicy, ConstraintPolicy]


def test_every_policy_the_spec_names_is_on():
    spec = load_spec(
        tiny_spec(
            constraints={"train_time_s": 9},
            stopping={
                "constraint": {"grace_steps": 100, "sustained": 2},
                "predictive": True,
                "prechelt": {"criterion": "UP", "strip": 3},
                "patience": {"metric": "val_accuracy"},
                "divergence": False,
            },
        )
    )
    policy = build_policy(spec)
    kinds = _kinds(policy)
    assert kinds == [ConstraintPolicy, PredictivePolicy, PrecheltPolicy, PatiencePolicy]
    constraint = policy.policies[0].policies[0]
    assert (constraint.grace_steps, constraint.sustained) == (100, 2)


def test_observe_only_keeps_the_plain_constraint_check():
    spec = load_spec(
        tiny_spec(constraints={"memory_mb": 5}, stopping={"enabled": False, "prechelt": True})
    )
    assert _kinds(build_policy(spec)) == [ConstraintPolicy, DivergencePolicy]


def test_skipping_is_on_by_default_wherever_a_limit_is_set():
    """skip_predicted's default (null): on with a limit (0 false skips in every P9 run), off
    without one, off when turned off, and never with stopping off."""
    from leantune.stoppers import CostModel, SkipPredicted
    from leantune.study._policies import build_skip

    def skip(**sections):
        return build_skip(load_spec(tiny_spec(**sections)), CostModel())

    assert isinstance(skip(constraints={"train_time_s": 9}), SkipPredicted)
    assert skip() is None  # no limit: nothing to skip for, and no error
    assert skip(constraints={"train_time_s": 9}, stopping={"skip_predicted": False}) is None
    assert skip(constraints={"train_time_s": 9}, stopping={"enabled": False}) is None
