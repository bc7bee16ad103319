"""Starting and reaping a target's processes inside a namespace, tracked by PID."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import tempfile
from collections.abc import Callable, Sequence

from harness.core.cgroups import Cgroup

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGKILL if the harness dies, so a killed run leaves no agent. (Not
    to be trusted alone: a daemon that changes credentials loses it; the namespace and the
    cgroup are how a later run finds what is left.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_setup(cgroup: Cgroup | None) -> Callable[[], None]:
    def setup() -> None:
        _die_with_parent()
        if cgroup is not None:
            cgroup.enter()

    return setup


class NamespaceProcess:
    """A child process run inside a network namespace, speaking on its stdin/stdout."""

    def __init__(self, netns_name: str, argv: Sequence[str], cgroup: Cgroup | None = None) -> None:
        self.argv = list(argv)
        # Not a pipe: a chatty stack must never block on a full stderr pipe.
        self.stderr_file = tempfile.TemporaryFile()  # noqa: SIM115  (closed in stop())
        # `ip netns exec` rather than setns in a preexec hook: it also gives the child the
        # namespace's own /sys and /etc/netns files, as any tool run by hand there would see.
        self.popen = subprocess.Popen(
            ["ip", "netns", "exec", netns_name, *self.argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            preexec_fn=_child_setup(cgroup),
        )
        self.pid = self.popen.pid

    def stderr_text(self, limit: int = 4000) -> str:
        self.stderr_file.seek(0)
        return self.stderr_file.read()[-limit:].decode(errors="replace")

    def stop(self, grace: float = 2.0) -> int | None:
        """Close stdin, wait ``grace`` seconds, then SIGKILL by PID; return the exit code."""
        with contextlib.suppress(OSError):
            if self.popen.stdin:
                self.popen.stdin.close()
        try:
            return _wait_or_kill(self.popen, grace)
        finally:
            if self.popen.stdout:
                self.popen.stdout.close()
            self.stderr_file.close()


class NamespaceDaemon:
    """A daemon run in the foreground inside a namespace, its output in a log file.

    ``setup`` is a shell snippet run first in the same private mount namespace that
    `ip netns exec` creates (bind mounts made there vanish with the daemon).
    """

    def __init__(
        self,
        netns_name: str,
        argv: Sequence[str],
        log_path: str,
        *,
        env: dict[str, str] | None = None,
        setup: str = "",
        cgroup: Cgroup | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log_path = log_path
        command = ["ip", "netns", "exec", netns_name]
        if setup:
            # `exec "$@"`: the daemon replaces the shell, so self.pid is the daemon's PID.
            command += ["sh", "-ec", setup + '\nexec "$@"', "netconform-setup", *self.argv]
        else:
            command += self.argv
        with open(log_path, "ab") as log:
            self.popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                preexec_fn=_child_setup(cgroup),
            )
        self.pid = self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive:
            os.kill(self.pid, signum)

    def stop(self, grace: float = 3.0) -> int | None:
        """SIGTERM, then SIGKILL after ``grace`` seconds; by PID only."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
        return _wait_or_kill(self.popen, grace)


def _wait_or_kill(popen: subprocess.Popen[bytes], grace: float) -> int:
    """The exit status, after ``grace`` seconds at most; then SIGKILL by PID."""
    try:
        return popen.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(popen.pid, signal.SIGKILL)
        return popen.wait()
