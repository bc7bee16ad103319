"""A bed: one target on a topology of its own, with the tester's link to it, shared by the
tests of a session. Protocol packages subclass it (harness.hosts.bed.TestBed,
harness.dhcp.case.DhcpServerBed and DhcpClientBed); what they share lives here: making and
starting the target, restarting it when it died, and taking everything down again.
"""

from __future__ import annotations

import contextlib
from typing import Any, Protocol

from harness.core.errors import HarnessError, TargetError
from harness.core.link import Link
from harness.core.registry import TargetKind, TargetSettings
from harness.core.topology import TesterTarget


class Target(Protocol):
    """What a bed needs of any target: started, stopped, asked whether it is alive, and
    described in the report."""

    name: str

    def start(self) -> None: ...
    def stop(self) -> None: ...
    @property
    def alive(self) -> bool: ...
    def environment(self) -> dict[str, str]: ...


class Bed:
    """A topology, a target on it and the tester's link."""

    __test__ = False  # not a pytest test class
    start_at_once = True  # a DHCP client bed starts its client per test instead

    def __init__(
        self, kind: TargetKind, settings: TargetSettings, topology: TesterTarget | None = None
    ) -> None:
        self.kind = kind
        self.settings = settings
        self.topology = topology or kind.topology.create()
        self.restarts = 0
        self.needs_restart = False  # set by a case that left the target unusable
        # Set by a test that leaves state in the target's host beyond its connections (a
        # path MTU it learnt): the pool closes this bed and makes a new one for the next test.
        self.retired = ""
        try:
            kind.check_installed()
            self.target: Any = kind.factory(self.topology, settings)
            if self.start_at_once:
                self.start_target()
            self.attach()
            self.link = Link(self.topology.tester.netns, self.topology.tester.ifname)
        except BaseException:
            self.close()
            raise

    @property
    def name(self) -> str:
        return str(self.target.name)

    def start_target(self) -> None:
        """Start the target and wait until it can be tested (subclasses wait for more)."""
        self.target.start()

    def attach(self) -> None:
        """Anything else the bed puts on the topology before the link opens (a relay)."""

    def ensure_alive(self) -> None:
        """Before a test: a target that died or stopped answering in an earlier test is
        started again, so that one bad test does not take the rest down with it. One that
        ended between two tests makes this test an ERROR that says so."""
        if not self.start_at_once or (not self.needs_restart and self.target.alive):
            return
        died = "" if self.needs_restart else self._how_it_ended()
        self.restart()
        if died:
            raise TargetError(
                f"target {self.name} stopped after the previous test ({died}); "
                "it was started again for the tests that follow"
            )

    def _how_it_ended(self) -> str:
        status = getattr(self.target, "exit_status", None)
        return status() if callable(status) else "it exited"

    def restart(self) -> None:
        with contextlib.suppress(HarnessError, OSError):
            self.target.stop()
        self.restarts += 1
        self.needs_restart = False
        self.start_target()

    def environment(self) -> dict[str, str]:
        return dict(self.target.environment())

    def close(self) -> None:
        """Stop the target, close the link, remove the namespaces; safe after a failed
        __init__ (whatever was not made yet is skipped)."""
        target = getattr(self, "target", None)
        if target is not None:
            closer = getattr(target, "close", None) or target.stop
            with contextlib.suppress(HarnessError, OSError):
                closer()
        link = getattr(self, "link", None)
        if link is not None:
            link.close()
        self.detach()
        self.topology.teardown()

    def detach(self) -> None:
        """Undo ``attach``."""
