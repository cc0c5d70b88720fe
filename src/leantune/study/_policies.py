"""Build a study's stopping policy from its spec."""

from __future__ import annotations

from leantune.spec import StudySpec
from leantune.stoppers import (
    AnyOf,
    DivergencePolicy,
    PatiencePolicy,
    PrecheltPolicy,
    PredictivePolicy,
    StoppingPolicy,
    from_constraints,
)


def build_policy(spec: StudySpec) -> StoppingPolicy:
    """Every policy the spec turns on, combined with AnyOf (the first to say stop wins).

    With `stopping.enabled: false` the engine only observes: the plain constraint check still
    marks trials that broke a limit (so they are never picked), but nothing is stopped early.
    """
    stopping, limits = spec.stopping, spec.constraints.active()
    if not stopping.enabled:
        return AnyOf([from_constraints(limits), DivergencePolicy()])
    policies: list[StoppingPolicy] = []
    if stopping.divergence is not None:
        policies.append(
            DivergencePolicy(
                stopping.divergence.explode_factor, zero_weights=stopping.divergence.zero_weights
            )
        )
    policies.append(
        from_constraints(
            limits,
            grace_steps=stopping.constraint.grace_steps,
            sustained=stopping.constraint.sustained,
        )
    )
    if stopping.predictive is not None:
        options = stopping.predictive
        policies.append(
            PredictivePolicy(
                limits,
                margin=options.margin,
                window=options.window,
                min_reports=options.min_reports,
            )
        )
    if stopping.prechelt is not None:
        options = stopping.prechelt
        policies.append(
            PrecheltPolicy(options.criterion, options.alpha, options.strip, options.successive)
        )
    if stopping.patience is not None:
        options = stopping.patience
        policies.append(PatiencePolicy(options.metric, options.patience, options.min_delta))
    return AnyOf(policies)
