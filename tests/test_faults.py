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
import time
from pathlib import Path

import pytest

from tests.conftest import tuner
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
    Path(target).mkdir(parents=True, exist_ok=True)
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


# ------------------------------------------------------------------------------------------ 4: disk full


@needs_mount
def test_enospc_from_torch_save_and_safetensors_is_disk_full_whatever_wraps_it(tmp_path):
    import torch
    from safetensors.torch import save_file

    from tuner_tui.training.failures import classify

    tensors = {"w": torch.zeros(1_000_000)}
    with mounted("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(tmp_path)) as disk:
        caught = []
        for save in (lambda: torch.save(tensors, disk / "a.pt"), lambda: save_file(tensors, disk / "b.safetensors")):
            with pytest.raises(Exception) as raised:       # noqa: PT011 - each library raises its own type
                save()
            caught.append(raised.value)
        try:
            raise RuntimeError("could not save checkpoint-4") from caught[1]
        except RuntimeError as wrapped:
            caught.append(wrapped)
        failures = [classify(exc, None, "abc", disk) for exc in caught]
    assert [f.cause for f in failures] == ["disk_full"] * 3, [str(e) for e in caught]
    assert "tuner rm RUN --files" in failures[0].suggestion


def fill(disk: Path) -> Path:
    """Fill the file system to the last block (what checkpoints do to a small disk)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 20, 4096, 1):
            with contextlib.suppress(OSError):
                while os.write(fd, bytes(chunk)):
                    pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
@needs_mount
def test_checkpoints_filling_the_disk_end_disk_full_and_tuner_stays_usable(tmp_path, shared_models, monkeypatch):
    recipe = write_recipe(tmp_path, "full", steps=400, save_steps=1, save_total_limit=None, eval_steps=1000)
    with mounted("-t", "tmpfs", "-o", "size=40m", "tmpfs", str(tmp_path / "disk")) as disk:
        (disk / "models").symlink_to(shared_models, target_is_directory=True)
        monkeypatch.setenv("TUNER_HOME", str(disk))
        home = Home(disk).ensure()
        done = finished_replay(home, tmp_path)
        proc, first, record = run_json(recipe)
        run_id = first["run_id"]
        assert record["status"] == "failed", record
        assert record["failure"]["cause"] == "disk_full", record["failure"]
        assert "tuner rm RUN --files" in record["failure"]["suggestion"]
        terminal = events_of(home, run_id)[-1]
        assert terminal["type"] == "failed" and terminal["cause"] == "disk_full"
        assert not RunDir(home.run_dir(run_id)).reserve.exists()
        filler = fill(disk)                                  # full again: nothing below may need space
        assert shutil.disk_usage(disk).free < 64 << 10
        listed = tuner("ls", "--json")
        assert listed.returncode == 0, listed.stderr
        assert {r["id"]: r["status"] for r in json.loads(listed.stdout)} == {done["id"]: "finished",
                                                                               run_id: "failed"}
        shown = tuner("show", run_id)
        assert shown.returncode == 0 and "disk_full" in shown.stdout, shown.stderr
        records, _ = cockpit_records(home)                  # the cockpit starts on a full disk
        assert {r["id"] for r in records} == {done["id"], run_id}
        removed = tuner("rm", run_id, "--files")
        assert removed.returncode == 0, removed.stderr
        no_internal_error(removed)
        assert not home.run_dir(run_id).exists()
        assert [r["id"] for r in json.loads(tuner("ls", "--json").stdout)] == [done["id"]]
        filler.unlink()


# ------------------------------------------------------------------------------------------ 5: torn checkpoints


@pytest.mark.slow
def test_a_save_killed_half_way_never_blocks_resume(home, tmp_path):
    """kill -9 the moment a new checkpoint folder appears (mid-save); if the save won the race, tear the last
    checkpoint as a kill leaves it (no trainer_state.json). Resume takes the last complete one and says so."""
    _, first, _ = run_json(write_recipe(tmp_path, "full", steps=12, save_steps=3, eval_steps=1000), "--detach")
    run_id = first["run_id"]
    paths = RunDir(home.run_dir(run_id))
    wait_for(lambda: (paths.checkpoints / "checkpoint-3" / "trainer_state.json").exists(), timeout=180)
    worker = wait_for(lambda: RunStore(home).get(run_id).get("worker_pid"))
    seen = {p.name for p in paths.checkpoints.iterdir()}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        new = {p.name for p in paths.checkpoints.iterdir()} - seen
        if new:
            os.killpg(worker, signal.SIGKILL)
            break
        time.sleep(0.001)
    wait_for(lambda: RunStore(home).get(run_id)["status"] == "crashed", timeout=60)
    numbered = sorted(paths.checkpoints.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    newest = numbered[-1]
    torn_for_real = not (newest / "trainer_state.json").exists()
    if not torn_for_real:
        (newest / "trainer_state.json").unlink()
    complete = [p for p in numbered if (p / "trainer_state.json").exists()]
    resumed = tuner("resume", run_id, "--json")
    assert resumed.returncode == 0, resumed.stderr + resumed.stdout
    events = events_of(home, run_id)
    warning = next(e for e in events if e["type"] == "warning" and e.get("kind") == "torn_checkpoint")
    assert newest.name in warning["message"] and complete[-1].name in warning["message"]
    assert next(e for e in events if e["type"] == "resumed")["from_step"] == int(complete[-1].name.split("-")[1])
    assert events[-1]["type"] == "finished", events[-1]
    print(f"torn by the kill itself: {torn_for_real} ({newest.name})")


# ------------------------------------------------------------------------------------------ 9: run dir deleted


@pytest.mark.slow
def test_a_run_dir_deleted_under_its_worker_stops_it_with_a_clear_cause(home, tmp_path):
    recipe = write_recipe(tmp_path, "lora", steps=5000, save_steps=5, eval_steps=10000)
    _, first, _ = run_json(recipe, "--detach", env={"TUNER_HEARTBEAT_S": "0.5"})
    run_id = first["run_id"]
    paths = RunDir(home.run_dir(run_id))
    wait_for(lambda: any(e["type"] == "checkpoint" for e in read_events(paths.events)), timeout=180)
    other = finished_replay(home, tmp_path)
    shutil.rmtree(paths.path)
    started = time.monotonic()
    record = wait_for(lambda: (r := json.loads(tuner("show", run_id, "--json").stdout))["status"] != "running"
                      and r, timeout=60)
    assert time.monotonic() - started < 30
    assert record["status"] == "failed" and "deleted" in record["failure"]["message"], record
    time.sleep(1.0)
    assert not paths.path.exists()                       # not recreated half (checkpoints/ only) by a save
    shown = tuner("show", run_id)
    assert shown.returncode == 0 and "deleted" in shown.stdout
    for argv in (("resume", run_id), ("compare", run_id, other["id"]), ("logs", run_id),
                 ("export", run_id, "--format", "csv"), ("relaunch", run_id)):
        proc = tuner(*argv)
        assert proc.returncode == 1, (argv, proc.stdout, proc.stderr)
        no_internal_error(proc)
        assert "was deleted" in proc.stderr, (argv, proc.stderr)
