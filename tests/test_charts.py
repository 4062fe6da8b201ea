"""The dashboard's charts: one point still gets axes a person can read."""

from __future__ import annotations

import asyncio

from textual.app import App

from tuner_tui.ui.charts import Chart


def _drawn(lines) -> str:
    class One(App):
        def compose(self):
            yield Chart("eval loss")

        def on_mount(self) -> None:
            self.query_one(Chart).draw(lines)

    async def go() -> str:
        app = One()
        async with app.run_test(size=(60, 14)) as pilot:
            await pilot.pause(0.2)
            return app.query_one(Chart).render().plain
    return asyncio.run(go())


def test_a_single_eval_point_gets_a_whole_step_either_side_not_hundredths():
    text = _drawn([("eval", [(10.0, 1.2345)])])
    x_axis = text.splitlines()[-2]
    assert "9.00" in x_axis and "11.00" in x_axis, x_axis
    assert "9.99" not in x_axis and "10.01" not in x_axis
    assert "1.234" in text                       # the value sits in the middle of the y range


def test_lines_keep_their_own_range_and_steps_are_whole_numbers():
    text = _drawn([("train", [(float(s), 3.0 - s / 150) for s in range(0, 211)])])
    x_axis = text.splitlines()[-2]
    assert "1.6" in text and "3.0" in text                 # the y range is the line's own
    assert ".5" not in x_axis and ".0" not in x_axis, x_axis
    assert "200" in x_axis and "100" in x_axis, x_axis


def test_step_ticks_are_round():
    from tuner_tui.ui.charts import step_ticks

    assert step_ticks(0, 210) == [0, 50, 100, 150, 200]
    assert step_ticks(1, 12) == [2, 4, 6, 8, 10, 12]
    assert step_ticks(0, 3) == [0, 1, 2, 3]
