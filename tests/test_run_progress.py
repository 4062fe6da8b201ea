"""A run's live state folded from its events: what the dashboard header, charts and ETA show."""

from __future__ import annotations

from tuner_tui.domain.run_progress import RunProgress


def ev(event_type: str, t: float, **fields) -> dict:
    return {"v": 1, "t": t, "type": event_type, **fields}


def test_progress_eta_series_and_phase_peaks():
    p = RunProgress()
    p.feed([ev("started", 100.0, total_steps=100), ev("phase", 101.0, phase="training", total_steps=100)])
    for step in range(1, 11):
        p.feed([ev("log", 101.0 + step * 2, step=step, loss=3.0 - step * 0.1, learning_rate=1e-4, tokens_per_s=50.0),
                ev("memory", 101.0 + step * 2, step=step, phase="training", rss=1000 + step)])
    p.feed([ev("phase", 130.0, phase="evaluating"), ev("memory", 131.0, step=10, phase="evaluating", rss=5000),
            ev("log", 132.0, step=10, eval_loss=2.5)])
    assert p.step == 10 and p.total_steps == 100
    assert p.eta_s(now=121.0) == 90 * 2.0          # 10 steps in 20 s since training began, 90 to go
    assert p.last("loss") == 2.0 and p.best_eval() == 2.5
    assert p.phase_peaks == {"training": 1010.0, "evaluating": 5000.0}
    assert p.tokens_per_s == 50.0


def test_resume_drops_the_superseded_points_and_restarts_the_pace():
    p = RunProgress()
    p.feed([ev("started", 0.0, total_steps=20), ev("phase", 0.0, phase="training")])
    p.feed([ev("log", float(s), step=s, loss=1.0) for s in range(1, 9)])
    p.feed([ev("stopped", 9.0), ev("resumed", 50.0, from_step=5), ev("log", 52.0, step=6, loss=0.5)])
    assert [s for s, _ in p.series["loss"]] == [1, 2, 3, 4, 5, 6]
    assert p.series["loss"][-1] == (6.0, 0.5) and p.terminal is None
    assert p.eta_s(now=52.0) == 14 * 2.0


def test_a_warning_marks_the_step_it_belongs_to_and_finished_has_no_eta():
    p = RunProgress()
    p.feed([ev("started", 0.0, total_steps=10), ev("phase", 0.0, phase="training"),
            ev("log", 1.0, step=3, loss=1.0), ev("warning", 2.0, kind="loss_spike", message="spike"),
            ev("log", 2.0, step=4, loss=9.0), ev("log", 3.0, step=5, loss=1.0), ev("finished", 4.0)])
    assert p.warnings[0]["step"] == 4
    assert p.eta_s(now=5.0) is None and p.terminal["type"] == "finished"
