"""Starting, stopping and reconciling run processes (the lifecycle in docs/architecture.md).

A launch starts the run's supervisor (runtime/supervisor.py), which starts the worker: argv lists (never a
shell string), their own sessions, stdin from /dev/null, stdout/stderr to worker.log, so both outlive the
terminal, the SSH connection and the UI. The launcher writes `queued` and the supervisor's pid; the worker
writes `running` and its terminal state; the supervisor writes the terminal state when the worker could not.

Liveness is the run lock (runtime/run_lock.py): taken by the launcher before the record exists and handed to
the supervisor and the worker. A run is reconciled to `crashed` only when its lock is free and its log has no
terminal event: both processes are provably gone. Never by pids, create times or the wall clock."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil

from tuner_tui.domain.events import encode, make_event, terminal_event
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import ACTIVE, fields_from_terminal
from tuner_tui.runtime import run_lock
from tuner_tui.runtime.disk_reserve import make_reserve
from tuner_tui.runtime.event_log import EventLog, append_event
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_lock import LOCK_FD_ENV
from tuner_tui.runtime.store import IndexUnwritable, RunStore
from tuner_tui.runtime.supervisor import STOP_GRACE_S

STOP_MARGIN_S = 15.0       # after the grace: the supervisor's own kill and its terminal event


def worker_argv(run_dir: Path, num_processes: int, accelerate_config: str | None, resume: bool) -> list[str]:
    tail = ["-m", "tuner_tui.training.worker", str(run_dir)] + (["--resume"] if resume else [])
    if num_processes <= 1:
        return [sys.executable, *tail]
    argv = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", str(num_processes),
            "--num_machines", "1", "--main_process_port", str(_free_port())]
    if accelerate_config:
        argv += ["--config_file", accelerate_config]
    else:
        # --multi_gpu selects accelerate's torchrun launcher; on a machine without GPUs the ranks still start
        # and the Trainer (use_cpu) joins them over gloo: the CPU path the tests exercise.
        argv += ["--multi_gpu"]
    return [*argv, *tail]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def recipe_worker_argv(run_dir: RunDir, recipe: dict, resume: bool) -> list[str]:
    spec = recipe.get("launch") or {}
    return worker_argv(run_dir.path, spec.get("num_processes", 1), spec.get("accelerate_config"), resume)


def launch(record: dict, home: Home, worker: list[str], lock_fd: int) -> subprocess.Popen:
    """Start the supervisor of `record`'s run with the held run lock `lock_fd` (closed here once handed over).

    Writes `queued` with the supervisor's pid; the worker writes `running` once it has started."""
    run_dir = RunDir.of(record["run_dir"])
    run_dir.heartbeat.unlink(missing_ok=True)       # an earlier attempt's beat says nothing about this one
    make_reserve(run_dir)                            # room for this attempt's end on a disk that fills up
    store = RunStore(home)
    argv = [sys.executable, "-m", "tuner_tui.runtime.supervisor", str(run_dir), "--", *worker]
    env = {**os.environ, "TUNER_HOME": str(home.root), "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false",
           LOCK_FD_ENV: str(lock_fd)}
    try:
        # `queued` is written before the supervisor exists: once it runs, its worker may write `running` (or
        # even its end) before this process is scheduled again, and nothing here may overwrite that.
        # `attempt_offset`: where this attempt's events begin; a reader never takes an earlier attempt's end
        # for this one's (a resumed run that dies while loading has only the previous `stopped` in its log).
        offset = run_dir.events.stat().st_size if run_dir.events.exists() else 0
        store.change(record["id"], lambda r: {**r, "status": "queued", "pid": None, "host": socket.gethostname(),
                                              "launched": time.time(), "ended": None, "failure": None,
                                              "attempts": int(r.get("attempts") or 0) + 1,
                                              "attempt_offset": offset})
        with open(run_dir.log, "ab") as log:
            os.chmod(run_dir.log, 0o600)
            # The child inherits this thread's signal mask: SIGTERM blocked until the supervisor has its
            # handler, so a stop in its first ~0.3 s waits for it rather than killing it (a `crashed` run).
            before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
            try:
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True, close_fds=True, pass_fds=(lock_fd,),
                                        cwd=run_dir.path, env=env)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, before)
    finally:
        os.close(lock_fd)                # the supervisor holds the lock now (or, if it failed to start, no one)
    store.change(record["id"], lambda r: {**r, "pid": proc.pid})
    return proc


# ------------------------------------------------------------------------------------------ liveness

def on_this_host(record: dict) -> bool:
    return record.get("host") in (None, socket.gethostname())


def is_alive(record: dict) -> bool:
    """The run's supervisor or worker lives (its lock is held). Runs of another host count as alive: this
    machine cannot tell."""
    if not on_this_host(record):
        return True
    run_dir = RunDir.of(record["run_dir"])
    if run_lock.held(run_dir):
        return True
    return not run_dir.lock.exists() and _legacy_worker_alive(record, run_dir)


def _legacy_worker_alive(record: dict, run_dir: RunDir) -> bool:
    """A run launched before run locks existed: its recorded process still runs with this run dir in its
    command line (an identity no clock step or pid reuse can fake)."""
    return bool(record.get("pid")) and _runs_in(int(record["pid"]), run_dir)


def _runs_in(pid: int, run_dir: RunDir) -> bool:
    try:
        proc = psutil.Process(pid)
        return proc.status() != psutil.STATUS_ZOMBIE and str(run_dir.path) in proc.cmdline()
    except psutil.Error:
        return False


def reconcile(record: dict, store: RunStore) -> dict:
    """A run marked active whose processes are provably gone: its terminal event if it wrote one, else
    `crashed` (appended to its log too, so the run dir tells the same story). Writes nothing for live runs.

    Where the index cannot be written (a read-only home, a full disk) the run is settled in memory only: a
    reader never needs to write to show how a run ended."""
    if record.get("status") not in ACTIVE or is_alive(record):
        return record
    run_dir = RunDir.of(record["run_dir"])

    def settle(current: dict, write: bool = True) -> dict:
        if current.get("status") not in ACTIVE or is_alive(current):
            return current                    # another reader settled it, or a resume started meanwhile
        terminal = terminal_event(attempt_events(run_dir, current))
        if terminal is None:
            terminal = _vanished(current)
            if write and run_dir.path.is_dir():
                with contextlib.suppress(OSError):
                    append_event(run_dir.events, encode(terminal))
        return {**current, **fields_from_terminal(terminal)}

    try:
        return store.change(record["id"], settle) or record
    except IndexUnwritable:
        return settle(record, write=False)


def attempt_events(run_dir: RunDir, record: dict) -> list[dict]:
    """The events of the run's latest attempt (from the offset its launch recorded)."""
    offset = record.get("attempt_offset")
    return EventLog(run_dir.events, offset=offset if isinstance(offset, int) and offset >= 0 else 0).read_new()


def _vanished(record: dict) -> dict:
    from tuner_tui.runtime.exit_cause import complete_checkpoints

    run_dir = RunDir.of(record["run_dir"])
    if not run_dir.path.is_dir():
        return make_event("crashed", cause="crashed", by="reconcile", message=f"its run directory {run_dir} "
                          "was deleted (outside tuner) while the run was active", suggestion=f"tuner rm "
                          f"{record['id']} removes it from the index")
    done = complete_checkpoints(run_dir)
    later = (f"tuner resume {record['id']} continues from {done[-1].name}" if done else
             f"no checkpoint was saved: tuner relaunch {record['id']} starts it again")
    return make_event("crashed", cause="crashed", by="reconcile",
                      message="the worker and its supervisor vanished without a final event (the machine "
                      "rebooted or lost power, or both were killed)", suggestion=later)


def stall_of(record: dict):
    """How long a live run's worker has been silent (domain.liveness.Stall), or None."""
    if record.get("status") != "running":
        return None
    return run_lock.current_stall(RunDir.of(record["run_dir"]))


# ------------------------------------------------------------------------------------------ stopping

def stop(record: dict, home: Home, grace_s: float = STOP_GRACE_S) -> dict:
    """SIGTERM to the supervisor, which passes it on: the worker checkpoints at the end of the step and ends
    `stopped`. After `grace_s` the worker is killed and the run ends `failed`/`killed`."""
    store = RunStore(home)
    record = reconcile(record, store)
    if record["status"] not in ACTIVE:
        raise ProblemsFound([Problem(record["id"], f"the run is not running (it is {record['status']})")])
    run_dir = RunDir.of(record["run_dir"])
    if not on_this_host(record):
        raise ProblemsFound([Problem(record["id"], f"the run runs on host {record.get('host')}, not this one",
                                     hint="stop it there (tuner stop on that machine); `tuner rm --force` "
                                     "removes the entry here")])
    target = _stop_target(record, run_dir)
    if target is None:
        raise ProblemsFound([Problem(record["id"], "the run has no worker process yet; try again in a moment")])
    try:
        os.kill(target, signal.SIGTERM)
    except ProcessLookupError:
        pass
    except PermissionError:
        raise ProblemsFound([Problem(record["id"], "this run belongs to another user: only they (or root) can "
                                     "stop it")]) from None
    if not _wait_free(run_dir, grace_s):
        worker = _worker_pid(record, run_dir)
        if worker is not None:              # the supervisor's own grace may be longer than the caller's
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(worker), signal.SIGKILL)
        _wait_free(run_dir, STOP_MARGIN_S)
    return reconcile(store.get(record["id"]) or record, store)


def _stop_target(record: dict, run_dir: RunDir) -> int | None:
    for pid in (record.get("pid"), _worker_pid(record, run_dir)):
        if pid and _runs_in(int(pid), run_dir):
            return int(pid)
    return None


def _worker_pid(record: dict, run_dir: RunDir) -> int | None:
    beat = run_lock.read_heartbeat(run_dir) or {}
    for pid in (record.get("worker_pid"), beat.get("pid")):
        if isinstance(pid, int) and _runs_in(pid, run_dir):
            return pid
    return None


def _wait_free(run_dir: RunDir, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while run_lock.held(run_dir):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True
