"""The GPU and host sampler behind `tuner gpu` and the cockpit's GPU panel.

One sample = NVML per GPU (memory, utilisation, temperature, power, MIG mode, processes) + psutil (CPU %, RAM,
and RSS/CPU % of tuner's workers and their child ranks). No GPU, no driver or no pynvml is a state with a
reason, never an exception; a field NVML cannot give (MIG devices refuse utilisation and power) is None, shown
as "N/A" by `fmt`. Costs (bench/gpu_sample_cost.py): ~0.3 ms per sample for 2 GPUs with a fake NVML, a few ms
with a real one; `GpuSampler.latest()` is an attribute read. The run store is re-read at most every
`worker_refresh_s` (5 s), process names are cached per pid.

Physical vs visible indices: NVML numbers GPUs in PCI bus order (`index`); a process with CUDA_VISIBLE_DEVICES
sees a subset, renumbered from 0 (`visible_index`). Numeric entries are mapped assuming CUDA's order matches
NVML's (true with CUDA_DEVICE_ORDER=PCI_BUS_ID, and on most single-model boxes); GPU-/MIG- uuids are exact.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import psutil

from tuner_tui.runtime import nvml
from tuner_tui.runtime.home import Home

log = logging.getLogger(__name__)

NO_GPUS = "NVML found no GPUs"
WORKER_REFRESH_S = 5.0


@dataclass(frozen=True)
class GpuProcess:
    pid: int
    used_memory: int | None          # bytes; None: NVML does not say (MIG without privileges, WDDM)
    name: str | None                 # None: the pid is not visible here (another container's pid namespace)
    run_id: str | None               # the tuner run whose worker (or one of its child ranks) this is


@dataclass(frozen=True)
class GpuInfo:
    index: int                       # physical: NVML's index
    visible_index: int | None        # CUDA index under CUDA_VISIBLE_DEVICES in this process; None: hidden
    name: str | None
    uuid: str | None
    memory_used: int | None          # bytes
    memory_total: int | None
    memory_free: int | None
    utilization: int | None          # GPU busy %, over NVML's last sample period
    temperature: int | None          # degrees C
    power_draw: float | None         # W
    power_limit: float | None        # W (enforced limit)
    is_mig: bool
    processes: list[GpuProcess] = field(default_factory=list)


@dataclass(frozen=True)
class TunerWorker:
    run_id: str
    pids: list[int]                  # the worker, then its child processes (accelerate ranks)
    rss: int | None                  # bytes, summed over pids
    cpu_percent: float | None        # summed (100 = one core); None on the first sample

    @property
    def pid(self) -> int:
        """The worker's own pid (the supervisor's child; its ranks follow, the supervisor comes last)."""
        return self.pids[0]


@dataclass(frozen=True)
class GpuReport:
    time: float
    gpus: list[GpuInfo]
    reason: str | None               # why there are no GPUs (None when NVML answered with at least one)
    cpu_percent: float | None        # whole host, 0-100; None on the first sample (no interval yet)
    ram_used: int                    # bytes: total - available
    ram_total: int
    workers: list[TunerWorker] = field(default_factory=list)
    visible_devices: str | None = None   # the CUDA_VISIBLE_DEVICES the visible indices were mapped from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------ formatting

def fmt(value: float | None, spec: str = "", unit: str = "") -> str:
    """Display a sampled value: None (and NaN) print as N/A."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "N/A"
    return f"{format(value, spec)}{unit}"


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "N/A"
    n = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


# ------------------------------------------------------------------------------------------ visibility

def visible_physical_indices(value: str | None, uuids: list[str | None],
                             resolve: Callable[[str], int | None] | None = None) -> list[int] | None:
    """Physical indices in visible order for a CUDA_VISIBLE_DEVICES value; None when unset (all visible, in
    order). Like CUDA: entries are indices or (prefixes of) GPU- uuids, and an invalid or repeated entry ends
    the list. `resolve` maps other forms (MIG- uuids) to a physical index."""
    if value is None:
        return None
    out: list[int] = []
    for entry in (e.strip() for e in value.split(",")):
        if entry.isdigit():
            index: int | None = int(entry) if int(entry) < len(uuids) else None
        elif entry.startswith("GPU-"):
            matches = [i for i, u in enumerate(uuids) if u and u.startswith(entry)]
            index = matches[0] if len(matches) == 1 else None
        else:
            index = resolve(entry) if resolve and entry else None
        if index is None or index in out:
            break
        out.append(index)
    return out


def _mig_parent_index(entry: str) -> int | None:
    handle = nvml.query("nvmlDeviceGetHandleByUUID", entry)
    if handle is None:
        return None
    parent = nvml.query("nvmlDeviceGetDeviceHandleFromMigDeviceHandle", handle)
    return nvml.query("nvmlDeviceGetIndex", parent) if parent is not None else None


# ------------------------------------------------------------------------------------------ GPUs

def _memory(handle: Any) -> tuple[int | None, int | None, int | None]:
    info = nvml.query("nvmlDeviceGetMemoryInfo", handle)
    if info is None:
        return None, None, None
    return int(info.used), int(info.total), int(info.free)


def _watts(milliwatts: Any) -> float | None:
    return None if milliwatts is None else round(milliwatts / 1000.0, 1)


def _is_mig(handle: Any) -> bool:
    mode = nvml.query("nvmlDeviceGetMigMode", handle)
    return bool(mode) and mode[0] == 1


def _read_device(index: int, handle: Any, processes: list[GpuProcess]) -> GpuInfo:
    used, total, free = _memory(handle)
    rates = nvml.query("nvmlDeviceGetUtilizationRates", handle)
    sensor = getattr(nvml.nvml()[0], "NVML_TEMPERATURE_GPU", 0)
    return GpuInfo(index=index, visible_index=None, name=nvml.text(nvml.query("nvmlDeviceGetName", handle)),
                   uuid=nvml.text(nvml.query("nvmlDeviceGetUUID", handle)),
                   memory_used=used, memory_total=total, memory_free=free,
                   utilization=None if rates is None else int(rates.gpu),
                   temperature=nvml.query("nvmlDeviceGetTemperature", handle, sensor),
                   power_draw=_watts(nvml.query("nvmlDeviceGetPowerUsage", handle)),
                   power_limit=_watts(nvml.query("nvmlDeviceGetEnforcedPowerLimit", handle)),
                   is_mig=_is_mig(handle), processes=processes)


class _ProcessNames:
    """pid -> process name, looked up once per pid while the pid keeps showing up."""

    def __init__(self) -> None:
        self._names: dict[int, str | None] = {}

    def name(self, pid: int) -> str | None:
        if pid not in self._names:
            try:
                self._names[pid] = psutil.Process(pid).name()
            except psutil.Error:
                self._names[pid] = None
        return self._names[pid]

    def keep_only(self, pids: Iterable[int]) -> None:
        alive = set(pids)
        for pid in [p for p in self._names if p not in alive]:
            del self._names[pid]


def _read_gpus(names: _ProcessNames, run_of: Callable[[int], str | None],
               visible_devices: str | None) -> tuple[list[GpuInfo], str | None]:
    module, reason = nvml.nvml()
    if module is None:
        return [], reason
    gpus: list[GpuInfo] = []
    for index, handle in nvml.device_handles():
        procs = [GpuProcess(pid=int(p.pid), used_memory=getattr(p, "usedGpuMemory", None),
                            name=names.name(int(p.pid)), run_id=run_of(int(p.pid)))
                 for p in nvml.device_processes(handle)]
        gpus.append(_read_device(index, handle, procs))
    names.keep_only(p.pid for g in gpus for p in g.processes)
    uuids: list[str | None] = [None] * (max((g.index for g in gpus), default=-1) + 1)
    for g in gpus:
        uuids[g.index] = g.uuid
    order = visible_physical_indices(visible_devices, uuids, _mig_parent_index)
    visible = {physical: i for i, physical in enumerate(order if order is not None else range(len(uuids)))}
    gpus = [replace(g, visible_index=visible.get(g.index)) for g in gpus]
    return gpus, (None if gpus else NO_GPUS)


# ------------------------------------------------------------------------------------------ tuner workers

class _Workers:
    """Running tuner workers of this host and their child ranks, from the run store, refreshed at most every
    `refresh_s`; psutil.Process objects are kept between samples so CPU % has an interval to measure."""

    def __init__(self, home: Home | None, refresh_s: float):
        self.home, self.refresh_s = home, refresh_s
        self._store: Any = None
        self._due = 0.0
        self._procs: dict[int, tuple[str, psutil.Process]] = {}      # pid -> (run id, process)
        self._primed: set[int] = set()                                 # pids whose CPU % has a baseline
        self._strangers: set[int] = set()                              # GPU pids known not to be ours

    def refresh_if_due(self, now: float) -> None:
        if now < self._due:
            return
        self._due = now + self.refresh_s
        self._strangers.clear()
        try:
            runs = self._running_runs()
        except Exception:  # noqa: BLE001 - a busy or broken store must not stop the sampler
            log.warning("tuner gpu: could not read the run store", exc_info=True)
            return
        fresh: dict[int, tuple[str, psutil.Process]] = {}
        for run_id, pid, run_dir in runs:
            for proc in self._tree(pid, run_dir):
                kept = self._procs.get(proc.pid)
                if kept is not None and kept[1].create_time() == proc.create_time():
                    proc = kept[1]                    # the same process: keep its CPU % baseline
                else:
                    self._primed.discard(proc.pid)
                fresh[proc.pid] = (run_id, proc)
        self._primed &= set(fresh)
        self._procs = fresh

    def _running_runs(self) -> list[tuple[str, int, str]]:
        if self._store is None:
            from tuner_tui.runtime.store import RunStore  # lazily: tinydb/filelock only when sampling

            self._store = RunStore(self.home or Home.default())
        host = socket.gethostname()
        return [(r["id"], int(r["pid"]), r["run_dir"]) for r in self._store.all()
                if r.get("status") in ("queued", "running") and r.get("pid") and r.get("host") in (None, host)]

    @staticmethod
    def _tree(pid: int, run_dir: str) -> list[psutil.Process]:
        """The run's supervisor and everything under it; a reused pid (another command line) is not ours.
        The command line names the run dir: an identity that no clock step moves (create times do)."""
        try:
            proc = psutil.Process(pid)
            if run_dir not in proc.cmdline():
                return []
            return [*proc.children(recursive=True), proc]     # the worker first: it is what the panel shows
        except psutil.Error:
            return []

    def run_of(self, pid: int) -> str | None:
        """The run a GPU process belongs to; a rank started since the last refresh is found by its parents."""
        if pid in self._procs:
            return self._procs[pid][0]
        if pid in self._strangers or not self._procs:
            return None
        with contextlib.suppress(psutil.Error):
            for parent in psutil.Process(pid).parents():
                if parent.pid in self._procs:
                    return self._procs[parent.pid][0]
        self._strangers.add(pid)
        return None

    def stats(self) -> list[TunerWorker]:
        by_run: dict[str, list[tuple[int, int | None, float | None]]] = {}
        for pid, (run_id, proc) in self._procs.items():
            try:
                with proc.oneshot():
                    cpu = proc.cpu_percent(None)          # since the previous call on this object
                    rss = proc.memory_info().rss
            except psutil.Error:
                continue
            by_run.setdefault(run_id, []).append((pid, rss, cpu if pid in self._primed else None))
            self._primed.add(pid)
        return [TunerWorker(run_id=run_id, pids=[r[0] for r in rows], rss=sum(r[1] or 0 for r in rows),
                            cpu_percent=None if any(r[2] is None for r in rows) else
                            round(sum(r[2] or 0.0 for r in rows), 1))
                for run_id, rows in by_run.items()]


# ------------------------------------------------------------------------------------------ sampler

class GpuSampler:
    """Samples GPUs and the host every `interval` seconds on a daemon thread (after `start()`), or once per
    `sample()` call. `latest()` never waits. The thread never raises: a failing sample is logged and the next
    one tried. `visible_devices` defaults to this process's CUDA_VISIBLE_DEVICES."""

    def __init__(self, interval: float = 1.0, home: Home | None = None,
                 on_sample: Callable[[GpuReport], None] | None = None,
                 visible_devices: str | None = None, worker_refresh_s: float = WORKER_REFRESH_S):
        self.interval, self.on_sample = interval, on_sample
        self.visible_devices = (os.environ.get("CUDA_VISIBLE_DEVICES") if visible_devices is None
                                else visible_devices)
        self._workers = _Workers(home, worker_refresh_s)
        self._names = _ProcessNames()
        self._latest: GpuReport | None = None
        self._cpu_primed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self._sampling = threading.Lock()         # the thread and a direct sample() call take turns

    def sample(self) -> GpuReport:
        """Take one sample now (also stored as `latest()`). Raises only on a bug; the thread catches it."""
        with self._sampling:
            return self._sample()

    def _sample(self) -> GpuReport:
        now = time.time()
        self._workers.refresh_if_due(time.monotonic())
        gpus, reason = _read_gpus(self._names, self._workers.run_of, self.visible_devices)
        cpu = psutil.cpu_percent(None)            # since the previous call: the first one has no interval
        cpu_percent, self._cpu_primed = (cpu if self._cpu_primed else None), True
        memory = psutil.virtual_memory()
        report = GpuReport(time=now, gpus=gpus, reason=reason, cpu_percent=cpu_percent,
                           ram_used=int(memory.total - memory.available), ram_total=int(memory.total),
                           workers=self._workers.stats(), visible_devices=self.visible_devices)
        self._latest = report
        return report

    def latest(self) -> GpuReport | None:
        """The newest sample, or None before the first one. Never waits."""
        return self._latest

    def start(self) -> GpuSampler:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="tuner-gpu-sampler", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait for it (it is between samples, so this returns within one sample)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> GpuSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                report = self.sample()
                if self.on_sample is not None:
                    self.on_sample(report)
            except Exception as err:  # noqa: BLE001 - the sampler thread must never die
                if repr(err) != self._last_error:           # log each new error once, not every second
                    self._last_error = repr(err)
                    log.exception("tuner gpu sampler: a sample failed; continuing")
            self._stop.wait(self.interval)


def read_gpus(home: Home | None = None, visible_devices: str | None = None) -> GpuReport:
    """One sample, for callers without a sampler (CPU % is None: one sample has no interval to measure)."""
    return GpuSampler(home=home, visible_devices=visible_devices).sample()
