"""Training data: every malformed file is refused with ProblemsFound naming the file (and line); good data formats
exactly as the seed did. Pure: no torch, no model.

The corpus under tests/corpus/bad_data/ holds one malformed file per case; expectations.json says, per file name,
the recipe's data settings (format, columns, roles, val_split), the line of the first problem (or null) and text
that must appear in the formatted problems.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

from tuner_tui.domain.dataset_rows import (
    MAX_REPORTED,
    Row,
    RowError,
    alpaca_prompt,
    format_row,
    prepare_local,
    prepare_rows,
    read_rows,
    split_index,
)
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.recipe_loader import load_recipe_text
from tuner_tui.domain.training_text import renderer
from tuner_tui.runtime.preflight import FEW_ROWS, preflight

CORPUS = Path(__file__).resolve().parent / "corpus" / "bad_data"
EXPECTATIONS: dict[str, dict] = json.loads((CORPUS / "expectations.json").read_text(encoding="utf-8"))
SEED = 42


def _spec(path: str, exp: dict | None = None, **kw) -> DataSpec:
    exp = exp or {}
    settings = {k: exp[k] for k in ("format", "columns", "roles", "val_split") if k in exp}
    return DataSpec(path=path, **{**settings, **kw})


def _refused(spec: DataSpec, base: Path) -> list:
    """prepare_local must raise ProblemsFound (never anything else); the problems, each starting with the file."""
    try:
        prepare_local(spec, base, SEED)
    except ProblemsFound as found:
        problems = found.problems
    else:
        pytest.fail(f"{spec.path} was accepted")
    assert problems, "ProblemsFound without problems"
    path = str(base / spec.path)
    for p in problems:
        assert p.format().startswith(path), p.format()
        assert p.file == path
    return problems


def _write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _alpaca(n: int) -> list[dict]:
    return [{"instruction": f"say {i}", "input": "", "output": str(i)} for i in range(n)]


# ------------------------------------------------------------------------------------------------ the corpus

def test_corpus_is_complete() -> None:
    on_disk = {p.name for p in CORPUS.iterdir()} - {"expectations.json"}
    assert on_disk == set(EXPECTATIONS), "every corpus file needs an expectation and vice versa"
    assert len(on_disk) >= 16
    for name, exp in EXPECTATIONS.items():
        assert exp["text"], name
        assert exp["format"] in ("alpaca", "sharegpt", "messages", "text"), name


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_bad_file_is_refused(name: str) -> None:
    exp = EXPECTATIONS[name]
    problems = _refused(_spec(name, exp), CORPUS)
    text = "\n".join(p.format() for p in problems)
    for wanted in exp["text"]:
        assert wanted in text, f"{wanted!r} not in:\n{text}"
    assert problems[0].line == exp["line"], text
    if exp["line"] is not None:
        assert problems[0].format().startswith(f"{CORPUS / name}:{exp['line']}:"), problems[0].format()
    if "problems" in exp:
        assert len(problems) == exp["problems"], text
    assert all(p.severity == "error" for p in problems)


@pytest.mark.parametrize("name", sorted(EXPECTATIONS))
def test_bad_file_is_refused_by_preflight(name: str, tmp_path: Path) -> None:
    """The same refusal through a recipe: problems name the data file and line, never the recipe."""
    exp = EXPECTATIONS[name]
    shutil.copy(CORPUS / name, tmp_path / name)
    data = {"path": name, **{k: exp[k] for k in ("format", "columns", "roles", "val_split") if k in exp}}
    text = json.dumps({"name": "t", "model": {"source": "tiny-random-llama"}, "data": data})
    loaded = load_recipe_text(text, filename=str(tmp_path / "r.yaml"), path=tmp_path / "r.yaml")
    with pytest.raises(ProblemsFound) as found:
        preflight(loaded)
    first = found.value.problems[0]
    assert first.file == str(tmp_path / name)
    assert first.line == exp["line"]
    formatted = str(found.value)
    for wanted in exp["text"]:
        assert wanted.replace(str(CORPUS), str(tmp_path)) in formatted


# ------------------------------------------------------------------------------------------------ generated bad files

def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "blob.jsonl").write_bytes(b'{"instruction": "a", "output": "b"}\n\x00\x01\x02\xff\xfe\x00')
    (p,) = _refused(_spec("blob.jsonl"), tmp_path)
    assert "binary file" in p.format()


def test_binary_csv(tmp_path: Path) -> None:
    (tmp_path / "blob.csv").write_bytes(bytes(range(256)) * 4)
    (p,) = _refused(_spec("blob.csv"), tmp_path)
    assert "binary file" in p.message


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    raw = b'{"instruction": "a", "output": "b"}\n{"instruction": "caf\xe9", "output": "c"}\n'
    (tmp_path / "latin1.jsonl").write_bytes(raw)
    (p,) = _refused(_spec("latin1.jsonl"), tmp_path)
    assert "not valid UTF-8 (byte 0xe9)" in p.message
    assert p.line == 2
    assert p.format().startswith(f"{tmp_path / 'latin1.jsonl'}:2:")
    assert "UTF-8" in (p.hint or "")


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.jsonl").write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in _alpaca(3)).encode())
    assert prepare_local(_spec("bom.jsonl"), tmp_path, SEED).rows == 3


def test_missing_file(tmp_path: Path) -> None:
    (p,) = _refused(_spec("nowhere/train.jsonl"), tmp_path)
    assert "no such data file" in p.message
    assert p.key == "data.path"
    assert "relative to the recipe" in (p.hint or "")


def test_missing_absolute_path(tmp_path: Path) -> None:
    spec = _spec(str(tmp_path / "gone.csv"))
    with pytest.raises(ProblemsFound) as found:
        prepare_local(spec, Path("/nonexistent-base"), SEED)
    assert found.value.problems[0].format().startswith(str(tmp_path / "gone.csv"))


def test_folder_is_not_a_data_file(tmp_path: Path) -> None:
    (tmp_path / "data.jsonl").mkdir()
    (p,) = _refused(_spec("data.jsonl"), tmp_path)
    assert p.key == "data.path"


def test_same_fault_in_many_rows_is_one_problem(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "bad.jsonl", [*_alpaca(2), *({"instruction": f"q{i}"} for i in range(50))])
    (p,) = _refused(_spec("bad.jsonl"), tmp_path)
    assert p.message == "50 of 52 rows have no field 'output' (lines 3, 4, 5, ...; line 3 has: instruction)"
    assert (p.line, p.key) == (3, "output")
    assert p.hint == "map your column with data.columns.output"


def test_distinct_problems_are_capped(tmp_path: Path) -> None:
    """The cap counts distinct problems: 30 unknown roles are 30 problems (each needs its own data.roles entry),
    each naming both of its rows."""
    turns = [[{"from": "human", "value": "x"}, {"from": f"role{i}", "value": "y"}] for i in range(30)]
    _write_jsonl(tmp_path / "d.jsonl", [{"conversations": t} for t in turns * 2])
    problems = _refused(_spec("d.jsonl", format="sharegpt"), tmp_path)
    assert len(problems) == MAX_REPORTED + 1 == 21
    assert [p.line for p in problems[:MAX_REPORTED]] == list(range(1, 21))
    assert problems[0].message == "unknown role 'role0', in 2 of 60 rows (lines 1, 31)"
    assert problems[-1].message == "... and 10 more, different problems"


def test_json_rows_not_objects_are_one_problem_per_type(tmp_path: Path) -> None:
    (tmp_path / "ints.json").write_text(json.dumps([*range(25), "x", {"instruction": "a", "output": "b"}]))
    problems = _refused(_spec("ints.json"), tmp_path)
    assert [p.message for p in problems] == ["25 of 27 rows are a int, not an object (rows 1, 2, 3, ...)",
                                             "row 26 is a str, not an object"]


def test_csv_bad_row_raises_problems_not_csv_error(tmp_path: Path) -> None:
    # A field over csv.field_size_limit() makes the csv module raise csv.Error.
    (tmp_path / "huge.csv").write_text("instruction,output\n" + "a," + "x" * 200_000 + "\n")
    (p,) = _refused(_spec("huge.csv"), tmp_path)
    assert "not valid CSV" in p.message


# ------------------------------------------------------------------------------------------------ happy paths

ALPACA = renderer(DataSpec(path="x.jsonl"), None, "", "<eos>", False, "x")


def _render(row: dict, spec: DataSpec | None = None) -> str:
    spec = spec or DataSpec(path="x.jsonl")
    return renderer(spec, None, "", "<eos>", False, "x").render(format_row(row, spec)).text


def _turns(example: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in example["messages"]]


def test_alpaca_template_with_input_is_exact() -> None:
    """The seed's layout, byte for byte, through the alpaca chat template training renders with."""
    row = {"instruction": "Translate", "input": "bonjour", "output": "hello"}
    assert _render(row) == "### Instruction:\nTranslate\n\n### Input:\nbonjour\n\n### Response:\nhello<eos>"
    assert _render(row) == alpaca_prompt("Translate", "bonjour") + "hello<eos>"


def test_alpaca_template_without_input_is_exact() -> None:
    want = "### Instruction:\nName a colour\n\n### Response:\nblue<eos>"
    assert _render({"instruction": "Name a colour", "output": "blue"}) == want
    assert _render({"instruction": "Name a colour", "input": "", "output": "blue"}) == want
    assert _render({"instruction": "Name a colour", "input": None, "output": "blue"}) == want
    assert alpaca_prompt("Name a colour") + "blue<eos>" == want


def test_alpaca_template_trains_the_answer_and_the_end_of_text_only() -> None:
    rendered = ALPACA.render(format_row({"instruction": "Q", "output": "A"}, DataSpec(path="x.jsonl")))
    (start, end), = rendered.trained
    assert rendered.text[start:end] == "A<eos>"


def test_alpaca_system_and_history_become_turns() -> None:
    """LLaMA-Factory's alpaca columns: system and history were dropped without a word before."""
    row = {"instruction": "And 3+3?", "input": "", "output": "6", "system": "You do sums.",
           "history": [["2+2?", "4"]]}
    ex = format_row(row, DataSpec(path="x.jsonl"))
    assert _turns(ex) == [("system", "You do sums."), ("user", "2+2?"), ("assistant", "4"), ("user", "And 3+3?"),
                          ("assistant", "6")]
    assert _render(row) == ("You do sums.\n\n### Instruction:\n2+2?\n\n### Response:\n4<eos>\n\n"
                            "### Instruction:\nAnd 3+3?\n\n### Response:\n6<eos>")
    rendered = ALPACA.render(ex)
    assert [rendered.text[a:b] for a, b in rendered.trained] == ["4<eos>", "6<eos>"]      # every answer
    last = renderer(DataSpec(path="x.jsonl", train_on="last"), None, "", "<eos>", False, "x").render(ex)
    assert [last.text[a:b] for a, b in last.trained] == ["6<eos>"]


def test_alpaca_history_must_be_pairs() -> None:
    with pytest.raises(RowError, match="pairs"):
        format_row({"instruction": "q", "output": "a", "history": ["q0"]}, DataSpec(path="x.jsonl"))


def test_alpaca_input_under_a_chat_template_is_a_paragraph() -> None:
    ex = format_row({"instruction": "Translate", "input": "bonjour", "output": "hello"},
                    DataSpec(path="x.jsonl", template="chat"))
    assert _turns(ex) == [("user", "Translate\n\nbonjour"), ("assistant", "hello")]


def test_alpaca_file_end_to_end(tmp_path: Path) -> None:
    rows = [{"instruction": "i1", "input": "x", "output": "o1"}, {"instruction": "i2", "output": "o2"},
            {"instruction": "i3", "input": "", "output": "o3"}]
    _write_jsonl(tmp_path / "a.jsonl", rows)
    data = prepare_local(_spec("a.jsonl"), tmp_path, SEED)
    assert data.rows == 3
    assert data.source == str(tmp_path / "a.jsonl")
    assert _turns(data.examples[0]) == [("user", "i1\n\n### Input:\nx"), ("assistant", "o1")]
    assert _turns(data.examples[1]) == [("user", "i2"), ("assistant", "o2")]
    assert data.origins == [(1, 1), (2, 2), (3, 3)]
    assert data.warnings == []


def test_sharegpt_roles_are_mapped() -> None:
    row = {"conversations": [{"from": "system", "value": "be kind"}, {"from": "human", "value": "hi"},
                             {"from": "gpt", "value": "hello"}, {"from": "human", "value": "bye"},
                             {"from": "gpt", "value": "ciao"}]}
    ex = format_row(row, DataSpec(path="x.jsonl", format="sharegpt"))
    assert _turns(ex) == [("system", "be kind"), ("user", "hi"), ("assistant", "hello"), ("user", "bye"),
                          ("assistant", "ciao")]


def test_sharegpt_system_column_becomes_the_system_turn() -> None:
    row = {"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}],
           "system": "be kind"}
    assert _turns(format_row(row, DataSpec(path="x.jsonl", format="sharegpt")))[0] == ("system", "be kind")


def test_sharegpt_function_call_and_observation_are_tool_turns() -> None:
    """glaive_toolcall's shape: function_call holds the call as JSON, observation the result, tools the schemas."""
    row = {"conversations": [{"from": "human", "value": "weather?"},
                             {"from": "function_call", "value": '{"name": "weather", "arguments": "{\\"city\\": '
                              '\\"Oslo\\"}"}'},
                             {"from": "observation", "value": '{"sky": "sunny"}'}, {"from": "gpt", "value": "sunny"}],
           "tools": '[{"name": "weather", "parameters": {"type": "object"}}]'}
    ex = format_row(row, DataSpec(path="x.jsonl", format="sharegpt"))
    assert ex["messages"][1] == {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}}]}
    assert ex["messages"][2] == {"role": "tool", "content": '{"sky": "sunny"}'}
    assert ex["tools"] == [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}]


def test_sharegpt_function_call_that_is_not_json_names_the_turn() -> None:
    row = {"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "weather()"},
                             {"from": "gpt", "value": "a"}]}
    with pytest.raises(RowError, match="JSON") as err:
        format_row(row, DataSpec(path="x.jsonl", format="sharegpt"))
    assert err.value.key == "conversations[1]"


def test_sharegpt_data_roles_maps_other_names(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "sharegpt_unknown_role.jsonl", tmp_path / "fc.jsonl")
    spec = _spec("fc.jsonl", format="sharegpt", roles={"bot": "assistant"})
    data = prepare_local(spec, tmp_path, SEED)
    assert data.rows == 2
    assert _turns(data.examples[1]) == [("user", "weather?"), ("assistant", "sunny")]


def test_sharegpt_columns_rename_keys() -> None:
    row = {"chat": [{"speaker": "human", "text": "a"}, {"speaker": "gpt", "text": "b"}]}
    spec = DataSpec(path="x.jsonl", format="sharegpt", columns={"conversations": "chat", "role": "speaker",
                                                                   "content": "text"})
    assert _turns(format_row(row, spec)) == [("user", "a"), ("assistant", "b")]


def test_messages_trailing_turns_are_cut_unless_training_on_all() -> None:
    msgs = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
            {"role": "assistant", "content": "a"}, {"role": "tool", "content": "t"},
            {"role": "assistant", "content": "a2"}, {"role": "user", "content": "thanks"}]
    assert format_row({"messages": msgs}, DataSpec(path="x", format="messages", completion_only=False)) == {
        "messages": msgs}
    assert format_row({"messages": msgs}, DataSpec(path="x", format="messages", train_on="all")) == {
        "messages": msgs}
    assert format_row({"messages": msgs}, DataSpec(path="x", format="messages")) == {
        "messages": msgs[:5], "trailing": 1}


def test_messages_tool_calls_and_tools_column() -> None:
    msgs = [{"role": "user", "content": "u"},
            {"role": "assistant", "content": None, "tool_calls": [
                {"type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}]},
            {"role": "tool", "content": "2"}, {"role": "assistant", "content": "two"}]
    ex = format_row({"messages": msgs, "tools": [{"type": "function", "function": {"name": "f"}}]},
                    DataSpec(path="x", format="messages"))
    assert ex["messages"][1]["tool_calls"] == [{"type": "function", "function": {"name": "f",
                                                                                 "arguments": {"x": 1}}}]
    assert ex["tools"] == [{"type": "function", "function": {"name": "f"}}]


def test_train_on_and_completion_only_cannot_contradict() -> None:
    with pytest.raises(ValueError, match="contradicts"):
        DataSpec(path="x", completion_only=False, train_on="assistant")
    assert DataSpec(path="x", completion_only=False).trained == "all"
    assert DataSpec(path="x", format="text").trained == "all"
    assert DataSpec(path="x", format="sharegpt").rendering == "chat"
    assert DataSpec(path="x").rendering == "alpaca"


def test_messages_drop_extra_turn_keys() -> None:
    msgs = [{"role": "user", "content": "u", "name": "bob"}, {"role": "assistant", "content": "a", "weight": 1}]
    ex = format_row({"messages": msgs}, DataSpec(path="x", format="messages", completion_only=False))
    assert ex == {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}


def test_text_format() -> None:
    assert format_row({"text": "hello world", "meta": 1}, DataSpec(path="x", format="text")) == {
        "text": "hello world"}
    assert format_row({"body": "b"}, DataSpec(path="x", format="text", columns={"text": "body"})) == {"text": "b"}


def test_csv_loads(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text('instruction,input,output\nsay 1,,1\n"multi\nline",ctx,"a, b"\n')
    data = prepare_local(_spec("d.csv"), tmp_path, SEED)
    assert data.rows == 2
    assert _turns(data.examples[0]) == [("user", "say 1"), ("assistant", "1")]
    assert _turns(data.examples[1]) == [("user", "multi\nline\n\n### Input:\nctx"), ("assistant", "a, b")]
    assert data.origins == [(1, 2), (2, 4)]


def test_parquet_loads(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    table = pa.table({"question": ["q1", "q2", "q3"], "answer": ["a1", "a2", "a3"]})
    pq.write_table(table, tmp_path / "d.parquet")
    data = prepare_local(_spec("d.parquet", columns={"instruction": "question", "output": "answer"}), tmp_path, SEED)
    assert data.rows == 3
    assert _turns(data.examples[2]) == [("user", "q3"), ("assistant", "a3")]


def test_parquet_wrong_type_names_the_row(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.table({"instruction": ["a", "b"], "output": [1, 2]}), tmp_path / "d.parquet")
    (p,) = _refused(_spec("d.parquet"), tmp_path)       # the same fault in both rows: one problem
    assert p.message == "field 'output' is a number, expected text, in 2 of 2 rows (rows 1, 2)"
    assert p.line is None


def test_json_list_loads_with_the_line_of_each_row(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps(_alpaca(4), indent=2))
    data = prepare_local(_spec("d.json"), tmp_path, SEED)
    assert data.rows == 4
    assert [line for _, line in data.origins] == [2, 7, 12, 17]
    assert data.where(1) == f"{tmp_path / 'd.json'}:7"


def test_json_object_holding_one_list_loads(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps({"version": 1, "data": _alpaca(3)}))
    assert prepare_local(_spec("d.json"), tmp_path, SEED).rows == 3


def test_columns_mapping(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "qa.jsonl", [{"question": f"q{i}", "answer": f"a{i}"} for i in range(3)])
    data = prepare_local(_spec("qa.jsonl", columns={"instruction": "question", "output": "answer"}), tmp_path, SEED)
    assert [_turns(e) for e in data.examples] == [[("user", f"q{i}"), ("assistant", f"a{i}")] for i in range(3)]


def test_max_rows_caps(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", _alpaca(50))
    data = prepare_local(_spec("d.jsonl", max_rows=7), tmp_path, SEED)
    assert data.rows == 7
    assert [e["messages"][-1]["content"] for e in data.examples] == [str(i) for i in range(7)]
    assert sorted(data.train_index + data.eval_index) == list(range(7))


def test_max_rows_ignores_bad_rows_beyond_the_cap(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", [*_alpaca(3), {"instruction": "no output"}])
    assert prepare_local(_spec("d.jsonl", max_rows=3), tmp_path, SEED).rows == 3


def test_some_empty_answers_warn(tmp_path: Path) -> None:
    rows = _alpaca(4)
    rows[1]["output"] = "  "
    _write_jsonl(tmp_path / "d.jsonl", rows)
    data = prepare_local(_spec("d.jsonl"), tmp_path, SEED)
    (w,) = data.warnings
    assert w.severity == "warning"
    assert "1 of 4 rows have an empty answer" in w.format()


def test_blank_lines_in_jsonl_are_skipped_but_lines_counted(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('\n{"instruction": "a", "output": "b"}\n\n{"instruction": "c"}\n')
    (p,) = _refused(_spec("d.jsonl"), tmp_path)
    assert p.line == 4
    assert "row 2 (line 4)" in p.message


def test_read_rows_numbers_rows_and_lines(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"a": 1}\n\n{"a": 2}\n')
    rows = list(read_rows(tmp_path / "d.jsonl"))
    assert [(r.number, r.line, r.values) for r in rows] == [(1, 1, {"a": 1}), (2, 3, {"a": 2})]


def test_prepare_rows_uses_given_source() -> None:
    rows = iter([Row({"text": "x"}, 1, 1), Row({"nope": 1}, 2, 2)])
    with pytest.raises(ProblemsFound) as found:
        prepare_rows(rows, DataSpec(path="hub/ds", format="text"), "hub/ds", SEED)
    assert found.value.problems[0].format().startswith("hub/ds:2: error: text: row 2 (line 2): missing field")


# ------------------------------------------------------------------------------------------------ split

@pytest.mark.parametrize("rows", [2, 3, 10, 11, 97, 1000])
@pytest.mark.parametrize("val_split", [0.0, 0.01, 0.1, 0.25, 0.49])
def test_split_index(rows: int, val_split: float) -> None:
    train, held = split_index(rows, val_split, SEED)
    assert (train, held) == split_index(rows, val_split, SEED)          # deterministic
    assert not set(train) & set(held)                                   # disjoint
    assert sorted(train + held) == list(range(rows))                    # covers every row
    assert len(held) == (math.ceil(rows * val_split) if val_split else 0)
    assert train == sorted(train) and held == sorted(held)
    assert train, "something must be left to train on"


def test_split_index_depends_on_seed() -> None:
    splits = {tuple(split_index(100, 0.1, seed)[1]) for seed in range(5)}
    assert len(splits) > 1


def test_prepared_split_matches_split_index(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", _alpaca(20))
    data = prepare_local(_spec("d.jsonl", val_split=0.2), tmp_path, 7)
    assert (data.train_index, data.eval_index) == split_index(20, 0.2, 7)
    assert len(data.eval_index) == 4


# ------------------------------------------------------------------------------------------------ pre-flight

def _recipe(tmp_path: Path, data_path: str, extra: str = "") -> str:
    return (f"name: t\nmodel:\n  source: tiny-random-llama\ndata:\n  path: {data_path}\n{extra}")


def _load(tmp_path: Path, text: str):
    return load_recipe_text(text, filename=str(tmp_path / "r.yaml"), path=tmp_path / "r.yaml")


def test_preflight_refuses_bad_data_naming_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    rows = _alpaca(5)
    del rows[3]["output"]
    _write_jsonl(tmp_path / "data" / "train.jsonl", rows)
    with pytest.raises(ProblemsFound) as found:
        preflight(_load(tmp_path, _recipe(tmp_path, "data/train.jsonl")))
    (p,) = found.value.problems
    assert p.format().startswith(f"{tmp_path / 'data' / 'train.jsonl'}:4: error: output: row 4 (line 4): "
                                 "missing field 'output'")


def test_preflight_refuses_unparseable_line(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "jsonl_unparseable_line.jsonl", tmp_path / "d.jsonl")
    with pytest.raises(ProblemsFound) as found:
        preflight(_load(tmp_path, _recipe(tmp_path, "d.jsonl")))
    assert str(found.value).startswith(f"{tmp_path / 'd.jsonl'}:3:")


def test_preflight_reports_model_and_data_problems_together(tmp_path: Path) -> None:
    text = "name: t\nmodel:\n  source: ./no-such-model\ndata:\n  path: missing.jsonl\n"
    with pytest.raises(ProblemsFound) as found:
        preflight(_load(tmp_path, text))
    keys = [p.key for p in found.value.problems]
    assert keys == ["model.source", "data.path"]


def test_preflight_good_small_file_warns(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", _alpaca(12))
    result = preflight(_load(tmp_path, _recipe(tmp_path, "d.jsonl")))
    assert result.data is not None and result.data.rows == 12
    assert len(result.data.eval_index) == 2                              # ceil(12 * 0.1)
    warnings = [w.format() for w in result.warnings]
    assert any(f"only 12 rows: fine-tuning on fewer than {FEW_ROWS}" in w for w in warnings), warnings
    assert all(w.severity == "warning" for w in result.warnings)


def test_preflight_no_val_split_warns(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", _alpaca(FEW_ROWS))
    result = preflight(_load(tmp_path, _recipe(tmp_path, "d.jsonl", "  val_split: 0\n")))
    messages = [w.message for w in result.warnings]
    assert not any("only" in m for m in messages), messages
    assert any("no held-out rows" in m for m in messages), messages


def test_preflight_skips_hub_dataset(tmp_path: Path) -> None:
    result = preflight(_load(tmp_path, _recipe(tmp_path, "tatsu-lab/alpaca")))
    assert result.data is None


# ------------------------------------------------------------------------------------------------ known bugs
# Each of these was a defect found in tuner_tui/domain/dataset_rows.py (fixed); kept as regressions.

def test_unhashable_role_is_a_problem(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", [
        {"conversations": [{"from": ["human"], "value": "x"}, {"from": "gpt", "value": "y"}]},
        {"conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "y"}]}])
    (p,) = _refused(_spec("d.jsonl", format="sharegpt"), tmp_path)
    assert p.line == 1


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_deeply_nested_json_is_a_problem(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"d{suffix}").write_text("[" * 100_000 + "\n")
    _refused(_spec(f"d{suffix}"), tmp_path)


def test_huge_integer_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"instruction": "a", "output": ' + "1" * 5000 + "}\n")
    (p,) = _refused(_spec("d.jsonl"), tmp_path)
    assert p.line == 1


def test_max_rows_still_refuses_unparseable_line(tmp_path: Path) -> None:
    good = json.dumps({"instruction": "a", "output": "b"}) + "\n"
    (tmp_path / "d.jsonl").write_text("not json\n" + good * 4)
    (p,) = _refused(_spec("d.jsonl", max_rows=2), tmp_path)
    assert p.line == 1


def test_parse_and_row_problems_reported_together(tmp_path: Path) -> None:
    good = json.dumps({"instruction": "a", "output": "b"}) + "\n"
    (tmp_path / "d.jsonl").write_text("not json\n" + good + '{"instruction": "a"}\n' + good)
    problems = _refused(_spec("d.jsonl"), tmp_path)
    assert [p.line for p in problems] == [1, 3]


def test_column_mapping_hint_names_the_format_field() -> None:
    problems = _refused(_spec("alpaca_column_mapping_missing.jsonl", EXPECTATIONS["alpaca_column_mapping_missing.jsonl"]),
                        CORPUS)
    assert "data.columns.output" in problems[0].format()


def test_csv_short_row_says_fewer_fields(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("instruction,input,output\na,b,c\nd\ne,f,g\n")
    (p,) = _refused(_spec("d.csv"), tmp_path)
    assert p.line == 3
    assert "fewer fields than the header" in p.message


def test_missing_role_is_explained(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", [{"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]}] * 2)
    (p, *_) = _refused(_spec("d.jsonl", format="messages"), tmp_path)
    assert "None" not in p.format()


def test_sharegpt_no_assistant_key_is_conversations(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", [{"conversations": [{"from": "human", "value": "x"}]}] * 2)
    (p, *_) = _refused(_spec("d.jsonl", format="sharegpt"), tmp_path)
    assert p.key == "conversations"


# ------------------------------------------------------------------------------------------------ found by a trial

def test_sharegpt_accepts_user_and_assistant_and_guesses_unknown_roles_right() -> None:
    row = {"conversations": [{"from": "user", "value": "q"}, {"from": "assistant", "value": "a"}]}
    assert _turns(format_row(row, DataSpec(path="x", format="sharegpt"))) == [("user", "q"), ("assistant", "a")]
    bot = {"conversations": [{"from": "human", "value": "q"}, {"from": "bot", "value": "a"}]}
    with pytest.raises(RowError) as err:
        format_row(bot, DataSpec(path="x", format="sharegpt"))
    assert "data.roles: {bot: assistant}" in (err.value.hint or "")
    odd = {"conversations": [{"from": "speaker1", "value": "q"}, {"from": "gpt", "value": "a"}]}
    with pytest.raises(RowError) as err:
        format_row(odd, DataSpec(path="x", format="sharegpt"))
    assert "{speaker1: user} for a person's turns" in (err.value.hint or "")     # never a blind "assistant"


def test_a_system_column_and_a_different_system_turn_are_refused() -> None:
    row = {"system": "A.", "conversations": [{"from": "system", "value": "B."}, {"from": "human", "value": "q"},
                                             {"from": "gpt", "value": "a"}]}
    with pytest.raises(RowError, match="system column and a different system turn"):
        format_row(row, DataSpec(path="x", format="sharegpt"))


def test_a_misspelled_optional_column_is_not_dropped_without_a_word(tmp_path: Path) -> None:
    _write_jsonl(tmp_path / "d.jsonl", [{"instruction": f"q{i}", "inputs": "ctx", "output": "a",
                                         "system_prompt": "Be terse.", "id": i} for i in range(4)])
    warnings = [p.format() for p in prepare_local(_spec("d.jsonl"), tmp_path, SEED).warnings]
    assert any("column 'inputs' is never read" in w and "data.columns.input: inputs" in w for w in warnings), warnings
    assert any("column 'system_prompt' is never read" in w and "did you mean 'system'" in w for w in warnings)
    assert not any("'id'" in w for w in warnings)
