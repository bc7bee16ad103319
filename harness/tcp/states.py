"""Drive one connection on the target into any state of RFC 9293's state diagram (3.3.2), so
that a check can run in every state it applies to (``@pytest.mark.parametrize("state", ...)``).

Each driver is a precondition: a target that does not get there (no SYN-ACK, no FIN after a
close) makes the scenario "not reached" (ERROR), never a verdict about the state's rules; those
steps are judged by test_handshake.py and test_close.py. After ``reach`` the peer's SND.NXT and
RCV.NXT are the target's RCV.NXT and SND.NXT in that state, so that ``peer.send()`` without
numbers sends the segment the target expects next.

Where the target's own FIN is left unacknowledged (FIN-WAIT-1, CLOSING, LAST-ACK) it will be
retransmitted after an RTO: checks in those states match their answer with ``skip_others``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from harness.core.bounds import DELAYED_ACK, HANDSHAKE_S, PROMPT_S
from harness.tcp.case import TcpCase, TcpConnection
from reference_impl.wire.tcp import ACK, FIN, SYN

SYNCHRONIZED = (
    "ESTABLISHED",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "CLOSE-WAIT",
    "CLOSING",
    "LAST-ACK",
    "TIME-WAIT",
)
# States in which our data is still taken (the target has not had our FIN).
RECEIVING = ("ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2")
# States whose FIN from the target is still unacknowledged: every segment of ours there
# acknowledges 1, not the FIN at 1, or the state would move on.
FIN_UNACKED = ("FIN-WAIT-1", "CLOSING", "LAST-ACK")


def holding_ack(state: str) -> int | None:
    """The acknowledgement number that keeps the target in ``state`` (None: the peer's
    default, RCV.NXT)."""
    return 1 if state in FIN_UNACKED else None


def send_stray(conn: TcpConnection, data: bytes = b"", **fields: Any) -> None:
    """A segment off the connection's sequence (outside the window, an old duplicate): sent
    as given, without moving the peer's SND.NXT."""
    peer = conn.peer
    snd_nxt = peer.snd_nxt
    peer.send(data, **fields)
    peer.snd_nxt = snd_nxt


def reach(tcp: TcpCase, state: str) -> TcpConnection:
    """A connection on the target in ``state``, opened by the tester (SYN-RECEIVED too) or,
    for SYN-SENT, by the target's application."""
    with tcp.precondition(f"a connection in {state}"):
        return DRIVERS[state](tcp)


def _syn_sent(tcp: TcpCase) -> TcpConnection:
    """The target's application connects; its SYN stays unanswered."""
    port = tcp.bed.next_port()
    peer = tcp.peer(target_port=0)
    peer.tester_port = port
    handle, peer.target_port = tcp.app_connect(tcp.bed.topology.tester.ip, port)
    peer.target_syn = peer.expect(flags=SYN, within=HANDSHAKE_S, what="the target's SYN").segment
    peer.snd_nxt = 0  # our ISN is still to be sent
    return tcp.track(peer, handle)


def _syn_received(tcp: TcpCase) -> TcpConnection:
    """Our SYN to a listener, its SYN-ACK, and no ACK from us. The handle is the listener's
    (the connection has none until it is accepted)."""
    port, listener = tcp.listen()
    peer = tcp.peer(port)
    peer.send_syn()
    peer.target_syn = peer.expect(
        flags=SYN | ACK, ack=1, within=HANDSHAKE_S, what="the SYN-ACK"
    ).segment
    return tcp.observe(peer, listener)


def _close_from_target(tcp: TcpCase) -> TcpConnection:
    """ESTABLISHED, then the target's application closes: its FIN at 1 (FIN-WAIT-1)."""
    conn = tcp.connect_to_target()
    tcp.app_shutdown(conn)
    conn.peer.expect(flags=FIN | ACK, seq=1, within=PROMPT_S, what="the target's FIN")
    return conn


def _fin_wait_2(tcp: TcpCase) -> TcpConnection:
    conn = _close_from_target(tcp)
    conn.peer.send(flags=ACK)  # acknowledges the FIN
    return conn


def _close_wait(tcp: TcpCase) -> TcpConnection:
    conn = tcp.connect_to_target()
    conn.peer.send(flags=FIN | ACK)
    conn.peer.expect(flags=ACK, ack=2, within=DELAYED_ACK.seconds, what="the ACK of our FIN")
    return conn


def _closing(tcp: TcpCase) -> TcpConnection:
    """Both FINs cross: ours does not acknowledge the target's, which acknowledges ours."""
    conn = _close_from_target(tcp)
    conn.peer.send(flags=FIN | ACK, ack=1)
    conn.peer.expect(
        flags=ACK,
        seq=2,
        ack=2,
        within=DELAYED_ACK.seconds,
        what="the ACK of our FIN",
        skip_others=True,
    )
    return conn


def _last_ack(tcp: TcpCase) -> TcpConnection:
    conn = _close_wait(tcp)
    tcp.app_shutdown(conn)
    conn.peer.expect(flags=FIN | ACK, seq=1, ack=2, within=PROMPT_S, what="the target's FIN")
    return conn


def _time_wait(tcp: TcpCase) -> TcpConnection:
    conn = _fin_wait_2(tcp)
    conn.peer.send(flags=FIN | ACK)
    conn.peer.expect(flags=ACK, seq=2, ack=2, within=DELAYED_ACK.seconds, what="the ACK of our FIN")
    return conn


DRIVERS: dict[str, Callable[[TcpCase], TcpConnection]] = {
    "SYN-SENT": _syn_sent,
    "SYN-RECEIVED": _syn_received,
    "ESTABLISHED": lambda tcp: tcp.connect_to_target(),
    "FIN-WAIT-1": _close_from_target,
    "FIN-WAIT-2": _fin_wait_2,
    "CLOSE-WAIT": _close_wait,
    "CLOSING": _closing,
    "LAST-ACK": _last_ack,
    "TIME-WAIT": _time_wait,
}
