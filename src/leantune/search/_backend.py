"""One search, any backend: the book decides, the backend runs trials and reports to it."""

from __future__ import annotations

from typing import Protocol

from leantune.search._book import TrialBook
from leantune.search._request import SearchRequest
from leantune.stoppers import AshaPolicy, CostModel, SkipPredicted, StoppingPolicy
from leantune.trials import SearchInterrupted, TrialObserver, TrialRecord


class SearchBackend(Protocol):
    """Runs the request's trials and tells `book` everything that happens to them.

    A backend asks the book after every report whether the trial goes on, and stops it if not
    (as soon as it can: at once in process, a batch later on Ray). `worker_policy`: the rules a
    remote worker may run on its own reports to stop at once; the book still judges them.
    """

    name: str

    def run(
        self, request: SearchRequest, book: TrialBook, worker_policy: StoppingPolicy | None = None
    ) -> None: ...


def run_search(
    request: SearchRequest,
    policy: StoppingPolicy,
    observer: TrialObserver,
    skip: SkipPredicted | None = None,
    worker_policy: StoppingPolicy | None = None,
    *,
    backend: SearchBackend,
    limits: StoppingPolicy | None = None,
    cost_model: CostModel | None = None,
    keep_reports: bool = True,
) -> list[TrialRecord]:
    """Run every config of the search; return one record per trial ended here.

    With `request.resume`, only what earlier sessions left is run: the configs that did not
    end, under their old trial ids, and (random, TPE) the samples still to draw. `skip`
    decides on each trial's start report (request.plan.announce_start) whether it trains.
    `limits`: the measured limits and quality floors a complete record is judged on when a
    stop arrived after the trial had finished (default: `policy`'s limit rules are not
    re-run). `backend` runs the trials (the search core knows none by name: Ray Tune's is
    `leantune.engine.RayTuneBackend`, and `leantune.engine.run_search` defaults to it; trials
    packed on Ray actors, `leantune.engine.RayPoolBackend`).
    `cost_model`: the study's, fed every report (its forecasts' coverage), else `skip`'s.
    `keep_reports` False: an ended trial's record keeps only what the pick and the results
    tables read (TrialBook); its observer must have saved the rest.
    """
    resume = request.resume
    book = TrialBook(
        policy,
        observer,
        enforce=request.enforce,
        scheduler=scheduler_of(request),
        limits=limits,
        unfinished=resume.unfinished if resume else (),
        taken=[r.trial_id for r in resume.ended] if resume else (),
        session=request.session,
        skip=skip,
        cost_model=cost_model,
        keep_reports=keep_reports,
    )
    planned = request.configs_to_run()
    if planned == 0:  # an earlier session ended every trial; only the results remain
        return []
    backend.run(request, book, worker_policy if request.enforce else None)
    records = book.ended_records()
    # Ray Tune turns Ctrl-C into a graceful stop and returns normally; a short count tells.
    if len(records) < planned:
        raise SearchInterrupted(records, planned, book.unfinished())
    return records


def scheduler_of(request: SearchRequest) -> StoppingPolicy | None:
    """The request's scheduler as a rule of the book (ASHA), or None."""
    options = request.scheduler
    if not options:
        return None
    return AshaPolicy(
        mode=request.mode,
        grace_period=options.get("grace_period", 10),
        reduction_factor=options.get("reduction_factor", 3),
    )
