"""Pre-flight's data audit at scale: rows rendered through the template, tokenized and masked per turn, the way
pre-flight, `tuner data` and the worker do it (domain/training_text, domain/data_audit), side by side with the
cost of only tokenizing the same texts (the floor: what any exact token count pays).

    .venv/bin/python bench/data_audit.py [--rows 20000]

Data: alpaca rows (one turn each), 4-turn sharegpt conversations and glaive-style tool rows (schemas in the
system turn), on tiny-random-llama's byte-level BPE tokenizer (built here in a temp home; no torch needed to
read it once built, but building it imports torch). Goal: auditing 20,000 rows before a launch takes under
10 s on 2 cores (pre-flight audits up to 20,000 rows exactly; above that the worker still does).
Last line: {"name", "figures", "goal", "met"}.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tuner_tui.domain.data_audit import audit  # noqa: E402
from tuner_tui.domain.dataset_rows import prepare_local  # noqa: E402
from tuner_tui.domain.recipe import DataSpec  # noqa: E402
from tuner_tui.domain.training_text import render_dataset, training_text  # noqa: E402

TOOLS = json.dumps([{"name": "get_weather", "description": "Current weather in a city.",
                     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])


def rows(kind: str, n: int) -> list[dict]:
    if kind == "alpaca":
        return [{"instruction": f"Question {i}: what is {i} plus {i}?", "input": "", "output": f"{2 * i}, since "
                 f"{i} + {i} = {2 * i}."} for i in range(n)]
    if kind == "sharegpt":
        return [{"conversations": [{"from": "human", "value": f"Hi, question {i}?"},
                                   {"from": "gpt", "value": f"Answer {i}, with a few more words."},
                                   {"from": "human", "value": "And why?"},
                                   {"from": "gpt", "value": f"Because {i} is {i}."}]} for i in range(n)]
    return [{"conversations": [{"from": "human", "value": f"Weather in city {i}?"},
                               {"from": "function_call", "value": json.dumps({"name": "get_weather",
                                                                              "arguments": {"city": f"c{i}"}})},
                               {"from": "observation", "value": json.dumps({"temp_c": i % 30})},
                               {"from": "gpt", "value": f"It is {i % 30} C in city {i}."}],
             "tools": TOOLS, "system": "You help."} for i in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=20_000)
    n = parser.parse_args().rows
    figures: dict = {"rows": n}
    with tempfile.TemporaryDirectory() as tmp:
        from tuner_tui.training.model_sources import build_tiny_random_llama

        model = Path(tmp) / "tiny-random-llama"
        model.mkdir()
        build_tiny_random_llama(model)
        for kind, fmt, extra in (("alpaca", "alpaca", {}), ("sharegpt", "sharegpt", {}),
                                 ("tools", "sharegpt", {"chat_template": "chatml-tools"})):
            path = Path(tmp) / f"{kind}.jsonl"
            path.write_text("".join(json.dumps(r) + "\n" for r in rows(kind, n)), encoding="utf-8")
            spec = DataSpec(path=path.name, format=fmt, max_length=1024, **extra)
            started = time.perf_counter()
            prepared = prepare_local(spec, Path(tmp), 42)
            read = time.perf_counter()
            text = training_text(spec, model, str(path))
            assert text is not None
            rendered = render_dataset(text, prepared)
            done_render = time.perf_counter()
            found = audit(prepared, text, rendered, spec.max_length)
            done = time.perf_counter()
            floor_start = time.perf_counter()
            text.encoder.tokenizer.encode_batch([r.text for r in rendered], add_special_tokens=False)
            floor = time.perf_counter() - floor_start
            figures[kind] = {"read_s": round(read - started, 2), "render_s": round(done_render - read, 2),
                             "tokenize_and_audit_s": round(done - done_render, 2),
                             "total_s": round(done - started, 2), "tokenize_only_s": round(floor, 2),
                             "tokens": sum(r.tokens for r in found.rows)}
            print(f"{kind:9} {n:,} rows: read {figures[kind]['read_s']} s, render {figures[kind]['render_s']} s, "
                  f"tokenize+mask+audit {figures[kind]['tokenize_and_audit_s']} s (tokenizing alone "
                  f"{figures[kind]['tokenize_only_s']} s) = {figures[kind]['total_s']} s", flush=True)
    worst = max(figures[k]["total_s"] for k in ("alpaca", "sharegpt", "tools"))
    print(json.dumps({"name": "data_audit", "figures": figures, "goal": "20,000 rows audited in < 10 s",
                      "met": worst < 10 if n == 20_000 else None}))


if __name__ == "__main__":
    main()
