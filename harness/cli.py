"""The ``netconform`` command: run, report, doctor."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path
from types import FrameType

from harness.errors import SetupError

RESULTS_DIR = Path("reports/allure-results")
REPORT_DIR = Path("reports/allure-report")
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SetupError as exc:
        print(f"netconform: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("netconform: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netconform", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the conformance suites and build the HTML report")
    run.add_argument(
        "--target",
        action="append",
        metavar="TARGET",
        help="target to test, repeatable (default: the built-in targets)",
    )
    run.add_argument(
        "--suite",
        action="append",
        metavar="PATH",
        help="suite folder or test file (default: all suites)",
    )
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")
    run.add_argument(
        "pytest_args",
        nargs=argparse.REMAINDER,
        help="after --, arguments passed to pytest (e.g. -- -k fin --strict)",
    )
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="build the HTML report from reports/allure-results")
    report.set_defaults(func=cmd_report)

    subnet = sub.add_parser("subnet", help="subnetting calculator (masks, lists, VLSM, summaries)")
    subnet.add_argument(
        "network",
        nargs="+",
        help="a network (172.16.0.0/16, '172.16.0.0 255.255.0.0', or a classful "
        "address); several with --summarize",
    )
    what = subnet.add_mutually_exclusive_group()
    what.add_argument("--subnets", type=int, metavar="N", help="the mask for N subnets")
    what.add_argument("--hosts", type=int, metavar="N", help="the mask for N hosts per subnet")
    what.add_argument("--vlsm", metavar="NAME=HOSTS,...", help="variable-length allocation")
    what.add_argument("--summarize", action="store_true", help="summarise the networks given")
    subnet.add_argument(
        "--no-subnet-zero",
        action="store_true",
        help="RFC 950's rule: the all-zeros and all-ones subnets are not used",
    )
    subnet.add_argument("--limit", type=int, default=16, help="subnets to list (default 16)")
    subnet.add_argument("--json", action="store_true", help="machine-readable output")
    subnet.set_defaults(func=cmd_subnet)

    aimd = sub.add_parser("aimd", help="two reference flows share a bottleneck: plot AIMD")
    aimd.add_argument("--seconds", type=float, default=60.0, help="simulated time (default 60)")
    aimd.add_argument("--out", default="reports/aimd.svg", help="where the SVG plot goes")
    aimd.set_defaults(func=cmd_aimd)

    doctor = sub.add_parser("doctor", help="check (or --install) what the harness needs")
    doctor.add_argument(
        "--install",
        action="store_true",
        help="install missing Debian packages and the Allure 3 report tool",
    )
    doctor.set_defaults(func=cmd_doctor)
    return parser


def _install_interrupt_handlers() -> None:
    """Ctrl-C and SIGTERM both raise KeyboardInterrupt, so fixtures tear namespaces down.

    Installed explicitly: a shell that starts us in the background hands us SIGINT ignored.
    Only this process unwinds: children forked later (pyroute2 forks to enter namespaces)
    inherit the handler and must simply exit, never run the parent's cleanup twice.
    """
    main_pid = os.getpid()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != main_pid:
            os._exit(128 + signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def cmd_run(args: argparse.Namespace) -> int:
    from harness import doctor
    from harness.targets import BUILT_IN, check_target_spec

    # Cheap checks first, before the heavy imports: a bad command line or a missing
    # privilege is answered in one line at once.
    targets = args.target or list(BUILT_IN)
    for spec in targets:
        check_target_spec(spec)
    doctor.require_runtime()

    import pytest

    from harness.topology import remove_leftovers

    _install_interrupt_handlers()
    removed = remove_leftovers()
    if removed:
        print(f"netconform: removed {len(removed)} namespace(s) left by killed runs")
    _clear(RESULTS_DIR)
    extra = [a for a in args.pytest_args if a != "--"]
    pytest_args = [
        *(args.suite or [str(SUITES_DIR)]),
        *[f"--target={t}" for t in targets],
        f"--alluredir={RESULTS_DIR}",
        "--junitxml=reports/junit.xml",
        *extra,
    ]
    print(f"netconform: running suites against {', '.join(targets)}", flush=True)
    code = int(pytest.main(pytest_args))
    if code == pytest.ExitCode.INTERRUPTED:
        return 130
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("netconform: no tests were collected", file=sys.stderr)
        return int(code)
    if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return int(code)
    if not args.no_report:
        index = _build_report()
        print(f"netconform: HTML report at {index}")
    return int(code)


def _clear(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_file():
            entry.unlink()


def _build_report() -> Path:
    from harness.report.allure_report import build_html, write_environment

    write_environment(
        RESULTS_DIR,
        {
            "kernel": os.uname().release,
            "python": sys.version.split()[0],
            "host": os.uname().nodename,
        },
    )
    return build_html(RESULTS_DIR, REPORT_DIR).resolve()


def cmd_report(_args: argparse.Namespace) -> int:
    if not RESULTS_DIR.is_dir() or not any(RESULTS_DIR.glob("*-result.json")):
        raise SetupError(f"no results in {RESULTS_DIR}; run `netconform run` first")
    print(f"netconform: HTML report at {_build_report()}")
    return 0


def cmd_subnet(args: argparse.Namespace) -> int:
    from harness.subnet_view import run_subnet

    return run_subnet(args)


def cmd_aimd(args: argparse.Namespace) -> int:
    from harness.report.aimd_plot import aimd_svg
    from reference_impl.aimd import run_aimd

    def progress(fraction: float) -> None:
        print(
            f"\rsimulating {fraction:4.0%}",
            end="" if fraction < 1 else "\n",
            file=sys.stderr,
            flush=True,
        )

    run = run_aimd(seconds=args.seconds, progress=progress if sys.stderr.isatty() else None)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(aimd_svg(run))
    settle = args.seconds / 2
    print(
        f"fairness (Jain) after {settle:g} s: {run.fairness(settle):.3f}; "
        f"bottleneck utilisation: {run.utilisation(settle):.0%}"
    )
    print(f"netconform: plot at {out.resolve()}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from harness import doctor

    if args.install:
        doctor.install()
    lines: list[str] = []
    ready = doctor.report(lines)
    print("\n".join(lines))
    if not ready:
        print("netconform: not ready; run `netconform doctor --install` as root", file=sys.stderr)
    return 0 if ready else 1


if __name__ == "__main__":
    sys.exit(main())
