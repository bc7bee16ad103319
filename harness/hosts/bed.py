"""A host target on its own topology, shared by the tests of a session: the namespaces, the
started target (the kernel, the reference host or a userspace stack), optionally a relay
that impairs the link, and the tester's link. TCP, ICMP and the on-link checks all run on
it (harness.tcp.case.TcpCase, harness.icmp.case.IcmpCase)."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Mapping

from harness.core.bed import Bed
from harness.core.cgroups import Limits
from harness.core.impair import Impairment, RelayProcess
from harness.core.registry import DEFAULT_START_TIMEOUT_S, TargetSettings
from harness.core.topology import TARGET_SYSCTLS
from harness.core.workdirs import make_workdir
from harness.hosts.spec import parse_target
from harness.hosts.stack import StackTarget

FIRST_PORT = 20000


class TestBed(Bed):
    """Topology + host target + link for one target, shared by the tests of a session."""

    def __init__(
        self,
        target_name: str,
        profile: str = "rfc",
        *,
        relay: dict[str, Impairment] | None = None,
        seed: int = 1,
        sysctls: Mapping[str, str] | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT_S,
        limits: Limits | None = None,
    ) -> None:
        """``sysctls`` are pinned in the target namespace over the defaults (kernel target);
        ``limits`` bound a userspace stack's memory and CPU."""
        spec = parse_target(target_name)
        self.target_name = spec.name
        self.profile = profile
        self._relay_rules, self._seed = relay, seed
        self.relay: RelayProcess | None = None
        self._relay_dir: str | None = None
        self._ports = itertools.count(FIRST_PORT)
        tap = spec.uses_tap
        pinned = None if tap or not sysctls else {**TARGET_SYSCTLS, **sysctls}
        kind = spec.target_kind
        topology = kind.topology.create(relay=relay is not None, target_sysctls=pinned)
        base = TargetSettings(limits or Limits(), start_timeout, profile)
        super().__init__(kind, spec.settings(base), topology)

    def attach(self) -> None:
        if self._relay_rules is not None and self.topology.relay_netns:
            self._relay_dir = str(make_workdir("relay"))
            log = os.path.join(self._relay_dir, "relay.jsonl")
            self.relay = RelayProcess(self.topology.relay_netns, self._seed, self._relay_rules, log)

    def detach(self) -> None:
        relay: RelayProcess | None = getattr(self, "relay", None)
        if relay is not None:
            relay.stop()
        relay_dir: str | None = getattr(self, "_relay_dir", None)
        if relay_dir:
            shutil.rmtree(relay_dir, ignore_errors=True)

    def next_port(self) -> int:
        return next(self._ports)

    @property
    def has_gateway(self) -> bool:
        """Whether the target was told its default gateway (a userspace stack learns it
        only from the {gateway} placeholder of its command line)."""
        return not isinstance(self.target, StackTarget) or "{gateway}" in self.target.command
