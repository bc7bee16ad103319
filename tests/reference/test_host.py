"""The sans-I/O host: ARP, on-link versus off-link, ICMP echo, TCP demultiplexing, UDP, and
bad frames dropped without an exception."""

import struct

import pytest

from reference_impl.host import Host, HostConfig, HostError
from reference_impl.wire.arp import REPLY, REQUEST, Arp
from reference_impl.wire.checksum import internet_checksum
from reference_impl.wire.ethernet import BROADCAST, ETH_P_ARP, ETH_P_IP, Ethernet
from reference_impl.wire.icmp import Icmp
from reference_impl.wire.ipv4 import PROTO_ICMP, PROTO_TCP, PROTO_UDP, IPv4
from reference_impl.wire.tcp import ACK, CWR, FIN, PSH, RST, SYN, URG, Mss, TcpSegment, segmented
from reference_impl.wire.udp import Udp

HOST_MAC, PEER_MAC, GW_MAC = "02:00:00:00:00:02", "02:00:00:00:00:01", "02:00:00:00:00:fe"
HOST_IP, PEER_IP, GW_IP = "198.18.0.2", "198.18.0.1", "198.18.0.254"


def make_host(**kw):
    return Host(HostConfig(mac=HOST_MAC, ip=HOST_IP, prefixlen=24, gateway=GW_IP, **kw))


def ip_frame(payload, proto=PROTO_TCP, src=PEER_IP, dst=HOST_IP, dst_mac=HOST_MAC):
    return Ethernet(dst_mac, PEER_MAC, ETH_P_IP, IPv4(src, dst, proto, payload).emit()).emit()


def tcp_frame(seg, src=PEER_IP):
    return ip_frame(seg.emit(src, HOST_IP), src=src)


def decode(frame):
    eth = Ethernet.parse(frame)
    if eth.ethertype == ETH_P_ARP:
        return eth, Arp.parse(eth.payload)
    packet = IPv4.parse(eth.payload)
    if packet.proto == PROTO_TCP:
        return eth, TcpSegment.parse(packet.payload)
    return eth, packet


def test_host_answers_arp_for_its_address_only():
    host = make_host()
    request = Arp(REQUEST, PEER_MAC, PEER_IP, "00:00:00:00:00:00", HOST_IP)
    (reply,) = host.receive_frame(
        Ethernet(BROADCAST, PEER_MAC, ETH_P_ARP, request.emit()).emit(), now=0
    )
    eth, arp = decode(reply)
    assert eth.dst == PEER_MAC and arp == Arp(REPLY, HOST_MAC, HOST_IP, PEER_MAC, PEER_IP)
    other = Arp(REQUEST, PEER_MAC, PEER_IP, "00:00:00:00:00:00", "198.18.0.9")
    assert (
        host.receive_frame(Ethernet(BROADCAST, PEER_MAC, ETH_P_ARP, other.emit()).emit(), now=0)
        == []
    )


def test_host_arps_for_an_on_link_destination_then_sends_to_its_mac():
    host = make_host()
    host.connect(PEER_IP, 80, now=0)
    (request,) = host.flush() or host.on_timer(now=0)
    eth, arp = decode(request)
    assert eth.dst == BROADCAST and arp.op == REQUEST and arp.target_ip == PEER_IP
    reply = Arp(REPLY, PEER_MAC, PEER_IP, HOST_MAC, HOST_IP)
    (syn,) = host.receive_frame(
        Ethernet(HOST_MAC, PEER_MAC, ETH_P_ARP, reply.emit()).emit(), now=10
    )
    eth, seg = decode(syn)
    assert eth.dst == PEER_MAC and seg.flags == SYN and seg.dport == 80


@pytest.mark.parametrize(
    ("dst", "hop"),
    [
        ("198.18.0.1", "198.18.0.1"),  # inside the prefix
        ("198.18.0.255", "198.18.0.255"),  # the broadcast address is on-link too
        ("198.18.1.1", GW_IP),  # the first address outside
        ("198.17.255.255", GW_IP),  # the last address before
    ],
)
def test_host_next_hop_follows_the_prefix(dst, hop):
    assert make_host().next_hop(dst) == hop


def test_host_sends_off_link_traffic_to_the_gateway_mac():
    host = make_host(neighbors={GW_IP: GW_MAC})
    host.connect("203.0.113.7", 443, now=0)
    (syn,) = host.flush()
    eth, seg = decode(syn)
    assert eth.dst == GW_MAC and seg.flags == SYN


def test_host_gives_up_arp_after_three_attempts():
    host = make_host()
    host.connect(PEER_IP, 80, now=0)
    requests = host.flush()
    for t in range(1, 5):
        requests += host.on_timer(now=t * 1_000_000)
    assert sum(1 for f in requests if Ethernet.parse(f).ethertype == ETH_P_ARP) == 3
    assert host.drops["unresolved"] >= 1


def test_host_answers_icmp_echo():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    body = b"\x08\x00\x00\x00\x12\x34\x00\x01hello"
    body = body[:2] + internet_checksum(body).to_bytes(2, "big") + body[4:]
    (reply,) = host.receive_frame(ip_frame(body, PROTO_ICMP), now=0)
    _eth, packet = decode(reply)
    assert packet.proto == PROTO_ICMP and packet.payload[0] == 0 and packet.payload[4:] == body[4:]
    assert internet_checksum(packet.payload) == 0


def test_host_closed_port_answers_rst():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    (rst,) = host.receive_frame(tcp_frame(TcpSegment(5555, 81, 1000, 0, SYN, 100)), now=0)
    _eth, seg = decode(rst)
    assert seg.flags == RST | ACK and seg.ack == 1001


def test_host_listener_accepts_and_delivers_data():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.listen(80)
    (synack,) = host.receive_frame(
        tcp_frame(TcpSegment(5555, 80, 1000, 0, SYN, 65535, options=(Mss(1460),))), now=0
    )
    _eth, sa = decode(synack)
    assert host.accept(80) is None  # not yet established
    host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1001, sa.seq + 1, ACK, 65535)), now=1)
    key = host.accept(80)
    assert key == (80, PEER_IP, 5555)
    host.receive_frame(
        tcp_frame(TcpSegment(5555, 80, 1001, sa.seq + 1, ACK | PSH, 65535, b"hi")), now=2
    )
    assert host.tcp_read(key, 10, now=3) == b"hi"
    with pytest.raises(HostError, match="already listening"):
        host.listen(80)


def test_host_drops_bad_frames_without_raising():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.listen(80)
    good = bytearray(tcp_frame(TcpSegment(5555, 80, 1000, 0, SYN, 100)))
    bad_tcp = bytearray(good)
    bad_tcp[-1] ^= 0xFF  # TCP checksum
    bad_ip = bytearray(good)
    bad_ip[14 + 8] ^= 0x01  # TTL changed: IP header checksum fails
    for frame in (b"", b"\x00" * 13, bytes(bad_tcp), bytes(bad_ip), good[:30]):
        assert host.receive_frame(bytes(frame), now=0) == []
    assert host.drops["tcp checksum or header"] == 1 and host.drops["ipv4 checksum"] == 1
    assert sum(host.drops.values()) == 5


@pytest.mark.parametrize(
    "source", ["255.255.255.255", "198.18.0.255", "224.0.0.5", "240.0.0.1", "0.0.0.0", "127.0.0.1"]
)
def test_host_ignores_a_syn_from_an_address_no_host_has(source):
    """RFC 9293 MUST-63 (RFC 1122 3.2.1.3): broadcast, multicast, class E, zero and loopback
    sources are not answered; an ordinary one is."""
    host = make_host(neighbors={PEER_IP: PEER_MAC, source: PEER_MAC})
    host.listen(80)
    assert (
        host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1000, 0, SYN, 100), source), now=0) == []
    )
    assert host.drops["tcp from an invalid source"] == 1
    assert len(host.receive_frame(tcp_frame(TcpSegment(5556, 80, 1000, 0, SYN, 100)), now=1)) == 1


def test_host_ignores_frames_for_other_macs_and_addresses():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    seg = TcpSegment(5555, 80, 1000, 0, SYN, 100)
    assert (
        host.receive_frame(ip_frame(seg.emit(PEER_IP, HOST_IP), dst_mac="02:00:00:00:00:77"), now=0)
        == []
    )
    assert (
        host.receive_frame(ip_frame(seg.emit(PEER_IP, "198.18.0.3"), dst="198.18.0.3"), now=0) == []
    )


def test_host_udp_round_trip():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.udp_bind(67)
    host.receive_frame(ip_frame(Udp(68, 67, b"ping").emit(PEER_IP, HOST_IP), PROTO_UDP), now=0)
    assert host.udp_receive(67) == (PEER_IP, 68, b"ping")
    host.udp_send(67, PEER_IP, 68, b"pong", now=0)
    (frame,) = host.flush()
    _eth, packet = decode(frame)
    assert Udp.parse(packet.payload).payload == b"pong"


def syn_from(port, dport=80):
    return tcp_frame(TcpSegment(port, dport, 1000, 0, SYN, 65535, options=(Mss(1460),)))


def test_listen_backlog_bounds_waiting_connections_and_drops_further_syns():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.listen(80, backlog=3)
    answered = [bool(host.receive_frame(syn_from(40000 + i), now=0)) for i in range(5)]
    assert answered == [True, True, True, False, False]
    assert host.drops["listen backlog full"] == 2


def test_work_per_frame_does_not_grow_with_the_number_of_connections(monkeypatch):
    """10,000 half-open connections: one more SYN, and asking for the next timer, look at a
    handful of connections, not at all of them."""
    from reference_impl.tcp.connection import TcpConnection

    host = make_host(neighbors={PEER_IP: PEER_MAC})
    for listener in range(100):
        host.listen(1000 + listener, backlog=100)
        for i in range(100):
            host.receive_frame(syn_from(20000 + i, dport=1000 + listener), now=0)
    assert len(host.connections) == 10_000
    calls = {"n": 0}
    original = TcpConnection.next_timer

    def counted(self):
        calls["n"] += 1
        return original(self)

    host.listen(2000)
    monkeypatch.setattr(TcpConnection, "next_timer", counted)
    assert host.receive_frame(syn_from(30000, dport=2000), now=10)  # a SYN-ACK
    host.next_timer()
    assert calls["n"] < 50


def test_timers_of_many_connections_all_fire():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.listen(80, backlog=500)
    for i in range(300):
        host.receive_frame(syn_from(40000 + i), now=0)
    due = host.next_timer()
    assert due is not None and due > 0
    again = host.on_timer(now=due)
    synacks = [decode(frame)[1] for frame in again]
    assert len(synacks) == 300 and all(s.flags == SYN | ACK for s in synacks)


def established(host):
    host.listen(80)
    (synack,) = host.receive_frame(
        tcp_frame(TcpSegment(5555, 80, 1000, 0, SYN, 65535, options=(Mss(1460),))), now=0
    )
    _eth, sa = decode(synack)
    host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1001, sa.seq + 1, ACK, 65535)), now=1)
    return host.accept(80), sa.seq + 1


def test_a_released_connection_answers_later_data_with_rst():
    """RFC 9293 SHLD-3: after a full close (MAY-1) data can never be read; the peer hears."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key, snd = established(host)
    host.tcp_release(key, now=2)
    (fin,) = [decode(f)[1] for f in host.flush()]
    assert fin.flags == FIN | ACK
    host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1001, snd + 1, ACK, 65535)), now=3)
    data = TcpSegment(5555, 80, 1001, snd + 1, ACK | PSH, 65535, b"x" * 10)
    (rst,) = [decode(f)[1] for f in host.receive_frame(tcp_frame(data), now=4)]
    assert rst.flags & RST and rst.seq == snd + 1


def test_releasing_with_unread_data_sends_rst_not_fin():
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key, snd = established(host)
    host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1001, snd, ACK | PSH, 65535, b"hi")), now=2)
    host.flush()
    host.tcp_release(key, now=3)
    (rst,) = [decode(f)[1] for f in host.flush()]
    assert rst.flags == RST | ACK and rst.seq == snd


def icmp_about(frame, code, *, mtu=0, icmp_type=3):
    """An ICMP error from the peer quoting the host's ``frame`` (IP header + 8 bytes)."""
    quoted = Ethernet.parse(frame).payload[:28]
    message = Icmp(icmp_type, code, struct.pack("!HH", 0, mtu), quoted)
    return ip_frame(message.emit(), proto=PROTO_ICMP)


def test_a_hard_icmp_error_ends_a_connection_attempt():
    """RFC 9293 3.9.2.2 (MUST-54, SHLD-26): port unreachable for our SYN: no more SYNs."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key = host.connect(PEER_IP, 80, now=0)
    (syn,) = host.flush()
    host.receive_frame(icmp_about(syn, 3), now=10)
    assert key not in host.connections or host.connections[key].error == "unreachable"
    assert host.on_timer(now=5_000_000) == []


@pytest.mark.parametrize(("icmp_type", "code"), [(3, 0), (3, 1), (3, 5), (4, 0)])
def test_soft_icmp_errors_and_source_quench_change_nothing(icmp_type, code):
    """MUST-55, MUST-56: the SYN is retransmitted as if nothing had come."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key = host.connect(PEER_IP, 80, now=0)
    (syn,) = host.flush()
    host.receive_frame(icmp_about(syn, code, icmp_type=icmp_type), now=10)
    assert host.connections[key].error is None
    assert [decode(f)[1].flags for f in host.on_timer(now=5_000_000)] == [SYN]


def test_fragmentation_needed_resends_the_flight_in_smaller_segments():
    """RFC 1191: the next-hop MTU of 1000 makes segments of at most 960 bytes, at once."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key, snd = established(host)
    host.tcp_send(key, bytes(3000), now=2)
    first = host.flush()[0]
    assert len(decode(first)[1].payload) == 1460
    resent = [decode(f)[1] for f in host.receive_frame(icmp_about(first, 4, mtu=1000), now=3)]
    assert resent and resent[0].seq == snd and max(len(s.payload) for s in resent) == 960


def test_an_icmp_error_quoting_a_sequence_number_not_in_flight_is_ignored():
    """RFC 5927 4.1: only a segment between SND.UNA and SND.NXT can have caused it."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key = host.connect(PEER_IP, 80, now=0)
    syn = bytearray(host.flush()[0])
    syn[14 + 20 + 4 : 14 + 20 + 8] = (int.from_bytes(syn[38:42], "big") + 5000).to_bytes(4, "big")
    host.receive_frame(icmp_about(bytes(syn), 3), now=10)
    assert host.connections[key].error is None


def test_urgent_data_carries_urg_and_a_pointer_after_it():
    """RFC 9293 3.8.5 (MUST-30, MUST-31, MUST-62): every segment starting before the urgent
    point carries URG and the offset of the octet after the urgent data."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key, snd = established(host)
    host.tcp_send(key, bytes(3000), now=2, urgent=True)
    segments = [decode(f)[1] for f in host.flush()]
    assert len(segments) >= 2  # the last 80 bytes may wait for an ACK (Nagle)
    assert all(s.flags & URG and s.seq + s.urgent == snd + 3000 for s in segments)


def test_the_application_sets_the_ttl():
    """MUST-49: the connection's datagrams carry the TTL its profile says."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key, _snd = established(host)
    conn = host.connection(key)
    conn.profile = conn.profile.with_(ttl=17)
    host.tcp_send(key, b"x", now=2)
    (frame,) = host.flush()
    assert IPv4.parse(Ethernet.parse(frame).payload).ttl == 17
    retransmitted = host.on_timer(now=host.next_timer())  # unacknowledged: resent on a timer
    assert [IPv4.parse(Ethernet.parse(f).payload).ttl for f in retransmitted] == [17]


def test_a_ttl_set_before_connecting_is_on_the_syn():
    """MUST-49: a TTL given with the connection's options is on its first segment."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.connect(PEER_IP, 80, now=0, profile=host.config.profile.with_(ttl=17))
    (syn,) = host.flush()
    assert IPv4.parse(Ethernet.parse(syn).payload).ttl == 17


def complete_checksum(frame):
    """What a device does with a NEEDS_CSUM frame: sum the TCP segment (its checksum field
    holding the pseudo-header's sum) and store the complement."""
    start = 14 + (frame[14] & 0x0F) * 4
    segment = bytearray(frame[start:])
    segment[16:18] = internet_checksum(bytes(segment)).to_bytes(2, "big")
    return frame[:start] + bytes(segment)


def test_with_checksum_offload_a_completed_segment_is_the_one_sent_without():
    """The device completes the checksum: the bytes on the wire are the same either way."""
    frames = {}
    for offload in (False, True):
        host = make_host(neighbors={PEER_IP: PEER_MAC})
        host.tcp_checksum_offload = offload
        host.connect(PEER_IP, 81, now=0)
        syn = host.flush()  # a header with options
        key, _snd = established(host)
        host.tcp_send(key, bytes(range(256)) * 5 + b"odd", now=2)  # an odd length
        frames[offload] = syn + host.flush()
    assert len(frames[True]) == len(frames[False]) == 2
    assert frames[True] != frames[False]  # the fields hold partial sums before completion
    assert [complete_checksum(f) for f in frames[True]] == frames[False]


def test_keepalives_are_off_unless_asked_then_probe_and_give_up_after_the_count():
    """RFC 9293 3.8.4: off by default (MUST-25); after the idle time an empty probe one
    below SND.NXT (MUST-26, SHLD-12); unanswered ones repeat (MUST-29), then RST."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    key, snd = established(host)
    assert host.on_timer(now=10**10) == []
    conn = host.connection(key)
    conn.profile = conn.profile.with_(keepalive_probes=2)
    conn.set_keepalive(1_000_000, now=10**10)
    host.flush()
    sent = [decode(f)[1] for t in (1, 2, 3) for f in host.on_timer(now=10**10 + t * 1_000_000)]
    assert [(s.flags, s.seq, len(s.payload)) for s in sent[:2]] == [(ACK, snd - 1, 0)] * 2
    assert sent[2].flags & RST and conn.error == "timeout"


def test_a_burst_delivered_then_flushed_sends_what_frame_by_frame_sends():
    """deliver_frame keeps the output for one flush (an I/O layer reading in bursts): the
    same frames, in the same order, as receive_frame after every frame."""
    hosts = [make_host(neighbors={PEER_IP: PEER_MAC}) for _ in range(2)]
    for host in hosts:
        host.listen(80)
        syn = TcpSegment(5555, 80, 1000, 0, SYN, 1000, options=(Mss(500),))
        (synack,) = host.receive_frame(tcp_frame(syn), now=0)
        iss = decode(synack)[1].seq
        host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1001, iss + 1, ACK, 1000)), now=1)
        key = host.accept(80)
        assert key is not None
        host.tcp_send(key, bytes(range(250)) * 40, now=2)
        host.flush()
    # The peer acknowledges 1,000 bytes at a time, with data; the FIN last.
    acks = [
        TcpSegment(5555, 80, 1001 + 10 * i, iss + 1 + 1000 * (i + 1), ACK, 1000, bytes(10))
        for i in range(6)
    ]
    fin = TcpSegment(5555, 80, 1061, iss + 7001, FIN | ACK, 1000)
    burst = [tcp_frame(seg) for seg in (*acks, fin)]
    one_by_one = [out for frame in burst for out in hosts[0].receive_frame(frame, now=3)]
    for frame in burst:
        hosts[1].deliver_frame(frame, now=3)
    assert len(one_by_one) >= 10 and hosts[1].flush() == one_by_one


def established_host(mss: int = 1000):
    """A host with one connection from PEER_IP:5555 to its port 80, accepted."""
    host = make_host(neighbors={PEER_IP: PEER_MAC})
    host.listen(80)
    syn = TcpSegment(5555, 80, 1000, 0, SYN, 65535, options=(Mss(mss),))
    (synack,) = host.receive_frame(tcp_frame(syn), now=0)
    iss = decode(synack)[1].seq
    host.receive_frame(tcp_frame(TcpSegment(5555, 80, 1001, iss + 1, ACK, 65535)), now=1)
    key = host.accept(80)
    assert key is not None
    return host, key, iss


def test_a_merged_run_is_taken_as_the_segments_it_was_made_of():
    """A frame the device merged (receive offload: checksum vouched for, the segments'
    size given) makes the same output as its segments delivered one by one, whatever its
    checksum field holds; the same frame not vouched for is dropped."""
    payload = bytes(range(256)) * 14  # 3,584 bytes: three segments of 1,000 and one of 584
    (one_by_one, key_a, iss), (merged, key_b, _) = established_host(), established_host()
    run = TcpSegment(5555, 80, 1001, iss + 1, ACK | PSH, 65535, payload)
    pieces = segmented(run, 1000)
    expected = [out for seg in pieces for out in one_by_one.receive_frame(tcp_frame(seg), now=2)]
    frame = bytearray(tcp_frame(run))
    frame[14 + 20 + 16] ^= 0xFF  # the TCP checksum field: a merged frame's is partial
    merged.deliver_frame(bytes(frame), now=2, tcp_checksum_verified=True, tcp_segment_size=1000)
    assert expected and merged.flush() == expected
    assert merged.tcp_read(key_b, 10_000, now=3) == one_by_one.tcp_read(key_a, 10_000, now=3)
    again, _key, _ = established_host()
    assert again.receive_frame(bytes(frame), now=2) == []
    assert again.drops["tcp checksum or header"] == 1


def test_segmented_cuts_as_segmentation_offload_does():
    """CWR stays on the first piece, PSH and FIN on the last; sequence numbers wrap."""
    seg = TcpSegment(1, 2, 0xFFFFFFFE, 7, CWR | ACK | PSH | FIN, 100, b"abcdefghij")
    pieces = segmented(seg, 4)
    assert [(p.seq, p.flags, p.payload) for p in pieces] == [
        (0xFFFFFFFE, CWR | ACK, b"abcd"),
        (2, ACK, b"efgh"),
        (6, ACK | PSH | FIN, b"ij"),
    ]
    assert all((p.ack, p.window, p.sport, p.dport) == (7, 100, 1, 2) for p in pieces)
    assert segmented(seg, 10) == [seg] and segmented(seg, 64) == [seg]
