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
