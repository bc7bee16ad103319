"""The host targets, registered: what ``--target`` accepts.

linux      the kernel's TCP/IP in the target namespace, driven by harness.hosts.linux_agent
ref        the reference host (reference_impl.host) on a TAP device, harness.hosts.refstack
cmd:LINE   any userspace stack on a TAP device (harness.hosts.stack lists the placeholders)
"""

from __future__ import annotations

from harness.core.registry import HOST, TargetKind, TargetSettings, TopologyNeeds, register
from harness.core.topology import TesterTarget
from harness.hosts.linux import LinuxTarget
from harness.hosts.stack import StackTarget, ref_command


def _linux(topology: TesterTarget, settings: TargetSettings) -> LinuxTarget:
    return LinuxTarget(topology)


def _ref(topology: TesterTarget, settings: TargetSettings) -> StackTarget:
    command = ref_command(settings.profile)
    return StackTarget("ref", command, topology, settings.start_timeout, settings.limits)


def _cmd(topology: TesterTarget, settings: TargetSettings) -> StackTarget:
    return StackTarget(
        settings.name, settings.command, topology, settings.start_timeout, settings.limits
    )


LINUX = register(
    TargetKind(
        "linux",
        HOST,
        _linux,
        TopologyNeeds(),
        package="linux-image",
        settings="TCP sysctls pinned in the target namespace (harness.core.topology)",
    )
)
REF = register(TargetKind("ref", HOST, _ref, TopologyNeeds(tap=True)))
CMD = register(TargetKind("cmd", HOST, _cmd, TopologyNeeds(tap=True), default=False))
