"""Creating, launching, stopping and reconciling runs (the lifecycle in docs/architecture.md).

The worker is started with an argv list (never a shell string), in its own session, stdin from /dev/null and
stdout/stderr to RUN_DIR/worker.log, so it outlives the terminal, the SSH connection and the UI."""

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
import yaml

from tuner_tui.domain.dataset_rows import is_local, is_local_folder, local_path
from tuner_tui.domain.events import encode, make_event, terminal_event
from tuner_tui.domain.model_sources import source_kind
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe
from tuner_tui.domain.runs import ACTIVE, fields_from_terminal, new_run_id
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.store import RunStore

STOP_GRACE_S = 120.0


def resolved_recipe(loaded: LoadedRecipe) -> dict:
    """The recipe as the worker must see it: local paths made absolute, so the run dir stands alone."""
    data = loaded.recipe.model_dump(mode="json", exclude_none=False)
    base = loaded.base_dir
    if is_local(data["data"]["path"], base) or is_local_folder(data["data"]["path"], base):
        data["data"]["path"] = str(local_path(data["data"]["path"], base).resolve())
    if source_kind(data["model"]["source"], base) == "local":
        data["model"]["source"] = str(local_path(data["model"]["source"], base).resolve())
    if data["launch"]["accelerate_config"]:
        data["launch"]["accelerate_config"] = str(local_path(data["launch"]["accelerate_config"], base).resolve())
    return data


def new_run_dir(home: Home) -> tuple[str, Path]:
    """A fresh run id and its directory (0700), created: ids are random, so a taken one is drawn again."""
    run_id = new_run_id()
    while home.run_dir(run_id).exists():
        run_id = new_run_id()
    run_dir = home.run_dir(run_id)
    run_dir.mkdir(mode=0o700)
    return run_id, run_dir


def create_run(loaded: LoadedRecipe, home: Home, name: str | None = None, origin: str = "path",
               parent_id: str | None = None, edits: dict | None = None) -> dict:
    store = RunStore(home)
    run_id, run_dir = new_run_dir(home)
    recipe = loaded.recipe
    header = f"# Resolved recipe of run {run_id} (from {loaded.path or 'text'}); tuner resume/relaunch read it.\n"
    text = header + yaml.safe_dump(resolved_recipe(loaded), sort_keys=False, allow_unicode=True)
    _write_private(run_dir / "recipe.yaml", text)
    record: dict = {
        "id": run_id, "name": name or recipe.name, "recipe_name": recipe.name,
        "recipe_path": str(loaded.path) if loaded.path else None, "recipe_origin": origin,
        "method": recipe.method.kind, "model": recipe.model.source, "status": "queued",
        "created": time.time(), "started": None, "ended": None, "pid": None, "pid_create_time": None,
        "host": socket.gethostname(), "parent_id": parent_id, "edits": edits or {}, "tags": [], "notes": "",
        "final": {}, "peak_memory": None, "failure": None, "run_dir": str(run_dir),
        "trust_remote_code": recipe.model.trust_remote_code,
    }
    return store.create(record)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


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


def launch(record: dict, home: Home, resume: bool = False) -> subprocess.Popen:
    run_dir = Path(record["run_dir"])
    recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8"))
    launch_spec = recipe.get("launch") or {}
    argv = worker_argv(run_dir, launch_spec.get("num_processes", 1), launch_spec.get("accelerate_config"), resume)
    env = {**os.environ, "TUNER_HOME": str(home.root), "PYTHONUNBUFFERED": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    with open(run_dir / "worker.log", "ab") as log:
        os.chmod(run_dir / "worker.log", 0o600)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, close_fds=True, cwd=run_dir, env=env)
    try:
        create_time = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        create_time = None
    RunStore(home).update(record["id"], status="running", pid=proc.pid, pid_create_time=create_time,
                          host=socket.gethostname(), launched=time.time(), ended=None, failure=None)
    return proc


def worker_alive(record: dict) -> bool:
    """The recorded pid still runs and is the same process (pids get reused: compare create time)."""
    pid = record.get("pid")
    if not pid:
        return record["status"] == "queued" and time.time() - record.get("created", 0) < 60
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        created = record.get("pid_create_time")
        return created is None or abs(proc.create_time() - created) < 1.0
    except psutil.Error:
        return False


def reconcile(record: dict, store: RunStore) -> dict:
    """A run marked active whose worker is gone: take its terminal event if it wrote one, else `crashed`."""
    if record["status"] not in ACTIVE or record.get("host") not in (None, socket.gethostname()):
        return record
    if worker_alive(record):
        return record
    events = read_events(Path(record["run_dir"]) / "events.jsonl")
    terminal = terminal_event(events)
    if terminal is not None:
        fields = fields_from_terminal(terminal)
    else:
        fields = {"status": "crashed", "ended": time.time(),
                  "failure": {"cause": "crashed", "message": "the worker vanished without a final event (killed "
                              "with -9, the kernel's OOM killer, or a reboot)",
                              "suggestion": f"tuner resume {record['id']} continues from the last checkpoint; "
                              "check worker.log and `dmesg` for the OOM killer"}}
    store.update(record["id"], **fields)
    return {**record, **fields}


def stop(record: dict, home: Home, grace_s: float = STOP_GRACE_S) -> dict:
    """SIGTERM the worker's process group (it checkpoints and ends `stopped`); SIGKILL after the grace."""
    store = RunStore(home)
    record = reconcile(record, store)
    if record["status"] not in ACTIVE:
        raise ProblemsFound([Problem(record["id"], f"the run is not running (it is {record['status']})")])
    pid = record.get("pid")
    if not pid:
        raise ProblemsFound([Problem(record["id"], "the run has no worker process yet; try again in a moment")])
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return reconcile(store.get(record["id"]) or record, store)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not worker_alive(record):
            break
        time.sleep(0.2)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        event = make_event("failed", cause="killed", message=f"did not stop within {grace_s:.0f} s; killed",
                           suggestion=f"tuner resume {record['id']} continues from the last checkpoint")
        with open(Path(record["run_dir"]) / "events.jsonl", "a", encoding="utf-8") as fh:
            fh.write(encode(event) + "\n")
        store.update(record["id"], **fields_from_terminal(event))
    time.sleep(0.1)
    return reconcile(store.get(record["id"]) or record, store)
