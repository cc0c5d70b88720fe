"""How a trial ended: the one place each status string is spelled."""

from __future__ import annotations

# Statuses a trial can end with on its own, in its worker.
FINISHED, DIVERGED, FAILED = "finished", "diverged", "failed"
# Statuses the driver gives: ended within every limit, or stopped by a policy.
FEASIBLE, STOPPED = "feasible", "stopped"
# Never trained: the study's cost model predicted it over a limit (stopping.skip_predicted).
SKIPPED = "skipped"
# A trial that finished while breaking a limit: only when stopping is off (observe-only mode),
# or one whose final cross-validated quality missed a quality limit (val_accuracy: {min: x}).
INFEASIBLE = "infeasible"
# A trial the driver has seen start and not yet end.
RUNNING = "running"
