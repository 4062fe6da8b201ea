"""History at scale: a home with 10,000 runs and 1,000,000 metric points, built through the real store code,
then the operations the cockpit and CLI perform, timed through the same code paths.

    .venv/bin/python bench/history_scale.py

Goals: list <= 300 ms, filter <= 50 ms, series <= 50 ms, update <= 100 ms. Two goals are measured warm, as
the cockpit meets them, and their cold figures are reported beside them (not goals):
  series_ms       re-opening a run whose series cache exists (RunSeries.open: read the cache, check the log,
                  parse the new bytes: none here) + downsample 100k points;
  series_cold_ms  the first open: parse the whole log, build and write the cache (atomic, fsynced);
  series_after_new_events_ms  re-opening after 1,000 new events were appended (parsed from the cache's end);
  update_ms       an update by a store that wrote the index last (the cockpit, a worker): no re-parse;
  update_cold_ms  an update by a fresh store (a `tuner note` process): parses the 4 MB index first.
`tuner ls --json` end to end is reported (a new process: interpreter start-up included).
Last line: {"name", "figures", "goal", "met"}.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tuner_tui.domain.events import encode, make_event  # noqa: E402
from tuner_tui.domain.run_query import RunFilter, RunSearch, filter_runs  # noqa: E402
from tuner_tui.runtime.home import Home  # noqa: E402
from tuner_tui.runtime.series_cache import CACHE_FILE, RunSeries  # noqa: E402
from tuner_tui.runtime.store import RunStore  # noqa: E402

RUNS, BIG_SERIES, TOTAL_POINTS = 10_000, 100_000, 1_000_000
MODELS = ["Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.1-8B-Instruct", "smollm2-135m-instruct",
          "mistralai/Mistral-7B-Instruct-v0.3", "google/gemma-2-9b-it"]


def write_events(path: Path, points: int, rng: random.Random) -> None:
    lines = [encode(make_event("started", total_steps=points))]
    loss = 3.0
    for step in range(1, points + 1):
        loss = max(0.05, loss * 0.99995 + rng.uniform(-0.01, 0.01))
        lines.append(encode(make_event("log", step=step, epoch=step / points, loss=round(loss, 5),
                                       learning_rate=2e-4, grad_norm=round(rng.uniform(0.2, 1.5), 4))))
    lines.append(encode(make_event("finished", summary={"steps": points})))
    path.write_text("\n".join(lines) + "\n")


def build(home: Home) -> None:
    rng = random.Random(0)
    small = (TOTAL_POINTS - BIG_SERIES) // (RUNS - 1)
    records = []
    for i in range(RUNS):
        run_id = f"{i:08x}"
        run_dir = home.run_dir(run_id)
        run_dir.mkdir(parents=True)
        write_events(run_dir / "events.jsonl", BIG_SERIES if i == 0 else small, rng)
        records.append({"id": run_id, "name": f"exp-{rng.choice(['sft', 'chat', 'code', 'math'])}-{i}",
                        "recipe_name": "bench", "method": rng.choice(["lora", "qlora", "full", "dora"]),
                        "model": rng.choice(MODELS), "status": rng.choice(["finished", "failed", "stopped"]),
                        "created": 1.7e9 + i * 60, "started": 1.7e9 + i * 60 + 5, "ended": 1.7e9 + i * 60 + 600,
                        "pid": None, "host": "bench", "parent_id": None, "edits": {}, "tags": [], "notes": "",
                        "final": {"steps": small, "best_eval_loss": round(rng.uniform(0.5, 2.0), 4)},
                        "peak_memory": rng.randint(2, 80) * 2**30, "failure": None, "run_dir": str(run_dir)})
    RunStore(home).create_many(records)


def append_events(path: Path, first_step: int, count: int) -> None:
    with open(path, "a", encoding="utf-8") as fh:
        for step in range(first_step, first_step + count):
            fh.write(encode(make_event("log", step=step, loss=0.5, learning_rate=2e-4, grad_norm=0.5)) + "\n")


def time_series(run_dir: Path) -> dict[str, float | int]:
    """Cold (no cache: the first open), warm (cache present), and warm after 1,000 appended events."""
    def cold() -> list:
        (run_dir / CACHE_FILE).unlink(missing_ok=True)
        return RunSeries.open(run_dir).downsampled("loss")

    cold_ms, _ = timed(cold, repeat=3)
    warm_ms, points = timed(lambda: RunSeries.open(run_dir).downsampled("loss"))
    append_events(run_dir / "events.jsonl", BIG_SERIES + 1, 1000)
    appended_ms, _ = timed(lambda: RunSeries.open(run_dir).downsampled("loss"))
    return {"series_ms": round(warm_ms, 1), "series_cold_ms": round(cold_ms, 1),
            "series_after_new_events_ms": round(appended_ms, 1), "series_points_out": len(points)}


def time_update(home: Home) -> dict[str, float]:
    """A fresh store (parses the index), then one store updating again (reuses what it wrote)."""
    run_id, count = f"{1234:08x}", iter(range(1_000_000))
    # A new value each time: a change that leaves the record as it was writes nothing (RunStore.change).
    cold_ms, _ = timed(lambda: RunStore(home).update(run_id, notes=f"tuned the lr {next(count)}"), repeat=3)
    store = RunStore(home)
    store.update(run_id, notes="first")
    warm_ms, _ = timed(lambda: store.update(run_id, notes=f"tuned the lr again {next(count)}"))
    return {"update_ms": round(warm_ms, 1), "update_cold_ms": round(cold_ms, 1)}


def timed(fn, repeat: int = 5) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), result


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp)).ensure()
        started = time.perf_counter()
        build(home)
        build_s = time.perf_counter() - started
        list_ms, records = timed(lambda: filter_runs(RunStore(home).all(), RunFilter()))   # a fresh reader
        search = RunSearch(records)            # the cockpit's filter box: prepared once per run list
        search.filter(RunFilter())
        filter_ms, found = timed(lambda: search.filter(RunFilter(text="qwen chat")))
        assert found == filter_runs(records, RunFilter(text="qwen chat"))
        series = time_series(home.run_dir(f"{0:08x}"))
        update = time_update(home)
        env = {**os.environ, "TUNER_HOME": tmp}

        def ls_json() -> int:
            out = subprocess.run([sys.executable, "-m", "tuner_tui", "ls", "--json"], env=env, cwd=REPO,
                                 capture_output=True, text=True, check=True)
            return len(json.loads(out.stdout))

        ls_ms, listed = timed(ls_json, repeat=3)
    figures = {"runs": RUNS, "metric_points": TOTAL_POINTS, "build_s": round(build_s, 1),
               "list_ms": round(list_ms, 1), "filter_ms": round(filter_ms, 2), "filter_hits": len(found),
               **series, "series_points_in": BIG_SERIES, **update,
               "ls_json_end_to_end_ms": round(ls_ms, 1), "ls_json_runs": listed}
    goals = {"list_ms": 300, "filter_ms": 50, "series_ms": 50, "update_ms": 100}
    met = all(figures[k] <= v for k, v in goals.items()) and listed == RUNS
    print(json.dumps({"name": "history_scale", "figures": figures,
                      "goal": "list <= 300 ms, filter <= 50 ms, series (warm) <= 50 ms, update (warm) <= 100 ms",
                      "met": met}))


if __name__ == "__main__":
    main()
