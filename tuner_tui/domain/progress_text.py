"""A run's progress in words: the attached `tuner run` bar and the durations the dashboard shows.

Both read one `RunProgress` fold, so the CLI and the cockpit show the same ETA for the same events. Pure:
`now` is passed in, so a test can pin it."""

from __future__ import annotations

from tuner_tui.domain.event_text import human_bytes
from tuner_tui.domain.metrics import METRICS
from tuner_tui.domain.run_progress import RunProgress

BAR_WIDTH = 30


def duration_text(seconds: float | None) -> str:
    """`1h05m`, `4m07s`, or `—` when unknown."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


def progress_line(p: RunProgress, now: float) -> str:
    """`[███····] 12/40  epoch 0.30  loss 2.3456  tok/s 1,234  ETA 1m10s  mem 1.2 GiB  training`."""
    total = p.total_steps
    if not total:
        return f"{p.phase or 'starting'}" + (f": {p.phase_detail}" if p.phase_detail else "") + "..."
    done = int(BAR_WIDTH * min(p.step / total, 1.0))
    parts = [f"[{'█' * done}{'·' * (BAR_WIDTH - done)}] {p.step}/{total}", f"epoch {p.epoch or 0:.2f}"]
    for m in METRICS:
        value = p.last(m.key)
        if m.on_progress_line and value is not None:
            parts.append(f"{m.label} {m.text(value)}")
    parts += [f"ETA {duration_text(p.eta_s(now))}", f"mem {human_bytes(p.last_memory)}", p.phase or ""]
    return "  ".join(parts)
