"""The AIMD demonstration converges: two flows end up with equal shares of the bottleneck."""

from harness.report.aimd_plot import aimd_svg
from reference_impl.aimd import run_aimd


def test_two_flows_converge_to_a_fair_share_and_fill_the_bottleneck():
    run = run_aimd(seconds=40, second_start_s=5)
    alone = [v for t, v in zip(run.times_s, run.throughput_bps[0], strict=True) if 2 <= t < 5]
    assert sum(alone) / len(alone) > 0.8 * run.bottleneck_bps  # flow 1 alone takes the link
    assert run.fairness(from_s=25) > 0.98  # Jain's index: 1.0 is a perfectly fair share
    assert run.utilisation(from_s=25) > 0.85
    late = [c for t, c in zip(run.times_s, run.cwnd[1], strict=True) if t >= 25]
    assert max(late) > 1.3 * min(late)  # the window keeps probing and halving: a sawtooth


def test_aimd_is_deterministic_for_a_seed():
    first, second = run_aimd(seconds=8, second_start_s=2), run_aimd(seconds=8, second_start_s=2)
    assert first.throughput_bps == second.throughput_bps


def test_aimd_plot_is_an_svg_with_both_flows():
    svg = aimd_svg(run_aimd(seconds=4, second_start_s=1))
    assert svg.startswith("<svg") and svg.count("<polyline") == 5
    assert "fair share" in svg and "flow 2 cwnd" in svg
