"""Ctrl-C and SIGTERM both become KeyboardInterrupt, so that fixtures tear namespaces down."""

from __future__ import annotations

import os
import signal
from types import FrameType


def install_interrupt_handlers() -> None:
    """Installed explicitly: a shell that starts us in the background hands us SIGINT
    ignored, and a plain SIGTERM would kill the run without its teardown. Only this process
    unwinds: children forked later (pyroute2 forks to enter namespaces) inherit the handler
    and must simply exit, never run the parent's cleanup twice."""
    main_pid = os.getpid()

    def handler(signum: int, _frame: FrameType | None) -> None:
        if os.getpid() != main_pid:
            os._exit(128 + signum)
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
