"""Addresses: a SYN to a broadcast or multicast address, or from an address no host can have,
is discarded (RFC 9293 3.9.2.3, after RFC 1122 4.2.3.10); the target's own segments carry
the address the connection was opened with, from the first SYN on (3.9.1.1).

These look at every frame of the link, not only at the connection's address pair: an answer
sent from or to the wrong address is exactly what they are about.
"""

import pytest

from harness.core.bounds import PROMPT_S, QUIET_S
from harness.core.clock import receive_until
from harness.core.errors import ConformanceFailure, Unsupported
from harness.core.frames import decode_frame
from harness.hosts.agent import AgentReplyError
from harness.tcp.stream import delivered
from reference_impl.wire.ethernet import Ethernet
from reference_impl.wire.ipv4 import PROTO_TCP, IPv4
from reference_impl.wire.tcp import ACK, SYN, Mss, TcpSegment

BROADCAST_MAC = "ff:ff:ff:ff:ff:ff"


def subnet_broadcast(tcp) -> str:
    topo = tcp.bed.topology
    octets = [int(part) for part in topo.target.ip.split(".")]
    value = int.from_bytes(bytes(octets), "big") | ((1 << (32 - topo.prefixlen)) - 1)
    return ".".join(str(b) for b in value.to_bytes(4, "big"))


def send_syn_between(peer, src: str, dst: str, dst_mac: str) -> None:
    """A SYN from the peer's port to the listener, with the IP addresses and destination
    MAC given (the peer's own numbers otherwise)."""
    syn = TcpSegment(peer.tester_port, peer.target_port, peer.iss, 0, SYN, 65535, b"", (Mss(1460),))
    peer.send_datagram(PROTO_TCP, syn.emit(src, dst), src=src, dst=dst, dst_mac=dst_mac)


def answers_to(tcp, peer, duration: float, source: str) -> list[str]:
    """What the target sent in ``duration`` seconds towards the peer's port over TCP, from
    any address to any address, and its ARP requests for ``source``, the probe's source
    address (an attempt to answer it). ARP for any other address is not about the probe: an
    earlier test's connection on the same bed may still be trying to reach its peer."""
    found = []
    for frame in receive_until(tcp.bed.link.receive, duration):
        decoded = decode_frame(frame.data)
        if decoded.eth is None or decoded.eth.src != peer.target_mac:
            continue
        if decoded.tcp is not None and decoded.tcp.dport == peer.tester_port:
            found.append(f"{decoded.ip.src} > {decoded.ip.dst}: {decoded.tcp.describe()}")
        elif decoded.arp is not None and decoded.arp.op == 1 and decoded.arp.target_ip == source:
            found.append(f"ARP who-has {decoded.arp.target_ip}")
    return found


def listener_answers(tcp, port: int, listener: int) -> None:
    """The listener answers an ordinary SYN: else the silence above meant nothing."""
    with tcp.precondition("a listener that answers an ordinary SYN"):
        control = tcp.peer(port)
        tcp.observe(control, listener)
        control.send_syn()
        control.expect_predicted(what="the ordinary SYN-ACK", fields=("flags", "ack"))


DESTINATIONS = {
    "limited-broadcast": ("255.255.255.255", BROADCAST_MAC),
    "subnet-broadcast": (None, BROADCAST_MAC),
    "subnet-broadcast-to-own-mac": (None, None),
    "multicast": ("224.0.0.1", "01:00:5e:00:00:01"),
}


@pytest.mark.parametrize("destination", DESTINATIONS)
@pytest.mark.rfc("9293", "3.9.2.3", req="MUST-57")
def test_a_syn_to_a_broadcast_or_multicast_address_is_discarded(tcp, destination):
    port, listener = tcp.listen()
    peer = tcp.peer(port)
    ip, mac = DESTINATIONS[destination]
    send_syn_between(peer, peer.tester_ip, ip or subnet_broadcast(tcp), mac or peer.target_mac)
    seen = answers_to(tcp, peer, QUIET_S * 2, peer.tester_ip)
    if seen:
        raise ConformanceFailure(f"a SYN to {ip or subnet_broadcast(tcp)} was answered: {seen[0]}")
    listener_answers(tcp, port, listener)


SOURCES = {
    "limited-broadcast": "255.255.255.255",
    "multicast": "224.0.0.5",
    "this-network": "0.0.0.0",
    "loopback": "127.0.0.1",
}


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.rfc("9293", "3.9.2.3", req="MUST-63")
def test_a_syn_from_an_invalid_source_address_is_ignored(tcp, source):
    """RFC 1122 3.2.1.3: no host has a broadcast, multicast, zero or loopback address on a
    link, so a SYN claiming one is ignored (by TCP or by IP)."""
    port, listener = tcp.listen()
    peer = tcp.peer(port)
    send_syn_between(peer, SOURCES[source], peer.target_ip, peer.target_mac)
    seen = answers_to(tcp, peer, QUIET_S * 2, SOURCES[source])
    if seen:
        raise ConformanceFailure(f"a SYN from {SOURCES[source]} was answered: {seen[0]}")
    listener_answers(tcp, port, listener)


def own_segments(tcp, conn) -> list[tuple[str, str]]:
    """(IP source, description) of every TCP frame from the target's MAC on the
    connection's ports, whatever its addresses."""
    peer = conn.peer
    peer.link.drain()
    out = []
    for frame in peer.link.captured:
        decoded = decode_frame(frame.data)
        seg = decoded.tcp
        if frame.outgoing or seg is None or decoded.eth.src != peer.target_mac:
            continue
        if (seg.sport, seg.dport) == (peer.target_port, peer.tester_port):
            out.append((decoded.ip.src, seg.describe()))
    return out


def active_open_with_data(tcp):
    conn = tcp.connect_from_target()
    with tcp.precondition("data both ways on a connection the target opened"):
        conn.peer.send(b"q" * 100)
        tcp.app_write(conn, b"a" * 100)
        conn.peer.expect(seq=1, length=100, within=PROMPT_S, skip_others=True, what="data")
        conn.peer.send(flags=ACK)
    return conn, own_segments(tcp, conn)


@pytest.mark.rfc("9293", "3.9.1.1", req="MUST-44")
def test_the_first_syn_comes_from_the_targets_address(tcp):
    conn, segments = active_open_with_data(tcp)
    source, first = segments[0]
    if source != conn.peer.target_ip:
        raise ConformanceFailure(f"the SYN left from {source}, not {conn.peer.target_ip}: {first}")


@pytest.mark.rfc("9293", "3.9.1.1", req="MUST-45")
def test_every_segment_keeps_the_connections_address(tcp):
    conn, segments = active_open_with_data(tcp)
    other = [(source, what) for source, what in segments if source != conn.peer.target_ip]
    if other:
        raise ConformanceFailure(f"a segment from {other[0][0]}: {other[0][1]}")
    tcp.record("segments from the target checked", len(segments))


# Options of kind 30 and 158 are RFC 4727's experiments (without and with the copy bit): no
# stack gives them a meaning, so to the target they are options it does not know.
IP_OPTIONS = {
    "experiment": bytes([30, 4, 0, 0]),
    "copied-experiment": bytes([158, 4, 0, 0]),
    "nop-and-end": bytes([1, 1, 1, 0]),
}


@pytest.mark.parametrize("option", IP_OPTIONS)
@pytest.mark.rfc("9293", "3.9.2", req="MUST-50")
def test_data_in_a_datagram_with_ip_options_is_taken(tcp, option):
    """100 bytes in an IP datagram carrying an option the target does not know: TCP takes
    them as if the option were not there (acknowledged, read by the application)."""
    delivered(tcp, tcp.connect_to_target(), b"o" * 100, ip_options=IP_OPTIONS[option])


@pytest.mark.rfc("9293", "3.9.2", req="MUST-49")
def test_the_application_sets_the_ttl(tcp):
    """The application sets a TTL of 17 on a connection: its later segments carry it."""
    conn = tcp.connect_to_target()
    try:
        tcp.set_option(conn, "ttl", 17)
    except AgentReplyError as exc:
        raise Unsupported(
            f"the target cannot set a TTL through the control protocol: {exc}"
        ) from None
    tcp.app_write(conn, b"t" * 100)
    conn.peer.expect_predicted(what="the data", fields=("seq", "length"), skip_others=True)
    ttls = [
        IPv4.parse(Ethernet.parse(frame.data).payload).ttl for frame in conn.peer.target_frames()
    ]
    tcp.record("TTLs of the target's segments", ttls)
    if ttls[-1] != 17:
        raise ConformanceFailure(f"the data left with TTL {ttls[-1]} after the application set 17")
