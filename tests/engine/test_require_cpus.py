"""A trial that asks for more CPUs than any node has is refused once Ray is up, not left
waiting for ever to be placed."""

import pytest

from leantune.engine import require_cpus
from leantune.errors import LeantuneError


def test_a_trial_larger_than_every_node_is_refused(ray_session):
    require_cpus(2, None)  # the session's Ray has 2 CPUs
    with pytest.raises(LeantuneError, match=r"the largest has 2\), or no trial is ever placed"):
        require_cpus(3, "127.0.0.1:6379")
