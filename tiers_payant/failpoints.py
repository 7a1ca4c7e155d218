"""Crash points: named places where a crash test freezes a process in order to kill it there.

Off unless `TP_FAILPOINTS` names the point (comma-separated) and `TP_FAILPOINT_DIR` is a
directory. The first process of a run to reach an armed point creates `<dir>/<name>.hit`
(holding its pid) and blocks, so the test waits for that file and sends SIGKILL at exactly
that instant; later passes (the restarted process, other workers) go through, because the
file exists. A blocked process goes on after `TP_FAILPOINT_HOLD_S` (default 120 s) rather
than hanging forever if nobody kills it. Production never sets these variables.
"""
from __future__ import annotations

import os
import time

_ARMED = frozenset(filter(None, os.environ.get("TP_FAILPOINTS", "").split(",")))
_DIR = os.environ.get("TP_FAILPOINT_DIR", "")
_HOLD_S = float(os.environ.get("TP_FAILPOINT_HOLD_S", "120"))


def failpoint(name: str) -> None:
    if name not in _ARMED or not _DIR:
        return
    try:
        fd = os.open(os.path.join(_DIR, name + ".hit"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    time.sleep(_HOLD_S)
