"""Trial runs written straight into a SQL store's tables, many trials in one transaction.

MLflow's client spends ~3 ms of the driver's CPU on each call whatever it holds (its own
session, a run lookup, a commit), and a trial's run takes four or five calls: with trials of a
few milliseconds, the store costs more than the search. The rows a trial's run is made of
(its run, tags, params, points and latest values) are the same ones MLflow's own store writes;
here the writer thread puts every trial that started or ended since its last write into one
transaction, through MLflow's own table models. A run found again on resume, and any store that
is not a SQL database, still go through the client, one call at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mlflow.entities import Metric, RunTag
from mlflow.tracking import MlflowClient
from mlflow.utils.uri import append_to_uri_path

# MLflow's SQL store and its table models are imported when a store is opened, not with
# leantune: importing them sets SQLAlchemy's logger level (tests/test_package.py).


@dataclass(frozen=True)
class RunStart:
    """A new trial run: RUNNING, with its tags (the run name's among them) and params."""

    run_id: str
    run_name: str
    start_ms: int
    tags: Sequence[RunTag]
    params: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class RunEnd:
    """A trial run closed: its points, its closing tags (replacing any of the same key) and
    MLflow's status."""

    run_id: str
    run_status: str
    end_ms: int
    tags: Sequence[RunTag]
    metrics: Sequence[Metric] = field(default_factory=tuple)


class TrialRunRows:
    """Writes RunStart and RunEnd batches into one SQL store, for one experiment."""

    def __init__(self, store: Any, experiment_id: str, artifact_root: str):
        self.store = store
        self.experiment_id = experiment_id
        self.artifact_root = artifact_root

    @classmethod
    def for_client(cls, client: MlflowClient, experiment_id: str) -> TrialRunRows | None:
        """Rows for the client's store when it is a SQL database; None otherwise (a server, a
        file store), where the client's calls remain the way in."""
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = getattr(getattr(client, "_tracking_client", None), "store", None)
        if not isinstance(store, SqlAlchemyStore):
            return None
        root = client.get_experiment(experiment_id).artifact_location
        return cls(store, experiment_id, root)

    def write(self, writes: Sequence[RunStart | RunEnd]) -> None:
        """All of `writes`, in one transaction: a failure leaves none of them written."""
        from mlflow.store.tracking.dbmodels.models import (
            SqlLatestMetric,
            SqlMetric,
            SqlParam,
            SqlRun,
            SqlTag,
        )
        from sqlalchemy import bindparam, delete, insert, update

        starts: dict[str, dict[str, Any]] = {}
        params: list[dict[str, Any]] = []
        tags: dict[tuple[str, str], dict[str, Any]] = {}
        ended: dict[str, RunEnd] = {}
        metrics: list[tuple[Any, ...]] = []
        latest: dict[tuple[str, str], tuple[Any, ...]] = {}
        for write in writes:
            if isinstance(write, RunStart):
                starts[write.run_id] = self._run_row(write)
                params += [
                    {"run_uuid": write.run_id, "key": k, "value": v} for k, v in write.params
                ]
            else:
                ended[write.run_id] = write
                for metric in write.metrics:
                    row = self._metric_row(write.run_id, metric)
                    metrics.append(row)
                    key = (write.run_id, row[0])
                    # MLflow's rule for a run's latest value: by step, then time, then value.
                    if key not in latest or row[3:0:-1] > latest[key][3:0:-1]:
                        latest[key] = row
            for tag in write.tags:  # a later value of the same key replaces an earlier one
                tags[(write.run_id, tag.key)] = {
                    "run_uuid": write.run_id,
                    "key": tag.key,
                    "value": tag.value,
                }
        # A run that starts and ends in this batch (most short trials) is inserted closed:
        # no update of its row, and no stored tag of its own for the closing ones to replace.
        closed_here = [run_id for run_id in ended if run_id in starts]
        for run_id in closed_here:
            end = ended.pop(run_id)
            starts[run_id].update(status=end.run_status, end_time=end.end_ms)
        with self.store.ManagedSessionMaker() as session:
            if starts:
                session.execute(insert(SqlRun.__table__), list(starts.values()))
            if params:
                session.execute(insert(SqlParam.__table__), params)
            if ended:
                # A tag set while the trial ran (its progress) is replaced by the closing one:
                # one statement for every (run, key), not one a run.
                table = SqlTag.__table__
                session.execute(
                    delete(table).where(
                        table.c.run_uuid == bindparam("run"), table.c.key == bindparam("tag")
                    ),
                    [
                        {"run": run_id, "tag": tag.key}
                        for run_id, end in ended.items()
                        for tag in end.tags
                    ],
                )
            if tags:
                session.execute(insert(SqlTag.__table__), list(tags.values()))
            if metrics:
                self._insert_points(session, SqlMetric.__table__, metrics)
            if latest:
                self._insert_points(session, SqlLatestMetric.__table__, list(latest.values()))
            if ended:
                table = SqlRun.__table__
                session.execute(
                    update(table)
                    .where(table.c.run_uuid == bindparam("run"))
                    .values(status=bindparam("status"), end_time=bindparam("end")),
                    [
                        {"run": end.run_id, "status": end.run_status, "end": end.end_ms}
                        for end in ended.values()
                    ],
                )

    def _run_row(self, start: RunStart) -> dict[str, Any]:
        # As MLflow's own create_run fills it (SqlAlchemyStore.create_run).
        user = next((tag.value for tag in start.tags if tag.key == "mlflow.user"), "unknown")
        return {
            "run_uuid": start.run_id,
            "name": start.run_name,
            "source_type": "UNKNOWN",
            "source_name": "",
            "entry_point_name": "",
            "user_id": user,
            "status": "RUNNING",
            "start_time": start.start_ms,
            "end_time": None,
            "deleted_time": None,
            "source_version": "",
            "lifecycle_stage": "active",
            "artifact_uri": append_to_uri_path(
                self.artifact_root, start.run_id, self.store.ARTIFACTS_FOLDER_NAME
            ),
            "experiment_id": int(self.experiment_id),
        }

    def _metric_row(self, run_id: str, metric: Metric) -> tuple[Any, ...]:
        """A point as `_POINT_COLUMNS`. NaN stored as 0 with is_nan, an infinity as the largest
        float: as MLflow stores them."""
        value = metric.value
        if value - value == 0:  # finite: as it is (most points; MLflow's check costs more)
            return (metric.key, value, metric.timestamp, metric.step, False, run_id)
        is_nan, value = self.store.sanitize_metric_value(value)
        return (metric.key, value, metric.timestamp, metric.step, is_nan, run_id)

    @staticmethod
    def _insert_points(session: Any, table: Any, rows: list[tuple[Any, ...]]) -> None:
        """Points (metrics, latest metrics) into `table`: on sqlite straight through the driver
        (SQLAlchemy's per-row parameter handling cost more than the insert, ~20 µs a point,
        and a trial has a hundred or more), elsewhere through SQLAlchemy."""
        from sqlalchemy import insert

        if session.get_bind().dialect.name == "sqlite":
            places = ", ".join("?" * len(_POINT_COLUMNS))
            session.connection().exec_driver_sql(
                f"INSERT INTO {table.name} ({', '.join(_POINT_COLUMNS)}) VALUES ({places})", rows
            )
            return
        session.execute(
            insert(table), [dict(zip(_POINT_COLUMNS, row, strict=True)) for row in rows]
        )


# A point's row in MLflow's metrics and latest_metrics tables, in `_metric_row`'s order.
_POINT_COLUMNS = ("key", "value", "timestamp", "step", "is_nan", "run_uuid")
