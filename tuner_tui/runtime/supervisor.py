"""The run's supervisor: `python -m tuner_tui.runtime.supervisor RUN_DIR -- WORKER ARGV...`.

Started by the launcher, detached (its own session, output to worker.log), it holds the run's lock (handed
over by the launcher), starts the worker as its child and owns the worker's exit. When the worker ended
without its terminal event, the supervisor writes one with the real cause, from what only a parent can see:
the exit status or signal, the cgroup's OOM-kill counter, the memory it last saw, the log's last exception.

- `failed`/`oom` when the kernel's OOM killer ended it (with the fix that keeps the effective batch);
- `failed`/`killed` when a stop was asked and the worker outlived the grace period (the supervisor kills it);
- `failed`/`error` with the log's last exception when it exited with an error (a bad accelerate config);
- `crashed` with the signal otherwise (a plain kill -9 stays `crashed`).

A stop is SIGTERM to the supervisor, which passes it to the worker's process group, waits `TUNER_STOP_GRACE_S`
(120 s) for the checkpoint, then kills the group. The supervisor imports no torch (~0.1 s to start, a few MB)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tuner_tui.domain.events import encode, terminal_event
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import attempts_runtime_s, fields_from_terminal
from tuner_tui.runtime.disk_reserve import nearly_full, release_reserve
from tuner_tui.runtime.event_log import EventLog, append_event, read_events
from tuner_tui.runtime.exit_cause import ExitWatch, exit_terminal
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_lock import LOCK_FD_ENV
from tuner_tui.runtime.store import RunStore

STOP_GRACE_S = float(os.environ.get("TUNER_STOP_GRACE_S") or 120.0)
POLL_S = 1.0


class Supervisor:
    def __init__(self, run_dir: RunDir, argv: list[str]):
        self.run_dir, self.argv = run_dir, argv
        self.stop_asked: float | None = None          # monotonic time of the first SIGTERM
        self.killed_after_grace = False
        self.proc: subprocess.Popen | None = None

    def on_sigterm(self, *_: object) -> None:
        if self.stop_asked is None:
            self.stop_asked = time.monotonic()
        self._signal_worker(signal.SIGTERM)
        self._signal_worker(signal.SIGCONT)        # a stalled (SIGSTOPped) worker wakes to checkpoint and stop

    def _signal_worker(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)          # the worker leads its own group: its ranks too

    def run(self, lock_fd: int) -> int:
        events_start = _size(self.run_dir.events)
        log_start = _size(self.run_dir.log)
        began = time.monotonic()
        # The worker keeps the lock's number (it makes its copy non-inheritable, so nothing it starts holds the
        # run alive); torchrun's ranks get the whole stop grace to checkpoint (its default is 30 s).
        env = {**os.environ, "TORCH_ELASTIC_SHUTDOWN_TIMEOUT": str(int(STOP_GRACE_S))}
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=sys.stdout, stderr=sys.stderr,
                                     start_new_session=True, cwd=self.run_dir.path, env=env,
                                     pass_fds=(lock_fd,))
        watch = ExitWatch(self.proc.pid)
        if self.stop_asked is not None:               # a stop that came while we were starting the worker
            self._signal_worker(signal.SIGTERM)
        while True:
            try:
                code = self.proc.wait(timeout=POLL_S)
                break
            except subprocess.TimeoutExpired:
                watch.sample()
                if (self.stop_asked is not None and not self.killed_after_grace
                        and time.monotonic() - self.stop_asked > STOP_GRACE_S):
                    self.killed_after_grace = True
                    self._signal_worker(signal.SIGKILL)
        runtime_s = round(time.monotonic() - began, 1)
        self.settle(code, watch, events_start, log_start, runtime_s)
        return 0

    def settle(self, code: int, watch: ExitWatch, events_start: int, log_start: int, runtime_s: float) -> None:
        """Make sure the attempt has exactly one terminal event and the store agrees with it.

        The disk may be full (the worker's reserve is let go first, so this event and the record fit) and the
        run dir may be gone (deleted under the worker): the store still learns how the attempt ended."""
        disk_full = nearly_full(self.run_dir.path)        # before the reserve's space comes back
        release_reserve(self.run_dir)
        gone = not self.run_dir.path.is_dir()
        terminal = None if gone else terminal_event(EventLog(self.run_dir.events, offset=events_start).read_new())
        if terminal is None:
            before = attempts_runtime_s(read_events(self.run_dir.events))   # this attempt wrote no end
            terminal = exit_terminal(code, watch, self.run_dir, log_start, runtime_s, before,
                                     stop_asked=self.stop_asked is not None,
                                     killed_after_grace=self.killed_after_grace, grace_s=STOP_GRACE_S,
                                     disk_full=disk_full, dir_gone=gone)
            if not gone:
                append_event(self.run_dir.events, encode(terminal))
        fields = fields_from_terminal(terminal)
        try:
            RunStore(Home.default()).change(self.run_dir.run_id, lambda r: {**r, **fields}
                                            if r.get("status") in ("queued", "running") else r)
        except ProblemsFound as why:                      # readers settle it from the event log
            print(f"tuner supervisor: {why}", file=sys.stderr)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(prog="tuner-supervisor")
    parser.add_argument("run_dir", type=Path)
    args = parser.parse_args(argv[:split])
    worker = argv[split + 1:]
    if not worker:
        parser.error("no worker command after --")
    supervisor = Supervisor(RunDir(args.run_dir.resolve()), worker)
    signal.signal(signal.SIGTERM, supervisor.on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)          # Ctrl-C in a terminal is for the CLI, not the run
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # The launcher started us with SIGTERM blocked (`launcher.launch`): a stop sent while we were importing
    # waited, pending, and is delivered to the handler now, instead of killing us before we could stop cleanly.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    if os.environ.get(LOCK_FD_ENV):
        lock_fd = int(os.environ[LOCK_FD_ENV])            # handed over, held: the run was never without it
    else:
        from tuner_tui.runtime.run_lock import RunBusy, take

        try:
            lock_fd = take(supervisor.run_dir)
        except RunBusy:
            print(f"tuner supervisor: {supervisor.run_dir} already has a live worker; not starting another",
                  file=sys.stderr)
            return 3
    return supervisor.run(lock_fd)


if __name__ == "__main__":
    sys.exit(main())
