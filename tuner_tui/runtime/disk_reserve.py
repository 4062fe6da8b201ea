"""Room to tell how a run ended when its disk fills up.

Checkpoints fill a disk; then the worker cannot write its terminal event, its traceback or its record, and the
run would end `crashed` with its cause lost. So each attempt holds a small file of real blocks in its run dir
(`RunDir.reserve`, 1 MiB, written at launch): the worker deletes it when it fails with `disk_full`, and the
supervisor deletes it when the attempt ends, just before writing the terminal event itself. 1 MiB is some
hundred times what a terminal event, a record and runs.json of a few hundred runs take."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from tuner_tui.domain.run_dir import RunDir

RESERVE_BYTES = 1 << 20
FULL_BELOW_BYTES = 4 << 20       # free space under this while a write failed: the disk is what failed


def make_reserve(run_dir: RunDir) -> bool:
    """Write the reserve (zeros, fsynced: real blocks, not a sparse file). False when there is no room."""
    try:
        fd = os.open(run_dir.reserve, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, bytes(RESERVE_BYTES))
            os.fsync(fd)
        finally:
            os.close(fd)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            run_dir.reserve.unlink()
        return False


def release_reserve(run_dir: RunDir) -> bool:
    """Give the reserve's space back (True when there was one)."""
    try:
        run_dir.reserve.unlink()
        return True
    except OSError:
        return False


def nearly_full(path: Path) -> bool:
    """The file system holding `path` has less than FULL_BELOW_BYTES free (False when it cannot be told)."""
    try:
        return shutil.disk_usage(path).free < FULL_BELOW_BYTES
    except OSError:
        return False
