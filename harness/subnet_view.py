"""``netconform subnet``: the reference calculator as readable tables or JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from harness.core.errors import SetupError
from reference_impl.subnet import (
    Plan,
    SubnetError,
    SubnetInfo,
    list_subnets,
    mask_for_hosts,
    mask_for_subnets,
    parse_network,
    summarize,
    vlsm,
)

COLUMNS = ("network", "netmask", "first_host", "last_host", "broadcast", "hosts")
MAX_LIMIT = 65_536  # subnets listed at most; more is a file, not a terminal table


def check_arguments(args: argparse.Namespace) -> None:
    """Everything that can be refused before computing, refused with one line."""
    if not 0 <= args.limit <= MAX_LIMIT:
        raise SetupError(f"--limit must be between 0 and {MAX_LIMIT}, not {args.limit}")
    if not args.summarize and len(args.network) > 2:
        raise SetupError("several networks given: use --summarize to summarise them")
    if not args.summarize and len(args.network) == 2 and "/" in args.network[0]:
        raise SetupError(
            f"{args.network[1]!r} after a prefix: give NETWORK/PREFIX, NETWORK MASK, or "
            "several networks with --summarize"
        )


def run_subnet(args: argparse.Namespace) -> int:
    check_arguments(args)
    try:
        result = _compute(args)
    except SubnetError as exc:
        raise SetupError(str(exc)) from None
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        _print_text(result)
    return 0


def _compute(args: argparse.Namespace) -> dict[str, Any]:
    if args.summarize:
        networks = [parse_network(text) for text in args.network]
        exact, single = summarize(networks)
        return {
            "networks": [str(n) for n in networks],
            "aggregate": [str(n) for n in exact],
            "summary": str(single),
            "summary_netmask": str(single.netmask),
        }
    network = parse_network(" ".join(args.network))
    if args.vlsm is not None:
        needs = [_need(item) for item in args.vlsm.split(",") if item.strip()]
        if not needs:
            raise SubnetError("--vlsm wants at least one NAME=HOSTS item, e.g. LAN=100,WIFI=50")
        return {
            "network": str(network),
            "vlsm": [{"name": name, **info.as_dict()} for name, info in vlsm(network, needs)],
        }
    plan: Plan | None = None
    if args.subnets is not None:
        plan = mask_for_subnets(network, args.subnets, subnet_zero=not args.no_subnet_zero)
    elif args.hosts is not None:
        plan = mask_for_hosts(network, args.hosts)
    prefix = plan.prefixlen if plan else network.prefixlen
    subnets = list_subnets(network, prefix, limit=args.limit)
    out: dict[str, Any] = {"network": str(network), "netmask": str(network.netmask)}
    if plan:
        out["plan"] = plan.__dict__
    out["subnets"] = [s.as_dict() for s in subnets]
    out["subnets_total"] = 2 ** (prefix - network.prefixlen)
    return out


def _need(item: str) -> tuple[str, int]:
    name, _, hosts = item.partition("=")
    if not hosts.strip().isdigit():
        raise SubnetError(f"--vlsm wants NAME=HOSTS items, got {item!r}")
    return name.strip(), int(hosts)


def _print_text(result: dict[str, Any]) -> None:
    out = sys.stdout
    if "summary" in result:
        out.write(f"networks:   {', '.join(result['networks'])}\n")
        out.write(f"aggregate:  {', '.join(result['aggregate'])}   (exactly these addresses)\n")
        out.write(
            f"summary:    {result['summary']} ({result['summary_netmask']})   "
            "(one route covering all)\n"
        )
        return
    out.write(f"network {result['network']}\n")
    if "plan" in result:
        plan = result["plan"]
        out.write(
            f"borrow {plan['borrowed_bits']} bits: /{plan['prefixlen']} = {plan['netmask']}, "
            f"{plan['subnet_count']} subnets of {plan['hosts_per_subnet']} hosts\n"
        )
    rows = result.get("vlsm") or result["subnets"]
    _table(rows, (("name",) if "vlsm" in result else ()) + COLUMNS)
    shown, total = len(rows), result.get("subnets_total", len(rows))
    if total > shown:
        out.write(f"... {total - shown} more (--limit to show more)\n")


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    def cell(row: dict[str, Any], col: str) -> str:
        value = row.get(col)
        if col == "network":
            return f"{value}/{row['prefixlen']}"
        return "-" if value is None else str(value)

    widths = {c: max(len(c), *(len(cell(r, c)) for r in rows)) if rows else len(c) for c in columns}
    sys.stdout.write(
        "  ".join(c.replace("_", " ").ljust(widths[c]) for c in columns).rstrip() + "\n"
    )
    for row in rows:
        sys.stdout.write("  ".join(cell(row, c).ljust(widths[c]) for c in columns).rstrip() + "\n")


__all__ = ["SubnetInfo", "run_subnet"]
