"""The one error every decoder raises on malformed input."""

from __future__ import annotations


class WireError(ValueError):
    """Malformed bytes: names the layer and field, and why."""

    def __init__(self, layer: str, field: str, reason: str) -> None:
        super().__init__(f"{layer}.{field}: {reason}")
        self.layer, self.field, self.reason = layer, field, reason


def need(data: bytes | memoryview, size: int, layer: str, field: str) -> None:
    if len(data) < size:
        raise WireError(layer, field, f"truncated: need {size} bytes, have {len(data)}")
