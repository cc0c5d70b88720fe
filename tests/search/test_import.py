"""The search core loads without Ray: its tests and the in-process backend never pay for it."""

import subprocess
import sys


def test_importing_the_search_core_loads_no_ray():
    code = (
        "import sys, leantune.search, leantune.search._in_process, leantune.search._replay; "
        "print(sorted(m for m in sys.modules if m == 'ray' or m.startswith('ray.')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
