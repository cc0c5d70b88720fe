"""The search core: what to run, who decides, and the backends that run it (Ray-free).

A `SearchRequest` is built once from the prepared study; a `TrialBook` holds every trial's
history and gives every decision and status by one rule; a backend runs the trials and reports
to the book: Ray Tune (the default, `leantune.engine.RayTuneBackend`, which a cluster uses),
`ProcessPoolBackend` (one long-lived worker process per CPU pulling configs: trial packing on
one machine), `InProcessBackend` (trials one after another in this process: tests, pdb), or
`ReplayBackend` (recorded curves in, decisions out). Importing this package loads no Ray.
"""

from leantune.search._backend import SearchBackend, run_search, scheduler_of
from leantune.search._book import TrialBook, sampler_value
from leantune.search._in_process import InProcessBackend
from leantune.search._pick import Pick, pick_best
from leantune.search._processes import ProcessPoolBackend
from leantune.search._replay import ReplayBackend
from leantune.search._request import FLUSH_SECONDS, SearchRequest, grid_configs, without

__all__ = [
    "FLUSH_SECONDS",
    "InProcessBackend",
    "Pick",
    "ProcessPoolBackend",
    "ReplayBackend",
    "SearchBackend",
    "SearchRequest",
    "TrialBook",
    "grid_configs",
    "pick_best",
    "run_search",
    "sampler_value",
    "scheduler_of",
    "without",
]
