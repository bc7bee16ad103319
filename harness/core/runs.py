"""Whose is it: everything a run makes (namespaces, cgroups, work directories) carries the
run's PID in its name, and a run is gone when its PID is."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive, and not ours to judge
    return True
