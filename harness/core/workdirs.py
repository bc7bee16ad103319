"""Work directories (configurations, leases, logs, control sockets) named by the run that
made them, ``netconform-<pid>-<kind>-XXXX`` in the temporary directory, so that a later run
removes those of runs that are gone (killed with -9, say)."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

from harness.core import runs

_NAME_RE = re.compile(r"^netconform-(\d+)-")


def make_workdir(kind: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"netconform-{os.getpid()}-{kind}-"))


def remove_leftovers() -> list[str]:
    """Remove the work directories of runs whose process is gone; return their names."""
    removed = []
    root = Path(tempfile.gettempdir())
    for path in root.glob("netconform-*"):
        match = _NAME_RE.match(path.name)
        if match and path.is_dir() and not runs.alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
    return removed
