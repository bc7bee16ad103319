"""What a run leaves when it is killed without a chance to clean up (kill -9, a lost
machine): its namespaces, cgroups and work directories, and the processes still running in
them (a daemon that changed credentials lost its parent-death signal). Every entry point
removes those of runs whose process is gone, before it starts: ``netconform run``,
``netconform matrix`` and any plain ``pytest`` session."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness.core import cgroups, topology, workdirs

# Sessions that start together (pytest workers, matrix stacks) take turns at removing a dead
# run's leftovers rather than racing to remove the same namespace; whoever needs a dead run's
# leftovers left alone for a moment (a test that looks at them) holds the same lock.
LOCK_PATH = Path(tempfile.gettempdir()) / "netconform-leftovers.lock"


@contextlib.contextmanager
def cleanup_held() -> Iterator[None]:
    with open(LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def remove_dead_runs() -> list[str]:
    """Remove what runs that are gone left behind; return the names removed."""
    if os.geteuid() != 0:
        return []  # not ours to remove without root (and nothing of ours exists without it)
    with cleanup_held():
        return [
            *topology.remove_leftovers(),
            *cgroups.remove_leftovers(),
            *workdirs.remove_leftovers(),
        ]
