"""Build a study's stopping policy from its spec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from leantune.metrics import MEMORY_METRICS, MemoryLimit
from leantune.spec import StudySpec
from leantune.stoppers import (
    TWIN_POOLED,
    AnyOf,
    CostModel,
    DivergencePolicy,
    PatiencePolicy,
    PrecheltPolicy,
    PredictivePolicy,
    QualityPolicy,
    SkipPredicted,
    StoppingPolicy,
    TrialHistory,
    from_constraints,
)
from leantune.trials import TrialRecord


def constraint_limits(
    spec: StudySpec, memory: MemoryLimit | None = None
) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    """(limits to enforce, {metric: (given, enforced)} for those capped by `memory`).

    A memory constraint above the cgroup's (or host's) limit is enforced at that limit: past
    it the kernel's OOM killer, not a stopping rule, would end the trial.
    """
    limits = spec.constraints.active()
    capped = {}
    if memory is not None:
        # No memory limit can be met above the memory limit of the machine or container.
        for metric in MEMORY_METRICS:
            if metric in limits and limits[metric] > memory.limit_mb:
                capped[metric] = (limits[metric], memory.limit_mb)
                limits[metric] = memory.limit_mb
    return limits, capped


def build_policy(
    spec: StudySpec, memory: MemoryLimit | None = None, cost_model: CostModel | None = None
) -> StoppingPolicy:
    """Every policy the spec turns on, combined with AnyOf (the first to say stop wins).

    With `stopping.enabled: false` the engine only observes: the plain constraint check still
    marks trials that broke a limit (so they are never picked), but nothing is stopped early.
    `memory`: the machine's memory limit, which caps memory constraints (constraint_limits).
    `cost_model`: the study's, shared with `build_skip`, so the predictive rule pools the
    readings of cost twins.
    """
    stopping, (limits, _) = spec.stopping, constraint_limits(spec, memory)
    # Quality limits judge the finished trial only, so they are the same either way.
    quality: list[StoppingPolicy] = [QualityPolicy(b) for b in spec.constraints.quality()]
    if not stopping.enabled:
        # The same evidence rule as when stopping is on, so the two arms judge alike.
        sustained = stopping.constraint.sustained
        return AnyOf([from_constraints(limits, sustained=sustained), DivergencePolicy(), *quality])
    policies = _latest_reading_rules(spec, limits, cost_model)
    if stopping.predictive is not None:
        options = stopping.predictive
        policies.append(
            PredictivePolicy(
                limits,
                margin=options.margin,
                window=options.window,
                min_reports=options.min_reports,
                confidence=options.confidence,
                cost_model=cost_model,
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
    return AnyOf([*policies, *quality])


def build_limits(
    spec: StudySpec, memory: MemoryLimit | None = None, cost_model: CostModel | None = None
) -> StoppingPolicy:
    """The measured limits and quality floors, as a finished trial is judged on them: what a
    complete record is held to when a stop arrived after the trial had finished. With the
    study's `cost_model`, a step's cost is judged as the reactive rules judge it, with the
    cost twins' pooled readings (stopping on only)."""
    limits, _ = constraint_limits(spec, memory)
    sustained = spec.stopping.constraint.sustained
    pooled = cost_model if spec.stopping.enabled else None
    quality: list[StoppingPolicy] = [QualityPolicy(b) for b in spec.constraints.quality()]
    rules = from_constraints(limits, sustained=sustained, cost_model=pooled, margin=_margin(spec))
    return AnyOf([rules, *quality])


def _margin(spec: StudySpec) -> float:
    """How far past a limit a pooled interval must be to stop a trial before its end: the
    predictive rule's margin, one margin for every rule."""
    return spec.stopping.predictive.margin if spec.stopping.predictive else 0.1


def build_worker_policy(
    spec: StudySpec, memory: MemoryLimit | None = None
) -> StoppingPolicy | None:
    """The rules a trial's worker runs itself, at the report that breaks them: those that read
    only the trial's latest readings (its limits, divergence). The rest stay on the driver:
    the predictive rule pools cost twins' readings, Prechelt and patience read a fold's whole
    curve, and a step's cost (train_time_s, step_time_ms) is judged on the twins' pooled
    readings too, which only the driver has. The worker keeps one of those: a training time
    already over its limit by more than the predictive margin is over it whatever the noise
    (a short trial would otherwise finish before the driver's stop reached it). None when
    nothing is to be stopped (`stopping.enabled: false`)."""
    if not spec.stopping.enabled:
        return None
    limits, _ = constraint_limits(spec, memory)
    own = {metric: limit for metric, limit in limits.items() if metric not in TWIN_POOLED}
    if "train_time_s" in limits:
        own["train_time_s"] = limits["train_time_s"] * (1 + _margin(spec))
    return AnyOf(_latest_reading_rules(spec, own))


def _latest_reading_rules(
    spec: StudySpec, limits: dict[str, float], cost_model: CostModel | None = None
) -> list[StoppingPolicy]:
    """Divergence (if on) and the limits: the rules that judge a trial's latest readings (a
    step's cost with its cost twins' pooled readings, given the study's `cost_model`)."""
    stopping = spec.stopping
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
            cost_model=cost_model,
            margin=_margin(spec),
        )
    )
    return policies


def build_skip(
    spec: StudySpec, cost_model: CostModel, memory: MemoryLimit | None = None
) -> SkipPredicted | None:
    """The rule that skips untried configs on the cost model's prediction: where the spec asks,
    or by default wherever it sets a limit."""
    asked = spec.stopping.skip_predicted
    if not spec.stopping.enabled or asked is False:
        return None
    if asked is None and not spec.constraints.active():
        return None
    limits, _ = constraint_limits(spec, memory)
    margin = spec.stopping.predictive.margin if spec.stopping.predictive else 0.0
    return SkipPredicted(cost_model, limits, margin=margin)


def new_cost_model(spec: StudySpec, ended: Sequence[TrialRecord] = ()) -> CostModel:
    """The study's cost model; a resumed study's learns again from the trials that ended (in
    the order they started, so its forecasts' coverage counts them as it did)."""
    predictive = spec.stopping.predictive
    model = CostModel(confidence=predictive.confidence if predictive else 0.9)
    for record in ended:
        model.observe(TrialHistory(record.reports, record.config))
    return model


@dataclass(frozen=True)
class Decisions:
    """Every rule a study decides by, built once from its spec (the limits worked out once)."""

    policy: StoppingPolicy
    """Judges every report (book)."""
    worker_policy: StoppingPolicy | None
    """The latest-reading rules a remote worker runs itself, to stop at once."""
    skip: SkipPredicted | None
    """Judges a trial's start report (stopping.skip_predicted)."""
    limits: StoppingPolicy
    """The measured limits and quality floors a complete record is held to."""
    cost_model: CostModel


def build_decisions(
    spec: StudySpec, memory: MemoryLimit | None = None, ended: Sequence[TrialRecord] = ()
) -> Decisions:
    """The study's rules; a resumed study's cost model learns again from `ended`."""
    cost_model = new_cost_model(spec, ended)
    return Decisions(
        policy=build_policy(spec, memory, cost_model),
        worker_policy=build_worker_policy(spec, memory),
        skip=build_skip(spec, cost_model, memory),
        limits=build_limits(spec, memory, cost_model),
        cost_model=cost_model,
    )
