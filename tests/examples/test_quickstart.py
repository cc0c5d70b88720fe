"""The quickstart shows what it claims: the configs that cannot fit its training-time limit
(batch 1 and 2, at least twice over it) are stopped or skipped, the rest (batch 128 and
256, under a quarter of it on a quiet machine) finish feasible, whatever else the machine is
doing."""

from pathlib import Path

import pandas as pd
import pytest

import leantune

pytestmark = pytest.mark.slow

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def test_the_quickstart_stops_exactly_the_configs_that_cannot_fit(ray_session, tmp_path):
    spec = leantune.load_spec(QUICKSTART, [f"output.dir={tmp_path / 'run'}", "output.report=false"])
    leantune.run(spec, show_progress=False)
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    costly = trials[trials.batch_size <= 2]
    assert len(costly) == 16 and set(costly.status) <= {"stopped", "skipped"}
    assert set(costly.stop_metric) == {"train_time_s"}
    cheap = trials[trials.batch_size >= 128]
    assert len(cheap) == 16 and set(cheap.status) == {"feasible"}
