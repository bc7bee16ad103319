"""The reference TCP's two fast paths must not change a thing: bulk data sent in runs of
full segments made in one pass (``_send_full_run``), and in-order data taken by header
prediction (``_next_in_order_data``). Two connections move data through a lossy,
reordering in-memory path with random writes, reads, windows and timer jumps, once with the
fast paths and once without: every segment either side sends, and when, must be the same."""

from __future__ import annotations

import contextlib
import random

import pytest

from reference_impl.tcp.connection import TcpConnection, TcpError
from reference_impl.tcp.profiles import LINUX, RFC, Profile
from reference_impl.wire.tcp import TcpSegment

PROFILES = {
    "linux": LINUX.with_(rcvbuf=256 << 10, sndbuf=256 << 10, window_scale=7, sack=True),
    "rfc": RFC.with_(rcvbuf=64 << 10, sndbuf=64 << 10),
    "small mss, sack": RFC.with_(mss=536, rcvbuf=20000, sndbuf=50000, sack=True),
}


def exchange(seed: int, profile: Profile, steps: int = 1500) -> list[tuple[int, str, TcpSegment]]:
    """(time, side, segment) for every segment sent in ``steps`` random steps: the client
    sends bulk data, the server a little back now and then."""
    rng = random.Random(seed)
    client = TcpConnection.connect(40000, 80, iss=rng.getrandbits(32), now=0, profile=profile)
    wire: list[tuple[str, TcpSegment]] = [("c", s) for s in client.outgoing()]
    server: TcpConnection | None = None
    sent: list[tuple[int, str, TcpSegment]] = []
    now = 0
    for _ in range(steps):
        now += rng.choice((50, 200, 1000, 20_000, 300_000))
        in_flight, wire = wire, []
        if rng.random() < 0.2:
            rng.shuffle(in_flight)
        for side, seg in in_flight:
            sent.append((now, side, seg))
            if rng.random() < 0.04:
                continue  # lost
            if side == "c" and server is None:
                server = TcpConnection.accept_syn(
                    seg, iss=rng.getrandbits(32), now=now, profile=profile
                )
                wire += [("s", s) for s in server.outgoing()]
            elif side == "c" and server is not None:
                wire += [("s", s) for s in server.receive_segment(seg, now=now)]
            else:
                wire += [("c", s) for s in client.receive_segment(seg, now=now)]
        wire += [("c", s) for s in client.on_timer(now=now)]
        if server is not None:
            wire += [("s", s) for s in server.on_timer(now=now)]
            if rng.random() < 0.5:
                server.read(rng.choice((1000, 30000, 1 << 20)), now=now)
                wire += [("s", s) for s in server.outgoing()]
            if rng.random() < 0.1 and server.send_space:  # some data back: piggybacked ACKs
                answer = rng.randbytes(rng.randrange(1, min(server.send_space, 3000) + 1))
                with contextlib.suppress(TcpError):
                    wire += [("s", s) for s in server.send(answer, now=now)]
                client.read(1 << 20, now=now)
                wire += [("c", s) for s in client.outgoing()]
        if rng.random() < 0.4 and client.send_space:
            data = rng.randbytes(rng.randrange(1, client.send_space + 1))
            with contextlib.suppress(TcpError):  # a closed connection refuses it
                urgent = rng.random() < 0.05  # urgent data: every segment before it has URG
                wire += [("c", s) for s in client.send(data, now=now, urgent=urgent)]
    return sent


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("seed", range(6))
def test_the_fast_paths_send_what_the_full_processing_sends(monkeypatch, name, seed):
    with_runs = exchange(seed, PROFILES[name])
    monkeypatch.setattr(TcpConnection, "_send_full_run", lambda *_args: False)
    monkeypatch.setattr(TcpConnection, "_next_in_order_data", lambda *_args: False)
    one_by_one = exchange(seed, PROFILES[name])
    data_segments = sum(1 for _t, side, seg in one_by_one if side == "c" and seg.payload)
    assert data_segments > 200  # the scenario moved data
    assert with_runs == one_by_one
