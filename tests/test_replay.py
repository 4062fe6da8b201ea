"""The replay worker: a recorded events.jsonl played into a real run, followed like a live one."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tuner_tui.domain.events import decode
from tuner_tui.runtime.gpu import GpuSampler
from tuner_tui.runtime.launcher import is_alive, reconcile, stop
from tuner_tui.runtime.replay import replay, start_replay, write_recording
from tuner_tui.runtime.store import RunStore


def events_of(record: dict) -> list[dict]:
    path = Path(record["run_dir"]) / "events.jsonl"
    if not path.exists():
        return []
    return [e for e in (decode(line) for line in path.read_bytes().splitlines()) if e]


def wait_for(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_events_arrive_at_about_the_rate_restamped(home, tmp_path):
    source = write_recording(tmp_path / "rec", steps=100)
    record, proc = start_replay(home, source, name="rate", rate=20)
    try:
        wait_for(lambda: events_of(record))
        began, first = time.monotonic(), len(events_of(record))
        time.sleep(2.0)
        written = len(events_of(record)) - first
        elapsed = time.monotonic() - began
    finally:
        proc.terminate()
        proc.wait(10)
    assert 0.5 * 20 * elapsed <= written <= 1.5 * 20 * elapsed + 2, (written, elapsed)
    events = events_of(record)
    assert abs(events[0]["t"] - time.time()) < 60                     # re-stamped to now, not the recording's
    started = next(e for e in events if e["type"] == "started")
    assert started["pid"] == RunStore(home).get(record["id"])["worker_pid"] != proc.pid   # under its supervisor
    assert (Path(record["run_dir"]) / "recipe.yaml").is_file() and record["method"] == "lora"
    assert (Path(record["run_dir"]) / "worker.log").is_file()


def test_a_held_replay_stays_running_and_stop_writes_stopped(home, tmp_path):
    source = write_recording(tmp_path / "rec", steps=50)
    record, proc = start_replay(home, source, name="held", rate=100, stop_after=6, hold=True)
    wait_for(lambda: len(events_of(record)) == 6)
    time.sleep(0.3)
    assert len(events_of(record)) == 6                                # held: nothing more written
    store = RunStore(home)
    assert reconcile(store.get(record["id"]), store)["status"] == "running"
    assert is_alive(record)
    workers = GpuSampler(home=home).sample().workers                  # the GPU panel's worker list sees it
    assert [w.run_id for w in workers] == [record["id"]] and proc.pid in workers[0].pids
    assert workers[0].pid == store.get(record["id"])["worker_pid"]       # the worker shown, not its supervisor
    ended = stop(store.get(record["id"]), home, grace_s=10)
    assert ended["status"] == "stopped"
    assert events_of(record)[-1]["type"] == "stopped"
    assert RunStore(home).get(record["id"])["status"] == "stopped"


def test_a_killed_replay_is_reported_crashed_by_its_supervisor(home, tmp_path):
    source = write_recording(tmp_path / "rec", steps=50)
    record, proc = start_replay(home, source, name="killed", rate=100, stop_after=3, hold=True)
    wait_for(lambda: len(events_of(record)) == 3)
    worker = wait_for(lambda: RunStore(home).get(record["id"]).get("worker_pid"))
    os.kill(worker, signal.SIGKILL)
    assert proc.wait(10) == 0
    ended = RunStore(home).get(record["id"])
    assert ended["status"] == "crashed" and "SIGKILL" in ended["failure"]["message"]
    assert events_of(record)[-1]["type"] == "crashed"


def test_a_replay_to_the_end_reconciles_to_the_recordings_end(home, tmp_path):
    source = write_recording(tmp_path / "rec", steps=5)
    record, proc = start_replay(home, source, name="whole", rate=0)
    assert proc.wait(20) == 0
    assert events_of(record)[-1]["type"] == "finished"
    store = RunStore(home)
    assert reconcile(store.get(record["id"]), store)["status"] == "finished"
    assert len(events_of(record)) == len((source).read_text().splitlines())


def test_replay_in_process_stops_when_asked(tmp_path):
    import threading

    source = write_recording(tmp_path / "rec", steps=5)
    halt = threading.Event()
    halt.set()
    assert replay(source, tmp_path / "run", rate=10, stop=halt) == "stopped"
    assert [e["type"] for e in events_of({"run_dir": tmp_path / "run"})] == ["stopped"]
