"""The shared test helpers' background jobs: running inside their block, gone after it."""

import time

import pytest

from leantune.testing import cpu_hog, memory_hog


@pytest.mark.parametrize("hog", [cpu_hog, memory_hog])
def test_a_hog_runs_inside_its_block_and_is_ended_after_it(hog):
    with hog(seconds=30) as process:
        time.sleep(0.5)  # a script that failed would have exited by now
        assert process.poll() is None
    assert process.poll() is not None
