"""Faults done for real (issue 12, items 2-5 and 9): a deleted, emptied or immutable index, a shared or
read-only home, a full disk, a save killed half-way, a run dir deleted under its worker. Real mounts (tmpfs,
read-only bind mounts), real `chattr +i`, real kill -9, real CLI processes and real tiny-model workers. Tests
that need root, mount or chattr skip with the reason where they are missing; every mount is undone."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, tuner
from tests.test_engine import events_of, run_json, wait_for, write_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.replay import start_replay, write_recording
from tuner_tui.runtime.store import RunStore

IS_ROOT = os.geteuid() == 0


def _works(*argv: str) -> bool:
    return shutil.which(argv[0]) is not None


needs_mount = pytest.mark.skipif(not (IS_ROOT and _works("mount")), reason="needs root and mount(8) for "
                                 "tmpfs and read-only bind mounts")
needs_chattr = pytest.mark.skipif(not (IS_ROOT and _works("chattr")), reason="needs root and chattr(1) for an "
                                  "immutable file")


@contextlib.contextmanager
def mounted(*argv: str):
    """`mount ARGV... TARGET` for the block, unmounted (lazily if busy) whatever happens."""
    target = argv[-1]
    done = subprocess.run(["mount", *argv], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"mount {' '.join(argv)} failed here: {done.stderr.strip()}")
    try:
        yield Path(target)
    finally:
        if subprocess.run(["umount", target], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", target], capture_output=True)


@contextlib.contextmanager
def read_only_view(source: Path, target: Path):
    """`source` seen read-only at `target` (a bind mount remounted ro: what an archive or NFS export gives)."""
    target.mkdir(parents=True, exist_ok=True)
    with mounted("--bind", str(source), str(target)):
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"read-only remount failed here: {remount.stderr.strip()}")
        yield target


def finished_replay(home, tmp_path, name="done", steps=20) -> dict:
    source = write_recording(tmp_path / f"rec-{name}", steps=steps)
    record, proc = start_replay(home, source, name=name, rate=1000)
    assert proc.wait(60) == 0
    wait_for(lambda: RunStore(home).get(record["id"])["status"] == "finished", timeout=30)
    return RunStore(home).get(record["id"])


def held_replay(home, tmp_path, events: int = 6, name="live"):
    source = write_recording(tmp_path / f"rec-{name}", steps=50)
    record, proc = start_replay(home, source, name=name, rate=100, stop_after=events, hold=True)
    wait_for(lambda: len(read_events(RunDir.of(record["run_dir"]).events)) == events, timeout=30)
    wait_for(lambda: RunStore(home).get(record["id"])["status"] == "running", timeout=30)
    return RunStore(home).get(record["id"]), proc


def vanished_run(home, tmp_path) -> dict:
    """A run marked running whose supervisor and worker were both killed -9 (power loss): nobody settled it."""
    record, proc = held_replay(home, tmp_path, name="vanished")
    worker = record["worker_pid"]
    os.killpg(proc.pid, signal.SIGKILL)            # the supervisor first: it must not write an ending
    proc.wait(10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker, signal.SIGKILL)
    wait_for(lambda: not _alive(worker), timeout=10)
    return record


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


def no_internal_error(proc: subprocess.CompletedProcess) -> None:
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its size and mtime: what a read-only command must leave as it was."""
    return {str(p.relative_to(root)): (p.lstat().st_size, p.lstat().st_mtime_ns) for p in root.rglob("*")}


# ------------------------------------------------------------------------------------------ 2: the index


@pytest.mark.parametrize("loss", ["deleted", "emptied"])
def test_a_lost_index_comes_back_and_the_live_run_can_be_followed_and_stopped(home, tmp_path, loss):
    done = finished_replay(home, tmp_path)
    live, proc = held_replay(home, tmp_path)
    if loss == "deleted":
        home.runs_db.unlink()
    else:
        home.runs_db.write_text("")
    listed = tuner("ls", "--json")
    assert listed.returncode == 0, listed.stderr
    statuses = {r["id"]: r["status"] for r in json.loads(listed.stdout)}
    assert statuses == {done["id"]: "finished", live["id"]: "running"}
    assert "rebuilt the index from 2 run directories" in listed.stderr
    assert f"was {'missing' if loss == 'deleted' else 'empty'}" in listed.stderr
    follow = tuner("logs", live["id"], "--json")
    assert follow.returncode == 0 and len(json.loads(follow.stdout)) == 6
    stopped = tuner("stop", live["id"], "--json")
    assert json.loads(stopped.stdout)["status"] == "stopped", stopped.stderr
    assert proc.wait(20) == 0
    assert "rebuilt" not in tuner("ls").stderr             # healed once, on disk


@needs_chattr
def test_an_immutable_index_is_named_and_run_leaves_no_orphan_run_dir(home, tmp_path):
    done = finished_replay(home, tmp_path)
    recipe = write_recipe(tmp_path, "lora", steps=5)
    subprocess.run(["chattr", "+i", str(home.runs_db)], check=True)
    try:
        refused = tuner("run", str(recipe), "--detach")
        tagged = tuner("tag", done["id"], "best")
        listed = tuner("ls", "--json")
    finally:
        subprocess.run(["chattr", "-i", str(home.runs_db)], check=True)
    assert refused.returncode == 1
    no_internal_error(refused)
    assert f"{home.runs_db}: error: cannot write the run index" in refused.stderr
    assert "chattr -i" in refused.stderr
    assert [p.name for p in home.runs_dir.iterdir()] == [done["id"]]          # no orphan run dir
    assert tagged.returncode == 1 and "cannot write the run index" in tagged.stderr
    no_internal_error(tagged)
    assert listed.returncode == 0 and [r["id"] for r in json.loads(listed.stdout)] == [done["id"]]


# ------------------------------------------------------------------------------------------ 3: the home


def test_an_existing_home_keeps_its_mode_and_a_new_one_is_private(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    assert tuner("ls", env={"TUNER_HOME": str(shared)}).returncode == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777                   # others are not locked out
    assert stat.S_IMODE((shared / "runs").stat().st_mode) == 0o700          # what tuner created is private
    fresh = tmp_path / "a" / "fresh"
    assert tuner("ls", env={"TUNER_HOME": str(fresh)}).returncode == 0
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    assert stat.S_IMODE((fresh / "runs").stat().st_mode) == 0o700


@needs_mount
def test_a_read_only_home_is_read_without_writing_and_says_so_once(home, tmp_path):
    done = finished_replay(home, tmp_path, name="done")
    other = finished_replay(home, tmp_path, name="other", steps=30)
    lost = vanished_run(home, tmp_path)
    (home.root / "runs.json.lock").unlink(missing_ok=True)       # nothing may need to create it
    for run_id in (done["id"], other["id"]):
        RunDir(home.run_dir(run_id)).series_cache.unlink(missing_ok=True)   # nor a cache
    before = tree_state(home.root)
    with read_only_view(home.root, tmp_path / "ro") as ro:
        env = {"TUNER_HOME": str(ro)}
        listed = tuner("ls", "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        statuses = {r["id"]: r["status"] for r in json.loads(listed.stdout)}
        assert statuses[lost["id"]] == "crashed" and statuses[done["id"]] == "finished"   # settled in memory
        assert listed.stderr.count("is read-only here") == 1, listed.stderr
        for argv in (("show", lost["id"]), ("show", done["id"], "--json"), ("logs", done["id"]),
                     ("export", done["id"], "--format", "csv"), ("compare", done["id"], other["id"]), ("ls",)):
            proc = tuner(*argv, env=env)
            assert proc.returncode == 0, (argv, proc.stderr)
            no_internal_error(proc)
            assert proc.stderr.count("is read-only here") == 1, (argv, proc.stderr)
        assert "crashed" in tuner("show", lost["id"], env=env).stdout
        refused = tuner("run", "smoke", "--detach", env=env)
        assert refused.returncode == 1 and "read-only" in refused.stderr
        no_internal_error(refused)
        records = cockpit_records(Home(ro))
        assert {r["id"]: r["status"] for r in records[0]} == statuses
        assert any("read-only" in n for n in records[1])
    assert tree_state(home.root) == before                       # not one byte written


def cockpit_records(home: Home) -> tuple[list[dict], list[str]]:
    """Start the cockpit on `home` (headless), let it load the runs; what it lists and what it notified."""
    import asyncio

    from tuner_tui.ui.app import TunerApp

    async def go():
        app = TunerApp(home.ensure())
        async with app.run_test(size=(120, 40)) as pilot:
            deadline = time.monotonic() + 60
            while app.store is None and time.monotonic() < deadline:
                await pilot.pause(0.25)
            await pilot.pause(0.5)
            assert app.store is not None, "the cockpit never loaded the runs"
            return list(app.records), [str(n.message) for n in app._notifications]

    return asyncio.run(go())
