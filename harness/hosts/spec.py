"""``--target`` values: ``linux``, ``ref``, ``cmd:LINE`` or ``NAME=cmd:LINE``, checked before
anything starts (harness.hosts.targets registers the kinds)."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import shlex
from dataclasses import dataclass

from harness.core import registry
from harness.core.errors import SetupError
from harness.core.registry import HOST, TargetKind, TargetSettings
from harness.hosts import targets  # noqa: F401  (registers the host kinds)

BUILT_IN = registry.names(HOST, defaults_only=True)


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
PLACEHOLDERS = frozenset(
    {"tap", "ip", "prefix", "mac", "tester_ip", "tester_mac", "gateway", "gateway_mac", "ctl"}
)


@dataclass(frozen=True)
class TargetSpec:
    """A ``--target`` value: ``linux``, ``ref``, ``cmd:LINE`` or ``NAME=cmd:LINE``. The name
    is what test ids, reports and baselines show; an unnamed command gets ``cmd-`` and a
    short hash of its line, so that two commands never share a name."""

    name: str
    kind: str  # "linux", "ref" or "cmd": a registered host kind
    command: str = ""

    @property
    def target_kind(self) -> TargetKind:
        return registry.kind(HOST, self.kind)

    @property
    def uses_tap(self) -> bool:
        return self.target_kind.topology.tap

    def settings(self, base: TargetSettings) -> TargetSettings:
        """``base`` (limits, start timeout, profile) with this target's name and command."""
        return dataclasses.replace(base, name=self.name, command=self.command)


def parse_target(spec: str) -> TargetSpec:
    """Validate a ``--target`` value; raise SetupError with the known forms if it is bad."""
    if spec in BUILT_IN:
        return TargetSpec(spec, spec)
    name, sep, rest = spec.partition("=")
    if sep and not name.startswith("cmd:"):
        if not _NAME.match(name) or name in BUILT_IN:
            raise SetupError(
                f"target name {name!r}: use letters, digits, '.', '_' or '-' (at most 40), "
                f"not {' or '.join(BUILT_IN)}"
            )
        if not rest.startswith("cmd:"):
            raise SetupError(f"target {spec!r}: a named target is NAME=cmd:COMMAND")
    else:
        name, rest = "", spec
    if not rest.startswith("cmd:"):
        raise SetupError(
            f"unknown target {spec!r}; known targets: {', '.join(BUILT_IN)}, cmd:COMMAND "
            "or NAME=cmd:COMMAND"
        )
    command = rest[4:]
    _check_command(command)
    digest = hashlib.sha1(command.encode()).hexdigest()[:8]
    return TargetSpec(name or f"cmd-{digest}", "cmd", command)


def _check_command(command: str) -> None:
    """A command line that cannot run is refused before anything starts."""
    if not command.strip():
        raise SetupError("target 'cmd:' needs a command line, e.g. cmd:'./mystack --tap {tap}'")
    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise SetupError(f"the command line {command!r} cannot be split: {exc}") from None
    unknown = sorted(
        {field for word in words for field in re.findall(r"{([^{}]*)}", word)} - PLACEHOLDERS
    )
    if unknown:
        raise SetupError(
            f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)} in the command "
            f"line; known: {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}"
        )


def target_names(specs: list[str]) -> list[str]:
    """The names of ``--target`` values, refusing two targets with one name."""
    names = [parse_target(spec).name for spec in specs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise SetupError(f"two targets are named {', '.join(twice)}; name them NAME=cmd:...")
    return names
