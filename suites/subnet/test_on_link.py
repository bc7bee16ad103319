"""On-link or off-link (RFC 1122 3.3.1.1): a stack configured with 198.18.0.2/24 and a
gateway at 198.18.0.254 resolves on-link destinations itself (ARP, RFC 826) and hands
everything else to the gateway's MAC; an OPEN to the broadcast address is refused (RFC 9293
3.9.1.1, MUST-46). Observed on the wire: the target opens a connection to each address."""

import ipaddress

import pytest

from harness.core.clock import receive_until
from harness.core.errors import ConformanceFailure, HarnessError, Unsupported
from harness.core.topology import GATEWAY_MAC
from harness.hosts.agent import AgentReplyError
from reference_impl.subnet import on_link
from reference_impl.wire.arp import REQUEST, Arp
from reference_impl.wire.errors import WireError
from reference_impl.wire.ethernet import ETH_P_ARP, ETH_P_IP, Ethernet
from reference_impl.wire.ipv4 import IPv4

WATCH_S = 1.5


def first_move(tcp, destination):
    """What the target puts on the wire to reach ``destination``: ("arp", who), ("frame", mac)
    or ("refused", reason)."""
    try:
        tcp.app_connect(destination, 80)
    except AgentReplyError as exc:
        return "refused", str(exc)
    for frame in receive_until(tcp.bed.link.receive, WATCH_S):
        try:
            eth = Ethernet.parse(frame.data)
            if eth.ethertype == ETH_P_ARP:
                arp = Arp.parse(eth.payload)
                if arp.op == REQUEST and arp.target_ip == destination:
                    return "arp", arp.target_ip
            elif eth.ethertype == ETH_P_IP and IPv4.parse(eth.payload).dst == destination:
                return "frame", eth.dst
        except WireError:
            continue
    return "nothing", ""


def subnet_of(tcp):
    topo = tcp.bed.topology
    return ipaddress.ip_network(f"{topo.target.ip}/{topo.prefixlen}", strict=False)


@pytest.mark.rfc("1122", "3.3.1.1", level="MUST")
@pytest.mark.parametrize(
    "host", [100, 253, 0], ids=["inside", "last-before-gateway", "network-address"]
)
def test_on_link_destination_is_resolved_not_routed(tcp, host):
    destination = str(subnet_of(tcp).network_address + host)
    if not on_link(destination, subnet_of(tcp)):  # the reference's decision
        raise HarnessError(f"the reference calls {destination} off-link: the test is wrong")
    move, detail = first_move(tcp, destination)
    if move == "frame" and detail == GATEWAY_MAC:
        raise ConformanceFailure(f"{destination} is inside the prefix but was sent to the gateway")
    if move not in ("arp", "refused"):
        raise ConformanceFailure(f"expected an ARP request for {destination}, saw {move} {detail}")


@pytest.mark.rfc("1122", "3.3.1.1", level="MUST")
@pytest.mark.parametrize(
    "destination",
    ["198.18.1.0", "198.17.255.255", "198.19.255.1"],
    ids=["first-outside", "last-before", "far"],
)
def test_off_link_destination_goes_to_the_gateway_mac(tcp, destination):
    if not tcp.bed.has_gateway:
        raise Unsupported("the stack's command line has no {gateway}: it was given no gateway")
    if on_link(destination, subnet_of(tcp)):
        raise HarnessError(f"the reference calls {destination} on-link: the test is wrong")
    move, detail = first_move(tcp, destination)
    if (move, detail) != ("frame", GATEWAY_MAC):
        raise ConformanceFailure(
            f"{destination} is outside {subnet_of(tcp)}: expected a frame to the gateway's MAC "
            f"{GATEWAY_MAC}, saw {move} {detail}"
        )


@pytest.mark.rfc("9293", "3.9.1.1", req="MUST-46")
def test_open_to_the_broadcast_address_is_refused(tcp):
    broadcast = str(subnet_of(tcp).broadcast_address)
    move, detail = first_move(tcp, broadcast)
    if move != "refused":
        raise ConformanceFailure(
            f"an OPEN to {broadcast} was not refused: the target sent {move} {detail}"
        )
