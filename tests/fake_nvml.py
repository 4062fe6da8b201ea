"""A stand-in for pynvml (nvidia-ml-py) with the same function names, error classes and codes, for machines
without a GPU: tests put it in sys.modules["pynvml"] (or on PYTHONPATH as pynvml.py for subprocesses), and
bench/gpu_sample_cost.py measures the sampler's own cost with it.

Devices are dicts: name, uuid, used, total (bytes), util (%), temp (C), power, limit (W), mig (bool: MIG mode on,
so utilisation and power raise NotSupported as on a real A100/H100 in MIG mode), procs ([pid, bytes] pairs)."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

NVML_SUCCESS = 0
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_TEMPERATURE_GPU = 0

GIB = 1024 ** 3


class NVMLError(Exception):
    def __init__(self, value: int):
        super().__init__(f"NVML error {value}")
        self.value = value


class NVMLError_NotSupported(NVMLError):  # noqa: N801 - pynvml's names
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_NOT_SUPPORTED)


class NVMLError_LibraryNotFound(NVMLError):  # noqa: N801
    def __init__(self) -> None:
        super().__init__(NVML_ERROR_LIBRARY_NOT_FOUND)


def two_gpus(procs0: list | None = None) -> list[dict]:
    """An 80 GiB GPU with processes, and a MIG-mode GPU."""
    return [
        {"name": "NVIDIA H100 80GB HBM3", "uuid": "GPU-aaaa1111-0000-0000-0000-000000000000",
         "used": 10 * GIB, "total": 80 * GIB, "util": 42, "temp": 55, "power": 312.5, "limit": 700.0,
         "mig": False, "procs": procs0 or []},
        {"name": "NVIDIA A100-SXM4-40GB", "uuid": "GPU-bbbb2222-0000-0000-0000-000000000000",
         "used": 1 * GIB, "total": 40 * GIB, "util": 0, "temp": 40, "power": 60.0, "limit": 400.0,
         "mig": True, "procs": []},
    ]


state: dict = {"devices": two_gpus(), "init_error": None, "inits": 0, "calls": 0}


def configure(devices: list[dict] | None = None, init_error: int | None = None) -> None:
    state.update(devices=two_gpus() if devices is None else devices, init_error=init_error, inits=0, calls=0)


def configure_from_env() -> None:
    """FAKE_NVML_DEVICES: a JSON list of devices (for subprocesses); unset: two_gpus()."""
    spec = os.environ.get("FAKE_NVML_DEVICES")
    configure(json.loads(spec) if spec else None)


class _Handle:
    def __init__(self, index: int):
        self.index = index


def _device(handle: _Handle) -> dict:
    state["calls"] += 1
    return state["devices"][handle.index]


def nvmlInit() -> None:
    state["inits"] += 1
    if state["init_error"] is not None:
        raise NVMLError(state["init_error"])


def nvmlShutdown() -> None:
    pass


def nvmlDeviceGetCount() -> int:
    state["calls"] += 1
    return len(state["devices"])


def nvmlDeviceGetHandleByIndex(index: int) -> _Handle:
    state["calls"] += 1
    if not 0 <= index < len(state["devices"]):
        raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
    return _Handle(index)


def nvmlDeviceGetHandleByUUID(uuid: str) -> _Handle:
    for i, device in enumerate(state["devices"]):
        if device["uuid"] == uuid:
            return _Handle(i)
    raise NVMLError(NVML_ERROR_NOT_FOUND)


def nvmlDeviceGetIndex(handle: _Handle) -> int:
    return handle.index


def nvmlDeviceGetName(handle: _Handle) -> str:
    return _device(handle)["name"]


def nvmlDeviceGetUUID(handle: _Handle) -> str:
    return _device(handle)["uuid"]


def nvmlDeviceGetMemoryInfo(handle: _Handle) -> SimpleNamespace:
    d = _device(handle)
    return SimpleNamespace(used=d["used"], total=d["total"], free=d["total"] - d["used"])


def nvmlDeviceGetUtilizationRates(handle: _Handle) -> SimpleNamespace:
    d = _device(handle)
    if d["mig"]:
        raise NVMLError_NotSupported()
    return SimpleNamespace(gpu=d["util"], memory=d["util"] // 2)


def nvmlDeviceGetTemperature(handle: _Handle, sensor: int) -> int:
    return _device(handle)["temp"]


def nvmlDeviceGetPowerUsage(handle: _Handle) -> int:
    d = _device(handle)
    if d["mig"]:
        raise NVMLError_NotSupported()
    return int(d["power"] * 1000)


def nvmlDeviceGetEnforcedPowerLimit(handle: _Handle) -> int:
    d = _device(handle)
    if d["mig"]:
        raise NVMLError_NotSupported()
    return int(d["limit"] * 1000)


def nvmlDeviceGetMigMode(handle: _Handle) -> list[int]:
    return [1, 1] if _device(handle)["mig"] else [0, 0]


def nvmlDeviceGetComputeRunningProcesses(handle: _Handle) -> list[SimpleNamespace]:
    return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in _device(handle)["procs"]]


def nvmlDeviceGetGraphicsRunningProcesses(handle: _Handle) -> list[SimpleNamespace]:
    _device(handle)
    return []
