"""Work directories (configurations, leases, logs, control sockets) and files named by the run
that made them, ``netconform-<pid>-<kind>-XXXX`` in the temporary directory, so that a later
run removes those of runs that are gone (killed with -9, say)."""

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


def make_workfile(kind: str, suffix: str = "") -> Path:
    fd, name = tempfile.mkstemp(prefix=f"netconform-{os.getpid()}-{kind}-", suffix=suffix)
    os.close(fd)
    return Path(name)


def remove_leftovers() -> list[str]:
    """Remove the work directories and files of runs whose process is gone; return their
    names."""
    removed = []
    root = Path(tempfile.gettempdir())
    for path in root.glob("netconform-*"):
        match = _NAME_RE.match(path.name)
        if not match or runs.alive(int(match.group(1))):
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path.name)
    return removed
