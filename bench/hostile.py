"""Benchmark: the harness against a flooding stack and a leaking one, with the same tests
against the reference in the same run as the baseline.

    .venv/bin/python bench/hostile.py

Prints, per stack, the wall time of 13 TCP tests, the harness's peak memory (the pytest
process, its children excluded: they are the stack), the evidence written and the verdicts,
and the ratios to the reference. The targets: the flood's 13 tests in under 60 s with the
harness under 300 MB; the leaking stack stopped at its limit.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUIRKY = REPO / "tests" / "stacks" / "quirky.py"
THIRTEEN = [
    "suites/tcp/test_acknowledgement.py",
    "suites/tcp/test_handshake.py::test_syn_ack_acknowledges_isn_plus_one",
    "suites/tcp/test_handshake.py::test_syn_ack_carries_an_mss_option",
]
STACK = "--tap {tap} --ip {ip}/{prefix} --mac {mac} --neighbor {tester_ip}={tester_mac}"
TARGETS = {
    "reference": f"ref-cmd=cmd:{sys.executable} -m harness.hosts.refstack {STACK}",
    "flood": f"flood=cmd:{sys.executable} {QUIRKY} --quirk flood {STACK}",
    "leak (100 MB/s, limit 300 MB)": f"leak=cmd:{sys.executable} {QUIRKY} --quirk leak=100 {STACK}",
}


def measure(name: str, target: str, folder: Path) -> dict[str, object]:
    folder.mkdir(parents=True)
    verdicts = folder / "verdicts.json"
    # pytest in this process; its own peak (the stack is a child, not counted)
    script = (
        "import resource, sys, pytest; pytest.main(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    command = [
        sys.executable,
        "-c",
        script,
        "-q",
        "-p",
        "no:cacheprovider",
        *THIRTEEN,
        f"--target={target}",
        f"--verdicts={verdicts}",
        f"--pcap-dir={folder / 'pcaps'}",
        f"--alluredir={folder / 'allure'}",
        "--target-memory=300",
    ]
    start = time.monotonic()
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True).stdout
    seconds = time.monotonic() - start
    peak_kb = int(out.strip().splitlines()[-1])
    evidence = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    counts = Counter(row["verdict"] for row in json.loads(verdicts.read_text()))
    return {
        "name": name,
        "seconds": seconds,
        "peak_mb": peak_kb / 1024,
        "evidence_mb": evidence / 1e6,
        "verdicts": dict(counts),
    }


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory(prefix="netconform-bench-") as tmp:
        for index, (name, target) in enumerate(TARGETS.items()):
            rows.append(measure(name, target, Path(tmp) / str(index)))
    base = rows[0]
    head = f"{'stack':<32} {'wall s':>8} {'x ref':>6} {'peak MB':>8} {'x ref':>6}"
    print(f"{head} {'evidence MB':>12}  verdicts")
    for row in rows:
        print(
            f"{row['name']:<32} {row['seconds']:8.1f} {row['seconds'] / base['seconds']:6.2f} "
            f"{row['peak_mb']:8.0f} {row['peak_mb'] / base['peak_mb']:6.2f} "
            f"{row['evidence_mb']:12.1f}  {row['verdicts']}"
        )


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
