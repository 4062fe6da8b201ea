"""The run series cache: re-opening a run parses only the bytes appended since, and a cache that no longer
describes its log (rewritten, replaced, shrunk, damaged) is rebuilt, silently, to the same points the plain
`series_from_events` gives. Real files, real logs."""

from __future__ import annotations

import math
import os
import random
from array import array
from pathlib import Path

import pytest

from tuner_tui.domain.events import encode, make_event
from tuner_tui.domain.series import (
    SERIES_NAMES,
    SeriesColumns,
    downsample,
    downsample_columns,
    series_from_events,
)
from tuner_tui.runtime import series_cache
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.series_cache import CACHE_FILE, RunSeries

REPO = Path(__file__).resolve().parents[1]


def log_lines(first: int, last: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    lines = []
    for step in range(first, last + 1):
        lines.append(encode(make_event("log", step=step, loss=round(rng.uniform(0.5, 3.0), 4), learning_rate=2e-4,
                                       grad_norm=round(rng.uniform(0.1, 2.0), 3))))
        if step % 10 == 0:
            lines.append(encode(make_event("memory", step=step, peak=rng.randint(1, 9) * 2**30)))
        if step % 25 == 0:
            lines.append(encode(make_event("log", step=step, eval_loss=round(rng.uniform(0.5, 2.0), 4))))
    return lines


def write_log(run_dir: Path, lines: list[str], mode: str = "w") -> None:
    with open(run_dir / "events.jsonl", mode, encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))


def reference(run_dir: Path) -> dict:
    return series_from_events(read_events(run_dir / "events.jsonl"))


def assert_same_as_reference(series: RunSeries, run_dir: Path) -> None:
    expected = reference(run_dir)
    for name in SERIES_NAMES:
        assert series.points(name) == expected[name], name
        assert series.downsampled(name, 40) == downsample(expected[name], 40), name


@pytest.fixture
def run_dir(tmp_path) -> Path:
    path = tmp_path / "run"
    path.mkdir()
    write_log(path, [encode(make_event("started", total_steps=500))] + log_lines(1, 300))
    return path


def test_reopening_parses_only_the_appended_bytes(run_dir):
    size = (run_dir / "events.jsonl").stat().st_size
    first = RunSeries.open(run_dir)
    assert first.bytes_parsed == size and (run_dir / CACHE_FILE).exists()
    again = RunSeries.open(run_dir)
    assert again.bytes_parsed == 0
    assert_same_as_reference(again, run_dir)
    write_log(run_dir, log_lines(301, 320, seed=1), mode="a")
    grown = RunSeries.open(run_dir)
    assert grown.bytes_parsed == (run_dir / "events.jsonl").stat().st_size - size
    assert_same_as_reference(grown, run_dir)


def test_a_torn_last_line_is_left_for_the_next_open(run_dir):
    whole = (run_dir / "events.jsonl").stat().st_size
    tail = log_lines(301, 302, seed=2)
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write(tail[0] + "\n" + tail[1][:15])          # the worker is mid-line
    torn = RunSeries.open(run_dir)
    assert torn.offset == whole + len(tail[0]) + 1
    assert_same_as_reference(torn, run_dir)
    with open(run_dir / "events.jsonl", "a", encoding="utf-8") as fh:
        fh.write(tail[1][15:] + "\n")
    completed = RunSeries.open(run_dir)
    assert completed.points("loss")[-1][0] == 302
    assert_same_as_reference(completed, run_dir)


def test_resumed_events_before_and_after_the_cache_match_series_from_events(run_dir):
    RunSeries.open(run_dir)                                   # cache covers the first attempt
    write_log(run_dir, [encode(make_event("resumed", from_step=250))] + log_lines(251, 400, seed=3), mode="a")
    assert RunSeries.open(run_dir).save()                     # cache now holds a resumed run
    write_log(run_dir, [encode(make_event("resumed", from_step=380))] + log_lines(381, 390, seed=4), mode="a")
    series = RunSeries.open(run_dir)
    assert series.bytes_parsed < 3000                         # only the second resume was parsed
    assert_same_as_reference(series, run_dir)
    steps = [s for s, _ in series.points("loss")]
    assert steps == sorted(steps) and steps[-1] == 390 and steps.count(300) == 1


@pytest.mark.parametrize("change", ["rewritten_in_place", "replaced_same_size", "shrunk", "removed"])
def test_a_cache_of_another_log_is_not_used(run_dir, change):
    RunSeries.open(run_dir)
    log = run_dir / "events.jsonl"
    if change == "rewritten_in_place":                        # same inode, longer, other values
        log.write_text("".join(line + "\n" for line in log_lines(1, 350, seed=9)))
    elif change == "replaced_same_size":                      # a new file, same length, another last value
        text = log.read_text()
        new = run_dir / "new.jsonl"
        new.write_text(text[:-3] + ("7" if text[-3] != "7" else "8") + text[-2:])
        os.replace(new, log)
    elif change == "shrunk":
        log.write_text("".join(line + "\n" for line in log_lines(1, 40)))
    else:
        log.unlink()
    series = RunSeries.open(run_dir)
    if change == "removed":
        assert series.bytes_parsed == 0 and len(series.columns) == 0
    else:
        assert series.bytes_parsed == log.stat().st_size
        assert_same_as_reference(series, run_dir)


@pytest.mark.parametrize("damage", ["flipped_byte", "truncated", "garbage", "empty"])
def test_a_damaged_cache_is_rebuilt_silently(run_dir, damage):
    RunSeries.open(run_dir)
    cache = run_dir / CACHE_FILE
    blob = bytearray(cache.read_bytes())
    if damage == "flipped_byte":
        blob[-5] ^= 0xFF
    elif damage == "truncated":
        blob = blob[: len(blob) // 2]
    elif damage == "garbage":
        blob = bytearray(b"\x00not a cache at all" * 10)
    else:
        blob = bytearray()
    cache.write_bytes(bytes(blob))
    rebuilt = RunSeries.open(run_dir)
    assert rebuilt.bytes_parsed == (run_dir / "events.jsonl").stat().st_size
    assert_same_as_reference(rebuilt, run_dir)
    assert RunSeries.open(run_dir).bytes_parsed == 0          # and the rebuilt cache is good again


def test_a_read_only_run_dir_still_serves_the_series(run_dir, monkeypatch):
    def refuse(path, content):
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr(series_cache, "write_atomic", refuse)
    series = RunSeries.open(run_dir)
    assert not (run_dir / CACHE_FILE).exists() and not series.save()
    assert_same_as_reference(series, run_dir)


def test_a_failed_write_leaves_no_temp_file(run_dir, monkeypatch):
    def no_space(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    assert not RunSeries.open(run_dir).save()
    assert sorted(p.name for p in run_dir.iterdir()) == ["events.jsonl"]


def test_following_a_live_log_extends_the_series_without_a_rebuild(run_dir):
    series = RunSeries.open(run_dir)
    write_log(run_dir, log_lines(301, 310, seed=5), mode="a")
    new = series.read_new()
    assert [e["step"] for e in new if e["type"] == "log"][:2] == [301, 302]
    assert series.bytes_parsed == (run_dir / "events.jsonl").stat().st_size   # the first open + the new bytes
    assert_same_as_reference(series, run_dir)
    (run_dir / "events.jsonl").write_text("".join(line + "\n" for line in log_lines(1, 20, seed=6)))
    series.read_new()                                         # the log shrank: read again from the start
    assert_same_as_reference(series, run_dir)


def test_fed_events_extend_the_series_but_are_never_cached(run_dir):
    series = RunSeries.open(run_dir)
    extra = [make_event("log", step=301, loss=0.25), make_event("resumed", from_step=299),
             make_event("log", step=300, loss=0.5)]
    series.feed(extra)
    expected = series_from_events(read_events(run_dir / "events.jsonl") + extra)
    assert series.points("loss") == expected["loss"]
    assert series.save() is False                 # these points are in no log bytes the cache could name
    assert RunSeries.open(run_dir).points("loss") == reference(run_dir)["loss"]


def test_column_downsampling_keeps_each_bucket_min_and_max():
    rng = random.Random(1)
    columns = SeriesColumns()
    columns.feed(make_event("log", step=step, loss=rng.random()) for step in range(1, 50_001))
    columns.values["loss"][12_345] = 99.0                     # a spike
    columns.values["loss"][40_000] = -99.0                    # a dip
    small = columns.downsampled("loss", 400)
    assert len(small) <= 400 and (12_346, 99.0) in small and (40_001, -99.0) in small
    assert [s for s, _ in small] == sorted(s for s, _ in small)
    values = list(columns.values["loss"])
    size = len(values) / 100
    for b in range(100):
        lo, hi = int(b * size), int((b + 1) * size)
        chunk = values[lo:hi]
        assert (lo + 1 + chunk.index(min(chunk)), min(chunk)) in small
        assert (lo + 1 + chunk.index(max(chunk)), max(chunk)) in small


def test_downsampling_survives_a_nan():
    values = array("d", (float(i % 7) for i in range(10_000)))
    values[0] = math.nan                        # an array hands out a new NaN object each time: index() fails
    small = downsample_columns(array("d", range(10_000)), values, 100)
    assert (6, 6.0) in small and len(small) <= 100


def test_the_worker_never_touches_the_series_cache():
    training = REPO / "tuner_tui" / "training"
    sources = "".join(path.read_text(encoding="utf-8") for path in training.rglob("*.py"))
    assert "series_cache" not in sources and "RunSeries" not in sources
