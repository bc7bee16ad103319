"""What every target has: a process in the target namespace speaking the control protocol."""

from __future__ import annotations

from harness.core.errors import TargetError
from harness.core.process import NamespaceProcess
from harness.hosts.agent import AgentClient


class AgentTarget:
    name: str
    process: NamespaceProcess | None = None
    _client: AgentClient | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.popen.poll() is None

    @property
    def control(self) -> AgentClient:
        if self._client is None:
            raise TargetError(f"the target {self.name} was not started")
        return self._client
