"""The cockpit's filter box (RunSearch) finds exactly what `tuner ls --search` finds, in the same order."""

from __future__ import annotations

import random

from tuner_tui.domain.run_query import SORT_FIELDS, RunFilter, RunSearch, filter_runs


def records(n: int = 300) -> list[dict]:
    rng = random.Random(1)
    return [{"id": f"{i:08x}", "name": rng.choice(["sft-chat", "code", "Math-QA"]) + f"-{i}",
             "model": rng.choice(["Qwen/Qwen2.5-7B", "meta-llama/Llama-3.1-8B", "smollm2-135m-instruct"]),
             "method": rng.choice(["lora", "qlora"]), "status": rng.choice(["finished", "failed"]),
             "created": rng.random() if i % 17 else None, "tags": ["baseline"] if i % 5 == 0 else [],
             "notes": "lr too high" if i % 7 == 0 else "", "final": {"best_eval_loss": rng.random()}}
            for i in range(n)]


def test_search_matches_filter_runs_for_every_sort_and_text():
    data = records()
    search = RunSearch(data)
    for sort in SORT_FIELDS:
        for text in (None, "qwen", "QWEN chat", "baseline", "lr too", "nothing-matches", "0000001"):
            wanted = RunFilter(text=text, sort=sort)
            assert search.filter(wanted) == filter_runs(data, wanted), (sort, text)


def test_search_with_cli_flags_and_limit():
    data = records()
    search = RunSearch(data)
    wanted = RunFilter(status="failed", method="qlora", text="llama", limit=5)
    assert search.filter(wanted) == filter_runs(data, wanted)
    assert len(search.filter(RunFilter(limit=7))) == 7
