"""Whose namespaces are these: the project's tests run in parallel (pytest-xdist), so a test
that checks that a run left nothing behind looks at the namespaces of the processes it
started, not at every namespace on the machine (other workers make and remove their own
meanwhile)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from harness.core import runs, topology


def family_of(pid: int) -> set[int]:
    """A process and all its descendants, from /proc."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    family, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in family} - family
        family |= more
        grew = bool(more)
    return family


def owner(name: str) -> int:
    """The PID of the run that made a namespace (``ncf-<pid>-...``)."""
    return int(name.split("-")[1])


def namespaces_of(pids: Iterable[int]) -> list[str]:
    wanted = set(pids)
    return [name for name in topology.our_namespaces() if owner(name) in wanted]


def namespaces_of_live_runs() -> list[str]:
    return [name for name in topology.our_namespaces() if runs.alive(owner(name))]


@contextmanager
def descendants_seen(interval: float = 0.2) -> Iterator[set[int]]:
    """Every process descended from this one while the block runs (sampled every
    ``interval`` seconds: a run that makes namespaces lives far longer), so that the
    namespaces a finished child made can still be told from other workers' ones."""
    seen: set[int] = set()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            seen.update(family_of(os.getpid()) - {os.getpid()})
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield seen
    finally:
        done.set()
        sampler.join()
