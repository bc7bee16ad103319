"""Hypothesis: whatever a peer sends, the reference never raises and keeps its invariants."""

from hypothesis import given, settings
from hypothesis import strategies as st

from reference_impl.tcp import seq
from reference_impl.tcp.profiles import LINUX, RFC
from reference_impl.wire.tcp import ACK, FIN, PSH, RST, SYN, Sack, TcpSegment
from tests.reference.helpers import ISS, LOCAL, PEER_ISS, REMOTE, established

flags = st.sampled_from([ACK, ACK | PSH, ACK | FIN, RST, SYN, ACK | RST, FIN, 0, SYN | ACK])
segments = st.lists(
    st.tuples(
        flags,
        st.integers(-2000, 70_000),  # relative seq
        st.integers(-2000, 70_000),  # relative ack
        st.integers(0, 65535),  # window
        st.integers(0, 1500),  # payload length (bytes come from one consistent stream)
        st.booleans(),  # with a SACK option
        st.integers(0, 400),  # ms later
        st.integers(0, 3000),  # bytes the application reads after this segment
        st.integers(0, 3000),  # bytes the application writes
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(segments, st.sampled_from([RFC, LINUX]))
def test_random_segments_never_raise_and_keep_invariants(script, profile):
    remote = established(profile, sack=True)
    conn, now = remote.conn, 0
    sent = bytearray()
    delivered = bytearray()
    stream = bytes((i * 7) & 0xFF for i in range(80_000))
    for flag, rel_seq, rel_ack, window, length, with_sack, later, reads, writes in script:
        now += later * 1000
        junk = min(max(1 - rel_seq, 0), length)  # bytes at or before the SYN's number
        start = max(rel_seq - 1, 0)
        data = b"?" * junk + stream[start : start + length - junk]
        options = (Sack(((seq.add(ISS, 100), seq.add(ISS, 300)),)),) if with_sack else ()
        segment = TcpSegment(
            REMOTE,
            LOCAL,
            seq.add(PEER_ISS, rel_seq),
            seq.add(ISS, rel_ack),
            flag,
            window,
            data,
            options,
        )
        conn.receive_segment(segment, now=now)
        conn.on_timer(now=now)
        delivered += conn.read(reads, now=now)
        if conn.send_space and conn.state.value in ("ESTABLISHED", "CLOSE-WAIT"):
            chunk = bytes(len(sent) % 251 for _ in range(min(writes, conn.send_space)))
            conn.send(chunk, now=now)
            sent += chunk
        conn.outgoing()
        assert seq.le(conn.snd_una, conn.snd_nxt) and seq.le(conn.snd_nxt, conn.snd_max)
        assert conn.readable + conn.ooo.queued_bytes <= profile.rcvbuf
        assert conn.cc.cwnd >= 1 and conn.rtt.rto_us <= profile.max_rto_us
        timer = conn.next_timer()
        assert timer is None or timer >= 0
        # Delivered bytes are always a prefix of what the peer sent, never reordered or doubled.
        assert bytes(delivered) == stream[: len(delivered)]
