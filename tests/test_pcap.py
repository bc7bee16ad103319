from harness.core.link import Frame, read_pcap, write_pcap
from harness.report.packets import packet_list


def test_pcap_round_trip_keeps_nanosecond_times(tmp_path):
    frames = [
        Frame(1_795_000_000_123_456_789, b"\x01" * 60, True),
        Frame(1_795_000_001_000_000_001, b"\x02" * 64, False),
    ]
    path = tmp_path / "x.pcap"
    write_pcap(path, frames)
    back = read_pcap(path)
    assert [(f.ts_ns, f.data) for f in back] == [(f.ts_ns, f.data) for f in frames]


def test_pcap_is_readable_by_scapy(tmp_path):
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether
    from scapy.utils import rdpcap

    pkt = Ether() / IP(src="198.18.0.1", dst="198.18.0.2") / TCP(sport=1, dport=2, flags="S")
    path = tmp_path / "s.pcap"
    write_pcap(path, [Frame(10**18, bytes(pkt), True)])
    (read,) = rdpcap(str(path))
    assert read[TCP].flags == "S"


def test_packet_list_shows_relative_numbers_and_never_fails_on_garbage():
    from scapy.layers.inet import IP, TCP
    from scapy.layers.l2 import Ether

    syn = (
        Ether()
        / IP(src="198.18.0.1", dst="198.18.0.2")
        / TCP(sport=1, dport=2, flags="S", seq=1000)
    )
    synack = (
        Ether()
        / IP(src="198.18.0.2", dst="198.18.0.1")
        / TCP(sport=2, dport=1, flags="SA", seq=5000, ack=1001)
    )
    text = packet_list(
        [
            Frame(0, bytes(syn), True),
            Frame(1000, bytes(synack), False),
            Frame(2000, b"\xff" * 3, False),
        ]
    )
    lines = text.splitlines()
    assert "[S] seq=0" in lines[1] and lines[1].split()[1] == "tester"
    assert "[SA] seq=0 ack=1" in lines[2] and lines[2].split()[1] == "target"
    assert len(lines) == 4  # the 3-byte frame still gets a line
