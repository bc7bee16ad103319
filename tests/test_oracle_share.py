"""How many of the TCP suites' expectations the oracle decides (issue: at least two thirds).

An expectation is a call that waits for the target's answer and judges it: ``expect_predicted``
or ``expect_predicted_silence`` (the reference says what the target must send, or that it
sends nothing) or ``expect`` / ``expect_silence`` (written by hand: an RFC bound with no single
answer, or a connection the reference cannot follow to that point). Run as a script it
prints the count per file:

    python tests/test_oracle_share.py
"""

import ast
import sys
from collections import Counter
from pathlib import Path

TCP_SUITES = Path(__file__).parents[1] / "suites" / "tcp"
PREDICTED = ("expect_predicted", "expect_predicted_silence")
HAND_WRITTEN = ("expect", "expect_silence")


def expectations(path: Path) -> Counter[str]:
    """{"predicted": n, "hand": m} for one suite file."""
    found: Counter[str] = Counter()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in PREDICTED:
                found["predicted"] += 1
            elif node.func.attr in HAND_WRITTEN:
                found["hand"] += 1
    return found


def share() -> tuple[int, int, dict[str, Counter[str]]]:
    per_file = {path.name: expectations(path) for path in sorted(TCP_SUITES.glob("test_*.py"))}
    predicted = sum(c["predicted"] for c in per_file.values())
    total = predicted + sum(c["hand"] for c in per_file.values())
    return predicted, total, per_file


def test_the_oracle_decides_two_thirds_of_the_tcp_expectations():
    predicted, total, _ = share()
    assert predicted * 3 >= total * 2, f"the oracle decides {predicted} of {total}"


if __name__ == "__main__":
    predicted, total, per_file = share()
    for name, counts in per_file.items():
        print(f"{name:<28} oracle {counts['predicted']:>3}  by hand {counts['hand']:>3}")
    print(f"{'all':<28} oracle {predicted:>3} of {total} ({100 * predicted / total:.0f} %)")
    sys.exit(0 if predicted * 3 >= total * 2 else 1)
