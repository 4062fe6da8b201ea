"""NVML in one place: pynvml imported and NVML initialised once, lazily, under a lock; every query goes through
`query`, which answers None ("N/A") instead of raising (nvitop's and trackio's habit).

A leaf module (stdlib only at import time) so that both the sampler (runtime/gpu.py) and the training worker
(training/callbacks.py, for its own process's NVML memory) use the same code without the worker importing the
run store. Costs: the first call loads libnvidia-ml and initialises NVML (~10-100 ms with a GPU, ~1 ms
without); after that a query is one C call (~5-50 us)."""

from __future__ import annotations

import os
import threading
from types import ModuleType
from typing import Any

_lock = threading.Lock()
_module: ModuleType | None = None
_reason: str | None = None
_tried = False


def _why(pynvml: ModuleType, err: BaseException) -> str:
    code = getattr(err, "value", None)
    if code == getattr(pynvml, "NVML_ERROR_LIBRARY_NOT_FOUND", object()):
        return "no NVIDIA GPU: NVML library not found (libnvidia-ml.so.1)"
    if code == getattr(pynvml, "NVML_ERROR_DRIVER_NOT_LOADED", object()):
        return "no NVIDIA GPU: driver not loaded"
    if code == getattr(pynvml, "NVML_ERROR_NO_PERMISSION", object()):
        return "NVML refused access (insufficient permissions)"
    return f"NVML did not start: {err}"


def nvml() -> tuple[ModuleType | None, str | None]:
    """(the initialised pynvml module, None), or (None, why not). Initialises once; a failure is remembered
    (a driver does not appear mid-session), so the no-GPU path costs a dict lookup after the first call."""
    global _module, _reason, _tried
    if _tried:
        return _module, _reason
    with _lock:
        if not _tried:
            try:
                import pynvml
            except ImportError:
                _reason = "no NVIDIA GPU support: nvidia-ml-py (pynvml) is not installed"
            else:
                try:
                    pynvml.nvmlInit()
                    _module = pynvml
                except Exception as err:  # noqa: BLE001 - NVMLError or a ctypes failure: both mean "no NVML"
                    _reason = _why(pynvml, err)
            _tried = True
    return _module, _reason


def reset() -> None:
    """Forget the NVML state (shut NVML down if it was up): the next call initialises again. For tests."""
    global _module, _reason, _tried
    with _lock:
        if _module is not None:
            query("nvmlShutdown")
        _module, _reason, _tried = None, None, False


def query(function: str, *args: Any) -> Any:
    """pynvml.<function>(*args), or None when NVML is unavailable, the function does not exist in this pynvml,
    or the call fails (NotSupported on MIG devices, NoPermission, GPU lost, ...). Never raises."""
    module = _module if _tried else nvml()[0]
    if module is None:
        return None
    try:
        return getattr(module, function)(*args)
    except Exception:  # noqa: BLE001 - the contract: N/A instead of an exception, whatever NVML says
        return None


def text(value: Any) -> str | None:
    """NVML strings are bytes in older pynvml and str in newer."""
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def device_handles() -> list[tuple[int, Any]]:
    """(NVML index, handle) of every physical GPU, in NVML (PCI bus) order, skipping one whose handle fails
    (a lost GPU); [] without NVML."""
    count = query("nvmlDeviceGetCount") or 0
    handles = [(i, query("nvmlDeviceGetHandleByIndex", i)) for i in range(count)]
    return [(i, h) for i, h in handles if h is not None]


def device_processes(handle: Any) -> list[Any]:
    """Compute and graphics processes on one GPU (each pid once); [] when N/A."""
    seen: dict[int, Any] = {}
    for function in ("nvmlDeviceGetComputeRunningProcesses", "nvmlDeviceGetGraphicsRunningProcesses"):
        for proc in query(function, handle) or []:
            seen.setdefault(int(proc.pid), proc)
    return list(seen.values())


def process_gpu_memory(pid: int | None = None) -> int | None:
    """GPU memory NVML reports for one process (default: this one), summed over GPUs; None when NVML is
    unavailable or reports nothing for it (not on a GPU yet, MIG without privileges, or a container whose pid
    namespace differs from the driver's). Cost: 1 + 2 x GPUs NVML calls (~0.1 ms per GPU)."""
    pid = os.getpid() if pid is None else pid
    total, found = 0, False
    for _, handle in device_handles():
        for proc in device_processes(handle):
            used = getattr(proc, "usedGpuMemory", None)
            if int(proc.pid) == pid and used is not None:
                total, found = total + int(used), True
    return total if found else None
