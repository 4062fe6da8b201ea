"""A run is never misreported and no edit is ever lost (issue 11): liveness from the run lock (a stepped clock
changes nothing), stalled-not-crashed, one owner for the worker's exit (the supervisor names the real cause),
no second worker on one run, and read-modify-writes that keep every concurrent tag. Real processes throughout:
replays and tiny-model workers under real supervisors, real TinyDB, real signals, a real cgroup OOM kill."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, tuner
from tests.test_engine import events_of, run_json, wait_for, write_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import child_name, new_record
from tuner_tui.runtime import launcher
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.replay import start_replay, write_recording
from tuner_tui.runtime.run_service import RunService
from tuner_tui.runtime.store import RunStore


def held_replay(home, tmp_path, events: int = 6):
    """A live run: a replay under its supervisor, holding after `events` events until stopped."""
    source = write_recording(tmp_path / "rec", steps=50)
    record, proc = start_replay(home, source, name="live", rate=100, stop_after=events, hold=True)
    wait_for(lambda: len(read_events(RunDir.of(record["run_dir"]).events)) == events, timeout=30)
    wait_for(lambda: RunStore(home).get(record["id"])["status"] == "running", timeout=30)
    return record, proc


# ------------------------------------------------------------------------------------------ clocks

STEPPED_CLOCK = """
import time, psutil
_shift = float(__import__("os").environ["TEST_CLOCK_STEP_S"])
_time, _boot, _create = time.time, psutil.boot_time, psutil.Process.create_time
time.time = lambda: _time() + _shift
psutil.boot_time = lambda: _boot() + _shift
psutil.Process.create_time = lambda self: _create(self) + _shift
"""


def test_a_stepped_clock_leaves_a_live_run_running_and_stoppable(home, tmp_path):
    """The VM's clock and boot-time reference step by 5 s (NTP, live migration) under every reader: `ls`,
    `show` and `stop` still see a live run, because liveness is the run lock, not time arithmetic."""
    record, proc = held_replay(home, tmp_path)
    site = tmp_path / "stepped"
    site.mkdir()
    (site / "sitecustomize.py").write_text(STEPPED_CLOCK)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", str(REPO))]),
           "TEST_CLOCK_STEP_S": "5"}
    probe = tuner("ls", "--json", env={**env, "TEST_CLOCK_STEP_S": "5"})
    assert json.loads(probe.stdout)[0]["status"] == "running", probe.stderr
    for step in ("5", "-5", "3600"):
        listed = json.loads(tuner("ls", "--json", env={**env, "TEST_CLOCK_STEP_S": step}, check=True).stdout)
        assert [r["status"] for r in listed] == ["running"], step
        shown = json.loads(tuner("show", record["id"], "--json", env={**env, "TEST_CLOCK_STEP_S": step}).stdout)
        assert shown["status"] == "running" and "stall" not in shown
    stopped = tuner("stop", record["id"], "--json", env={**env, "TEST_CLOCK_STEP_S": "5"})
    assert json.loads(stopped.stdout)["status"] == "stopped", stopped.stderr
    assert proc.wait(20) == 0


def test_a_second_worker_on_a_live_run_is_impossible(home, tmp_path):
    record, proc = held_replay(home, tmp_path)
    try:
        refused = tuner("resume", record["id"])
        assert refused.returncode == 1 and "still running" in refused.stderr + refused.stdout
        # Even started by hand, a supervisor refuses a run whose lock is held.
        by_hand = subprocess.run([sys.executable, "-m", "tuner_tui.runtime.supervisor", record["run_dir"], "--",
                                  sys.executable, "-c", "print('second worker')"], capture_output=True, text=True,
                                 cwd=REPO, timeout=60)
        assert by_hand.returncode == 3 and "already has a live worker" in by_hand.stderr
        assert "second worker" not in RunDir.of(record["run_dir"]).log.read_text()
    finally:
        RunService(home).stop(RunStore(home).get(record["id"]), grace_s=10)
    assert proc.wait(20) == 0


def test_a_run_whose_processes_all_vanished_is_crashed_in_the_index_and_in_its_log(home, tmp_path):
    """Power loss: supervisor and worker both gone (kill -9 both): reconciling marks it crashed, once."""
    record, proc = held_replay(home, tmp_path)
    worker = RunStore(home).get(record["id"])["worker_pid"]
    os.kill(proc.pid, signal.SIGKILL)
    os.kill(worker, signal.SIGKILL)
    proc.wait(10)
    shown = wait_for(lambda: (r := json.loads(tuner("show", record["id"], "--json").stdout))["status"] != "running"
                     and r, timeout=30)
    assert shown["status"] == "crashed" and "vanished" in shown["failure"]["message"]
    assert "no checkpoint was saved" in shown["failure"]["suggestion"]          # never "resume" without one
    crashed = [e for e in read_events(RunDir.of(record["run_dir"]).events) if e["type"] == "crashed"]
    assert len(crashed) == 1


# ------------------------------------------------------------------------------------------ stalled

@pytest.mark.slow
def test_a_sigstopped_worker_is_stalled_not_crashed_and_finishes_after_sigcont(home, tmp_path):
    fast_beat = {"TUNER_HEARTBEAT_S": "0.5"}
    _, first, _ = run_json(write_recipe(tmp_path, "lora", steps=60), "--detach", env=fast_beat)
    run_id = first["run_id"]
    wait_for(lambda: any(e["type"] == "log" for e in events_of(home, run_id)))
    worker = RunStore(home).get(run_id)["worker_pid"]
    os.killpg(worker, signal.SIGSTOP)
    try:
        listed = wait_for(lambda: (r := json.loads(tuner("ls", "--json").stdout)[0]).get("stall") and r,
                          timeout=30)
        assert listed["status"] == "running" and listed["stall"]["silent_s"] >= 2
        assert "stalled" in tuner("ls").stdout
        shown = tuner("show", run_id)
        assert "stalled" in shown.stdout and "crashed" not in shown.stdout
        follow = subprocess.Popen([sys.executable, "-m", "tuner_tui", "logs", "-f", run_id], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert RunStore(home).get(run_id)["status"] == "running"            # nobody wrote it crashed
    finally:
        os.killpg(worker, signal.SIGCONT)
    out, err = follow.communicate(timeout=240)
    assert "stalled" in err and follow.returncode == 0
    assert "finished" in out
    assert RunStore(home).get(run_id)["status"] == "finished"


# ------------------------------------------------------------------------------------------ exit causes

def test_accelerate_exiting_on_a_bad_config_is_failed_with_its_error(home, tmp_path):
    """accelerate exits 1 before any worker rank starts; the error is only in worker.log: the supervisor
    reads it and names it (no "killed with -9" guess, no resume suggestion without a checkpoint)."""
    config = tmp_path / "accelerate.yaml"
    config.write_text("compute_environment: LOCAL_MACHINE\nnum_processes: 2\n")
    recipe = write_recipe(tmp_path, "lora", steps=4)
    data = yaml.safe_load(recipe.read_text())
    data["launch"] = {"num_processes": 2, "accelerate_config": str(config)}
    recipe.write_text(yaml.safe_dump(data))
    proc, _, record = run_json(recipe)
    assert proc.returncode == 1
    assert record["status"] == "failed" and record["failure"]["cause"] == "error"
    assert "distributed_type" in record["failure"]["message"] or "Error" in record["failure"]["message"]
    assert "resume" not in record["failure"]["suggestion"]


def _memory_cgroup() -> Path | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        base = Path("/sys/fs/cgroup/memory") if controllers == "memory" else (
            Path("/sys/fs/cgroup") if controllers == "" else None)
        if base is not None and (base / path.lstrip("/")).is_dir() and os.access(base / path.lstrip("/"), os.W_OK):
            return base / path.lstrip("/")
    return None


@pytest.mark.skipif(os.geteuid() != 0 or _memory_cgroup() is None, reason="needs root and a writable memory cgroup")
def test_the_kernels_oom_killer_is_reported_as_oom_with_its_fix(home, tmp_path):
    parent = _memory_cgroup()
    assert parent is not None
    group = parent / f"tuner-oom-{os.getpid()}"
    group.mkdir()
    try:
        limit = group / ("memory.limit_in_bytes" if (group / "memory.limit_in_bytes").exists() else "memory.max")
        limit.write_text(str(400 * 2**20))
        if (group / "memory.swap.max").exists():
            (group / "memory.swap.max").write_text("0")
        recipe = write_recipe(tmp_path, "lora", steps=4)
        script = (f"echo $$ > {group / 'cgroup.procs'} && exec {sys.executable} -m tuner_tui run {recipe} "
                  "--json --force")
        proc = subprocess.run(["sh", "-c", script], capture_output=True, text=True, cwd=REPO, timeout=300,
                              env={**os.environ, "TUNER_TEST_FAULT": "rss_balloon"})
        record = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")][-1]
        assert proc.returncode == 1, proc.stderr
        assert record["status"] == "failed" and record["failure"]["cause"] == "oom", record["failure"]
        assert "OOM killer" in record["failure"]["message"]
        assert "tuner relaunch" in record["failure"]["suggestion"] and record["failure"]["fix"]
    finally:
        time.sleep(0.5)
        with open(parent / "cgroup.procs", "a") as procs:        # nothing should be left; move it out if so
            for pid in (group / "cgroup.procs").read_text().split():
                procs.write(pid + "\n")
        group.rmdir()


# ------------------------------------------------------------------------------------------ lost updates

TAGGER = """
import sys
from pathlib import Path
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_service import RunService
service, run_id, who, count = RunService(Home(Path(sys.argv[1]))), sys.argv[2], sys.argv[3], int(sys.argv[4])
for i in range(count):
    service.tag(run_id, f"{who}-{i}")
    print(f"{who}-{i}", flush=True)          # printed only once the tag is stored: "the command exited 0"
"""


def _finished_run(home) -> str:
    run_dir = home.run_dir("tag00001")
    run_dir.mkdir(parents=True)
    RunStore(home).create(dict(new_record("tag00001", str(run_dir), name="tagged", status="finished")))
    return "tag00001"


def test_eight_processes_adding_fifty_tags_each_keep_all_four_hundred(home):
    run_id = _finished_run(home)
    procs = [subprocess.Popen([sys.executable, "-c", TAGGER, str(home.root), run_id, f"w{n}", "50"], cwd=REPO,
                              stdout=subprocess.DEVNULL) for n in range(8)]
    assert all(p.wait(timeout=600) == 0 for p in procs)
    tags = RunStore(home).get(run_id)["tags"]
    assert len(tags) == 400 and {f"w{n}-{i}" for n in range(8) for i in range(50)} == set(tags)


def test_taggers_killed_at_random_keep_every_confirmed_tag_and_the_index_parses(home):
    run_id = _finished_run(home)
    rng, confirmed = random.Random(11), set()
    for attempt in range(6):
        procs = [subprocess.Popen([sys.executable, "-c", TAGGER, str(home.root), run_id, f"k{attempt}{n}", "1000"],
                                  cwd=REPO, stdout=subprocess.PIPE, text=True) for n in range(3)]
        firsts = [p.stdout.readline().strip() for p in procs]          # each is writing by now
        time.sleep(rng.random() * 0.5)                                    # then killed at a random moment
        for p in procs:
            p.send_signal(signal.SIGKILL)
        for p, first in zip(procs, firsts, strict=True):
            out, _ = p.communicate()
            confirmed |= {first, *out.split()}
        json.loads(home.runs_db.read_text())                  # parses after every kill
    assert confirmed
    assert confirmed <= set(RunStore(home).get(run_id)["tags"])
    cli = [tuner("tag", run_id, f"cli-{n}") for n in range(3)]
    assert all(p.returncode == 0 for p in cli)
    assert {f"cli-{n}" for n in range(3)} <= set(RunStore(home).get(run_id)["tags"])


# ------------------------------------------------------------------------------------------ bookkeeping

def test_a_child_gets_the_next_name_of_its_family():
    assert child_name("demo", {"demo"}) == "demo-2"
    assert child_name("demo", {"demo", "demo-2"}) == "demo-3"
    assert child_name("demo-2", {"demo", "demo-2"}) == "demo-3"           # a grandchild continues the family
    assert child_name("run-2024", {"run-2024"}) == "run-2"                # (a trailing number is a counter)


def _ended(home, run_id: str, status: str, events: list[dict], **fields) -> None:
    run_dir = home.run_dir(run_id)
    run_dir.mkdir(parents=True)
    RunDir(run_dir).events.write_text("".join(json.dumps(e) + "\n" for e in events))
    RunStore(home).create(dict(new_record(run_id, str(run_dir), name=run_id, status=status, **fields)))


def test_ls_shows_the_parent_and_show_prints_memory_in_units(home):
    _ended(home, "aaaa0001", "finished", [], peak_memory=2351087616, final={"steps": 5, "peak_memory": 2351087616})
    _ended(home, "bbbb0002", "finished", [], parent_id="aaaa0001")
    listing = tuner("ls", env={"COLUMNS": "160"}, check=True).stdout
    row = next(line for line in listing.splitlines() if "bbbb0002" in line)
    assert "aaaa0001" in row and "parent" in listing
    shown = tuner("show", "aaaa0001", check=True).stdout
    assert "2351087616" not in shown and "2.2 GiB" in shown


def test_logs_follow_exits_1_for_a_failed_or_crashed_run_and_0_for_a_finished_one(home):
    failed = {"v": 1, "t": time.time(), "type": "failed", "cause": "error", "message": "boom", "suggestion": "x"}
    _ended(home, "fail0001", "failed", [failed])
    _ended(home, "fine0001", "finished", [{"v": 1, "t": time.time(), "type": "finished", "summary": {}}])
    assert tuner("logs", "-f", "fail0001").returncode == 1
    assert tuner("logs", "fail0001").returncode == 1
    assert tuner("logs", "-f", "fine0001").returncode == 0


def test_the_lifecycle_has_one_writer_per_transition(home, tmp_path):
    """The launcher writes queued (and the supervisor's pid), the worker running, then its terminal state."""
    record, proc = held_replay(home, tmp_path)
    stored = RunStore(home).get(record["id"])
    assert stored["attempts"] == 1 and stored["pid"] == proc.pid and stored["worker_pid"] != proc.pid
    assert launcher.is_alive(stored)
    RunService(home).stop(stored, grace_s=10)
    assert RunStore(home).get(record["id"])["status"] == "stopped"


# ------------------------------------------------------------------------------------------ review fixes

def test_a_stop_in_the_supervisors_first_moments_ends_stopped_not_crashed(home, tmp_path):
    source = write_recording(tmp_path / "rec", steps=50)
    record, proc = start_replay(home, source, name="hasty", rate=100, stop_after=3, hold=True)
    os.kill(proc.pid, signal.SIGTERM)                  # before it has even imported what it needs
    assert proc.wait(30) == 0
    ended = RunService(home).reconcile(RunStore(home).get(record["id"]))
    assert ended["status"] == "stopped", ended


def test_a_process_the_worker_leaves_behind_does_not_keep_the_run_alive(home):
    """A dataset script's `os.system("... &")` inherits what the worker does not protect; the worker makes
    its copy of the run lock non-inheritable, so the run ends when the worker does."""
    run_dir = RunDir(home.run_dir("leak0001"))
    run_dir.path.mkdir(parents=True)
    fd = launcher_lock = __import__("tuner_tui.runtime.run_lock", fromlist=["take"]).take(run_dir)
    child = ("import os, sys; from tuner_tui.domain.run_dir import RunDir; from tuner_tui.runtime.run_lock import "
             "keep_private; keep_private(RunDir.of(sys.argv[1])); os.system('sleep 30 &')")
    try:
        proc = subprocess.Popen([sys.executable, "-c", child, str(run_dir.path)], pass_fds=(fd,), cwd=REPO,
                                env={**os.environ, "TUNER_RUN_LOCK_FD": str(fd)})
    finally:
        os.close(launcher_lock)
    assert proc.wait(30) == 0
    from tuner_tui.runtime.run_lock import held

    assert not held(run_dir)                              # the sleeping grandchild holds nothing
    subprocess.run(["pkill", "-f", "sleep 30"], check=False)


def test_a_resumed_run_that_vanishes_while_loading_is_crashed_not_its_earlier_stop(home):
    run_dir = RunDir(home.run_dir("resu0001"))
    run_dir.path.mkdir(parents=True)
    stopped = {"v": 1, "t": time.time(), "type": "stopped", "step": 10, "checkpoint": None, "summary": {"steps": 10}}
    run_dir.events.write_text(json.dumps(stopped) + "\n" + json.dumps({"v": 1, "t": time.time(), "type": "phase",
                                                                         "phase": "loading"}) + "\n")
    offset = len(json.dumps(stopped)) + 1
    RunStore(home).create(dict(new_record("resu0001", str(run_dir.path), status="queued", attempts=2,
                                          attempt_offset=offset)))
    settled = RunService(home).reconcile(RunStore(home).get("resu0001"))
    assert settled["status"] == "crashed"
