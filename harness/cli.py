"""The ``netconform`` command: run, report, doctor."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from harness import protocols
from harness.core import registry
from harness.core.baseline import EXIT_DEVIATION, EXIT_ERROR, EXIT_OK
from harness.core.errors import SetupError
from harness.core.registry import DHCP_CLIENT, DHCP_SERVER
from harness.core.signals import install_interrupt_handlers

protocols.load_targets()
DHCP_SERVERS = registry.names(DHCP_SERVER)
DHCP_CLIENTS = registry.names(DHCP_CLIENT)

RESULTS_DIR = Path("reports/allure-results")
VERDICTS_FILE = Path("reports/verdicts.json")
REPORT_DIR = Path("reports/allure-report")
SUITES_DIR = Path(__file__).resolve().parent.parent / "suites"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Everything after "--" goes to pytest untouched.
    passthrough = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = _parser()
    args = parser.parse_args(argv)
    args.pytest_args = passthrough
    try:
        _check_suites(getattr(args, "suite", None))
        return int(args.func(args))
    except SetupError as exc:
        print(f"netconform: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("netconform: interrupted", file=sys.stderr)
        return 130


def _check_suites(suites: list[str] | None) -> None:
    """--suite PATH (a file or folder, with an optional ::test) must exist."""
    for suite in suites or []:
        path = Path(suite.split("::")[0])
        if not path.exists():
            raise SetupError(f"no such suite file or folder: {path}")


MAX_AIMD_SECONDS = 3600.0


def _check_aimd(args: argparse.Namespace) -> Path:
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= MAX_AIMD_SECONDS):
        raise SetupError(f"--seconds must be above 0 and at most {MAX_AIMD_SECONDS:g}")
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out, "a"):
            pass
    except OSError as exc:
        raise SetupError(f"cannot write {out}: {exc.strerror or exc}") from None
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="netconform",
        description=__doc__,
        epilog="Arguments after -- go to pytest (run, matrix), e.g. netconform run -- -k fin",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_add_run, _add_report, _add_matrix, _add_verdicts, _add_requirements):
        add(sub)
    for add in (_add_subnet, _add_aimd, _add_doctor):
        add(sub)
    return parser


def _add_run(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    run = sub.add_parser("run", help="run the conformance suites and build the HTML report")
    run.add_argument(
        "--target",
        action="append",
        metavar="TARGET",
        help="host target to test (TCP, ICMP, on-link), repeatable: linux, ref, cmd:COMMAND or "
        "NAME=cmd:COMMAND (default: the built-in targets)",
    )
    run.add_argument(
        "--dhcp-server",
        action="append",
        choices=DHCP_SERVERS,
        metavar="SERVER",
        help=f"DHCP server to test, repeatable: {', '.join(DHCP_SERVERS)} (default: all)",
    )
    run.add_argument(
        "--dhcp-client",
        action="append",
        choices=DHCP_CLIENTS,
        metavar="CLIENT",
        help=f"DHCP client to test, repeatable: {', '.join(DHCP_CLIENTS)} (default: all)",
    )
    run.add_argument(
        "--suite",
        action="append",
        metavar="PATH",
        help="suite folder or test file (default: all suites)",
    )
    run.add_argument("--no-report", action="store_true", help="skip the HTML report")
    _add_workers(run)
    _add_run_modes(run)
    run.set_defaults(func=cmd_run)


def workers(value: str) -> str:
    """``--workers``: auto or a count (0 runs the tests one after another in one process)."""
    if value == "auto" or (value.isdigit() and int(value) <= 64):
        return value
    raise argparse.ArgumentTypeError(f"{value!r}: give auto or a number from 0 to 64")


def _add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=workers,
        default="auto",
        metavar="N",
        help="test beds side by side, each in a worker process of its own: auto (the default: "
        "three per core, 4 to 8, as the tests mostly wait) or a number; 0 runs them one "
        "after another",
    )


def _add_run_modes(run: argparse.ArgumentParser) -> None:
    """How a run is judged and repeated: baselines, stress, long scenarios, history."""
    run.add_argument(
        "--baseline",
        action="append",
        type=Path,
        metavar="FILE",
        help="known deviations (TOML), repeatable: only a deviation no baseline knows, or an "
        "entry that no longer holds, fails the run (the shipped baselines always apply)",
    )
    run.add_argument(
        "--update-baseline",
        action="store_true",
        help="rewrite the one --baseline FILE with the deviations this run found",
    )
    run.add_argument(
        "--stress",
        type=int,
        metavar="N",
        help="stress mode: the scenarios prone to races (closes racing a write, an "
        "unacknowledged flight, a zero window, the peer's FIN), N times each, with a k-of-N "
        "summary per scenario (README, 'Stress')",
    )
    run.add_argument(
        "--long",
        action="store_true",
        help="also run the long scenarios (minutes each: retransmission limits R2, a "
        "connection attempt kept up for 3 minutes)",
    )
    run.add_argument(
        "--history",
        type=Path,
        metavar="DIR",
        help="keep the report's history in DIR: runs that share it show trends and each "
        "test's history (Allure's), flaky tests included",
    )


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="build the HTML report from reports/allure-results")
    report.set_defaults(func=cmd_report)


def _add_matrix(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    matrix = sub.add_parser(
        "matrix",
        help="run every stack of a TOML file, write the matrix",
        description="netconform matrix STACKS.toml [--jobs N] [--shard K/N]: run the stacks; "
        "netconform matrix merge DIR... [--out DIR]: one matrix from the shards' folders",
    )
    matrix.add_argument(
        "stacks",
        nargs="+",
        help="TOML with [[stack]] name, cmd (and timeout); or `merge DIR...`",
    )
    matrix.add_argument(
        "--suite",
        action="append",
        metavar="PATH",
        help="suite folder or test file (default: all suites)",
    )
    matrix.add_argument("--out", type=Path, default=Path("reports/matrix"))
    matrix.add_argument(
        "--jobs",
        type=positive_int,
        default=1,
        metavar="N",
        help="stacks run side by side, each in its own pytest process and namespaces "
        "(default 1; the tests mostly wait, so a few per core pay off)",
    )
    matrix.add_argument(
        "--shard",
        type=shard,
        default=(1, 1),
        metavar="K/N",
        help="run only the K-th of N shares of the stacks (every N-th from the K-th), e.g. "
        "one per CI job; then `netconform matrix merge DIR...` builds the whole matrix",
    )
    matrix.set_defaults(func=cmd_matrix)


def positive_int(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 256:
        raise argparse.ArgumentTypeError(f"{value!r}: give a number from 1 to 256")
    return int(value)


def shard(value: str) -> tuple[int, int]:
    """K/N with 1 <= K <= N."""
    k, sep, n = value.partition("/")
    if not (sep and k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise argparse.ArgumentTypeError(f"{value!r}: give K/N with 1 <= K <= N, e.g. 2/5")
    return int(k), int(n)


def _add_verdicts(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    verdicts = sub.add_parser(
        "verdicts", help="what a run found per target, as a table (from its --verdicts file)"
    )
    verdicts.add_argument(
        "file", type=Path, nargs="?", default=VERDICTS_FILE, help=f"default {VERDICTS_FILE}"
    )
    verdicts.add_argument(
        "--only", default="", metavar="TEXT", help="only tests whose id contains TEXT"
    )
    verdicts.set_defaults(func=cmd_verdicts)


def _add_requirements(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reqs = sub.add_parser("requirements", help="the requirement catalogue and what covers it")
    reqs.add_argument(
        "--suite", action="append", metavar="PATH", help="suites to count (default all)"
    )
    reqs.add_argument(
        "--uncovered", action="store_true", help="list only requirements no test checks"
    )
    reqs.add_argument("--json", action="store_true", help="machine-readable output")
    reqs.set_defaults(func=cmd_requirements)


def _add_subnet(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _add_aimd(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    aimd = sub.add_parser("aimd", help="two reference flows share a bottleneck: plot AIMD")
    aimd.add_argument("--seconds", type=float, default=60.0, help="simulated time (default 60)")
    aimd.add_argument("--out", default="reports/aimd.svg", help="where the SVG plot goes")
    aimd.set_defaults(func=cmd_aimd)


def _add_doctor(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    doctor = sub.add_parser("doctor", help="check (or --install) what the harness needs")
    doctor.add_argument(
        "--install",
        action="store_true",
        help="install missing Debian packages and the Allure 3 report tool",
    )
    doctor.set_defaults(func=cmd_doctor)


def cmd_run(args: argparse.Namespace) -> int:
    from harness.core import doctor
    from harness.hosts.spec import BUILT_IN, target_names

    # Cheap checks first, before the heavy imports: a bad command line or a missing
    # privilege is answered in one line at once.
    targets = args.target or list(BUILT_IN)
    target_names(targets)
    doctor.require_runtime()

    import pytest

    from harness.core.leftovers import remove_dead_runs

    install_interrupt_handlers()
    removed = remove_dead_runs()
    if removed:
        print(f"netconform: removed {len(removed)} leftover(s) of killed runs")
    _clear(RESULTS_DIR)
    extra = args.pytest_args
    dhcp_args = [f"--dhcp-server={n}" for n in args.dhcp_server or []]
    dhcp_args += [f"--dhcp-client={n}" for n in args.dhcp_client or []]
    pytest_args = [
        *(args.suite or _default_suites(args)),
        *[f"--target={t}" for t in targets],
        *dhcp_args,
        *[f"--baseline={path}" for path in args.baseline or []],
        *(["--update-baseline"] if args.update_baseline else []),
        *([f"--stress={args.stress}"] if args.stress else []),
        *(["--long"] if args.long else []),
        f"--alluredir={RESULTS_DIR}",
        "--junitxml=reports/junit.xml",
        f"--verdicts={VERDICTS_FILE}",
        f"--numprocesses={args.workers}",
        *extra,
    ]
    print(f"netconform: running suites against {', '.join(target_names(targets))}", flush=True)
    if (
        not args.suite
        and not args.stress
        and (args.dhcp_server or args.dhcp_client or not args.target)
    ):
        print(
            "netconform: DHCP servers "
            + ", ".join(args.dhcp_server or DHCP_SERVERS)
            + "; DHCP clients "
            + ", ".join(args.dhcp_client or DHCP_CLIENTS),
            flush=True,
        )
    code = int(pytest.main(pytest_args))
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        print("netconform: no tests were collected", file=sys.stderr)
    if code in (EXIT_OK, EXIT_DEVIATION, EXIT_ERROR) and not args.no_report:
        index = _build_report(args.history)
        print(f"netconform: HTML report at {index}")
    return code


def _default_suites(args: argparse.Namespace) -> list[str]:
    """Every suite; but a run for chosen host targets only (--target without --dhcp-*) skips
    the DHCP suites, which test DHCP servers and clients, not those targets; a stress run
    takes the TCP suites, where the stress scenarios are."""
    if args.stress:
        return [str(SUITES_DIR / "tcp")]
    if args.target and not (args.dhcp_server or args.dhcp_client):
        return [str(p) for p in sorted(SUITES_DIR.iterdir()) if p.is_dir() and p.name != "dhcp"]
    if (args.dhcp_server or args.dhcp_client) and not args.target:
        return [str(SUITES_DIR / "dhcp")]
    return [str(SUITES_DIR)]


def _clear(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for entry in directory.iterdir():
        if entry.is_file():
            entry.unlink()


def _build_report(history: Path | None = None) -> Path:
    from harness.report.allure_report import build_html

    return build_html(RESULTS_DIR, REPORT_DIR, history=history).resolve()


def cmd_report(_args: argparse.Namespace) -> int:
    if not RESULTS_DIR.is_dir() or not any(RESULTS_DIR.glob("*-result.json")):
        raise SetupError(f"no results in {RESULTS_DIR}; run `netconform run` first")
    print(f"netconform: HTML report at {_build_report()}")
    return 0


def cmd_matrix(args: argparse.Namespace) -> int:
    from harness.core import doctor
    from harness.matrix import load_stacks, run_matrix, shard_of, write_outputs

    if args.stacks[0] == "merge":
        return _merge_matrix(args)
    if len(args.stacks) > 1:
        raise SetupError("give one stacks file (or `netconform matrix merge DIR...`)")
    stacks = load_stacks(Path(args.stacks[0]))
    chosen = shard_of(stacks, args.shard)
    if not chosen:
        raise SetupError(f"shard {args.shard[0]}/{args.shard[1]} of {len(stacks)} stacks is empty")
    doctor.require_runtime()
    install_interrupt_handlers()
    extra = args.pytest_args
    suites = args.suite or [str(SUITES_DIR)]
    results = run_matrix(chosen, suites, args.out, extra, jobs=args.jobs, order=stacks)
    _print_matrix(write_outputs(results, args.out), args.out)
    return 0


def _merge_matrix(args: argparse.Namespace) -> int:
    from harness.matrix import build_combined_report, merge, write_outputs

    folders = [Path(folder) for folder in args.stacks[1:]]
    if not folders:
        raise SetupError("give the shards' folders: netconform matrix merge DIR...")
    results = merge(folders, args.out)
    _print_matrix(write_outputs(results, args.out), args.out)
    report = build_combined_report(args.out)
    if report is not None:
        print(f"netconform: one Allure report of every stack at {report.resolve()}")
    return 0


def _print_matrix(data: dict[str, Any], out: Path) -> None:
    for stack in sorted(data["stacks"], key=lambda s: -s["score"]):
        why = (
            stack["note"] or stack["crash"].splitlines()[0]
            if stack["note"] or stack["crash"]
            else ""
        )
        note = f"  ({why[:100]})" if why else ""
        print(f"{stack['name']:<24} score {stack['score']:6.1%}  {stack['summary']}{note}")
    print(f"netconform: matrix at {(out / 'index.html').resolve()}")


def cmd_verdicts(args: argparse.Namespace) -> int:
    import json

    from harness.core import verdicts
    from harness.report.verdict_table import markdown

    try:
        found = verdicts.read(args.file)
    except FileNotFoundError:
        raise SetupError(f"no such file: {args.file}; `netconform run` writes one") from None
    except (json.JSONDecodeError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise SetupError(f"{args.file} is not a verdicts file: {exc}") from None
    print(markdown(found.values(), args.only), end="")
    return 0


def cmd_requirements(args: argparse.Namespace) -> int:
    import json

    from harness.core import catalogue

    try:
        covered = catalogue.coverage(args.suite or [str(SUITES_DIR)])
    except ValueError as exc:
        raise SetupError(str(exc)) from None
    rows = [(e, covered[e.key]) for e in catalogue.entries()]
    if args.uncovered:
        rows = [(e, tests) for e, tests in rows if not tests]
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "key": e.key,
                        "rfc": e.rfc,
                        "id": e.id,
                        "section": e.section,
                        "level": e.level,
                        "wire": e.wire,
                        "summary": e.summary,
                        "tests": t,
                        "not_tested": e.not_tested,
                    }
                    for e, t in rows
                ],
                indent=2,
            )
        )
        return 0
    for entry, tests in rows:
        mark = f"{len(tests)} test{'s' if len(tests) != 1 else ''}" if tests else "-"
        wire = "wire" if entry.wire else "api "
        print(f"{entry.key:<28} {entry.level:<6} {wire}  {mark:<8} {entry.summary}")
        if entry.not_tested and not tests:
            print(f"{'':<46}not tested: {entry.not_tested}")
    print()
    appendix_b_counts(catalogue.entries(), covered)
    for level in ("MUST", "SHOULD", "MAY"):
        observable = [e for e in catalogue.entries() if e.wire and e.level == level]
        done = [e for e in observable if covered[e.key]]
        print(f"{level:<6} wire-observable requirements covered: {len(done)} of {len(observable)}")
    return 0


def appendix_b_counts(entries: Any, covered: dict[str, list[str]]) -> None:
    """RFC 9293 Appendix B's own wire-observable IDs, the numbers the TCP suites are held to."""
    for prefix, level in (("MUST-", "MUST"), ("SHLD-", "SHOULD")):
        ids = [e for e in entries if e.rfc == "9293" and (e.id or "").startswith(prefix) and e.wire]
        done = sum(1 for e in ids if covered[e.key])
        print(f"RFC 9293 Appendix B {level:<6} IDs on the wire covered: {done} of {len(ids)}")


def cmd_subnet(args: argparse.Namespace) -> int:
    from harness.subnet_view import run_subnet

    return run_subnet(args)


def cmd_aimd(args: argparse.Namespace) -> int:
    from harness.report.aimd_plot import aimd_svg
    from reference_impl.aimd import run_aimd

    out = _check_aimd(args)

    def progress(fraction: float) -> None:
        print(
            f"\rsimulating {fraction:4.0%}",
            end="" if fraction < 1 else "\n",
            file=sys.stderr,
            flush=True,
        )

    run = run_aimd(seconds=args.seconds, progress=progress if sys.stderr.isatty() else None)
    out.write_text(aimd_svg(run))
    settle = args.seconds / 2
    print(
        f"fairness (Jain) after {settle:g} s: {run.fairness(settle):.3f}; "
        f"bottleneck utilisation: {run.utilisation(settle):.0%}"
    )
    print(f"netconform: plot at {out.resolve()}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from harness.core import doctor

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
