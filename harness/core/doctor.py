"""What the harness needs from the machine, a check of it, and the install step.

``netconform doctor`` reports; ``netconform doctor --install`` installs the Debian packages
and the Allure 3 report tool (npm) that the README's two commands rely on.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.core.errors import SetupError

# Kept free of heavy imports (Scapy, pyroute2): the root and dependency checks run first.
REPORT_TOOL_DIR = Path(__file__).parents[1] / "report"  # package.json of the Allure 3 CLI
ALLURE_BIN = REPORT_TOOL_DIR / "node_modules" / ".bin" / "allure"


@dataclass(frozen=True)
class Dependency:
    command: str
    package: str
    why: str
    runtime: bool  # needed to run any suite (else only for the HTML report or extras)


DEPENDENCIES = (
    Dependency("ip", "iproute2", "network namespaces and processes inside them", True),
    Dependency("ethtool", "ethtool", "turning checksum offload, TSO, GSO, GRO off", True),
    Dependency("tshark", "tshark", "full protocol decode of each capture in the report", False),
    Dependency("node", "nodejs", "running the Allure 3 report builder", False),
    Dependency("npm", "npm", "installing the Allure 3 report builder", False),
    Dependency("chromium", "chromium", "headless browser that checks the built reports", False),
    # DHCP targets (each is checked when a test selects it). The -base/-client packages
    # carry the binaries without a system service.
    Dependency("dnsmasq", "dnsmasq-base", "DHCP server target dnsmasq", False),
    Dependency("kea-dhcp4", "kea-dhcp4-server", "DHCP server target kea", False),
    Dependency("dhcpd", "isc-dhcp-server", "DHCP server target dhcpd (ISC)", False),
    Dependency("dhclient", "isc-dhcp-client", "DHCP client target dhclient (ISC)", False),
    Dependency("udhcpc", "udhcpc", "DHCP client target udhcpc (busybox)", False),
    Dependency("dhcpcd", "dhcpcd-base", "DHCP client target dhcpcd", False),
    Dependency("ss", "iproute2", "seeing when a DHCP server listens", False),
)
# Installing kea-dhcp4-server or isc-dhcp-server would start their system services in the
# root namespace; while apt runs, invoke-rc.d is told not to (the Debian policy-rc.d hook).
POLICY_RC_D = Path("/usr/sbin/policy-rc.d")


def missing(runtime_only: bool = False) -> list[Dependency]:
    return [
        d
        for d in DEPENDENCIES
        if (d.runtime or not runtime_only) and shutil.which(d.command) is None
    ]


def require_root() -> None:
    if os.geteuid() != 0:
        raise SetupError("netconform needs root (network namespaces); run it as root")


def require_runtime() -> None:
    """Raise one clear SetupError if this machine cannot run a suite."""
    require_root()
    absent = missing(runtime_only=True)
    if absent:
        names = ", ".join(f"{d.command} (Debian package {d.package})" for d in absent)
        raise SetupError(f"missing system dependency: {names}; run `netconform doctor --install`")


def report(out: list[str]) -> bool:
    """Describe the machine's readiness; return True if everything is there."""
    ok = True
    out.append(f"root: {'yes' if os.geteuid() == 0 else 'NO (needed for namespaces)'}")
    ok &= os.geteuid() == 0
    for dep in DEPENDENCIES:
        path = shutil.which(dep.command)
        out.append(f"{dep.command:<8} {'ok  ' + path if path else 'MISSING'}  ({dep.why})")
        ok &= path is not None
    allure_ok = ALLURE_BIN.exists()
    out.append(
        f"allure   {'ok  ' + str(ALLURE_BIN) if allure_ok else 'MISSING'}  (Allure 3 HTML report)"
    )
    if os.geteuid() == 0 and shutil.which("ip"):
        ok &= _bridge_netfilter(out)
    return ok and allure_ok


def _bridge_netfilter(out: list[str]) -> bool:
    from harness.core.errors import HarnessError
    from harness.core.topology import check_bridge_netfilter

    try:
        out.append(f"bridge   ok  {check_bridge_netfilter()}")
        return True
    except (HarnessError, OSError) as exc:
        out.append(f"bridge   PROBLEM  {exc}")
        return False


def install() -> None:
    """apt-get the missing packages, then the Allure 3 CLI from the committed lock file."""
    require_root()
    packages = sorted({d.package for d in missing()})
    if packages:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        _run(["apt-get", "update", "-qq"], env)
        with _services_not_started():
            _run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], env)
    if not ALLURE_BIN.exists():
        _run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], None, cwd=REPORT_TOOL_DIR
        )


@contextlib.contextmanager
def _services_not_started() -> Iterator[None]:
    """A policy-rc.d that refuses every service start, unless the machine has one already
    (then it keeps its own); removed afterwards."""
    if POLICY_RC_D.exists():
        yield
        return
    POLICY_RC_D.write_text(
        "#!/bin/sh\n# netconform doctor --install: no service starts\nexit 101\n"
    )
    POLICY_RC_D.chmod(0o755)
    try:
        yield
    finally:
        POLICY_RC_D.unlink(missing_ok=True)


def _run(cmd: list[str], env: dict[str, str] | None, cwd: Path | None = None) -> None:
    print("+ " + " ".join(cmd), flush=True)
    result = subprocess.run(cmd, env=env, cwd=cwd, check=False)
    if result.returncode != 0:
        raise SetupError(f"`{' '.join(cmd)}` failed with exit status {result.returncode}")
