"""Processes the load tooling starts are its own: they die with it, and `make stop` finds
the ones a killed run may have left.

Each child gets the kernel's parent-death signal (Linux `prctl(PR_SET_PDEATHSIG, SIGTERM)`,
through ctypes: no package for one system call), so a `kill -9` of the tool, a closed
terminal or a crashed parent still ends it; and its own process group, so stopping it
stops what it forked (gunicorn's workers, the fault proxy). A pid file under
`var/loadtests/pids/` names every running child with its command line: `python -m
loadtests stop` (`make stop`) signals only a process whose command line still matches.
"""
from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PIDS = ROOT / "var" / "loadtests" / "pids"
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the process group and pid file remain
        pass


def spawn(name: str, cmd: list[str], *, env: dict[str, str], log: Path, cwd: Path = ROOT) -> subprocess.Popen:
    """Start `cmd` as an owned child (own group, dies with us, pid file `<name>-<pid>.pid`)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_die_with_parent)
    PIDS.mkdir(parents=True, exist_ok=True)
    (PIDS / f"{name}-{proc.pid}.pid").write_text(json.dumps({"pid": proc.pid, "cmd": cmd, "owner": os.getpid()}))
    return proc


def stop(proc: subprocess.Popen, name: str | None = None, sig: int = signal.SIGTERM, wait_s: float = 15) -> None:
    """Signal the child's whole group, wait, then SIGKILL; forget its pid file."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(wait_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
        except ProcessLookupError:
            pass
    if name:
        (PIDS / f"{name}-{proc.pid}.pid").unlink(missing_ok=True)


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def stop_all(say=print) -> int:
    """`make stop`: every child a pid file names whose command line still matches. Returns
    how many were stopped."""
    stopped = 0
    for path in sorted(PIDS.glob("*.pid")) if PIDS.exists() else []:
        try:
            info = json.loads(path.read_text())
            pid, cmd = int(info["pid"]), list(info["cmd"])
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if _cmdline(pid) == cmd:  # the same program, not a pid the system gave to someone else
            say(f"stopping {path.stem} (pid {pid})")
            try:
                os.killpg(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + 15
            while _cmdline(pid) == cmd and time.monotonic() < deadline:
                time.sleep(0.1)
            if _cmdline(pid) == cmd:
                os.killpg(pid, signal.SIGKILL)
            stopped += 1
        path.unlink(missing_ok=True)
    if not stopped:
        say("nothing of the load tooling is running")
    return stopped
