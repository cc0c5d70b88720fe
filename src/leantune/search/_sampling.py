"""Random search and TPE: Optuna's samplers, told which trials broke a limit and by how much.

Every backend samples through these: the in-process backend asks Optuna directly, the Ray Tune
backend through Tune's OptunaSearch. A trial stopped for a limit (measured or predicted)
reaches the sampler with its relative violation as a constraint value, so TPE learns to avoid
that region instead of reading the stopped trial as a fine config with its last score.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from leantune.search._book import sampler_value
from leantune.search._request import SearchRequest
from leantune.trials import LogUniform, TrialRecord

# A resumed random search draws from a fresh stream, so it does not repeat the configs of the
# first session: each session's seed is this far from the last.
SESSION_SEED_STRIDE = 7919


def make_sampler(request: SearchRequest) -> Any:
    import optuna

    if request.method == "tpe":
        # Few startup trials: studies here are small, and feasibility is learned fast.
        startup = min(10, max(3, request.num_samples // 5))
        if constraints_from_trials():  # Optuna >= 5 reads each trial's own constraints
            return optuna.samplers.TPESampler(seed=request.seed, n_startup_trials=startup)
        return optuna.samplers.TPESampler(
            seed=request.seed, n_startup_trials=startup, constraints_func=_violations
        )
    return optuna.samplers.RandomSampler(seed=request.seed + SESSION_SEED_STRIDE * request.session)


def constraints_from_trials() -> bool:
    import optuna

    return hasattr(optuna.trial.Trial, "set_constraint")


def _violations(trial: Any) -> tuple[float]:
    # Optuna reads values > 0 as infeasible, and ranks infeasible trials by how far over they are.
    return (trial.user_attrs.get("constraint_violation", 0.0),)


def distributions(param_space: Mapping[str, Any]) -> dict[str, Any]:
    """The search space as Optuna's distributions: a range log-uniform, a list a choice."""
    import optuna

    out: dict[str, Any] = {}
    for axis, values in param_space.items():
        if isinstance(values, LogUniform):
            out[axis] = optuna.distributions.FloatDistribution(values.low, values.high, log=True)
        else:
            out[axis] = optuna.distributions.CategoricalDistribution(list(values))
    return out


def violation(record: TrialRecord) -> float:
    """How far over a limit the trial went (0: within every limit, or a quality-rule stop)."""
    return record.stop_reason.violation if record.stop_reason is not None else 0.0


def frozen_trial(record: TrialRecord, space: Mapping[str, Any], objective: Any) -> Any:
    """An ended trial of an earlier session, as the sampler would have been told it then."""
    import optuna

    value = sampler_value(record, objective)
    complete = value is not None and math.isfinite(value)
    return optuna.trial.create_trial(
        params={name: record.config[name] for name in space},
        distributions=dict(space),
        value=float(value) if value is not None and complete else None,
        state=optuna.trial.TrialState.COMPLETE if complete else optuna.trial.TrialState.FAIL,
        user_attrs={"constraint_violation": violation(record)},
        system_attrs={"constraints": (violation(record),)},
    )


def tell(study: Any, trial: Any, record: TrialRecord, objective: Any) -> None:
    """Tell the sampler how a trial it asked for ended."""
    import optuna

    trial.set_user_attr("constraint_violation", violation(record))
    if constraints_from_trials():
        trial.set_constraint("violation", violation(record))
    if record.stop_reason is not None:
        trial.set_user_attr("stop_reason", record.stop_reason.describe())
    value = sampler_value(record, objective)
    if value is None:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
    else:
        study.tell(trial, value)
