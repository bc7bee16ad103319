"""Bytes <-> frozen dataclasses for every layer the reference speaks; no Scapy here."""

from reference_impl.wire.errors import WireError

__all__ = ["WireError"]
