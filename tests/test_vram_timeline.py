"""The VRAM timeline and per-phase peaks from memory events (pure)."""

from __future__ import annotations

from tuner_tui.domain.vram_timeline import VramPoint, memory_bytes, phase_peaks, vram_timeline


def mem(step, t, phase=None, **fields):
    event = {"v": 1, "t": t, "type": "memory", "step": step, "device": "cuda", **fields}
    if phase:
        event["phase"] = phase
    return event


EVENTS = [
    {"v": 1, "t": 0.0, "type": "phase", "phase": "loading"},
    mem(0, 1.0, "loading", peak=500, allocated=400, nvml_process_bytes=900),
    mem(2, 2.0, "training", peak=1000, allocated=600, nvml_process_bytes=1500),
    mem(4, 3.0, "training", peak=1200, allocated=600, nvml_process_bytes=1600),
    mem(4, 4.0, "evaluating", peak=1800, allocated=700, nvml_process_bytes=2100),
    mem(4, 5.0, "saving", peak=800, allocated=600, nvml_process_bytes=None),
    {"v": 1, "t": 5.5, "type": "log", "step": 4, "loss": 1.0},
    mem(6, 6.0, None, rss=3000, device="cpu"),            # an old event: no phase, CPU
]


def test_timeline_points_carry_phase_and_prefer_the_window_peak():
    points = vram_timeline(EVENTS)
    assert points[0] == VramPoint(0.0, 500, "loading")
    assert [p.phase for p in points] == ["loading", "training", "training", "evaluating", "saving", "training"]
    assert [p.bytes for p in points] == [500, 1000, 1200, 1800, 800, 3000]
    assert [p.x for p in vram_timeline(EVENTS, x="t")] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


def test_a_named_figure_skips_events_without_it():
    points = vram_timeline(EVENTS, key="nvml_process_bytes")
    assert [p.bytes for p in points] == [900, 1500, 1600, 2100]
    assert memory_bytes({"peak": True}) is None and memory_bytes({"allocated": 5}) == 5


def test_phase_peaks_show_evaluation_above_training():
    assert phase_peaks(EVENTS) == {"loading": 500, "training": 3000, "evaluating": 1800, "saving": 800}
    assert phase_peaks(EVENTS[:-1]) == {"loading": 500, "training": 1200, "evaluating": 1800, "saving": 800}
    assert phase_peaks(EVENTS, key="nvml_process_bytes")["evaluating"] == 2100
    assert phase_peaks([]) == {}


def test_resume_supersedes_later_steps_on_the_step_axis_only():
    events = [mem(2, 1.0, "training", peak=10), mem(4, 2.0, "training", peak=40),
              {"v": 1, "t": 3.0, "type": "resumed", "from_step": 2}, mem(4, 4.0, "training", peak=20)]
    assert [(p.x, p.bytes) for p in vram_timeline(events)] == [(2.0, 10), (4.0, 20)]
    assert len(vram_timeline(events, x="t")) == 3
    assert phase_peaks(events) == {"training": 40}
