"""What a run leaves when it is killed without a chance to clean up (kill -9, a lost
machine): its namespaces, cgroups and work directories, and the processes still running in
them (a daemon that changed credentials lost its parent-death signal). Every entry point
removes those of runs whose process is gone, before it starts: ``netconform run``,
``netconform matrix`` and any plain ``pytest`` session."""

from __future__ import annotations

import os

from harness.core import cgroups, topology, workdirs


def remove_dead_runs() -> list[str]:
    """Remove what runs that are gone left behind; return the names removed."""
    if os.geteuid() != 0:
        return []  # not ours to remove without root (and nothing of ours exists without it)
    return [*topology.remove_leftovers(), *cgroups.remove_leftovers(), *workdirs.remove_leftovers()]
