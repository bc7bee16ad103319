"""Connection establishment (RFC 9293 section 3.5, processing in 3.10.7.2), and several
connections on one listening port (3.9.1.1)."""

import pytest

from harness.core.bounds import DELAYED_ACK, HANDSHAKE_S, INITIAL_RTO, OLD_INITIAL_RTO, PROMPT_S
from harness.core.errors import ConformanceFailure
from harness.hosts.agent import AgentReplyError
from reference_impl.wire.tcp import ACK, CWR, ECE, RST, SYN, Mss


@pytest.mark.rfc("9293", "3.10.7.2", level="MUST")
def test_syn_ack_acknowledges_isn_plus_one(tcp):
    """A listener answers our SYN with SYN-ACK whose ACK is our ISN + 1 (the SYN takes one
    sequence number); the reference's own answer gives the expected flags and ACK."""
    port, _ = tcp.listen()
    peer = tcp.peer(port)
    peer.send_syn()
    seen = peer.expect_predicted(what="SYN-ACK to our SYN", fields=("flags", "ack"))
    assert seen.segment.ack == 1  # relative: ISN + 1
    tcp.measure("SYN -> SYN-ACK", seen.delay_s)


@pytest.mark.rfc("9293", "3.10.7.1", level="MUST")
def test_syn_to_a_closed_port_draws_rst_with_the_right_numbers(tcp):
    """Nobody listens: the answer is RST|ACK with sequence 0 acknowledging ISN + 1 (the
    reference's rst_for_unknown gives the expected segment)."""
    peer = tcp.peer(tcp.bed.next_port())  # a port nobody listens on
    peer.send_syn()
    seen = peer.expect(flags=RST | ACK, ack=1, within=PROMPT_S, what="RST for a closed port")
    assert seen.segment.length == 0


@pytest.mark.rfc("9293", "3.5", level="MUST")
def test_syn_ack_is_retransmitted_when_the_final_ack_is_lost(tcp):
    """We never send the handshake's last ACK: the target sends its SYN-ACK again, with the
    same numbers, once its retransmission timer (initially 1 s, RFC 6298 2.1) fires."""
    port, _ = tcp.listen()
    peer = tcp.peer(port)
    peer.send_syn()
    first = peer.expect_predicted(what="SYN-ACK", fields=("flags", "ack")).segment
    again = peer.expect(
        flags=SYN | ACK, ack=1, within=tcp.within(OLD_INITIAL_RTO), what="the SYN-ACK again"
    ).segment
    assert again.seq == first.seq
    tcp.measure(
        "SYN-ACK -> its retransmission",
        (again.ts_ns - first.ts_ns) / 1e9,
        INITIAL_RTO,
        OLD_INITIAL_RTO,
    )


@pytest.mark.rfc("9293", "3.5", req="MUST-10")
def test_simultaneous_open_completes(tcp):
    """The target opens a connection while we send our own SYN: it answers SYN-ACK from
    SYN-SENT, and once our SYN-ACK comes the connection carries data."""
    port = tcp.bed.next_port()
    peer = tcp.peer(target_port=0)
    peer.tester_port = port
    handle, peer.target_port = tcp.app_connect(tcp.bed.topology.tester.ip, port)
    conn = tcp.track(peer, handle)
    peer.expect(flags=SYN, within=HANDSHAKE_S, what="the target's SYN")
    peer.send(flags=SYN, seq=0, options=[Mss(1460)])  # our SYN crosses theirs
    synack = peer.expect_predicted(what="SYN-ACK from SYN-SENT").segment
    assert (synack.seq, synack.ack) == (0, 1)
    peer.send(flags=SYN | ACK, seq=0, ack=1, options=[Mss(1460)])
    tcp.app_write(conn, b"simultaneous")
    data = peer.expect_predicted(
        what="data on the simultaneously opened connection",
        fields=("seq", "length"),
        skip_others=True,
    ).segment
    assert (data.seq, data.length) == (1, 12)


@pytest.mark.rfc("9293", "3.7.1", req="MUST-14")
def test_syn_ack_carries_an_mss_option(tcp):
    port, _ = tcp.listen()
    peer = tcp.peer(port)
    peer.send_syn()
    synack = peer.expect_predicted(what="SYN-ACK", fields=("flags", "ack")).segment
    mss = synack.option(Mss)
    assert mss is not None and 536 <= mss.value <= 65495, f"SYN-ACK: {synack.describe()}"


def accept_one(tcp, port, listener):
    """One connection from a new tester port to ``port``, accepted by the application."""
    peer = tcp.peer(port)
    peer.connect()
    handle = int(tcp.control.request("accept", handle=listener, timeout=2.0)["handle"])
    return tcp.track(peer, handle)


@pytest.mark.rfc("9293", "3.9.1.1", req="MUST-42")
def test_several_connections_share_one_listening_port(tcp):
    """Three tester ports connect to one listening port; each connection carries its own
    data both ways, none mixed with another's."""
    port, listener = tcp.listen()
    with tcp.precondition("a first connection on the listening port"):
        conns = [accept_one(tcp, port, listener)]
    for n in (2, 3):  # the subject: a second and third connection on the same port
        try:
            conns.append(accept_one(tcp, port, listener))
        except AgentReplyError as exc:
            raise ConformanceFailure(f"connection {n} was not accepted: {exc}") from None
    for n, conn in enumerate(conns):
        data = bytes([65 + n]) * 100
        conn.peer.send(data)
        conn.peer.expect_predicted(what="the ACK", bound=DELAYED_ACK, skip_others=True)
        read = tcp.app_read(conn, 100)
        assert read == data, f"connection {n + 1} read {read[:8]!r}..., not {data[:8]!r}..."
        tcp.app_write(conn, data)
        got = conn.peer.expect_predicted(
            what="the data", fields=("seq", "length"), skip_others=True
        ).segment
        assert got.payload == data, f"connection {n + 1} sent {got.payload[:8]!r}..."


@pytest.mark.rfc("9293", "3.8.2", req="SHLD-8")
def test_an_ecn_setup_syn_is_answered_with_an_ecn_setup_syn_ack(tcp):
    """Our SYN asks for ECN (ECE and CWR, RFC 3168 6.1.1): a stack that supports it
    answers with ECE and without CWR."""
    port, _ = tcp.listen()
    peer = tcp.peer(port)
    peer.send(flags=SYN | ECE | CWR, seq=0, options=[Mss(1460)])
    synack = peer.expect_predicted(what="SYN-ACK", fields=("flags", "ack")).segment
    if synack.flags & (ECE | CWR) != ECE:
        raise ConformanceFailure(f"no ECN-setup SYN-ACK (ECE without CWR): {synack.describe()}")
