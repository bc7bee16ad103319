"""DHCP targets: real servers and clients, each started by the harness inside the target
namespace with a configuration it generates, its own lease file and log, tracked by PID.

Servers (the harness plays the clients): ref, dnsmasq, kea, dhcpd.
Clients (the harness plays the server):  ref, dhclient, udhcpc, dhcpcd.

Nothing here touches a file outside the run's work directory: client hook scripts are the
harness's own (they configure the interface in the namespace and log what they were told,
and never touch /etc/resolv.conf); dhcpcd, whose state paths are compiled in, runs with its
state and run directories bind-mounted from the work directory in its private mount
namespace. Settings that change what a daemon does on the wire (ping checks, probation
periods) are in each kind's settings (harness.dhcp.targets) and shown in the report.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass

from harness.core import registry
from harness.core.cgroups import Cgroup, Limits
from harness.core.errors import TargetError
from harness.core.process import NamespaceDaemon
from harness.core.registry import DHCP_CLIENT, DHCP_SERVER
from harness.core.topology import TesterTarget, kill_processes_in
from harness.core.workdirs import make_workdir

LOG_ATTACHMENT_BYTES = 2_000_000


@dataclass(frozen=True)
class ServerPlan:
    """What every DHCP server is configured to hand out (the suites rely on it)."""

    server_ip: str
    subnet: str
    pool: tuple[str, str]
    lease_s: int = 600
    router: str = ""

    @property
    def network(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(self.subnet)

    @property
    def netmask(self) -> str:
        return str(self.network.netmask)

    @property
    def t1_s(self) -> int:
        return self.lease_s // 2

    @property
    def t2_s(self) -> int:
        return self.lease_s * 7 // 8


def server_plan(topology: TesterTarget) -> ServerPlan:
    net = ipaddress.IPv4Network(f"{topology.target.ip}/{topology.prefixlen}", strict=False)
    base = net.network_address
    return ServerPlan(
        server_ip=topology.target.ip,
        subnet=str(net),
        # From .100 to 20 below the broadcast address: room for the relay (.253), the
        # gateway (.254) and hand-configured INFORM clients below the pool.
        pool=(str(base + 100), str(net.broadcast_address - 20)),
        router=topology.gateway,
    )


class DhcpDaemon:
    """One daemon of a target, restartable; its work directory holds config, leases, log."""

    name = ""
    role = ""  # DHCP_SERVER or DHCP_CLIENT (harness.core.registry)

    def __init__(self, topology: TesterTarget, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.cgroup: Cgroup | None = None
        self.topology = topology
        self.netns = topology.target.netns
        self.iface = topology.target.ifname
        self.workdir = make_workdir(self.name)
        self.process: NamespaceDaemon | None = None
        self.log_path = str(self.workdir / "daemon.log")

    def argv(self) -> list[str]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Write the configuration; may check it."""

    def env(self) -> dict[str, str]:
        return {}

    def setup_shell(self) -> str:
        return ""

    def start(self) -> None:
        self.prepare()
        self.cgroup = Cgroup(self.limits)
        self.process = NamespaceDaemon(
            self.netns,
            self.argv(),
            self.log_path,
            env=self.env(),
            setup=self.setup_shell(),
            cgroup=self.cgroup,
        )

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.alive

    def log_size(self) -> int:
        """Where the log ends now, in bytes: a test reads from here on."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_since(self, offset: int, limit: int = LOG_ATTACHMENT_BYTES) -> str:
        """The log written from byte ``offset`` on (the lines of one test), whatever the
        log's size; cut at ``limit`` bytes with a note saying so."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(offset)
                data = log.read(limit + 1)
        except OSError:
            return ""
        text = data[:limit].decode(errors="replace")
        return text + (f"\n... cut at {limit} bytes" if len(data) > limit else "")

    def log_text(self) -> str:
        """The end of the log (for a daemon that exits at start)."""
        return self.log_since(max(0, self.log_size() - 20_000))

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None
        # Helpers a daemon forked (dhcpcd's privilege-separated processes) die too.
        kill_processes_in(self.netns)
        if self.cgroup is not None:
            self.cgroup.remove()
            self.cgroup = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def check_started(self) -> None:
        if self.process is not None and not self.process.alive:
            raise TargetError(
                f"{self.name} exited at start (status {self.process.popen.returncode}):\n"
                + self.log_text()[-3000:]
            )

    def environment(self) -> dict[str, str]:
        kind = registry.kind(self.role, self.name)
        env = {"dhcp.target": self.name, "dhcp.workdir": str(self.workdir)}
        if kind.settings:
            env["dhcp.settings"] = kind.settings
        if kind.package:
            env["dhcp.version"] = kind.version()
        if self.cgroup is not None:
            env["resource limits"] = self.cgroup.describe()
        return env


# -- servers -------------------------------------------------------------------------------


class DhcpServerTarget(DhcpDaemon):
    role = DHCP_SERVER

    def __init__(self, topology: TesterTarget, limits: Limits | None = None) -> None:
        super().__init__(topology, limits)
        self.plan = server_plan(topology)


class RefServer(DhcpServerTarget):
    name = "ref"

    def prepare(self) -> None:
        plan = self.plan
        config = {
            "server_id": plan.server_ip,
            "subnet": plan.subnet,
            "pool": list(plan.pool),
            "lease_time_s": plan.lease_s,
            "router": plan.router or None,
        }
        (self.workdir / "server.json").write_text(json.dumps(config, indent=2))

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "harness.dhcp.refserver",
            "--iface",
            self.iface,
            "--config",
            str(self.workdir / "server.json"),
            "--leases",
            str(self.workdir / "leases.sqlite"),
        ]


class Dnsmasq(DhcpServerTarget):
    name = "dnsmasq"

    def prepare(self) -> None:
        plan = self.plan
        lines = [
            "port=0",  # no DNS: DHCP only
            f"interface={self.iface}",
            "bind-interfaces",
            f"dhcp-range={plan.pool[0]},{plan.pool[1]},{plan.netmask},{plan.lease_s}s",
            f"dhcp-option=option:router,{plan.router}",
            f"dhcp-leasefile={self.workdir / 'dnsmasq.leases'}",
            f"pid-file={self.workdir / 'dnsmasq.pid'}",
            "no-ping",
            "dhcp-lease-max=65536",  # the default of 1,000 would cap the DORA benchmark
            "log-dhcp",
            "user=root",
        ]
        (self.workdir / "dnsmasq.conf").write_text("\n".join(lines) + "\n")

    def argv(self) -> list[str]:
        return [
            "dnsmasq",
            "--keep-in-foreground",
            "--log-facility=-",
            "-C",
            str(self.workdir / "dnsmasq.conf"),
        ]


class Kea(DhcpServerTarget):
    name = "kea"

    def prepare(self) -> None:
        plan = self.plan
        config = {
            "Dhcp4": {
                "interfaces-config": {"interfaces": [self.iface], "dhcp-socket-type": "raw"},
                "lease-database": {
                    "type": "memfile",
                    "persist": True,
                    "name": str(self.workdir / "kea-leases4.csv"),
                    "lfc-interval": 0,
                },
                "valid-lifetime": plan.lease_s,
                "renew-timer": plan.t1_s,
                "rebind-timer": plan.t2_s,
                "subnet4": [
                    {
                        "id": 1,
                        "subnet": plan.subnet,
                        "pools": [{"pool": f"{plan.pool[0]} - {plan.pool[1]}"}],
                        "option-data": [{"name": "routers", "data": plan.router}],
                    }
                ],
                "loggers": [
                    {
                        "name": "kea-dhcp4",
                        "output_options": [{"output": "stdout"}],
                        "severity": "INFO",
                    }
                ],
            }
        }
        path = self.workdir / "kea-dhcp4.conf"
        path.write_text(json.dumps(config, indent=2))
        # Kea's configuration is checked inside the namespace (it looks up the
        # interface there).
        result = subprocess.run(
            ["ip", "netns", "exec", self.netns, "kea-dhcp4", "-t", str(path)],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env()},
        )
        if result.returncode != 0:
            raise TargetError(
                f"kea-dhcp4 rejected its configuration:\n{result.stdout}{result.stderr}"
            )

    def env(self) -> dict[str, str]:
        return {"KEA_PIDFILE_DIR": str(self.workdir), "KEA_LOCKFILE_DIR": str(self.workdir)}

    def argv(self) -> list[str]:
        return ["kea-dhcp4", "-c", str(self.workdir / "kea-dhcp4.conf")]


class IscDhcpd(DhcpServerTarget):
    name = "dhcpd"

    def prepare(self) -> None:
        plan = self.plan
        net = plan.network
        config = f"""ping-check false;
default-lease-time {plan.lease_s};
max-lease-time {plan.lease_s};
subnet {net.network_address} netmask {net.netmask} {{
  range {plan.pool[0]} {plan.pool[1]};
  option routers {plan.router};
}}
"""
        (self.workdir / "dhcpd.conf").write_text(config)
        (self.workdir / "dhcpd.leases").touch()

    def argv(self) -> list[str]:
        w = self.workdir
        return [
            "dhcpd",
            "-4",
            "-f",
            "-d",
            "-cf",
            str(w / "dhcpd.conf"),
            "-lf",
            str(w / "dhcpd.leases"),
            "-pf",
            str(w / "dhcpd.pid"),
            self.iface,
        ]


# -- clients -------------------------------------------------------------------------------

# The hook script every client that wants one gets: log, configure the namespace's own
# interface, nothing else. $1 is udhcpc's event; dhclient and dhcpcd set $reason.
HOOK = """#!/bin/sh
event="${{reason:-$1}}"
echo "$event ip=${{new_ip_address:-$ip}} mask=${{new_subnet_mask:-$subnet}}" >> {events}
case "$event" in
  PREINIT|deconfig) ip link set dev "$interface" up ;;
esac
{configure}
exit 0
"""
CONFIGURE_DHCLIENT = """case "$reason" in
  BOUND|RENEW|REBIND|REBOOT)
    if [ -n "$old_ip_address" ] && [ "$old_ip_address" != "$new_ip_address" ]; then
      ip -4 addr flush dev "$interface"
    fi
    ip addr replace "$new_ip_address/$new_subnet_mask" dev "$interface" ;;
  EXPIRE|FAIL|RELEASE|STOP) ip -4 addr flush dev "$interface" ;;
esac"""
CONFIGURE_UDHCPC = """case "$1" in
  bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;
  deconfig|leasefail|nak) ip -4 addr flush dev "$interface" ;;
esac"""


class DhcpClientTarget(DhcpDaemon):
    role = DHCP_CLIENT
    configure = ""  # the hook's address handling; "" for a client that configures itself

    def __init__(self, topology: TesterTarget, limits: Limits | None = None) -> None:
        super().__init__(topology, limits)
        self.helpers: list[NamespaceDaemon] = []

    def prepare(self) -> None:
        hook = self.workdir / "hook.sh"
        hook.write_text(HOOK.format(events=self.workdir / "events", configure=self.configure))
        hook.chmod(0o755)

    def release(self) -> None:
        """Make the client give its lease back (RFC 2131 4.4.6)."""
        raise NotImplementedError

    @property
    def busy(self) -> bool:
        """The client, or a helper command for it, still runs: ``dhclient -r`` stops the
        client, sleeps a second and only then sends the RELEASE itself."""
        return self.alive or any(helper.alive for helper in self.helpers)

    def run_helper(self, argv: list[str]) -> None:
        """A second command for the running client (dhclient -r, dhcpcd -k), in the
        background: the test keeps answering ARP and DHCP while it works."""
        self.helpers.append(
            NamespaceDaemon(
                self.netns, argv, self.log_path, setup=self.setup_shell(), cgroup=self.cgroup
            )
        )

    def wipe_state(self) -> None:
        """Forget every lease, so that the next start is a first boot."""
        for child in self.workdir.iterdir():
            if child.name != "daemon.log":
                if child.is_dir():
                    shutil.rmtree(child)
                else:
                    child.unlink()

    def events(self) -> list[str]:
        try:
            return (self.workdir / "events").read_text().splitlines()
        except OSError:
            return []

    def stop(self) -> None:
        for helper in self.helpers:
            helper.stop()
        self.helpers.clear()
        super().stop()
        # The namespace's interface loses what the client configured (next test: clean).
        subprocess.run(
            ["ip", "netns", "exec", self.netns, "ip", "-4", "addr", "flush", "dev", self.iface],
            capture_output=True,
        )


class RefClient(DhcpClientTarget):
    name = "ref"

    def argv(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "harness.dhcp.refclient",
            "--iface",
            self.iface,
            "--lease-file",
            str(self.workdir / "lease.json"),
        ]

    def release(self) -> None:
        if self.process:
            self.process.signal(signal.SIGUSR2)


class Dhclient(DhcpClientTarget):
    name = "dhclient"
    configure = CONFIGURE_DHCLIENT

    def prepare(self) -> None:
        super().prepare()
        (self.workdir / "dhclient.conf").touch()

    def _files(self) -> list[str]:
        w = self.workdir
        return [
            "-cf",
            str(w / "dhclient.conf"),
            "-sf",
            str(w / "hook.sh"),
            "-lf",
            str(w / "dhclient.leases"),
            "-pf",
            str(w / "dhclient.pid"),
        ]

    def argv(self) -> list[str]:
        return ["dhclient", "-4", "-d", "-v", *self._files(), self.iface]

    def release(self) -> None:
        # dhclient -r: a second dhclient reads the pid file, stops the first and releases.
        self.run_helper(["dhclient", "-4", "-r", "-v", *self._files(), self.iface])


class Udhcpc(DhcpClientTarget):
    name = "udhcpc"
    configure = CONFIGURE_UDHCPC

    def argv(self) -> list[str]:
        return [
            "udhcpc",
            "-f",
            "-i",
            self.iface,
            "-s",
            str(self.workdir / "hook.sh"),
            "-p",
            str(self.workdir / "udhcpc.pid"),
        ]

    def release(self) -> None:
        if self.process:
            self.process.signal(signal.SIGUSR2)  # udhcpc: SIGUSR2 releases the lease


class Dhcpcd(DhcpClientTarget):
    name = "dhcpcd"

    def prepare(self) -> None:
        super().prepare()
        for sub in ("lib", "run"):
            (self.workdir / sub).mkdir(exist_ok=True)
        (self.workdir / "dhcpcd.conf").write_text("noipv4ll\nnoipv6rs\nipv4only\n")

    def setup_shell(self) -> str:
        w = self.workdir
        # dhcpcd's state and socket paths are compiled in: give it the run's own.
        # The tmpfs on /run (private to this mount namespace) spares creating /run/dhcpcd
        # on the host.
        return (
            f"mount --bind {w / 'lib'} /var/lib/dhcpcd\n"
            "mount -t tmpfs netconform /run\n"
            "mkdir /run/dhcpcd\n"
            f"mount --bind {w / 'run'} /run/dhcpcd"
        )

    def argv(self) -> list[str]:
        return [
            "dhcpcd",
            "-4",
            "-B",
            "-d",
            "-f",
            str(self.workdir / "dhcpcd.conf"),
            "-c",
            str(self.workdir / "hook.sh"),
            self.iface,
        ]

    def release(self) -> None:
        # What `dhcpcd -k` does: dhcpcd 9 releases its lease on SIGALRM ("received SIGALRM,
        # releasing" in its log).
        if self.process:
            self.process.signal(signal.SIGALRM)
