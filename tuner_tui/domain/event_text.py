"""Events in words, for `tuner logs` and the cockpit's Events panel."""

from __future__ import annotations

import time

from tuner_tui.domain.metrics import METRICS
from tuner_tui.domain.terminal_text import printable

OTHER_VALUE_CHARS = 200       # an unknown event's values are shown cut (a foreign line can be megabytes)


def _num(value: object, fmt: str = ".4g") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "n/a"


def human_bytes(n: float | None) -> str:
    if not n:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TiB"


def describe(event: dict) -> str:
    """One event as a line (or a few): its messages come from files, so no terminal control is left in it."""
    kind = event.get("type", "?")
    clock = time.strftime("%H:%M:%S", time.localtime(event.get("t", 0)))
    text = _TEXT.get(kind, _other)(event)
    return printable(f"{clock} {kind[:40]:<10} {text}")


def _other(e: dict) -> str:
    return " ".join(f"{k}={_cut(v)}" for k, v in e.items() if k not in ("v", "t", "type"))


def _cut(value: object) -> str:
    text = str(value)
    return text if len(text) <= OTHER_VALUE_CHARS else text[:OTHER_VALUE_CHARS] + "…"


def _started(e: dict) -> str:
    share = 100 * e.get("trainable_params", 0) / max(e.get("total_params", 1), 1)
    return (f"pid {e.get('pid')} on {e.get('host')} · {', '.join(e.get('devices', []))} · {e.get('precision')} · "
            f"Trainable: {e.get('trainable_params', 0):,} / {e.get('total_params', 0):,} ({share:.2f}%) · "
            f"{e.get('train_rows')} train / {e.get('eval_rows')} eval rows{_data_figures(e)} · "
            f"{e.get('total_steps')} steps")


def _data_figures(e: dict) -> str:
    """What the loss learns from (the audit's figures, when the worker wrote them): rows dropped, tokens trained."""
    if e.get("trained_tokens") is None or not e.get("dataset_tokens"):
        return ""
    dropped = f", {e['rows_dropped']:,} dropped (train on nothing)" if e.get("rows_dropped") else ""
    return f"{dropped} · {e['trained_tokens']:,} of {e['dataset_tokens']:,} tokens trained"


def _log(e: dict) -> str:
    parts = [f"step {e.get('step')}", f"epoch {_num(e.get('epoch'), '.2f')}"]
    for m in METRICS:
        if e.get(m.key) is not None:
            parts.append(f"{m.label} {m.text(e[m.key])}")
    return " · ".join(parts)


def _memory(e: dict) -> str:
    if e.get("device") == "cuda":
        return (f"step {e.get('step')} · allocated {human_bytes(e.get('allocated'))} · reserved "
                f"{human_bytes(e.get('reserved'))} · peak {human_bytes(e.get('peak'))}")
    return f"step {e.get('step')} · process RSS {human_bytes(e.get('rss'))}"


def _failed(e: dict) -> str:
    return f"[{e.get('cause')}] {e.get('message')}\n    suggestion: {e.get('suggestion')}"


def _summary(e: dict) -> str:
    s = e.get("summary") or {}
    return (f"{s.get('steps')} steps · train loss {_num(s.get('train_loss'))} · best eval loss "
            f"{_num(s.get('best_eval_loss'))} · {s.get('tokens') or 0:,} tokens · {_num(s.get('runtime_s'), '.0f')} s")


_TEXT = {
    "started": _started, "log": _log, "memory": _memory, "failed": _failed, "crashed": _failed,
    "phase": lambda e: str(e.get("phase")) + (f" ({e['total_steps']} steps)" if e.get("total_steps") else "")
    + (f" · {e['detail']}" if e.get("detail") else ""),
    "checkpoint": lambda e: f"step {e.get('step')} → {e.get('path')}",
    "resumed": lambda e: f"from step {e.get('from_step')}",
    "warning": lambda e: f"[{e.get('kind')}] {e.get('message')}",
    "finished": lambda e: _summary(e) + "".join(f"\n    {k}: {v}" for k, v in (e.get("outputs") or {}).items()),
    "stopped": lambda e: f"at step {e.get('step')}, checkpoint {e.get('checkpoint')} · " + _summary(e),
}
