"""A run's lock: held for the whole life of its supervisor and worker, so "is anyone holding it?" answers
"is the run alive?" without pids, create times or clocks (the kernel drops an flock when the last process
holding it dies, however it dies). The same lock makes a second worker on one run impossible.

The launcher takes the lock before it writes the record and hands the open file to the supervisor, which
hands it to the worker: from creation to the worker's last breath there is no moment when a live run's lock
is free. Readers probe with a shared lock held for microseconds; a taker retries for a moment to step over
a probe.

Local filesystems only: flock over NFS is not reliable (the home layout is local by contract)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import time
from pathlib import Path

from tuner_tui.domain.liveness import Stall, stall
from tuner_tui.domain.run_dir import RunDir

TAKE_WAIT_S = 2.0
LOCK_FD_ENV = "TUNER_RUN_LOCK_FD"       # the held lock's file descriptor, handed from launcher to worker
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


class RunBusy(Exception):
    """Another process holds the run's lock: its worker (or its launcher) is alive."""


def take(run_dir: RunDir, wait_s: float = TAKE_WAIT_S) -> int:
    """The run's lock, held by the returned file descriptor (inheritable: pass it to the supervisor)."""
    fd = os.open(run_dir.lock, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except OSError as err:
            if err.errno not in (errno.EWOULDBLOCK, errno.EAGAIN) or time.monotonic() >= deadline:
                os.close(fd)
                if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise RunBusy(str(run_dir)) from None
                raise
            time.sleep(0.02)


def held(run_dir: RunDir) -> bool:
    """True while some process holds the run's lock (its worker or supervisor lives)."""
    try:
        fd = os.open(run_dir.lock, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        return True               # cannot tell (no permission): never settle a run we cannot see
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True               # held (EWOULDBLOCK), or cannot tell (ENOLCK): alive, never settled
    finally:
        os.close(fd)       # closing drops our shared lock, if we got it
    return False


def keep_private(run_dir: RunDir) -> None:
    """In the worker: make the inherited lock descriptor non-inheritable, so that a process the worker starts
    (a dataset script's `os.system`, a tokenizer's helper) never keeps a finished run "alive". Checked by
    inode: a rank under torchrun sees the variable but not the descriptor."""
    fd = os.environ.pop(LOCK_FD_ENV, "")
    if not fd.isdigit():
        return
    try:
        mine, lock = os.fstat(int(fd)), os.stat(run_dir.lock)
    except OSError:
        return
    if (mine.st_dev, mine.st_ino) == (lock.st_dev, lock.st_ino):
        os.set_inheritable(int(fd), False)


def boot_id() -> str | None:
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return None


def read_heartbeat(run_dir: RunDir) -> dict | None:
    try:
        data = json.loads(run_dir.heartbeat.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def current_stall(run_dir: RunDir) -> Stall | None:
    """How long a live worker has been silent, if it has (None: fresh, or no heartbeat yet)."""
    return stall(read_heartbeat(run_dir), time.monotonic(), boot_id())
