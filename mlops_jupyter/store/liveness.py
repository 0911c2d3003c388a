"""Is the process that runs a run still there? A killed kernel's run reads ``crashed``.

A run row records the host, the pid and a token of the process that created it (on Linux the
boot id and the process's start time, so a pid reused by another process, or a reboot, does
not look alive). A run still ``running`` whose process is gone from this host reads as
``crashed``; nothing is written (read-only readers see it too). Runs of another host (or
recorded before the pid was) cannot be checked and keep their stored status.
"""

from __future__ import annotations

import os
import socket
from functools import lru_cache
from typing import Any

CRASHED = "crashed"


@lru_cache(maxsize=1)
def this_host() -> str:
    return socket.gethostname()


@lru_cache(maxsize=1)
def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), or None."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            text = fh.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def process_token(pid: int | None = None) -> str | None:
    """``boot id:start time`` of a process (Linux), or None where /proc is not there."""
    fields = _stat(os.getpid() if pid is None else pid)
    if fields is None or len(fields) < 20:
        return None
    return f"{_boot_id()}:{fields[19]}"


def is_gone(pid: Any, host: Any, token: Any) -> bool:
    """True when the process is surely not running any more (on this host)."""
    if pid is None or host != this_host():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError, ValueError):
        return False  # alive under another user, or a pid we cannot ask about
    fields = _stat(int(pid))
    if fields is not None and fields[0] in ("Z", "X"):  # killed, not yet reaped
        return True
    return bool(token) and token != process_token(int(pid)) and process_token(int(pid)) is not None


def live_status(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` (a runs row) with ``status`` ``crashed`` when it is running but its process died."""
    if row.get("status") == "running" and is_gone(
        row.get("pid"), row.get("host"), row.get("process")
    ):
        row["status"] = CRASHED
    return row
