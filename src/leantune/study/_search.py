"""A prepared study as a search: its request built once, its rules, and the backend it names."""

from __future__ import annotations

from leantune.engine import Fault, ResumePoint, TrainingPlan, TrialData, TrialRecord
from leantune.search import (
    InProcessBackend,
    ProcessPoolBackend,
    SearchBackend,
    SearchRequest,
    run_search,
)
from leantune.study._policies import Decisions
from leantune.study._prepare import PreparedStudy
from leantune.trials import TrialObserver


def training_plan(prepared: PreparedStudy, decisions: Decisions) -> TrainingPlan:
    spec = prepared.spec
    return TrainingPlan(
        **spec.training.model_dump(),
        report_rows=spec.validation.report_rows,
        clock=spec.constraints.clock,
        announce_start=decisions.skip is not None,
        estimators=prepared.model_adapters(),
    )


def search_request(
    prepared: PreparedStudy,
    plan: TrainingPlan,
    *,
    resume: ResumePoint | None = None,
    faults: tuple[Fault, ...] = (),
    trial_order_seed: int | None = None,
) -> SearchRequest:
    """The study's search, whatever backend runs it."""
    spec, dataset = prepared.spec, prepared.dataset
    return SearchRequest(
        name="tune",
        param_space=prepared.param_space,
        data=TrialData(
            dataset.X, dataset.y, dataset.task, dataset.n_classes, prepared.splits.folds
        ),
        plan=plan,
        storage_dir=prepared.run_dir / "ray",
        cpus_per_trial=spec.resources.cpus_per_trial,
        max_concurrent=spec.resources.max_concurrent,
        ray_address=spec.resources.ray_address,
        method=spec.search.method,
        num_samples=spec.search.num_samples or 1,
        mode=spec.goal.mode,
        objective=spec.goal,
        seed=spec.training.seed,
        scheduler=spec.search.scheduler.model_dump() if spec.search.scheduler else None,
        enforce=spec.stopping.enabled,
        max_failures=spec.resources.max_failures,
        memory_limit_mb=spec.resources.memory_limit_mb,
        resume=resume,
        faults=faults,
        trial_order_seed=trial_order_seed,
    )


def backend_for(prepared: PreparedStudy) -> SearchBackend:
    """The backend the spec names: Ray Tune (the default), a pool of Ray actors, in-process or
    a process pool."""
    name = prepared.spec.resources.backend
    if name == "in-process":
        return InProcessBackend()
    if name == "processes":
        return ProcessPoolBackend()
    if name == "ray-pool":
        from leantune.engine import RayPoolBackend

        return RayPoolBackend()
    from leantune.engine import RayTuneBackend

    return RayTuneBackend()


def search(
    request: SearchRequest,
    decisions: Decisions,
    observer: TrialObserver,
    backend: SearchBackend,
    *,
    keep_reports: bool = True,
) -> list[TrialRecord]:
    """Run the study's search with its rules; see leantune.search.run_search."""
    return run_search(
        request,
        decisions.policy,
        observer,
        decisions.skip,
        decisions.worker_policy,
        backend=backend,
        limits=decisions.limits,
        cost_model=decisions.cost_model,
        keep_reports=keep_reports,
    )
