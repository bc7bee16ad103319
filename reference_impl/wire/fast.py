"""A faster constructor for frozen, slotted dataclasses on the decode hot path.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, about
0.1 us a field. Setting the slots through their descriptors makes the very same object
(equal, hashable, still frozen to everyone else) in half the time. Only parse() uses it,
with every field given positionally in declaration order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def fast_constructor(cls: type[T]) -> Callable[..., T]:
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls}
    namespace.update({f"_set_{n}": getattr(cls, n).__set__ for n in names})
    lines = [f"def build({', '.join(names)}):", "    obj = _new(_cls)"]
    lines += [f"    _set_{n}(obj, {n})" for n in names]
    lines.append("    return obj")
    exec("\n".join(lines), namespace)  # the same technique dataclasses itself uses
    return namespace["build"]
