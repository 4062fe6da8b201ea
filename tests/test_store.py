"""The run store never loses a run: concurrent writers, writers killed mid-write, a corrupt index, dead
workers, prefixes. Real processes, real TinyDB, real files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime import launcher, run_lock
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.store import RunStore


def record(run_id: str, home: Home, **fields) -> dict:
    run_dir = home.run_dir(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    return {"id": run_id, "name": f"run-{run_id}", "status": "finished", "created": time.time(), "method": "lora",
            "model": "tiny-random-llama", "run_dir": str(run_dir), "tags": [], "notes": "", "final": {},
            "pid": None, "parent_id": None, "edits": {}, **fields}


WRITER = """
import sys, time
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.store import RunStore
from pathlib import Path
home, worker, count = Home(Path(sys.argv[1])), sys.argv[2], int(sys.argv[3])
store = RunStore(home)
for i in range(count):
    store.create({"id": f"{worker}-{i:04d}", "name": "w", "status": "finished", "created": time.time(),
                  "run_dir": str(home.run_dir(f"{worker}-{i:04d}")), "tags": [], "final": {}})
"""


def test_four_processes_writing_at_once_lose_nothing(tmp_path):
    home = Home(tmp_path).ensure()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"w{n}", "250"], cwd=REPO)
             for n in range(4)]
    assert all(p.wait(timeout=600) == 0 for p in procs)
    ids = {r["id"] for r in RunStore(home).all()}
    assert len(ids) == 1000 and all(f"w{n}-{i:04d}" in ids for n in range(4) for i in range(250))


def test_writers_killed_with_sigkill_never_leave_a_broken_index(tmp_path):
    home = Home(tmp_path).ensure()
    for attempt in range(12):
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"k{attempt}", "100000"], cwd=REPO)
        time.sleep(0.6 + 0.05 * attempt)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        json.loads(home.runs_db.read_text())            # parses after every kill
    assert RunStore(home).all()


def test_a_corrupt_index_is_kept_aside_and_rebuilt_from_the_run_directories(tmp_path, capsys):
    home = Home(tmp_path).ensure()
    store = RunStore(home)
    for i in range(5):
        store.create(record(f"abc{i}0000", home, tags=[f"t{i}"], notes=f"note {i}"))
    home.runs_db.write_text('{"runs": {"1": {"id": "abc00000", "na')   # torn write from some other tool
    rebuilt = RunStore(home).all()
    assert sorted(r["id"] for r in rebuilt) == [f"abc{i}0000" for i in range(5)]
    assert {r["notes"] for r in rebuilt} == {f"note {i}" for i in range(5)}     # nothing lost, tags/notes too
    kept = list(tmp_path.glob("runs.json.corrupt-*"))
    assert len(kept) == 1 and kept[0].read_text().startswith('{"runs": {"1"')
    assert "did not parse" in capsys.readouterr().err


def test_a_run_is_alive_while_its_lock_is_held_and_crashed_once_provably_gone(tmp_path):
    home = Home(tmp_path).ensure()
    store = RunStore(home)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store.create(record("dead0001", home, status="running", pid=dead.pid))         # pid gone, lock free
    store.create(record("reus0001", home, status="running", pid=os.getpid()))     # pid reused by another program
    store.create(record("live0001", home, status="running", pid=None))            # its lock is held (below)
    home.run_dir("live0001").mkdir(parents=True, exist_ok=True)
    fd = run_lock.take(RunDir(home.run_dir("live0001")))
    try:
        statuses = {r["id"]: launcher.reconcile(r, store)["status"] for r in store.all()}
    finally:
        os.close(fd)
    assert statuses == {"dead0001": "crashed", "reus0001": "crashed", "live0001": "running"}
    assert store.get("dead0001")["failure"]["cause"] == "crashed"
    assert launcher.reconcile(store.get("live0001"), store)["status"] == "crashed"     # lock released: gone


def test_run_prefixes_resolve_or_list_the_candidates(tmp_path):
    home = Home(tmp_path).ensure()
    store = RunStore(home)
    for run_id in ("abc12345", "abd99999", "abc19999"):
        store.create(record(run_id, home))
    assert store.resolve("abd")["id"] == "abd99999"
    assert store.resolve("abc12345")["id"] == "abc12345"
    with pytest.raises(ProblemsFound) as ambiguous:
        store.resolve("abc1")
    text = ambiguous.value.problems[0].format()
    assert "ambiguous" in text and "abc12345" in text and "abc19999" in text
    with pytest.raises(ProblemsFound) as unknown:
        store.resolve("zzz")
    assert "no run with this id" in unknown.value.problems[0].format()


def test_downsampling_keeps_every_bucket_min_and_max():
    import random

    from tuner_tui.domain.series import downsample

    rng = random.Random(0)
    points = [(float(i), rng.random()) for i in range(100_000)]
    points[31_337] = (31_337.0, 50.0)                     # a spike
    points[77_777] = (77_777.0, -50.0)                    # a dip
    small = downsample(points, 2000)
    assert len(small) <= 2000
    assert (31_337.0, 50.0) in small and (77_777.0, -50.0) in small
    assert [p[0] for p in small] == sorted(p[0] for p in small)
    size = len(points) / 500
    for b in range(500):                                  # each bucket's extremes survive
        chunk = points[int(b * size): int((b + 1) * size)]
        assert min(chunk, key=lambda p: p[1]) in small and max(chunk, key=lambda p: p[1]) in small


def test_an_update_after_this_stores_own_write_parses_nothing(tmp_path, monkeypatch):
    from tuner_tui.runtime import store as store_module

    home = Home(tmp_path).ensure()
    store = RunStore(home)
    store.create_many([record(f"run{i:05d}", home) for i in range(50)])
    parses = []
    real_load = store_module.IndexSnapshot.load
    monkeypatch.setattr(store_module.IndexSnapshot, "load", lambda self: parses.append(1) or real_load(self))
    for i in range(3):
        store.update("run00007", notes=f"try {i}")
    assert parses == []                                   # reused what this store wrote: a stat, no parse
    assert json.loads(home.runs_db.read_text())["runs"]["8"]["notes"] == "try 2"
    RunStore(home).update("run00007", tags=["other"])     # another writer (another process, in effect)
    store.update("run00007", status="failed")
    assert parses == [1, 1]                               # the other store's parse, then ours: it changed
    assert {k: store.get("run00007")[k] for k in ("notes", "tags", "status")} == \
        {"notes": "try 2", "tags": ["other"], "status": "failed"}                # nothing lost


def test_a_callers_later_edits_never_leak_into_the_index(tmp_path):
    home = Home(tmp_path).ensure()
    store = RunStore(home)
    mine = record("leak0001", home, tags=["a"])
    store.create(mine)
    mine["tags"].append("not-saved")
    returned = store.update("leak0001", final={"steps": 5})
    returned["final"]["steps"] = 999
    store.update("leak0001", notes="n")                    # writes the whole index again
    on_disk = json.loads(home.runs_db.read_text())["runs"]["1"]
    assert on_disk["tags"] == ["a"] and on_disk["final"] == {"steps": 5} and on_disk["notes"] == "n"


UPDATER = """
import sys
from pathlib import Path
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.store import RunStore
store, worker = RunStore(Home(Path(sys.argv[1]))), sys.argv[2]
for i in range(int(sys.argv[3])):
    run = f"r{i % 8}"
    store.update(run, **{f"{worker}_{i}": i})
"""


def test_four_processes_updating_the_same_runs_lose_no_field(tmp_path):
    home = Home(tmp_path).ensure()
    RunStore(home).create_many([record(f"r{i}", home) for i in range(8)])
    procs = [subprocess.Popen([sys.executable, "-c", UPDATER, str(tmp_path), f"w{n}", "120"], cwd=REPO)
             for n in range(4)]
    assert all(p.wait(timeout=600) == 0 for p in procs)
    records = {r["id"]: r for r in RunStore(home).all()}
    for n in range(4):
        for i in range(120):
            assert records[f"r{i % 8}"][f"w{n}_{i}"] == i
