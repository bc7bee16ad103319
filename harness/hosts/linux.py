"""The ``linux`` target: the kernel's own TCP/IP in the target namespace."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from harness.core.errors import HarnessError, TargetError
from harness.core.process import NamespaceProcess
from harness.core.topology import TesterTarget
from harness.hosts.agent import AgentClient
from harness.hosts.base import AgentTarget


class LinuxTarget(AgentTarget):
    """The kernel's stack, driven by ``harness.hosts.linux_agent`` inside the namespace."""

    name = "linux"

    def __init__(self, topology: TesterTarget) -> None:
        self.topology = topology
        self.ip = topology.target.ip
        self.mac = topology.target.mac
        self.process: NamespaceProcess | None = None
        self._client: AgentClient | None = None
        self.hello: dict[str, Any] = {}

    def start(self) -> None:
        argv = [sys.executable, "-m", "harness.hosts.linux_agent"]
        self.process = NamespaceProcess(self.topology.target.netns, argv)
        self._client = AgentClient.over_process(self.process.popen, self.name)
        try:
            self.hello = self._client.hello()
        except HarnessError as exc:
            raise TargetError(f"{exc}; agent stderr: {self.process.stderr_text()}") from exc

    def environment(self) -> dict[str, str]:
        """What the report records about this target: kernel and pinned sysctls."""
        env = {"target": self.name, "kernel": os.uname().release}
        env.update(self.topology.sysctls)
        return env

    def stop(self) -> None:
        if self.process is None:
            return
        if self._client is not None:
            with contextlib.suppress(HarnessError, OSError):
                self._client.request("quit", timeout=1.0)
        self.process.stop()
        self.process = None
