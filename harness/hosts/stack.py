"""Userspace stacks on a TAP device: the reference (``ref``) and any command (``cmd:...``).

A ``cmd:`` line is split like a shell would and may use these placeholders:
{tap} the TAP device, {ip} the stack's address, {prefix} its prefix length, {mac} the MAC it
must use, {tester_ip}/{tester_mac} the tester's (for a static neighbour entry), {gateway} and
{gateway_mac} the default gateway's, {ctl} a Unix socket path the stack listens on for the
control protocol (without {ctl}: stdin/stdout).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import socket
import sys
import time
from typing import Any

from harness.core.cgroups import Cgroup, Limits
from harness.core.errors import HarnessError, TargetError, TopologyError
from harness.core.process import NamespaceProcess
from harness.core.topology import GATEWAY_MAC, TesterTarget, wait_for_tap
from harness.core.workdirs import make_workdir
from harness.hosts.agent import AgentClient, process_status
from harness.hosts.base import AgentTarget

DEFAULT_START_TIMEOUT_S = 30.0  # room for a stack that probes its address first (RFC 5227)


def ref_command(profile: str) -> str:
    """The reference host, started exactly as a student's stack would be."""
    return (
        f"{shlex.quote(sys.executable)} -m harness.hosts.refstack --tap {{tap}} "
        f"--ip {{ip}}/{{prefix}} --mac {{mac}} --neighbor {{tester_ip}}={{tester_mac}} "
        f"--gateway {{gateway}} --neighbor {{gateway}}={{gateway_mac}} --profile {profile}"
    )


class StackTarget(AgentTarget):
    def __init__(
        self,
        name: str,
        command: str,
        topology: TesterTarget,
        start_timeout: float = DEFAULT_START_TIMEOUT_S,
        limits: Limits | None = None,
    ) -> None:
        self.name, self.command, self.topology = name, command, topology
        self.start_timeout = start_timeout
        self.limits = limits or Limits()
        self.cgroup: Cgroup | None = None
        self.start_seconds: float | None = None  # how long the last start took
        self.ip, self.mac = topology.target.ip, topology.target.mac
        self.process: NamespaceProcess | None = None
        self._client: AgentClient | None = None
        self._ctl_dir: str | None = None
        self._sock: socket.socket | None = None
        self.hello: dict[str, object] = {}

    def argv(self) -> list[str]:
        topo = self.topology
        values = {
            "tap": topo.target.ifname,
            "ip": topo.target.ip,
            "prefix": str(topo.prefixlen),
            "mac": topo.target.mac,
            "tester_ip": topo.tester.ip,
            "tester_mac": topo.tester.mac,
            "gateway": topo.gateway,
            "gateway_mac": GATEWAY_MAC,
            "ctl": self._ctl_path() if "{ctl}" in self.command else "",
        }
        try:
            return [part.format(**values) for part in shlex.split(self.command)]
        except (KeyError, ValueError, IndexError) as exc:
            raise TargetError(
                f"bad placeholder in the command line {self.command!r}: {exc}"
            ) from exc

    def _ctl_path(self) -> str:
        if self._ctl_dir is None:
            self._ctl_dir = str(make_workdir("ctl"))
        return os.path.join(self._ctl_dir, "ctl.sock")

    def start(self) -> None:
        """Start the stack and wait for its answer to ``hello``, at most ``start_timeout``
        seconds in all (opening the control socket included)."""
        argv = self.argv()
        began = time.monotonic()
        self.cgroup = Cgroup(self.limits)
        self.process = NamespaceProcess(self.topology.target.netns, argv, self.cgroup)
        try:
            if "{ctl}" in self.command:
                self._sock = self._connect_ctl(began + self.start_timeout)
                self._client = AgentClient.over_socket(
                    self._sock, self.process.popen, self.name, self.exit_status
                )
            else:
                self._client = AgentClient.over_process(
                    self.process.popen, self.name, self.exit_status
                )
            self.hello = self._hello_by(began + self.start_timeout)
            self._on_the_wire_by(began + self.start_timeout)
            self.start_seconds = time.monotonic() - began
        except HarnessError as exc:
            stderr = self.process.stderr_text()
            self.stop()
            raise TargetError(f"{exc}; its stderr: {stderr.strip()[-800:] or '(empty)'}") from exc

    def _hello_by(self, deadline: float) -> dict[str, Any]:
        """The stack's answer to ``hello`` by the end of its start-up limit; a silence is
        reported against that limit (what the user set), not the rest of it that was left."""
        assert self._client is not None and self.process is not None
        try:
            return self._client.hello(timeout=max(0.1, deadline - time.monotonic()), grace=0.0)
        except TargetError as exc:
            if time.monotonic() < deadline or self.process.popen.poll() is not None:
                raise  # it answered wrongly, or exited: the client's own words say so
            raise TargetError(
                f"target {self.name} did not answer 'hello' within its start-up limit of "
                f"{self.start_timeout:g} s (--start-timeout)"
            ) from exc

    def _on_the_wire_by(self, deadline: float) -> None:
        """A stack that answered ``hello`` holds its TAP device, and the kernel has let frames
        through it (topology.wait_for_tap); without this a test's first frames could be lost."""
        try:
            wait_for_tap(self.topology, max(0.5, deadline - time.monotonic()))
        except TopologyError as exc:
            raise TargetError(
                f"target {self.name} answered 'hello' but its TAP device "
                f"{self.topology.target.ifname} does not pass frames: a stack must attach to "
                f"it (TUNSETIFF) before it answers; {exc}"
            ) from exc

    def _connect_ctl(self, deadline: float) -> socket.socket:
        assert self.process is not None
        path = self._ctl_path()
        while time.monotonic() < deadline:
            if self.process.popen.poll() is not None:
                raise TargetError(
                    f"target {self.name} exited with status {self.process.popen.returncode} "
                    "before opening its control socket"
                )
            if os.path.exists(path):
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(path)
                    return sock
                except OSError:
                    sock.close()
            time.sleep(0.02)
        raise TargetError(
            f"target {self.name} did not open its control socket {{ctl}} within its start-up "
            f"limit of {self.start_timeout:g} s (--start-timeout)"
        )

    def exit_status(self) -> str:
        """How the stack ended: its exit status, and the memory limit if it hit it."""
        if self.process is None:
            return "not running"
        status = process_status(self.process.popen)
        reason = self.cgroup.exit_reason() if self.cgroup is not None else ""
        return f"{status}; {reason}" if reason else status

    def environment(self) -> dict[str, str]:
        env = {"target": self.name, "command": " ".join(shlex.quote(a) for a in self.argv())}
        if self.cgroup is not None:
            env["resource limits"] = self.cgroup.describe()
        if self.start_seconds is not None:
            env["start-up time"] = (
                f"{self.start_seconds:.3f} s (limit {self.start_timeout:g} s, --start-timeout)"
            )
        env.update(self.topology.sysctls)
        return env

    def stop(self) -> None:
        if self._client is not None and self.alive:
            with contextlib.suppress(HarnessError, OSError):
                self._client.request("quit", timeout=1.0)
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self.process is not None:
            self.process.stop()
            self.process = None
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None
        if self._ctl_dir is not None:
            with contextlib.suppress(OSError):
                for entry in os.listdir(self._ctl_dir):
                    os.unlink(os.path.join(self._ctl_dir, entry))
                os.rmdir(self._ctl_dir)
            self._ctl_dir = None
