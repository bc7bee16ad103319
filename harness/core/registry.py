"""Every kind of target the harness can start, one record each: its name, the role it is
tested in, how to make it, what topology it needs, the Debian package it comes from and the
settings the report shows.

Protocol packages register their kinds when imported (harness.hosts.targets,
harness.dhcp.targets); harness.protocols imports them all. A name means one thing per role:
``ref`` is the reference host, the reference DHCP server and the reference DHCP client.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.core.cgroups import Limits
from harness.core.errors import SetupError

if TYPE_CHECKING:
    from harness.core.topology import TesterTarget

HOST, DHCP_SERVER, DHCP_CLIENT = "host", "dhcp-server", "dhcp-client"
DEFAULT_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class TopologyNeeds:
    """What a kind of target needs from the tester-target pair."""

    tap: bool = False  # a userspace stack on a TAP device, bridged to the veth
    unnumbered: bool = False  # the target's interface starts without an address (DHCP client)
    promiscuous: bool = False  # the tester takes frames for any MAC (a DHCP server's replies)

    def create(self, **extra: Any) -> TesterTarget:
        from harness.core.topology import create_tester_target  # pyroute2: only when needed

        return create_tester_target(
            tap=self.tap, unnumbered=self.unnumbered, promiscuous=self.promiscuous, **extra
        )


@dataclass(frozen=True)
class TargetSettings:
    """What a run asks of every target it starts (from the command line)."""

    limits: Limits = field(default_factory=Limits)
    start_timeout: float = DEFAULT_START_TIMEOUT_S
    profile: str = "rfc"  # what the reference host behaves like
    name: str = ""  # the name a user gave a cmd: target
    command: str = ""  # a cmd: target's command line


@dataclass(frozen=True)
class TargetKind:
    name: str
    role: str  # HOST, DHCP_SERVER or DHCP_CLIENT
    factory: Callable[[TesterTarget, TargetSettings], Any]
    topology: TopologyNeeds = TopologyNeeds()
    package: str = ""  # the Debian package it comes from; "" for netconform's own
    binary: str = ""  # the program that must be on PATH
    settings: str = ""  # what the harness changes from the defaults, shown in the report
    third_party: bool = False  # an implementation under observation (its FAILs are findings)
    default: bool = True  # tested when a run names no target of its role

    def check_installed(self) -> None:
        if self.binary and shutil.which(self.binary) is None:
            raise SetupError(
                f"{self.role} target {self.name!r} needs {self.binary} (Debian package "
                f"{self.package}); run `netconform doctor --install`"
            )

    def version(self) -> str:
        """The installed package and its version, for the report."""
        if not self.package:
            return "netconform"
        return f"{self.package} {package_version(self.package) or '(unknown)'}"


@functools.cache
def package_version(package: str) -> str:
    """The installed Debian package's version ("2.90-4"), or "" if it is not installed."""
    result = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True, text=True
    )
    return result.stdout.strip() if result.returncode == 0 else ""


_KINDS: dict[tuple[str, str], TargetKind] = {}


def register(kind: TargetKind) -> TargetKind:
    _KINDS[(kind.role, kind.name)] = kind
    return kind


def kind(role: str, name: str) -> TargetKind:
    try:
        return _KINDS[(role, name)]
    except KeyError:
        known = ", ".join(names(role)) or "none registered"
        raise SetupError(f"unknown {role} target {name!r}; known: {known}") from None


def names(role: str, *, defaults_only: bool = False) -> tuple[str, ...]:
    """The registered names of a role, in registration order; with ``defaults_only``, those
    a run tests when it names none."""
    return tuple(k.name for k in kinds(role) if k.default or not defaults_only)


def kinds(role: str | None = None) -> list[TargetKind]:
    return [k for (r, _), k in _KINDS.items() if role is None or r == role]
