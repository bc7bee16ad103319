"""A cgroup of its own for every process the harness starts as a target (a ``cmd:`` stack,
the reference host, a DHCP daemon), with a memory and a CPU limit.

A stack that leaks memory is stopped by the kernel at its limit instead of taking the machine
down, and the report says so ("exceeded its memory limit of 1024 MB") and gives the peak.
cgroup v2 is used where its memory controller is available, otherwise the v1 memory and cpu
hierarchies (Debian 12 machines run either). Groups are named like namespaces,
``ncf-<pid>-<n>``, under the harness's own group, so that a later run can find those of a
dead run, kill what is left in them and remove them. Without any controller, limits are not
enforced and the report says that.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.core import runs

PREFIX = "ncf"
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-\d+$")
_COUNTER = itertools.count(1)
_LOCK = threading.Lock()
MOUNTS = Path("/proc/self/mountinfo")
PEAK_FILES = (("unified", "memory.peak"), ("memory", "memory.max_usage_in_bytes"))


@dataclass(frozen=True)
class Limits:
    memory_mb: int = 1024
    cpus: float = 1.0

    def describe(self) -> str:
        return f"{self.memory_mb} MB of memory, {self.cpus:g} CPU"


def _hierarchies() -> dict[str, Path]:
    """Controller ("memory", "cpu", or "unified" for v2) -> the directory of our own group."""
    found: dict[str, Path] = {}
    ours = _own_groups()
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        left, _, right = line.partition(" - ")
        fields, kinds = left.split(), right.split()
        if len(fields) < 5 or not kinds:
            continue
        mount, options = Path(fields[4]), kinds[-1].split(",")
        if kinds[0] == "cgroup2" and "memory" in _v2_controllers(mount):
            # Under the root: a v2 group that holds processes (ours) cannot hand controllers
            # down, the root can.
            found["unified"] = mount
        elif kinds[0] == "cgroup":
            for controller in ("memory", "cpu"):
                if controller in options and controller in ours:
                    found[controller] = mount / ours[controller].lstrip("/")
    return found


def _v2_controllers(mount: Path) -> list[str]:
    try:
        return (mount / "cgroup.subtree_control").read_text().split()
    except OSError:
        return []


def _own_groups() -> dict[str, str]:
    """/proc/self/cgroup as controller -> path ("" for the v2 line)."""
    groups = {}
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                groups[controller] = path
    return groups


class Cgroup:
    """One target's group, in every hierarchy available; ``enter`` runs in the child."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        with _LOCK:
            self.name = f"{PREFIX}-{os.getpid()}-{next(_COUNTER)}"
        self.dirs: dict[str, Path] = {}
        for controller, parent in _hierarchies().items():
            with contextlib.suppress(OSError):
                path = parent / self.name
                path.mkdir()
                self.dirs[controller] = path
        self._set_limits()

    @property
    def enforced(self) -> bool:
        return "unified" in self.dirs or "memory" in self.dirs

    def _set_limits(self) -> None:
        memory = str(self.limits.memory_mb * 1024 * 1024)
        period = 100_000
        quota = str(int(self.limits.cpus * period))
        writes = {
            "unified": [("memory.max", memory), ("cpu.max", f"{quota} {period}")],
            "memory": [("memory.limit_in_bytes", memory)],
            "cpu": [("cpu.cfs_period_us", str(period)), ("cpu.cfs_quota_us", quota)],
        }
        for controller, path in self.dirs.items():
            for name, value in writes[controller]:
                with contextlib.suppress(OSError):
                    (path / name).write_text(value)

    def enter(self) -> None:
        """In the child, before exec: move this process into the group (its children follow)."""
        for path in self.dirs.values():
            with contextlib.suppress(OSError):
                (path / "cgroup.procs").write_text(str(os.getpid()))

    def peak_mb(self) -> float | None:
        for controller, name in PEAK_FILES:
            with contextlib.suppress(OSError, ValueError, KeyError):
                return int((self.dirs[controller] / name).read_text()) / 1024 / 1024
        return None

    def hit_memory_limit(self) -> bool:
        for controller, name in (("unified", "memory.events"), ("memory", "memory.oom_control")):
            with contextlib.suppress(OSError, KeyError):
                text = (self.dirs[controller] / name).read_text()
                if re.search(r"^oom_kill [1-9]", text, re.M):
                    return True
        with contextlib.suppress(OSError, KeyError, ValueError):
            return int((self.dirs["memory"] / "memory.failcnt").read_text()) > 0
        return False

    def describe(self) -> str:
        if not self.enforced:
            return "not enforced (no cgroup memory controller on this machine)"
        peak = self.peak_mb()
        return self.limits.describe() + (f"; peak {peak:.0f} MB" if peak is not None else "")

    def exit_reason(self) -> str:
        """Why the processes died, when the group knows (else "")."""
        if self.enforced and self.hit_memory_limit():
            return f"exceeded its memory limit of {self.limits.memory_mb} MB (--target-memory)"
        return ""

    def remove(self) -> None:
        """Kill what is left in the group (by PID) and remove it."""
        for path in self.dirs.values():
            _remove(path)
        self.dirs.clear()


def _remove(path: Path) -> None:
    for _ in range(50):
        pids = _pids(path)
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            path.rmdir()
            return
        time.sleep(0.02)


def _pids(path: Path) -> list[int]:
    with contextlib.suppress(OSError, ValueError):
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    return []


def remove_leftovers() -> list[str]:
    """Remove the groups of runs whose process is gone (and kill what is in them)."""
    removed = []
    for parent in _hierarchies().values():
        with contextlib.suppress(OSError):
            for path in parent.iterdir():
                match = _NAME_RE.match(path.name)
                if match and path.is_dir() and not runs.alive(int(match.group(1))):
                    _remove(path)
                    removed.append(path.name)
    return sorted(set(removed))
