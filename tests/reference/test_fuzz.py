"""The seeded fuzzers (fuzz_tcp, fuzz_wire) in the default run, and ten times longer under
``pytest --long`` (``-m long`` selects only those)."""

import pytest

from tests.reference import fuzz_tcp, fuzz_wire


def test_tcp_invariants_hold_for_100k_fuzzed_steps():
    steps, violations = fuzz_tcp.run(100_000, seed=1)
    assert steps == 100_000 and violations == []


def test_decoders_raise_only_wire_error_for_100k_fuzzed_frames():
    frames, escaped = fuzz_wire.run(100_000, seed=1)
    assert frames == 100_000 and escaped == []


@pytest.mark.long
@pytest.mark.parametrize("seed", [2, 3])
def test_tcp_invariants_hold_for_a_million_fuzzed_steps(seed):
    steps, violations = fuzz_tcp.run(1_000_000, seed=seed)
    assert steps == 1_000_000 and violations == []


@pytest.mark.long
def test_decoders_raise_only_wire_error_for_a_million_fuzzed_frames():
    frames, escaped = fuzz_wire.run(1_000_000, seed=2)
    assert frames == 1_000_000 and escaped == []
