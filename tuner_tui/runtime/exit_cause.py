"""Why a worker ended without its terminal event, from what its parent (the supervisor) can see.

The kernel's OOM killer (the commonest CPU-RAM out-of-memory on Linux) sends SIGKILL and writes nothing the
worker could catch; the signal alone looks like a plain kill -9. So the supervisor reads the OOM-kill counters
before and after: the worker's memory cgroup (v2 `memory.events`, v1 `memory.oom_control`) and the kernel's
global `oom_kill` in /proc/vmstat. Either one going up while the worker died of SIGKILL is an OOM kill."""

from __future__ import annotations

import contextlib
import json
import re
import signal
from pathlib import Path

import psutil

from tuner_tui.domain.events import make_event
from tuner_tui.domain.failure_fixes import DISK_FULL_FIX
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime.log_tail import last_exception, tail_lines

CGROUP_ROOT = Path("/sys/fs/cgroup")
VMSTAT = Path("/proc/vmstat")
LOW_MEMORY_PERCENT = 97.0                # a sample above this much used memory: the OOM killer is near
NO_SPACE = "no space left on device"


def memory_counter_file(pid: int) -> Path | None:
    """The file holding the OOM-kill counter of the process's memory cgroup, if the machine has one."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "memory":                                     # cgroup v1
            candidate = CGROUP_ROOT / "memory" / path.lstrip("/") / "memory.oom_control"
        elif controllers == "":                                         # cgroup v2
            candidate = CGROUP_ROOT / path.lstrip("/") / "memory.events"
        else:
            continue
        if candidate.is_file():
            return candidate
    return None


def oom_kills(path: Path | None) -> int | None:
    """The `oom_kill N` counter in a cgroup file or /proc/vmstat (None when unreadable)."""
    if path is None:
        return None
    try:
        text = path.read_text()
    except OSError:
        return None
    found = re.search(r"^oom_kill\s+(\d+)$", text, re.MULTILINE)
    return int(found.group(1)) if found else None


class ExitWatch:
    """Counters taken when the worker starts, and memory sampled while it runs (once a second)."""

    def __init__(self, pid: int):
        self.counter_file = memory_counter_file(pid)
        self.cgroup_before = oom_kills(self.counter_file)
        self.global_before = oom_kills(VMSTAT)
        self.peak_used_percent = 0.0

    def sample(self) -> None:
        with contextlib.suppress(Exception):
            self.peak_used_percent = max(self.peak_used_percent, psutil.virtual_memory().percent)

    def oom_killed(self) -> bool:
        """The cgroup's counter where there is one (the machine-wide one would count strangers' kills too)."""
        if self.cgroup_before is not None:
            now = oom_kills(self.counter_file)
            return now is not None and now > self.cgroup_before
        now = oom_kills(VMSTAT)
        return self.global_before is not None and now is not None and now > self.global_before


def exit_terminal(code: int, watch: ExitWatch, run_dir: RunDir, log_start: int, runtime_s: float,
                  before_s: float, stop_asked: bool, killed_after_grace: bool, grace_s: float, disk_full: bool = False,
                  dir_gone: bool = False) -> dict:
    """The terminal event for a worker that exited with `code` (Popen: negative = killed by that signal)."""
    run_id = run_dir.run_id
    summary = {"segment_runtime_s": runtime_s, "runtime_s": round(before_s + runtime_s, 1)}
    exit_info = {"code": code} if code >= 0 else {"signal": _signal_name(-code)}
    if dir_gone:
        return make_event("failed", cause="error", message=f"its run directory {run_dir} was deleted while the "
                          "worker ran", suggestion=f"tuner rm {run_id} removes it from the index",
                          exit=exit_info, by="supervisor", summary=summary)
    later = _resume_hint(run_dir)
    if killed_after_grace or (stop_asked and code == -signal.SIGKILL):
        return make_event("failed", cause="killed", message=f"did not stop within {grace_s:.0f} s of the stop; "
                          "killed", suggestion=later, exit=exit_info, by="supervisor", summary=summary)
    if stop_asked:                 # whatever the exit code: accelerate exits 1 when its ranks got the SIGTERM
        return make_event("stopped", step=None, checkpoint=None, by="supervisor", exit=exit_info,
                          message="the worker ended on the stop without its final event", suggestion=later,
                          summary=summary)
    if code != 0 and watch.oom_killed():         # a killed rank makes accelerate exit 1, not -9
        fix = _oom_fix(run_dir)
        from tuner_tui.domain.failure_fixes import as_sets

        suggestion = (f"try: tuner relaunch {run_id} {as_sets(fix)}" if fix else
                      "use a smaller model, a shorter data.max_length or a smaller batch")
        return make_event("failed", cause="oom", message="the kernel's OOM killer ended the worker: the machine "
                          "(or its memory cgroup) ran out of RAM", suggestion=suggestion, fix=fix,
                          exit=exit_info, by="supervisor", summary=summary)
    lines = tail_lines(run_dir.log, 40, start=log_start)
    failed_writing = code > 0 or code in (-signal.SIGBUS, -signal.SIGABRT)    # a plain kill -9 stays crashed
    if failed_writing and (disk_full or any(NO_SPACE in line.lower() for line in lines)):
        # worker.log may be cut short by the full disk: the free space tells what the log cannot.
        return make_event("failed", cause="disk_full", message=f"the disk holding {run_dir} is full",
                          suggestion=f"{DISK_FULL_FIX}; then {later}", exit=exit_info, by="supervisor",
                          traceback_tail="\n".join(lines[-12:]), summary=summary)
    if code >= 0:
        exception = last_exception(lines)
        message = exception or (f"the worker exited with status {code} without reporting why" if code else
                                "the worker exited without its final event")
        return make_event("failed", cause="error", message=message, suggestion=f"see {run_dir.log}; {later}",
                          traceback_tail="\n".join(lines[-12:]), exit=exit_info, by="supervisor", summary=summary)
    name = _signal_name(-code)
    near_oom = watch.peak_used_percent >= LOW_MEMORY_PERCENT and code == -signal.SIGKILL
    message = f"the worker was killed by {name}" + (
        f" while memory was {watch.peak_used_percent:.0f}% used (possibly the OOM killer)" if near_oom else
        (" (kill -9, or the kernel)" if code == -signal.SIGKILL else ""))
    return make_event("crashed", cause="killed", message=message, suggestion=later, exit=exit_info,
                      by="supervisor", summary=summary)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def complete_checkpoints(run_dir: RunDir) -> list[Path]:
    """Checkpoints the Trainer finished writing, oldest first: the Trainer writes trainer_state.json after the
    weights, optimizer, scheduler and RNG state, so a save cut short (kill -9, full disk) lacks it or has it
    torn. Reads one small JSON per checkpoint."""
    return sorted((p for p in _numbered_checkpoints(run_dir) if _state_is_whole(p)), key=checkpoint_step)


def torn_checkpoints(run_dir: RunDir) -> list[Path]:
    """Checkpoint folders a save left unfinished, oldest first (never resumed from)."""
    return sorted((p for p in _numbered_checkpoints(run_dir) if not _state_is_whole(p)), key=checkpoint_step)


def checkpoint_step(path: Path) -> int:
    return int(path.name.split("-")[-1])


def _numbered_checkpoints(run_dir: RunDir) -> list[Path]:
    if not run_dir.checkpoints.is_dir():
        return []
    return [p for p in run_dir.checkpoints.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]


def _state_is_whole(checkpoint: Path) -> bool:
    try:
        return isinstance(json.loads((checkpoint / "trainer_state.json").read_bytes()), dict)
    except (OSError, ValueError):
        return False


def _resume_hint(run_dir: RunDir) -> str:
    done = complete_checkpoints(run_dir)
    if done:
        return f"tuner resume {run_dir.run_id} continues from the last checkpoint ({done[-1].name})"
    return f"no checkpoint was saved: tuner relaunch {run_dir.run_id} starts it again"


def _oom_fix(run_dir: RunDir) -> dict[str, object]:
    try:
        from tuner_tui.domain.failure_fixes import oom_fix
        from tuner_tui.domain.recipe_loader import load_recipe

        return oom_fix(load_recipe(run_dir.recipe).recipe)
    except Exception:              # noqa: BLE001 - a fix is a bonus; the cause is what matters
        return {}
