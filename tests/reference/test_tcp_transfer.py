"""Two reference connections over a simulated link: data arrives intact, whatever the link does."""

import hashlib

import pytest

from reference_impl.simlink import Link, Simulation
from reference_impl.tcp.profiles import LINUX, RFC
from reference_impl.tcp.states import State
from tests.reference.sim_apps import Reader, Writer

S = 1_000_000


def payload(size: int, seed: int = 1) -> bytes:
    out, block = bytearray(), hashlib.sha256(str(seed).encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def transfer(size, *, seed=1, profile=RFC, **impairments):
    data = payload(size, seed)
    sim = Simulation(seed)
    writer, reader = Writer(data, profile=profile), Reader(profile=profile)
    sim.add("a", writer)
    sim.add("b", reader)
    sim.connect("a", "b", Link(delay_us=5_000, **impairments), Link(delay_us=5_000, **impairments))
    sim.send("a", "b", writer.first_segments())
    sim.run(
        600 * S, stop=lambda: reader.closed and writer.conn.state in (State.TIME_WAIT, State.CLOSED)
    )
    return data, writer, reader, sim


def test_transfer_clean_link_delivers_1mb_and_closes():
    data, writer, reader, _sim = transfer(1 << 20)
    assert bytes(reader.received) == data
    assert writer.conn.state == State.TIME_WAIT
    assert reader.conn.state in (State.LAST_ACK, State.CLOSED)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("profile", [RFC, LINUX], ids=["rfc", "linux"])
def test_transfer_lossy_reordering_duplicating_link_delivers_1mb_intact(seed, profile):
    data, _writer, reader, sim = transfer(
        1 << 20, seed=seed, profile=profile, loss=0.02, duplicate=0.01, reorder=0.02
    )
    assert hashlib.sha256(reader.received).hexdigest() == hashlib.sha256(data).hexdigest()
    assert sim.links[("a", "b")].dropped > 0  # the link really did lose segments


def test_transfer_with_sack_recovery_delivers_intact():
    profile = RFC.with_(sack_recovery=True)
    data, _, reader, _ = transfer(1 << 19, seed=5, profile=profile, loss=0.03, reorder=0.01)
    assert bytes(reader.received) == data
