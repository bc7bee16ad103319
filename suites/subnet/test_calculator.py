"""The reference subnet calculator against the standard library and the seed's worked
example (RFC 950 subnetting, RFC 1878 masks, RFC 4632 aggregation)."""

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reference_impl.subnet import (
    SubnetError,
    describe,
    list_subnets,
    mask_for_hosts,
    mask_for_subnets,
    parse_network,
    summarize,
    vlsm,
)

networks = st.builds(
    lambda addr, prefix: ipaddress.IPv4Network((addr, prefix), strict=False),
    st.integers(0, 2**32 - 1),
    st.integers(0, 30),
)


@pytest.mark.rfc("950", "2.1", level="MUST")
def test_seed_example_172_16_into_30_subnets_is_255_255_248_0():
    """The seed's worked example: 172.16.0.0 (class B) split into 30 subnets borrows 5 bits."""
    plan = mask_for_subnets(parse_network("172.16.0.0"), 30)
    assert (plan.borrowed_bits, plan.prefixlen, plan.netmask) == (5, 21, "255.255.248.0")
    assert plan.subnet_count == 32 and plan.hosts_per_subnet == 2046


@pytest.mark.rfc("950", "2.1", level="MUST")
@pytest.mark.parametrize(("count", "bits"), [(2, 1), (4, 2), (32, 5), (33, 6), (1, 0)])
def test_power_of_two_subnet_counts_borrow_exactly_log2_bits(count, bits):
    assert mask_for_subnets(parse_network("172.16.0.0/16"), count).borrowed_bits == bits


@pytest.mark.rfc("950", "2.1", level="MUST")
def test_rfc_950_rule_without_subnet_zero_needs_two_more():
    assert (
        mask_for_subnets(parse_network("172.16.0.0/16"), 30, subnet_zero=False).borrowed_bits == 5
    )
    assert (
        mask_for_subnets(parse_network("172.16.0.0/16"), 32, subnet_zero=False).borrowed_bits == 6
    )


@pytest.mark.rfc("4632", "3.1", level="MUST")
@given(networks, st.integers(1, 5000))
def test_mask_for_subnets_gives_enough_and_no_more_than_needed(network, count):
    try:
        plan = mask_for_subnets(network, count)
    except SubnetError:
        assert 2 ** (32 - network.prefixlen) < count  # only when the bits run out
        return
    assert plan.subnet_count >= count
    assert plan.borrowed_bits == 0 or 2 ** (plan.borrowed_bits - 1) < count
    assert len(list(network.subnets(new_prefix=plan.prefixlen))) == plan.subnet_count


@pytest.mark.rfc("1878", "1", level="MUST")
@given(networks, st.integers(1, 100_000))
def test_mask_for_hosts_holds_the_hosts_in_the_smallest_block(network, hosts):
    try:
        plan = mask_for_hosts(network, hosts)
    except SubnetError:
        return
    assert plan.hosts_per_subnet >= hosts
    if plan.prefixlen < 30:
        smaller = ipaddress.IPv4Network((0, plan.prefixlen + 1))
        assert smaller.num_addresses - 2 < hosts


@pytest.mark.rfc("950", "2.1", level="MUST")
@given(networks.filter(lambda n: n.prefixlen <= 26), st.integers(0, 4))
def test_subnet_list_matches_ipaddress(network, extra):
    prefix = network.prefixlen + extra  # up to /30 here; /31 and /32 are tested apart
    listed = list_subnets(network, prefix, limit=64)
    expected = list(network.subnets(new_prefix=prefix))[:64]
    assert [info.network for info in listed] == [str(n.network_address) for n in expected]
    for info, net in zip(listed, expected, strict=True):
        assert info.broadcast == str(net.broadcast_address)
        assert info.first_host == str(net.network_address + 1)
        assert info.last_host == str(net.broadcast_address - 1)
        assert info.hosts == net.num_addresses - 2


@pytest.mark.rfc("3021", "2", level="MUST")
def test_slash_31_has_two_hosts_and_no_broadcast():
    info = describe(ipaddress.IPv4Network("198.18.0.0/31"))
    assert (info.hosts, info.broadcast, info.first_host, info.last_host) == (
        2,
        None,
        "198.18.0.0",
        "198.18.0.1",
    )


@pytest.mark.rfc("1878", "1", level="MUST")
def test_vlsm_allocates_largest_first_without_overlap():
    allocated = vlsm(parse_network("192.168.10.0/24"), [("LINK", 2), ("LAN", 100), ("WIFI", 50)])
    nets = {name: ipaddress.IPv4Network(f"{i.network}/{i.prefixlen}") for name, i in allocated}
    assert [name for name, _ in allocated] == ["LAN", "WIFI", "LINK"]
    assert str(nets["LAN"]) == "192.168.10.0/25" and str(nets["LINK"]) == "192.168.10.192/30"
    assert not any(a.overlaps(b) for a in nets.values() for b in nets.values() if a is not b)
    with pytest.raises(SubnetError, match="does not fit"):
        vlsm(parse_network("192.168.10.0/24"), [("A", 200), ("B", 100)])


@pytest.mark.rfc("4632", "3.1", level="MUST")
@given(st.lists(networks.filter(lambda n: n.prefixlen >= 8), min_size=1, max_size=8))
def test_summaries_cover_exactly_and_at_least(nets):
    exact, single = summarize(nets)
    assert exact == list(ipaddress.collapse_addresses(nets))
    assert all(n.subnet_of(single) for n in nets)
    if single.prefixlen < 32:  # one bit longer would no longer cover everything
        halves = list(single.subnets(prefixlen_diff=1))
        assert not any(all(n.subnet_of(h) for n in nets) for h in halves)


@pytest.mark.rfc("950", "2.1", level="MUST")
@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("10.0.0.0 255.0.255.0", "not a contiguous mask"),
        ("10.0.0.300/8", "not an IPv4 address"),
        ("10.0.0.1/8", "host bits set"),
        ("224.0.0.0", "class D"),
        ("10.0.0.0/33", "outside 0..32"),
    ],
)
def test_malformed_input_is_one_clear_error(text, complaint):
    with pytest.raises(SubnetError, match=complaint):
        parse_network(text)


@pytest.mark.rfc("950", "2.1", level="MUST")
def test_classful_defaults():
    assert [parse_network(a).prefixlen for a in ("10.0.0.0", "172.16.0.0", "192.168.1.0")] == [
        8,
        16,
        24,
    ]
