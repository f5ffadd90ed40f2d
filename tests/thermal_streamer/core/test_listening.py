"""thermal_streamer.core.listening: raise_fd_limit lifts the soft descriptor limit to the hard
one."""

from __future__ import annotations

import resource
import subprocess
import sys

from tests.conftest import ROOT

PROBE = ("import resource; from thermal_streamer.core.listening import raise_fd_limit; "
         "print(raise_fd_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))")


def limits_after_raise(soft: int, hard: int) -> list[int]:
    """Run raise_fd_limit in a child started with these limits: [returned, soft, hard]."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True,
                            text=True, timeout=30, preexec_fn=limit)
    assert result.returncode == 0, result.stderr
    return [int(value) for value in result.stdout.split()]


def test_soft_limit_is_raised_to_the_hard_limit():
    """A soft limit of 64 under a hard limit of 256 becomes 256, and that is returned."""
    assert limits_after_raise(64, 256) == [256, 256, 256]


def test_limit_already_at_the_hard_limit_is_kept():
    """With soft == hard nothing changes (and nothing is lowered)."""
    assert limits_after_raise(200, 200) == [200, 200, 200]
