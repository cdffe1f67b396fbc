"""A process the sandbox's launcher started dies with it: `xyd` asks the kernel for that at start-up."""

from __future__ import annotations

import ctypes
import os
import signal

_PR_SET_PDEATHSIG = 1  # prctl(2)
PARENT_PID_ENV = "XYD_DIE_WITH_PARENT"


def die_with_parent_if_asked() -> None:
    """In a process a `ProcessGroup` started: have the kernel send SIGTERM when the launcher dies, and exit
    at once if it already has (it may die before this runs).

    This runs in the child after exec rather than as a `preexec_fn` between fork and exec: a `preexec_fn`
    forces a real fork() of the launcher, whose gRPC fork handlers then restart a poller thread in the child
    that aborts on the epoll descriptor `close_fds` closes (seen as a node "exiting" with -6 at start-up).
    Without one, CPython starts the child with vfork() and no fork handler runs.
    """
    wanted = os.environ.pop(PARENT_PID_ENV, None)
    if not wanted:
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        return
    if os.getppid() != int(wanted):
        raise SystemExit("the launcher of this process is gone")
