"""A real study beside two other leantune studies (real processes, bounded) stops no config
that is within half of its limit: the limit is set from the same configs measured first, at
2.5 times the cheap configs' cost, so only a slowdown of 2.5 times could push one over."""

import subprocess
import sys
import textwrap
import time

import pandas as pd
import pytest

import leantune
from leantune.testing import tiny_spec
from leantune.tracking import NullTracker

pytestmark = pytest.mark.slow

_OTHER_STUDY = textwrap.dedent(
    """
    import itertools, sys, time
    import leantune
    from leantune.testing import tiny_spec
    from leantune.tracking import NullTracker
    end = time.monotonic() + float(sys.argv[2])
    for n in itertools.count():
        if time.monotonic() > end:
            break
        spec = tiny_spec(
            search={"method": "grid", "space": {"batch_size": [1, 2, 4], "learning_rate":
                    [0.1, 0.01], "alpha": [1e-4]}},
            stopping={"enabled": False},
            resources={"backend": "in-process"},
            output={"dir": f"{sys.argv[1]}/{n}", "report": False},
        )
        leantune.run(spec, show_progress=False, tracker=NullTracker())
    """
)


def _spec(tmp_path, name, **sections):
    return tiny_spec(
        search={
            "method": "grid",
            "space": {"batch_size": [1, 128], "learning_rate": [0.1, 0.01], "alpha": [1e-4]},
        },
        resources={"backend": "in-process"},
        output={"dir": str(tmp_path / name), "report": False},
        **sections,
    )


def test_a_study_beside_two_others_stops_no_config_within_half_its_limit(tmp_path):
    measured = leantune.run(
        _spec(tmp_path, "measured", stopping={"enabled": False}),
        show_progress=False,
        tracker=NullTracker(),
    )
    cheap = [r.last["train_time_s"] for r in measured.records if r.config["batch_size"] == 128]
    limit = 2.5 * max(cheap)
    others = [
        subprocess.Popen(
            [sys.executable, "-c", _OTHER_STUDY, str(tmp_path / f"other-{i}"), "60"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        time.sleep(3)  # both past their imports
        leantune.run(
            _spec(
                tmp_path,
                "loaded",
                constraints={"train_time_s": limit},
                stopping={"predictive": {"margin": 0.1}, "skip_predicted": True},
            ),
            show_progress=False,
            tracker=NullTracker(),
        )
    finally:
        for other in others:
            other.kill()
            other.wait()
    trials = pd.read_csv(tmp_path / "loaded" / "trials.csv")
    within_half = trials[trials.batch_size == 128]
    assert len(within_half) == 2 and set(within_half.status) == {"feasible"}
