"""Replaying a recorded run: `python -m tuner_tui.runtime.replay SOURCE_EVENTS RUN_DIR [--rate N]
[--stop-after K] [--hold]`.

Record once, replay everywhere: the events of a recorded events.jsonl are appended to RUN_DIR/events.jsonl at
N events/s (default 10), `t` re-stamped to now and flushed per line as the real worker does, so the cockpit,
`tuner logs -f` and the GPU panel follow it exactly like a live run: for screenshots, demos, UI tests and the
UI benches (bench/ui_idle.py). `--stop-after K` writes only the first K events; with `--hold` it then waits
(the run stays "running") until SIGTERM, which writes a `stopped` event, as `tuner stop` expects. Without
SIGTERM the replay ends where the recording ends (its `finished`/`failed`, or nothing: then its supervisor
writes `failed`, as for a worker that exited without reporting).

`start_replay` makes it a real run: a store record, a run dir with the source's recipe.yaml, launched as a
worker is (a supervisor holding the run lock, output to worker.log, its own session); the replay says
`running` as a worker does. Imports no torch, and this module
imports nothing heavy at the top (the replay process starts in ~50 ms)."""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from tuner_tui.domain.events import TERMINAL, encode
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime.event_log import read_events


def replay(source: Path, run_dir: Path, rate: float = 10.0, stop_after: int | None = None, hold: bool = False,
           stop: threading.Event | None = None) -> str:
    """Append the source's events to run_dir/events.jsonl at `rate` per second; returns how it ended:
    the source's terminal type, "stopped" (stop was set: a `stopped` event was written) or "ended" (then the
    supervisor reports that it ended without a final event)."""
    stop = stop or threading.Event()
    events: list[dict] = read_events(source)
    if stop_after is not None:
        events = events[:stop_after]
    interval = 1.0 / rate if rate > 0 else 0.0
    run_dir.mkdir(parents=True, exist_ok=True)
    last_step, began = 0, time.time()
    with open(RunDir(run_dir).events, "a", encoding="utf-8") as fh:
        due = time.monotonic()
        for event in events:
            if stop.wait(max(0.0, due - time.monotonic())):
                break
            due += interval
            event = {**event, "t": round(time.time(), 3)}
            if event["type"] == "started":
                event.update(pid=os.getpid(), host=socket.gethostname())
            last_step = event.get("step", last_step) if isinstance(event.get("step"), int) else last_step
            fh.write(encode(event) + "\n")
            fh.flush()
            if event["type"] in TERMINAL:
                return str(event["type"])
        while hold and not stop.is_set():
            stop.wait(1.0)
        if not stop.is_set():
            return "ended"
        stopped = {"v": 1, "t": round(time.time(), 3), "type": "stopped", "step": last_step, "checkpoint": None,
                   "summary": {"steps": last_step, "runtime_s": round(time.time() - began, 1)}}
        fh.write(encode(stopped) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return "stopped"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tuner_tui.runtime.replay",
                                     description="replay a recorded events.jsonl into a run dir, live")
    parser.add_argument("source", type=Path, help="a recorded events.jsonl")
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--rate", type=float, default=10.0, help="events per second (default 10)")
    parser.add_argument("--stop-after", type=int, default=None, help="write only the first K events")
    parser.add_argument("--hold", action="store_true", help="after the last event, wait for SIGTERM")
    args = parser.parse_args(argv)
    _say_running(args.run_dir)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ended = replay(args.source, args.run_dir, args.rate, args.stop_after, args.hold, stop)
    print(f"tuner replay: {ended}", flush=True)
    return 0


def _say_running(run_dir: Path) -> None:
    """What the worker does first: the run is `running` (a replay stands in for a worker)."""
    from tuner_tui.runtime.home import Home
    from tuner_tui.runtime.store import RunStore

    RunStore(Home.default()).change(run_dir.resolve().name, lambda r: {**r, "status": "running",
                                                                       "started": r.get("started") or time.time(),
                                                                       "worker_pid": os.getpid()})


# ------------------------------------------------------------------------------------------ a real run

def start_replay(home: Any, source_events: Path | str, name: str = "replay", rate: float = 10.0,
                 stop_after: int | None = None, hold: bool = False) -> tuple[dict, subprocess.Popen]:
    """A run in `home` (a runtime.home.Home) driven by a replay process in the worker's place: launched like a
    worker (its supervisor holds the run lock, so it is alive; the GPU sampler lists it as a worker)."""
    import yaml

    from tuner_tui.domain.runs import new_record
    from tuner_tui.runtime import launcher, run_lock
    from tuner_tui.runtime.run_service import new_run_dir
    from tuner_tui.runtime.store import RunStore

    source = Path(source_events).resolve()
    run_id, path = new_run_dir(home)
    run_dir = RunDir(path)
    lock_fd = run_lock.take(run_dir)
    recipe: dict = {}
    if (source.parent / "recipe.yaml").is_file():
        shutil.copyfile(source.parent / "recipe.yaml", run_dir.recipe)
        recipe = yaml.safe_load(run_dir.recipe.read_text(encoding="utf-8")) or {}
    argv = [sys.executable, "-m", "tuner_tui.runtime.replay", str(source), str(run_dir), "--rate", str(rate)]
    argv += (["--stop-after", str(stop_after)] if stop_after is not None else []) + (["--hold"] if hold else [])
    record = new_record(run_id, str(run_dir), name=name, recipe_name=recipe.get("name", name),
                        recipe_origin="replay", method=(recipe.get("method") or {}).get("kind"),
                        model=(recipe.get("model") or {}).get("source"), host=socket.gethostname(),
                        tags=["replay"], replay_of=str(source))
    RunStore(home).create(dict(record))
    proc = launcher.launch(dict(record), home, argv, lock_fd)
    return RunStore(home).get(run_id) or dict(record), proc


# ------------------------------------------------------------------------------------------ a recording

def synthetic_events(steps: int = 300, eval_every: int = 50, save_every: int = 100, seed: int = 0) -> list[dict]:
    """A realistic recording of a LoRA run on one GPU, as the worker writes it: loading, started, a log and a
    memory event every step (loss, lr with warmup + cosine, grad_norm, tokens/s), eval every `eval_every`
    steps, a checkpoint every `save_every`, saving and `finished`. Timestamps 1 s apart (replays re-stamp)."""
    rng = random.Random(seed)
    t = 1_700_000_000.0
    out: list[dict] = []

    def emit(kind: str, **fields: Any) -> None:
        nonlocal t
        t += 0.5
        out.append({"v": 1, "t": round(t, 3), "type": kind, **fields})

    gib = 2**30

    def memory(step: int, phase: str, base: float) -> None:
        allocated = int((base + rng.uniform(0, 0.3)) * gib)
        emit("memory", step=step, phase=phase, device="cuda", allocated=allocated, reserved=allocated + gib // 2,
             peak=allocated + gib // 4, nvml_process_bytes=allocated + gib)

    emit("phase", phase="loading")
    emit("started", pid=0, host="replay", world_size=1, versions={"tuner": "0.1.0", "python": "3.12"},
         devices=["NVIDIA H100 80GB HBM3"], precision="bf16", trainable_params=6_815_744,
         total_params=1_550_000_000, dataset_rows=5200, train_rows=4680, eval_rows=520, total_steps=steps,
         quantized_layers=0, trust_remote_code=False, model_path="Qwen/Qwen2.5-1.5B-Instruct")
    memory(0, "loading", 3.1)
    emit("phase", phase="training", total_steps=steps)
    loss, tokens, warmup = 2.4, 0, max(1, steps // 30)
    for step in range(1, steps + 1):
        loss = max(0.3, loss * 0.993 + rng.uniform(-0.04, 0.04))
        lr = 2e-4 * (step / warmup if step <= warmup else 0.5 * (1 + _cos((step - warmup) / (steps - warmup))))
        rate = rng.uniform(5200, 5600)
        tokens += int(rate * 1.4)
        emit("log", step=step, epoch=round(step / steps * 3, 4), loss=round(loss, 4), learning_rate=lr,
             grad_norm=round(rng.uniform(0.3, 1.2), 4), tokens_per_s=round(rate, 1), tokens=tokens)
        memory(step, "training", 9.5)
        if step % eval_every == 0:
            emit("phase", phase="evaluating")
            emit("log", step=step, epoch=round(step / steps * 3, 4), eval_loss=round(loss + 0.08, 4))
            memory(step, "evaluating", 10.2)
            emit("phase", phase="training")
        if step % save_every == 0:
            emit("checkpoint", step=step, path=f"checkpoints/checkpoint-{step}")
            memory(step, "saving", 9.8)
            emit("phase", phase="training")
    emit("phase", phase="saving")
    memory(steps, "saving", 9.9)
    emit("finished", outputs={"adapter": "adapter"},
         summary={"steps": steps, "epoch": 3.0, "train_loss": round(loss, 4), "best_eval_loss": round(loss, 4),
                  "tokens": tokens, "runtime_s": round(t - out[0]["t"], 1), "peak_memory": int(10.5 * gib)})
    return out


def _cos(fraction: float) -> float:
    return math.cos(math.pi * min(1.0, fraction))


def write_recording(folder: Path, steps: int = 300, seed: int = 0) -> Path:
    """folder/events.jsonl (synthetic_events) and a matching folder/recipe.yaml; returns the events path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "events.jsonl"
    path.write_text("".join(encode(e) + "\n" for e in synthetic_events(steps, seed=seed)), encoding="utf-8")
    (folder / "recipe.yaml").write_text(
        "# a recording's recipe (synthetic: runtime/replay.py)\nname: replay-lora\n"
        "model: {source: Qwen/Qwen2.5-1.5B-Instruct}\nmethod: {kind: lora}\n"
        "data: {path: data/demo.jsonl, format: alpaca}\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    sys.exit(main())
