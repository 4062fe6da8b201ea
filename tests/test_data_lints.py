"""Data lints: each crafted data set triggers exactly the warning a user would read, with the exact count and the
exact lines; clean data (and the shipped demo) triggers none. Pure: `tokenizers` only, no torch."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from tests.test_import_hygiene import loaded_modules
from tuner_tui.domain.data_lints import lint_data
from tuner_tui.domain.dataset_rows import PreparedData, prepare_local
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.recipe_loader import load_recipe

REPO = Path(__file__).resolve().parent.parent
SEED = 42


def _jsonl(path: Path, rows: list[dict | None]) -> Path:
    """One JSON object per line; None writes a blank line (which shifts lines against row numbers)."""
    path.write_text("".join(("" if r is None else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def _csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _qa(i: int) -> dict:
    return {"instruction": f"What is {i} plus {i}?", "input": "", "output": f"{i} plus {i} is {2 * i}."}


def _lint(path: Path, **spec) -> list[str]:
    data = DataSpec(path=path.name, val_split=spec.pop("val_split", 0.0), **spec)
    prepared = prepare_local(data, path.parent, SEED)
    return [p.format() for p in lint_data(prepared, data)]


def _only(lints: list[str], needle: str) -> str:
    found = [text for text in lints if needle in text]
    assert len(found) == 1, lints
    return found[0]


def test_clean_data_has_no_lints(tmp_path):
    assert _lint(_jsonl(tmp_path / "clean.jsonl", [_qa(i) for i in range(40)])) == []


def test_shipped_demo_raises_no_false_alarm():
    loaded = load_recipe(REPO / "recipes" / "demo.yaml")
    prepared = prepare_local(loaded.recipe.data, loaded.base_dir, loaded.recipe.train.seed)
    lints = lint_data(prepared, loaded.recipe.data)
    assert not [p for p in lints if "empty" in p.message or "copies" in p.message or "different answers" in p.message]
    assert lints == []          # the demo's longest row is ~300 characters (~76 tokens estimated) < max_length 160


def test_empty_answers_counted_with_their_lines(tmp_path):
    rows: list[dict | None] = [_qa(i) for i in range(10)]
    for i, blank in ((1, ""), (4, "  "), (8, "\n")):
        rows[i] = {**_qa(i), "output": blank}
    rows.insert(3, None)         # a blank line: row 5 is on line 6 from here on
    text = _only(_lint(_jsonl(tmp_path / "d.jsonl", rows)), "empty answer")
    assert text.startswith(f"{tmp_path / 'd.jsonl'}:2: warning: data.columns.output: ")
    assert "3 of 10 rows (30%) have an empty answer (lines 2, 6, 10)" in text
    assert text.endswith("fill them in or drop them")


def test_mostly_empty_answers_blame_the_column_mapping(tmp_path):
    rows = [{"question": f"q{i}?", "reply": "" if i > 1 else "ok", "answer": f"a{i}"} for i in range(10)]
    text = _only(_lint(_csv(tmp_path / "d.csv", rows), columns={"instruction": "question", "output": "reply"}),
                 "empty answer")
    assert "8 of 10 rows (80%) have an empty answer (lines 4, 5, 6, ...)" in text
    assert "data.columns.output probably maps the wrong column (it reads 'reply')" in text


def test_exact_duplicates_counted_with_leak_into_held_out_rows(tmp_path):
    rows = [_qa(i) for i in range(20)] + [_qa(3)] * 10 + [_qa(7)] * 10
    data = DataSpec(path="d.jsonl", val_split=0.25)
    prepared = prepare_local(data, _jsonl(tmp_path / "d.jsonl", rows).parent, SEED)
    held_copies = sum(i >= 20 or i in (3, 7) for i in prepared.eval_index)
    train_keys = {i if i < 20 else (3 if i < 30 else 7) for i in prepared.train_index}
    leaked = sum((i if i < 20 else (3 if i < 30 else 7)) in train_keys for i in prepared.eval_index)
    text = _only([p.format() for p in lint_data(prepared, data)], "exact copies")
    assert ":21: warning: data.path: 20 of 40 rows (50%) are exact copies of an earlier row (lines 21, 22, 23, ...)" \
        in text
    assert held_copies and f"; {leaked} of the 10 held-out rows are also training rows" in text
    assert text.endswith("drop the copies, keeping the first of each")


def test_same_prompt_with_different_answers(tmp_path):
    rows = [_qa(i) for i in range(25)]
    rows += [{**_qa(2), "output": "Four."}, {**_qa(2), "output": "It is 4."}, {**_qa(9), "output": "18"}]
    lints = _lint(_jsonl(tmp_path / "d.jsonl", rows))
    text = _only(lints, "different answers")
    assert "2 prompts appear with different answers (5 of 28 rows, 18%; first at lines 3, 26)" in text
    assert not [t for t in lints if "exact copies" in t]


def test_few_distinct_prompts(tmp_path):
    rows = [{**_qa(i % 3), "output": f"Answer number {i}."} for i in range(30)]
    text = _only(_lint(_jsonl(tmp_path / "d.jsonl", rows)), "distinct prompts in")
    assert "only 3 distinct prompts in 30 rows: the model memorises them" in text


# ------------------------------------------------------------------------------------------------ truncation

def test_truncation_estimated_without_a_tokenizer(tmp_path):
    rows = [{"text": "x" * n} for n in (10, 64, 65, 100, 400)]
    text = _only(_lint(_jsonl(tmp_path / "d.jsonl", rows), format="text", max_length=16), "max_length")
    assert "3 of 5 rows (60%; lines 3, 4, 5) are longer than data.max_length 16 tokens (estimated at ~4 " \
        "characters per token: the model's tokenizer.json is not on this machine); the longest is ~100" in text


# ------------------------------------------------------------------------------------------------ column mapping

def _pairs(n: int) -> list[dict]:
    return [{"question": f"How do I do task {i}?", "answer": f"Do step one, then step {i}.", "label": "A",
             "ctx": ""} for i in range(n)]


def test_swapped_instruction_and_output(tmp_path):
    path = _csv(tmp_path / "d.csv", _pairs(30))
    text = _only(_lint(path, columns={"instruction": "answer", "output": "question"}), "swapped")
    assert "30 of 30 answers (100%; lines 2, 3, 4, ...) are questions while the instructions are not" in text
    assert "output reads 'question', instruction reads 'answer'" in text


def test_output_mapped_to_the_instruction_column(tmp_path):
    path = _csv(tmp_path / "d.csv", _pairs(30))
    text = _only(_lint(path, columns={"instruction": "question", "output": "question"}), "equals the instruction")
    assert "the answer equals the instruction in 30 of 30 rows (100%; lines 2, 3, 4, ...)" in text


def test_output_mapped_to_a_label_column(tmp_path):
    path = _csv(tmp_path / "d.csv", _pairs(30))
    text = _only(_lint(path, columns={"instruction": "question", "output": "label"}), "shorter than")
    assert "30 of 30 answers (100%; lines 2, 3, 4, ...) are shorter than 3 characters: output reads 'label'" in text


def test_input_mapped_to_a_column_empty_everywhere(tmp_path):
    path = _csv(tmp_path / "d.csv", _pairs(30))
    lints = _lint(path, columns={"instruction": "question", "output": "answer", "input": "ctx"})
    assert lints == [f"{path}: warning: data.columns.input: data.columns.input reads 'ctx', which is empty or "
                     "missing in all 30 rows. check the column name, or remove the mapping"]


def test_empty_instructions(tmp_path):
    rows = [{"instruction": "" if i % 4 else f"Task {i}", "input": f"data {i}", "output": f"result {i}"}
            for i in range(20)]
    text = _only(_lint(_jsonl(tmp_path / "d.jsonl", rows)), "instruction ('instruction') is empty")
    assert "is empty in 15 of 20 rows (75%; lines 2, 3, 4, ...)" in text


# ------------------------------------------------------------------------------------------------ conversations

def _talk(*turns: tuple[str, str]) -> dict:
    return {"conversations": [{"from": who, "value": text} for who, text in turns]}


def test_sharegpt_without_assistant_turn_is_refused_before_linting(tmp_path):
    path = _jsonl(tmp_path / "c.jsonl", [_talk(("human", "hi"), ("gpt", "hello")), _talk(("human", "hi?"))])
    with pytest.raises(ProblemsFound, match="has no assistant turn"):
        prepare_local(DataSpec(path=path.name, format="sharegpt"), tmp_path, SEED)


@pytest.mark.parametrize("completion_only, effect", [(True, "those turns are dropped"),
                                                     (False, "the model also learns to write those turns")])
def test_conversation_going_on_after_the_last_answer(tmp_path, completion_only, effect):
    rows = [_talk(("human", f"q{i}"), ("gpt", f"a{i}")) for i in range(3)]
    rows.insert(1, _talk(("human", "q"), ("gpt", "a"), ("human", "and then?")))
    lints = _lint(_jsonl(tmp_path / "c.jsonl", rows), format="sharegpt", completion_only=completion_only)
    assert f"1 of 4 conversations (25%; line 2) go on after the last assistant answer: {effect}" in \
        _only(lints, "go on after")


def test_sharegpt_empty_assistant_answers(tmp_path):
    rows = [_talk(("human", f"q{i}"), ("gpt", "" if i == 2 else f"a{i}")) for i in range(4)]
    text = _only(_lint(_jsonl(tmp_path / "c.jsonl", rows), format="sharegpt"), "empty answer")
    assert "1 of 4 rows (25%) have an empty answer (line 3)" in text and "data.columns.content" in text


# ------------------------------------------------------------------------------------------------ samples, speed

def test_hundred_thousand_rows_lint_well_under_a_second():
    examples = [{"messages": [{"role": "user", "content": f"Question {i} about item {i * 7}?"},
                              {"role": "assistant", "content": f"Answer {i}. " * 20}],
                 "instruction": f"Question {i} about item {i * 7}?", "input": ""} for i in range(100_000)]
    prepared = PreparedData("big.jsonl", examples, list(range(95_000)), list(range(95_000, 100_000)))
    started = time.perf_counter()
    lints = lint_data(prepared, DataSpec(path="big.jsonl", max_length=512))
    took = time.perf_counter() - started
    assert lints == []
    assert took < 1.5, f"{took:.2f} s"        # ~0.2-0.4 s on a quiet 2-core box; slack for shared CI runners


def test_lints_load_no_heavy_module(tmp_path):
    """tokenizers and jinja2 load only when a counter or a template is asked for."""
    mods = loaded_modules("import tuner_tui.domain.data_lints", tmp_path)
    assert not mods & {"torch", "transformers", "textual", "pynvml", "tokenizers", "jinja2"}
