"""Network namespaces and veth pairs for a test run, with the facts measured on this kind of
machine applied (offloads off, sysctls pinned, bridge netfilter off; see the README).

A TesterTarget pair is two namespaces joined by one veth pair:

    [tester ns]  nc-tester  <--- veth --->  nc-target  [target ns]
                 no IP (crafted frames only)   198.18.0.2/24, permanent neighbour entry
                                               for the tester's address, sysctls pinned

(A DHCP client bed gives the tester namespace the server's address instead: see
give_tester_address.)

For a userspace stack (``tap=True``) the target namespace instead bridges the veth end to a
TAP device, and no interface there carries an IP address, so the namespace's kernel stays
silent; the stack answers for 198.18.0.2 with its own MAC (STACK_MAC):

    [target ns]  nc-target --- nc-br (bridge) --- nc-tap  <-> the stack's process

With ``relay=True`` a third namespace sits in the middle, where harness.core.impair forwards
(and impairs) every frame between its two veth ends:

    [tester ns] nc-tester <-> nc-ra [relay ns] nc-rb <-> nc-target [target ns]

Names carry a run-unique prefix ``ncf-<pid>-<n>`` so that a later run can tell which
namespaces belong to a run whose process is gone and remove them (``remove_leftovers``).
Everything is created inside the new namespaces; the root namespace is never touched.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import itertools
import os
import re
import signal
import socket
import subprocess
import threading
import time
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from harness.core import runs

if TYPE_CHECKING:
    from pyroute2 import IPRoute, NetNS
from harness.core.errors import TopologyError

PREFIX = "ncf"
NETNS_DIR = "/run/netns"
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-\d+-(tester|target|relay|squatter)$")
NUD_PERMANENT = 0x80

# Every TCP behaviour a suite depends on, pinned inside the target namespace (never in the
# root namespace). A new namespace inherits bbr here and may not be allowed cubic; reno is.
TARGET_SYSCTLS: dict[str, str] = {
    "net.ipv4.tcp_congestion_control": "reno",
    "net.ipv4.tcp_sack": "1",
    "net.ipv4.tcp_timestamps": "1",
    "net.ipv4.tcp_window_scaling": "1",
    "net.ipv4.tcp_ecn": "2",  # the kernel default: ECN when the peer asks (RFC 3168)
    "net.ipv4.tcp_recovery": "1",
    "net.ipv4.tcp_early_retrans": "3",
    "net.ipv4.tcp_syn_linear_timeouts": "4",
    "net.ipv4.tcp_no_metrics_save": "1",
    "net.ipv4.tcp_autocorking": "0",
    "net.ipv4.tcp_fastopen": "0",
    "net.ipv4.tcp_mtu_probing": "0",
    "net.ipv4.tcp_slow_start_after_idle": "1",
    "net.ipv4.tcp_thin_linear_timeouts": "0",
    # No IPv6 on the link: no router solicitations or MLD reports in the captures.
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
TESTER_SYSCTLS: dict[str, str] = {
    "net.ipv6.conf.all.disable_ipv6": "1",
    "net.ipv6.conf.default.disable_ipv6": "1",
}
# Recorded in the report beside the pinned ones, not changed.
RECORDED_SYSCTLS = (
    "net.ipv4.tcp_rmem",
    "net.ipv4.tcp_wmem",
    "net.ipv4.tcp_delack_min",
    "net.ipv4.tcp_min_rtt_wlen",
    "net.ipv4.tcp_retries2",
    "net.ipv4.tcp_syn_retries",
)
OFFLOADS_OFF = ("tx", "tso", "gso", "gro")
STACK_MAC = "02:6e:63:00:00:02"  # locally administered; the userspace stack's address
# A gateway that exists only as a neighbour entry: frames routed to it cross the veth with
# this destination MAC, where the tester sees them (subnet suites: off-link decisions).
GATEWAY_MAC = "02:6e:63:00:00:fe"
GATEWAY_HOST = 254  # the gateway's host number in the subnet
LINK_UP_TIMEOUT_S = 10.0  # room for the RTNL lock under a full parallel run (wait_until_passing)
BR_STATE_FORWARDING = 3  # IFLA_BRPORT_STATE (linux/if_bridge.h)
# A userspace stack's namespace: only quiet the link; the kernel there has no address.
TAP_TARGET_SYSCTLS = TESTER_SYSCTLS
# With br_netfilter loaded, a bridge passes every frame through iptables, which silently drops
# a frame with a bad IPv4 header (checksum, length, version): a student's malformed frame
# would never reach the tester. Set to 0 in every namespace of ours, where they exist.
BRIDGE_NETFILTER_SYSCTLS = {
    "net.bridge.bridge-nf-call-iptables": "0",
    "net.bridge.bridge-nf-call-ip6tables": "0",
    "net.bridge.bridge-nf-call-arptables": "0",
}


@dataclass(frozen=True)
class Endpoint:
    netns: str
    ifname: str
    mac: str
    ip: str


@dataclass
class TesterTarget:
    """A tester and a target namespace joined by a veth pair."""

    tester: Endpoint
    target: Endpoint
    prefixlen: int
    gateway: str = ""
    sysctls: dict[str, str] = field(default_factory=dict)
    relay_netns: str | None = None  # with relay=True: nc-ra faces the tester, nc-rb the target
    squatter_netns: str | None = None  # see add_squatter
    _removed: bool = False

    @property
    def namespaces(self) -> tuple[str, ...]:
        middle = (self.relay_netns,) if self.relay_netns else ()
        squatter = (self.squatter_netns,) if self.squatter_netns else ()
        return (self.tester.netns, *middle, self.target.netns, *squatter)

    def teardown(self) -> None:
        """Remove both namespaces (which removes the veth pair). Safe to call twice."""
        if self._removed:
            return
        self._removed = True
        for name in self.namespaces:
            remove_namespace(name)
        _LIVE.discard(self)

    def __hash__(self) -> int:
        return id(self)


_LIVE: set[TesterTarget] = set()
_COUNTER = itertools.count(1)
_LOCK = threading.Lock()


def _run_name(role: str, n: int) -> str:
    return f"{PREFIX}-{os.getpid()}-{n}-{role}"


def create_tester_target(
    subnet: str = "198.18.0.0/24",
    *,
    target_sysctls: Mapping[str, str] | None = None,
    tap: bool = False,
    relay: bool = False,
    unnumbered: bool = False,
    promiscuous: bool = False,
) -> TesterTarget:
    """Create the pair; on any failure remove what was made and raise TopologyError.

    ``unnumbered``: the target's interface is up with no address, route or neighbour entry
    (a DHCP client configures it). ``promiscuous``: the tester's interface takes frames for
    any MAC (DHCP servers address replies to the client's hardware address, which the
    tester makes up).
    """
    if target_sysctls is None:
        target_sysctls = TAP_TARGET_SYSCTLS if tap else TARGET_SYSCTLS
    net = ipaddress.ip_network(subnet)
    tester_ip, target_ip = str(net.network_address + 1), str(net.network_address + 2)
    gateway = str(net.network_address + GATEWAY_HOST)
    with _LOCK:
        n = next(_COUNTER)
    tester_ns, target_ns = _run_name("tester", n), _run_name("target", n)
    relay_ns = _run_name("relay", n) if relay else None
    made: list[str] = []
    try:
        plan = [(tester_ns, TESTER_SYSCTLS), (target_ns, target_sysctls)]
        if relay_ns:
            plan.append((relay_ns, TESTER_SYSCTLS))
        _create_namespaces(plan, made)
        tester_mac, target_mac = _wire(tester_ns, target_ns, relay_ns)
        if tap:
            _bridge_to_tap(target_ns)
            target_mac, target_if = STACK_MAC, "nc-tap"
        else:
            target_if = "nc-target"
            ip = "" if unnumbered else target_ip
            target_ip = _number_target(
                target_ns, ip, net.prefixlen, (tester_ip, tester_mac), gateway
            )
        _bring_up(tester_ns, "nc-tester", promiscuous=promiscuous)
        for ns, ifname in ((tester_ns, "nc-tester"), (target_ns, "nc-target")):
            _offloads_off(ns, ifname)
        _wait_until_wired(tester_ns, target_ns, relay_ns)
        pinned = read_sysctls(target_ns, [*target_sysctls, *RECORDED_SYSCTLS])
    except BaseException as exc:
        for name in made:
            remove_namespace(name)
        if isinstance(exc, TopologyError | KeyboardInterrupt):
            raise
        raise TopologyError(f"could not build the test topology: {exc}") from exc
    tester = Endpoint(tester_ns, "nc-tester", tester_mac, tester_ip)
    target = Endpoint(target_ns, target_if, target_mac, target_ip)
    topo = TesterTarget(tester, target, net.prefixlen, gateway, pinned, relay_ns)
    _LIVE.add(topo)
    return topo


def _wait_until_wired(tester_ns: str, target_ns: str, relay_ns: str | None) -> None:
    """Every link between the tester and the target passes frames (the TAP comes up when
    the stack attaches to it: wait_for_tap)."""
    wait_until_passing(tester_ns, ["nc-tester"])
    wait_until_passing(target_ns, ["nc-target"])
    if relay_ns:
        wait_until_passing(relay_ns, ["nc-ra", "nc-rb"])


def wait_for_tap(topo: TesterTarget, timeout_s: float = LINK_UP_TIMEOUT_S) -> None:
    """The userspace stack's TAP device passes frames: a process holds it open (its carrier)
    and its bridge port forwards."""
    wait_until_passing(topo.target.netns, [topo.target.ifname], timeout_s)


def wait_until_passing(
    netns_name: str, ifnames: list[str], timeout_s: float = LINK_UP_TIMEOUT_S
) -> None:
    """Return once every link named is operationally up and, if it is a bridge port,
    forwarding; raise TopologyError after ``timeout_s``.

    A carrier that comes on (a veth whose peer came up, a TAP a process attached to) takes
    effect later, in the kernel's deferred link-watch work, which needs the RTNL lock: until
    then the link's queue discards what is sent on it and its bridge port what it receives.
    Under a full parallel run (other namespaces being removed hold that lock) that lasted
    long enough to lose a test's first frames. Netlink reads the state that work sets.
    """
    from pyroute2 import IPRoute

    with inside(netns_name):
        ipr = IPRoute()  # its socket stays in the namespace it was opened in
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            states = {name: _link_state(ipr, name) for name in ifnames}
            waiting = {name: state for name, state in states.items() if state}
            if not waiting:
                return
            if time.monotonic() >= deadline:
                shown = ", ".join(f"{name}: {state}" for name, state in waiting.items())
                raise TopologyError(
                    f"links in {netns_name} did not come up within {timeout_s:g} s ({shown})"
                )
            time.sleep(0.002)
    finally:
        ipr.close()


def _link_state(ipr: IPRoute, ifname: str) -> str:
    """What keeps the link from passing frames, or "" when nothing does."""
    (link,) = ipr.get_links(ifname=ifname)
    operstate = link.get_attr("IFLA_OPERSTATE")
    if operstate != "UP":
        return f"operational state {operstate}"
    info = link.get_attr("IFLA_LINKINFO")
    port = info.get_attr("IFLA_INFO_SLAVE_DATA") if info is not None else None
    port_state = port.get_attr("IFLA_BRPORT_STATE") if port is not None else None
    if port_state is not None and port_state != BR_STATE_FORWARDING:
        return f"bridge port state {port_state}, not forwarding"
    return ""


def _number_target(
    target_ns: str, ip: str, prefixlen: int, tester: tuple[str, str], gateway: str
) -> str:
    """The target end's address, route and neighbours (``tester``: its IP and MAC); with no
    ``ip`` (a DHCP client will configure it) only the links come up. Returns the address."""
    if not ip:
        _bring_up(target_ns, "lo")
        _bring_up(target_ns, "nc-target")
        return ""
    _configure_target(target_ns, ip, prefixlen, *tester, gateway)
    return ip


def _create_namespaces(plan: list[tuple[str, Mapping[str, str]]], made: list[str]) -> None:
    """Each namespace with its sysctls; ``made`` lists what exists, for the clean-up."""
    for name, sysctls in plan:
        _pyroute2_netns().create(name)
        made.append(name)
        # Set before the veth exists so that IPv6 never comes up on it.
        write_sysctls(name, {**sysctls, **bridge_netfilter_off()})


def _wire(tester_ns: str, target_ns: str, relay_ns: str | None) -> tuple[str, str]:
    """The veth pair (two, through the relay, when there is one); the two ends' MACs."""
    if not relay_ns:
        return _make_veth(tester_ns, "nc-tester", target_ns, "nc-target")
    tester_mac, _ = _make_veth(tester_ns, "nc-tester", relay_ns, "nc-ra")
    _, target_mac = _make_veth(relay_ns, "nc-rb", target_ns, "nc-target")
    _prepare_relay(relay_ns)
    return tester_mac, target_mac


def _make_veth(ns_a: str, name_a: str, ns_b: str, name_b: str) -> tuple[str, str]:
    """Create a veth pair inside ``ns_a`` and move its other end to ``ns_b``; return MACs."""
    with _netns_handle(ns_a) as ns:
        ns.link("add", ifname=name_a, kind="veth", peer=name_b)
        peer = ns.link_lookup(ifname=name_b)[0]
        ns.link("set", index=peer, net_ns_fd=ns_b)
        mac_a = _mac_of(ns, name_a)
    with _netns_handle(ns_b) as ns:
        mac_b = _mac_of(ns, name_b)
    return mac_a, mac_b


def _prepare_relay(relay_ns: str) -> None:
    with _netns_handle(relay_ns) as ns:
        for ifname in ("nc-ra", "nc-rb"):
            ns.link("set", index=ns.link_lookup(ifname=ifname)[0], state="up")
    for ifname in ("nc-ra", "nc-rb"):
        _offloads_off(relay_ns, ifname)


def _netns_handle(name: str) -> NetNS:
    """pyroute2, imported when a namespace is first touched: the command line answers
    usage and privilege errors without it."""
    from pyroute2 import NetNS

    return NetNS(name)


def _pyroute2_netns() -> types.ModuleType:
    from pyroute2 import netns

    return netns


def _mac_of(ns: NetNS, ifname: str) -> str:
    link = ns.get_links(ns.link_lookup(ifname=ifname)[0])[0]
    return str(link.get("address"))


def _configure_target(
    target_ns: str, ip: str, prefixlen: int, tester_ip: str, tester_mac: str, gateway: str
) -> None:
    with _netns_handle(target_ns) as ns:
        lo = ns.link_lookup(ifname="lo")[0]
        ns.link("set", index=lo, state="up")
        idx = ns.link_lookup(ifname="nc-target")[0]
        ns.addr("add", index=idx, address=ip, prefixlen=prefixlen)
        ns.link("set", index=idx, state="up")
        # The tester answers no ARP: the target learns the tester's MAC from this entry.
        ns.neigh("add", dst=tester_ip, lladdr=tester_mac, ifindex=idx, state=NUD_PERMANENT)
        ns.neigh("add", dst=gateway, lladdr=GATEWAY_MAC, ifindex=idx, state=NUD_PERMANENT)
        ns.route("add", dst="0.0.0.0/0", gateway=gateway, oif=idx)


def _bridge_to_tap(target_ns: str) -> None:
    """A bridge joining the veth end and a persistent TAP device; no addresses anywhere."""
    with _netns_handle(target_ns) as ns:
        ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
        ns.link("add", ifname="nc-br", kind="bridge", br_stp_state=0, br_forward_delay=0)
        ns.link("add", ifname="nc-tap", kind="tuntap", mode="tap")
        # A userspace stack reads in bursts; a long queue keeps line-rate bursts from the
        # kernel side from overflowing it (the default is 1,000 frames).
        ns.link("set", index=ns.link_lookup(ifname="nc-tap")[0], txqlen=20000)
        bridge = ns.link_lookup(ifname="nc-br")[0]
        for port in ("nc-target", "nc-tap"):
            index = ns.link_lookup(ifname=port)[0]
            ns.link("set", index=index, master=bridge)
            ns.link("set", index=index, state="up")
        ns.link("set", index=bridge, state="up")


def _bring_up(netns_name: str, ifname: str, *, promiscuous: bool = False) -> None:
    with _netns_handle(netns_name) as ns:
        index = ns.link_lookup(ifname=ifname)[0]
        if promiscuous:
            ns.link("set", index=index, promiscuity=1)
        ns.link("set", index=index, state="up")


def add_squatter(topo: TesterTarget, ip: str) -> str:
    with _LOCK:
        return _add_squatter(topo, ip)


def _add_squatter(topo: TesterTarget, ip: str) -> str:
    """A host of its own that already uses ``ip`` on the target's link (DHCP address
    conflict tests): a namespace whose macvlan, in bridge mode on the tester's veth end,
    sees the target's ARP broadcasts and answers them with its own MAC. Removed with the
    topology. Returns the squatter's MAC."""
    if topo.squatter_netns is not None:
        raise TopologyError("this topology already has a squatter")
    name = topo.tester.netns.removesuffix("-tester") + "-squatter"
    _pyroute2_netns().create(name)
    topo.squatter_netns = name
    write_sysctls(name, {**TESTER_SYSCTLS, **bridge_netfilter_off()})
    with _netns_handle(topo.tester.netns) as ns:
        parent = ns.link_lookup(ifname=topo.tester.ifname)[0]
        ns.link("add", ifname="nc-squat", kind="macvlan", link=parent, macvlan_mode="bridge")
        ns.link("set", index=ns.link_lookup(ifname="nc-squat")[0], net_ns_fd=name)
    with _netns_handle(name) as ns:
        index = ns.link_lookup(ifname="nc-squat")[0]
        ns.addr("add", index=index, address=ip, prefixlen=topo.prefixlen)
        ns.link("set", index=index, state="up")
        mac = _mac_of(ns, "nc-squat")
    wait_until_passing(name, ["nc-squat"])  # its first answer to an ARP probe must not be lost
    return mac


def give_tester_address(topo: TesterTarget, udp_port: int) -> socket.socket:
    """The tester's namespace takes the tester's address, so that its kernel answers ARP for
    it at once, as a real host's does (the harness answers from Python a few hundred
    microseconds later, sometimes milliseconds). The kernel must say nothing else: the
    returned socket, bound to ``udp_port`` and never read, takes the target's datagrams to
    that port so that no ICMP port unreachable goes back (the harness sees them on its link).
    Close it before the topology goes."""
    with _netns_handle(topo.tester.netns) as ns:
        index = ns.link_lookup(ifname=topo.tester.ifname)[0]
        ns.addr("add", index=index, address=topo.tester.ip, prefixlen=topo.prefixlen)
    with inside(topo.tester.netns):
        sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)  # the kernel's minimum
    sink.bind(("0.0.0.0", udp_port))
    return sink


def merge_received_segments(topo: TesterTarget) -> None:
    """GRO on the target's veth end: a userspace stack that takes the TAP's receive offload
    reads a run of one connection's segments as one frame and cuts it back exactly
    (harness.hosts.tap_offload). For throughput pairs (harness.tcp.interop) only; the
    conformance beds leave it off, so every frame reaches the target as the tester sent it."""
    _ethtool_features(topo.target.netns, "nc-target", {"gro": "on"})


def _offloads_off(netns_name: str, ifname: str) -> None:
    """Checksum offload, TSO, GSO and GRO off, so captured segments are the stack's own.

    Shells out to ethtool: it resolves the dependencies between features (turning tx
    checksumming off also turns off TSO) that pyroute2's ethtool module leaves to the caller.
    """
    _ethtool_features(netns_name, ifname, dict.fromkeys(OFFLOADS_OFF, "off"))


def _ethtool_features(netns_name: str, ifname: str, features: dict[str, str]) -> None:
    cmd = ["ip", "netns", "exec", netns_name, "ethtool", "-K", ifname]
    for feature, setting in features.items():
        cmd += [feature, setting]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise TopologyError(
            f"ethtool could not set {features} on {ifname}: {result.stderr.strip()}"
        )


_SWITCH = threading.RLock()  # pyroute2 keeps the namespaces to return to in one global stack


@contextlib.contextmanager
def inside(netns_name: str) -> Iterator[None]:
    """Run the block with this thread inside a namespace (sockets opened there stay there).
    One thread at a time: the stack of namespaces to return to is shared."""
    with _SWITCH:
        _pyroute2_netns().pushns(netns_name)
        try:
            yield
        finally:
            _pyroute2_netns().popns()


def _sysctl_path(name: str) -> str:
    return "/proc/sys/" + name.replace(".", "/")


def bridge_netfilter_off() -> dict[str, str]:
    """The bridge-netfilter sysctls to zero: all of them when br_netfilter is loaded (a new
    namespace inherits 1), none when it is not (frames then never meet netfilter)."""
    if not os.path.exists(_sysctl_path("net.bridge.bridge-nf-call-iptables")):
        return {}
    return dict(BRIDGE_NETFILTER_SYSCTLS)


def check_bridge_netfilter() -> str:
    """For ``netconform doctor``: whether frames on our bridges can meet netfilter, checked in
    a namespace made for the purpose (and removed)."""
    wanted = bridge_netfilter_off()
    if not wanted:
        return "br_netfilter not loaded: frames on bridges never meet netfilter"
    with _LOCK:
        name = _run_name("tester", next(_COUNTER))
    _pyroute2_netns().create(name)
    try:
        write_sysctls(name, wanted)
        values = read_sysctls(name, list(wanted))
    finally:
        remove_namespace(name)
    if any(v != "0" for v in values.values()):
        raise TopologyError(f"bridge netfilter could not be turned off in a namespace: {values}")
    return "br_netfilter loaded; turned off in every netconform namespace (checked)"


def write_sysctls(netns_name: str, values: Mapping[str, str]) -> None:
    """Set sysctls inside a namespace; one that cannot be set is a TopologyError."""
    failures = []
    with inside(netns_name):
        for name, value in values.items():
            try:
                with open(_sysctl_path(name), "w") as f:
                    f.write(value)
            except OSError as exc:
                failures.append(f"{name}={value} ({exc.strerror})")
    if failures:
        raise TopologyError(f"cannot pin sysctls in namespace {netns_name}: " + "; ".join(failures))


def read_sysctls(netns_name: str, names: list[str]) -> dict[str, str]:
    values = {}
    with inside(netns_name):
        for name in names:
            try:
                with open(_sysctl_path(name)) as f:
                    values[name] = " ".join(f.read().split())
            except OSError:
                values[name] = "(absent)"
    return values


def remove_namespace(name: str) -> None:
    """Kill what still runs in a namespace of ours (by PID), then remove it."""
    if not os.path.exists(os.path.join(NETNS_DIR, name)):
        return
    kill_processes_in(name)
    with contextlib.suppress(FileNotFoundError):
        _pyroute2_netns().remove(name)


def kill_processes_in(name: str) -> None:
    """SIGKILL, by PID, whatever still runs in one of our namespaces."""
    for pid in _pids_in(name):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids_in(name: str) -> list[int]:
    """PIDs whose network namespace is the named one (compared by inode)."""
    try:
        target = os.stat(os.path.join(NETNS_DIR, name)).st_ino
    except FileNotFoundError:
        return []
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/net").st_ino == target:
                pids.append(int(entry))
        except OSError:
            continue
    return pids


def our_namespaces() -> list[str]:
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if _NAME_RE.match(n))


def remove_leftovers() -> list[str]:
    """Remove namespaces left by runs whose process is gone; return their names."""
    removed = []
    for name in our_namespaces():
        match = _NAME_RE.match(name)
        assert match is not None
        if not runs.alive(int(match.group(1))):
            remove_namespace(name)
            removed.append(name)
    return removed


@atexit.register
def _teardown_live() -> None:
    """Backstop for an interpreter that exits without running fixture finalizers."""
    for topo in list(_LIVE):
        topo.teardown()
