"""Subnetting on top of the standard library's ``ipaddress``: masks for a number of subnets
or of hosts, subnet lists, VLSM allocation, summarisation, classful defaults.

The subnet count follows the seed's method: borrow n host bits where 2**n is the smallest
power of two that is at least the number of subnets wanted, so a power of two needs exactly
log2(count) bits (172.16.0.0/16 into 30 subnets borrows 5 bits: 255.255.248.0, /21). That is
the modern rule (RFC 1878, subnet zero and the all-ones subnet usable); ``subnet_zero=False``
applies RFC 950's older rule, which loses those two subnets and so needs 2**n - 2 >= count.
Impossible or malformed requests raise one SubnetError with the reason.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass
from typing import Any

IPv4Network = ipaddress.IPv4Network


class SubnetError(ValueError):
    """A malformed address or mask, or a request that cannot be met."""


@dataclass(frozen=True)
class SubnetInfo:
    network: str
    prefixlen: int
    netmask: str
    broadcast: str | None  # None for /31 and /32 (RFC 3021)
    first_host: str
    last_host: str
    hosts: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """The answer to "split NETWORK for N subnets (or hosts)"."""

    network: str
    borrowed_bits: int
    prefixlen: int
    netmask: str
    subnet_count: int
    hosts_per_subnet: int


def classful_prefix(address: ipaddress.IPv4Address) -> int:
    """The classful default (RFC 791 classes): A /8, B /16, C /24; D and E have none."""
    first = int(address) >> 24
    if first < 128:
        return 8
    if first < 192:
        return 16
    if first < 224:
        return 24
    raise SubnetError(
        f"{address} is class {'D (multicast)' if first < 240 else 'E (reserved)'}: "
        "it has no classful network mask"
    )


def parse_mask(text: str) -> int:
    """A prefix length from "/21", "21" or a dotted mask; a non-contiguous mask is an error."""
    text = text.strip().lstrip("/")
    if text.isdigit():
        prefix = int(text)
        if not 0 <= prefix <= 32:
            raise SubnetError(f"prefix length {prefix} is outside 0..32")
        return prefix
    try:
        value = int(ipaddress.IPv4Address(text))
    except ipaddress.AddressValueError as exc:
        raise SubnetError(f"{text!r} is neither a prefix length nor a dotted mask") from exc
    inverted = ~value & 0xFFFFFFFF
    if inverted & (inverted + 1):
        raise SubnetError(f"{text} is not a contiguous mask (ones must come first, then zeros)")
    return 32 - inverted.bit_length()


def parse_network(text: str, mask: str | None = None) -> IPv4Network:
    """ "172.16.0.0/16", "172.16.0.0 255.255.0.0", or a bare classful address."""
    text = text.strip()
    if mask is None and " " in text:
        text, mask = text.split(None, 1)
    if mask is None and "/" in text:
        text, mask = text.split("/", 1)
    try:
        address = ipaddress.IPv4Address(text)
    except ipaddress.AddressValueError as exc:
        raise SubnetError(f"{text!r} is not an IPv4 address: {exc}") from exc
    prefix = parse_mask(mask) if mask is not None else classful_prefix(address)
    network = ipaddress.IPv4Network(f"{address}/{prefix}", strict=False)
    if network.network_address != address:
        raise SubnetError(f"{address}/{prefix} has host bits set; the network is {network}")
    return network


def _plan(network: IPv4Network, prefixlen: int) -> Plan:
    borrowed = prefixlen - network.prefixlen
    sample = next(network.subnets(new_prefix=prefixlen))
    return Plan(
        str(network), borrowed, prefixlen, str(sample.netmask), 2**borrowed, host_count(sample)
    )


def mask_for_subnets(network: IPv4Network, count: int, *, subnet_zero: bool = True) -> Plan:
    """The longest-lived mask giving at least ``count`` subnets (the seed's method)."""
    if count < 1:
        raise SubnetError(f"the number of subnets must be at least 1, not {count}")
    usable = (lambda n: 2**n) if subnet_zero else (lambda n: 2**n - 2)
    bits = 0
    while usable(bits) < count:
        bits += 1
    if network.prefixlen + bits > 32:
        raise SubnetError(
            f"{network} has {32 - network.prefixlen} host bits; {count} subnets need {bits}"
        )
    return _plan(network, network.prefixlen + bits)


def mask_for_hosts(network: IPv4Network, hosts: int) -> Plan:
    """The mask whose subnets each hold at least ``hosts`` hosts (network and broadcast
    addresses excluded), as many subnets as that leaves."""
    if hosts < 1:
        raise SubnetError(f"the number of hosts must be at least 1, not {hosts}")
    host_bits = (hosts + 1).bit_length()  # smallest h with 2**h - 2 >= hosts
    prefix = 32 - host_bits
    if prefix < network.prefixlen:
        raise SubnetError(
            f"{network} is too small for subnets of {hosts} host{'s' * (hosts != 1)}: that "
            f"takes a /{prefix} ({2**host_bits} addresses with the network and broadcast "
            f"addresses), and {network} is a /{network.prefixlen}"
        )
    return _plan(network, prefix)


def host_count(network: IPv4Network) -> int:
    if network.prefixlen == 32:
        return 1
    if network.prefixlen == 31:
        return 2  # RFC 3021 point-to-point: both addresses are hosts
    return network.num_addresses - 2


def describe(network: IPv4Network) -> SubnetInfo:
    if network.prefixlen >= 31:
        first, last, broadcast = network[0], network[-1], None
    else:
        first, last, broadcast = network[1], network[-2], str(network.broadcast_address)
    return SubnetInfo(
        str(network.network_address),
        network.prefixlen,
        str(network.netmask),
        broadcast,
        str(first),
        str(last),
        host_count(network),
    )


def list_subnets(
    network: IPv4Network, prefixlen: int, limit: int | None = None
) -> list[SubnetInfo]:
    if not network.prefixlen <= prefixlen <= 32:
        raise SubnetError(f"/{prefixlen} does not divide {network}")
    out = []
    for i, subnet in enumerate(network.subnets(new_prefix=prefixlen)):
        if limit is not None and i >= limit:
            break
        out.append(describe(subnet))
    return out


def vlsm(network: IPv4Network, needs: list[tuple[str, int]]) -> list[tuple[str, SubnetInfo]]:
    """Variable-length subnets: the largest requirement first, each on its own boundary."""
    cursor = int(network.network_address)
    end = int(network.broadcast_address) + 1
    allocated = []
    for name, hosts in sorted(needs, key=lambda item: -item[1]):
        if hosts < 1:
            raise SubnetError(f"{name}: the number of hosts must be at least 1")
        size = 2 ** (hosts + 1).bit_length()  # the smallest block with size - 2 >= hosts
        cursor = (cursor + size - 1) // size * size  # align to the block size
        if cursor + size > end:
            raise SubnetError(f"{name} ({hosts} hosts) does not fit in what is left of {network}")
        subnet = ipaddress.IPv4Network((cursor, 32 - (size.bit_length() - 1)))
        allocated.append((name, describe(subnet)))
        cursor += size
    return allocated


def summarize(networks: list[IPv4Network]) -> tuple[list[IPv4Network], IPv4Network]:
    """(the exact aggregate: fewest prefixes covering exactly these networks,
    the single smallest prefix covering all of them)."""
    if not networks:
        raise SubnetError("nothing to summarise")
    exact = list(ipaddress.collapse_addresses(networks))
    low = min(int(n.network_address) for n in networks)
    high = max(int(n.broadcast_address) for n in networks)
    prefix = 32 - (low ^ high).bit_length()
    return exact, ipaddress.IPv4Network((low, prefix), strict=False)


def on_link(address: str, network: IPv4Network) -> bool:
    """RFC 1122 3.3.1.1: a destination is on-link when it lies inside our prefix."""
    return ipaddress.IPv4Address(address) in network
