"""Targets: what the suites test. One module per kind (see DESIGN.md, "Targets").

linux        the kernel's TCP/IP in the target namespace (agent over the socket API)
ref          the reference host on a TAP device (harness.targets.refstack)
cmd:LINE     any userspace stack on a TAP device; see harness.targets.stack for placeholders
DHCP servers ref, dnsmasq, kea, dhcpd and clients ref, dhclient, udhcpc, dhcpcd (dhcp.py)
"""

from __future__ import annotations

from harness.errors import SetupError

BUILT_IN = ("linux", "ref")
# DHCP targets (harness.targets.dhcp): the harness plays the other side.
DHCP_SERVERS = ("ref", "dnsmasq", "kea", "dhcpd")
DHCP_CLIENTS = ("ref", "dhclient", "udhcpc", "dhcpcd")


def check_target_spec(spec: str) -> str:
    """Validate a ``--target`` value; raise SetupError with the known ones if it is unknown."""
    if spec in BUILT_IN:
        return spec
    if spec.startswith("cmd:"):
        if not spec[4:].strip():
            raise SetupError("target 'cmd:' needs a command line, e.g. cmd:'./mystack --tap {tap}'")
        return spec
    raise SetupError(
        f"unknown target {spec!r}; known targets: {', '.join(BUILT_IN)}, or cmd:COMMAND"
    )


def uses_tap(spec: str) -> bool:
    return spec != "linux"
