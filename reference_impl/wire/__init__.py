"""Bytes <-> frozen dataclasses for every layer the reference speaks; no Scapy here."""

from reference_impl.wire.errors import WireError
from reference_impl.wire.seqnum import SeqNum

__all__ = ["SeqNum", "WireError"]
