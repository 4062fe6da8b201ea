"""The GPU/host sampler and `tuner gpu`: no GPU is a state with a reason; with a fake NVML (same names and error
classes as pynvml) two GPUs, a MIG device's N/A fields, CUDA_VISIBLE_DEVICES mapping and run labelling."""

from __future__ import annotations

import ctypes
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests import fake_nvml
from tests.conftest import REPO, tuner
from tuner_tui.runtime import nvml
from tuner_tui.runtime.gpu import (
    NO_GPUS,
    GpuReport,
    GpuSampler,
    fmt,
    fmt_bytes,
    read_gpus,
    visible_physical_indices,
)
from tuner_tui.runtime.store import RunStore

GIB = 1024 ** 3


def _has_real_nvml() -> bool:
    try:
        ctypes.CDLL("libnvidia-ml.so.1")
        return True
    except OSError:
        return False


@pytest.fixture
def fresh_nvml():
    nvml.reset()
    yield
    nvml.reset()


@pytest.fixture
def fake(monkeypatch, fresh_nvml):
    fake_nvml.configure()
    monkeypatch.setitem(sys.modules, "pynvml", fake_nvml)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    return fake_nvml


@pytest.fixture
def shim(tmp_path):
    """A directory that makes `import pynvml` in a subprocess load the fake (put it on PYTHONPATH)."""
    folder = tmp_path / "shim"
    folder.mkdir()
    (folder / "pynvml.py").write_text("from tests.fake_nvml import *  # noqa\nfrom tests import fake_nvml\n"
                                      "fake_nvml.configure_from_env()\n")
    return {"PYTHONPATH": str(folder), "CUDA_VISIBLE_DEVICES": "1"}


def sleeper_with_child(run_dir: Path | None = None) -> tuple[subprocess.Popen, int]:
    """A real supervisor-like process with a child (its worker); returns it and the child's pid. Like a run's
    supervisor, its command line names the run dir (what the sampler checks: a reused pid has another)."""
    code = ("import subprocess, sys, time\nchild = subprocess.Popen([sys.executable, '-c', "
            "'import time; time.sleep(120)'])\nprint(child.pid, flush=True)\ntime.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", code, *([str(run_dir)] if run_dir else [])],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    return proc, int(proc.stdout.readline())


def running_record(home, run_id: str, pid: int, create_time: float | None) -> None:
    RunStore(home).create({"id": run_id, "name": "r", "status": "running", "pid": pid, "pid_create_time":
                           create_time, "host": None, "created": time.time(), "run_dir": str(home.run_dir(run_id))})


# ------------------------------------------------------------------------------------------ no GPU

@pytest.mark.skipif(_has_real_nvml(), reason="this machine has an NVIDIA driver")
def test_without_a_gpu_the_report_says_why_and_still_has_cpu_and_ram(home, fresh_nvml):
    sampler = GpuSampler(home=home)
    first = sampler.sample()
    assert first.gpus == [] and "NVML library not found" in first.reason
    assert first.cpu_percent is None                       # one sample has no interval to measure
    second = sampler.sample()
    assert 0.0 <= second.cpu_percent <= 100.0
    assert 0 < second.ram_used < second.ram_total
    assert nvml.process_gpu_memory() is None
    json.dumps(second.to_dict())


@pytest.mark.parametrize(("code", "words"), [(fake_nvml.NVML_ERROR_DRIVER_NOT_LOADED, "driver not loaded"),
                                             (fake_nvml.NVML_ERROR_LIBRARY_NOT_FOUND, "NVML library not found"),
                                             (999, "NVML did not start")])
def test_nvml_start_failures_become_reasons(fake, home, code, words):
    fake.configure(init_error=code)
    report = read_gpus(home=home)
    assert report.gpus == [] and words in report.reason


def test_nvml_with_no_devices_says_so(fake, home):
    fake.configure(devices=[])
    assert read_gpus(home=home).reason == NO_GPUS


# ------------------------------------------------------------------------------------------ fake NVML

def test_two_gpus_and_the_mig_device_gives_na_not_an_exception(fake, home):
    report = read_gpus(home=home)
    assert report.reason is None and [g.index for g in report.gpus] == [0, 1]
    full, mig = report.gpus
    assert (full.name, full.utilization, full.temperature, full.power_draw, full.power_limit) == \
        ("NVIDIA H100 80GB HBM3", 42, 55, 312.5, 700.0)
    assert (full.memory_used, full.memory_total, full.memory_free) == (10 * GIB, 80 * GIB, 70 * GIB)
    assert not full.is_mig and mig.is_mig
    assert mig.utilization is None and mig.power_draw is None and mig.power_limit is None
    assert mig.memory_total == 40 * GIB and mig.temperature == 40
    assert [g.visible_index for g in report.gpus] == [0, 1]       # CUDA_VISIBLE_DEVICES unset: all, in order
    assert fmt(mig.utilization, "d", " %") == "N/A" and fmt(full.utilization, "d", " %") == "42 %"


def test_a_failing_query_is_na_and_nvml_starts_once(fake, home, monkeypatch):
    def lost(handle):
        raise RuntimeError("GPU is lost")

    monkeypatch.setattr(fake, "nvmlDeviceGetName", lost)
    sampler = GpuSampler(home=home)
    threads = [threading.Thread(target=sampler.sample) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = sampler.sample()
    assert [g.name for g in report.gpus] == [None, None] and report.gpus[0].utilization == 42
    assert fake.state["inits"] == 1


@pytest.mark.parametrize(("value", "expected"), [
    (None, None), ("", []), ("1", [1]), ("1,0", [1, 0]), ("0,7,1", [0]), ("1,1", [1]), ("-1", []),
    ("GPU-bbbb2222", [1]), ("GPU-bbbb2222-0000-0000-0000-000000000000,0", [1, 0]), ("GPU-", []),
    ("GPU-cccc", []), (" 1 , 0 ", [1, 0])])
def test_cuda_visible_devices_map_to_physical_indices(value, expected):
    uuids = ["GPU-aaaa1111-0000-0000-0000-000000000000", "GPU-bbbb2222-0000-0000-0000-000000000000"]
    assert visible_physical_indices(value, uuids) == expected


def test_visible_index_follows_cuda_visible_devices(fake, home, monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    report = GpuSampler(home=home).sample()
    assert report.visible_devices == "1"
    assert [(g.index, g.visible_index) for g in report.gpus] == [(0, None), (1, 0)]
    by_uuid = read_gpus(home=home, visible_devices="GPU-bbbb2222-0000-0000-0000-000000000000,GPU-aaaa")
    assert [(g.index, g.visible_index) for g in by_uuid.gpus] == [(0, 1), (1, 0)]


def test_gpu_processes_of_a_running_run_and_its_child_rank_carry_the_run_id(fake, home):
    import psutil

    worker, child = sleeper_with_child(home.run_dir("run-abc"))
    try:
        running_record(home, "run-abc", worker.pid, psutil.Process(worker.pid).create_time())
        fake.configure(fake_nvml.two_gpus(procs0=[[child, 3 * GIB], [os.getpid(), 1 * GIB]]))
        sampler = GpuSampler(home=home)
        sampler.sample()
        report = sampler.sample()
        procs = {p.pid: p for p in report.gpus[0].processes}
        assert procs[child].run_id == "run-abc" and procs[child].used_memory == 3 * GIB
        assert procs[child].name and procs[os.getpid()].run_id is None
        (stats,) = report.workers
        # The worker (the supervisor's child) is the one shown; the supervisor comes last.
        assert stats.run_id == "run-abc" and stats.pids == [child, worker.pid] and stats.pid == child
        assert stats.rss > 0 and stats.cpu_percent is not None
        assert nvml.process_gpu_memory(child) == 3 * GIB and nvml.process_gpu_memory(1) is None
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def test_a_reused_pid_is_not_labelled(fake, home):
    worker, child = sleeper_with_child()
    try:
        running_record(home, "run-old", worker.pid, create_time=1.0)     # its command line names no run dir
        fake.configure(fake_nvml.two_gpus(procs0=[[child, GIB]]))
        report = read_gpus(home=home)
        assert report.gpus[0].processes[0].run_id is None and report.workers == []
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


# ------------------------------------------------------------------------------------------ the thread

def test_the_sampler_thread_samples_survives_errors_and_stops_promptly(fake, home):
    seen: list[GpuReport] = []

    def on_sample(report: GpuReport) -> None:
        seen.append(report)
        if len(seen) == 2:
            raise ValueError("a broken listener must not kill the sampler")

    sampler = GpuSampler(interval=0.05, home=home, on_sample=on_sample)
    assert sampler.latest() is None
    with sampler:
        deadline = time.monotonic() + 10
        while len(seen) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
    assert len(seen) >= 4 and sampler.latest() is not None and len(sampler.latest().gpus) == 2
    assert seen[-1].time > seen[0].time

    slow = GpuSampler(interval=30, home=home).start()
    deadline = time.monotonic() + 10
    while slow.latest() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    slow.stop()
    assert time.monotonic() - started < 1.0 and not slow._thread.is_alive()


def test_formatting_helpers():
    assert fmt(None) == "N/A" and fmt(math.nan) == "N/A" and fmt(312.46, ".0f", " W") == "312 W"
    assert fmt_bytes(None) == "N/A" and fmt_bytes(10 * GIB) == "10.0 GiB" and fmt_bytes(512) == "512 B"


# ------------------------------------------------------------------------------------------ tuner gpu

EXPECTED_KEYS = {"time", "gpus", "reason", "cpu_percent", "ram_used", "ram_total", "workers", "visible_devices"}


@pytest.mark.skipif(_has_real_nvml(), reason="this machine has an NVIDIA driver")
def test_tuner_gpu_once_json_without_a_gpu(home):
    proc = tuner("gpu", "--once", "--json", check=True)
    document = json.loads(proc.stdout)                  # exactly one JSON document
    assert set(document) == EXPECTED_KEYS and document["gpus"] == []
    assert "NVML library not found" in document["reason"] and document["ram_total"] > 0
    assert isinstance(document["cpu_percent"], float)


@pytest.mark.skipif(_has_real_nvml(), reason="this machine has an NVIDIA driver")
def test_tuner_gpu_once_says_why_there_is_no_gpu(home):
    proc = tuner("gpu", "--once", check=True)
    assert "no NVIDIA GPU: NVML library not found" in proc.stdout and "RAM" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_tuner_gpu_once_json_with_two_fake_gpus(home, shim):
    document = json.loads(tuner("gpu", "--once", "--json", env=shim, check=True).stdout)
    assert set(document) == EXPECTED_KEYS and document["reason"] is None
    full, mig = document["gpus"]
    assert set(full) == {"index", "visible_index", "name", "uuid", "memory_used", "memory_total", "memory_free",
                         "utilization", "temperature", "power_draw", "power_limit", "is_mig", "processes"}
    assert (full["index"], full["visible_index"], mig["index"], mig["visible_index"]) == (0, None, 1, 0)
    assert mig["is_mig"] and mig["utilization"] is None and mig["power_draw"] is None


def test_tuner_gpu_live_view_updates_and_ctrl_c_exits_0(home, shim):
    proc = subprocess.Popen([sys.executable, "-m", "tuner_tui", "gpu", "--interval", "0.2"], cwd=REPO,
                            env={**os.environ, **shim, "COLUMNS": "80"}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr
    assert "GPU 1 (cuda:0) NVIDIA A100-SXM4-40GB · MIG" in stdout and "N/A" in stdout
    assert "Traceback" not in stderr


def test_tuner_gpu_refuses_a_non_positive_interval(home):
    proc = tuner("gpu", "--interval", "0")
    assert proc.returncode == 2 and "seconds > 0" in proc.stderr


def test_a_lost_gpu_keeps_the_others_physical_indices(fake, home, monkeypatch):
    real = fake.nvmlDeviceGetHandleByIndex

    def lose_the_first(index):
        if index == 0:
            raise fake_nvml.NVMLError(15)                # NVML_ERROR_GPU_IS_LOST
        return real(index)

    monkeypatch.setattr(fake, "nvmlDeviceGetHandleByIndex", lose_the_first)
    report = read_gpus(home=home, visible_devices="1")
    assert [(g.index, g.visible_index, g.name) for g in report.gpus] == [(1, 0, "NVIDIA A100-SXM4-40GB")]
