"""tshark decodes made in the background (harness.report.decodes): each placeholder is
replaced by its decode, or by the reason there is none, by the end of the session."""

import shutil

import pytest

from harness.core.link import Frame, write_pcap
from harness.report import decodes

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="needs tshark")

ARP = bytes.fromhex(
    "ffffffffffff020000000001080600010800060400010200000000016312000100000000000063120002"
)


def _pcap(path, count):
    write_pcap(path, [Frame(1_000_000_000 + i, ARP, False) for i in range(count)])
    return path


def test_every_placeholder_gets_its_decode_and_at_most_two_run_at_once(tmp_path):
    pool = decodes.DecodePool(tmp_path, frames=300, chars=400_000, timeout=30)
    attachments = []
    for i in range(5):
        attachment = tmp_path / f"{i}-attachment.txt"
        pcap = _pcap(tmp_path / f"{i}.pcap", i + 1)
        attachment.write_text(decodes.PLACEHOLDER.format(pcap=pcap))
        pool.report_attached_data(attachment.read_text(), attachment.name)
        assert len(pool.running) <= decodes.MAX_RUNNING
        attachments.append(attachment)
    pool.finish()
    assert not pool.running
    for i, attachment in enumerate(attachments):
        text = attachment.read_text()
        assert text.count("Address Resolution Protocol") == i + 1, text[:200]
        assert "capture.pcap has them all" in text


def test_a_capture_tshark_cannot_read_says_so_and_other_attachments_are_left_alone(tmp_path):
    pool = decodes.DecodePool(tmp_path, frames=300, chars=400_000, timeout=30)
    broken = tmp_path / "broken.pcap"
    broken.write_bytes(b"not a capture")
    pool.report_attached_data(decodes.PLACEHOLDER.format(pcap=broken), "a-attachment.txt")
    pool.report_attached_data("an ordinary attachment", "b-attachment.txt")
    pool.finish()
    assert "could not decode the capture" in (tmp_path / "a-attachment.txt").read_text()
    assert not (tmp_path / "b-attachment.txt").exists()


def test_a_long_decode_is_cut(tmp_path):
    pool = decodes.DecodePool(tmp_path, frames=300, chars=500, timeout=30)
    pcap = _pcap(tmp_path / "many.pcap", 50)
    pool.report_attached_data(decodes.PLACEHOLDER.format(pcap=pcap), "c-attachment.txt")
    pool.finish()
    text = (tmp_path / "c-attachment.txt").read_text()
    assert "... cut at 500 characters" in text and len(text) < 700
