"""Data whose columns do not match data.format: one problem per fault (not per row), a "did you mean" for a close
spelling, and the data.columns mapping (or data.format) that reads a known layout. Pure and fast: no model.

Each suggested mapping is also applied, to prove that it reads the rows the way the hint says.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuner_tui.domain.column_hints import column_hint, detect_layout
from tuner_tui.domain.dataset_rows import format_row, prepare_local
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.training_text import renderer

SEED = 42


def _refused(path: Path, **spec) -> list[Problem]:
    with pytest.raises(ProblemsFound) as found:
        prepare_local(DataSpec(path=path.name, **spec), path.parent, SEED)
    return found.value.problems


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _as_trained(example: dict) -> str:
    """The text the model reads for an example, through the alpaca template (no end-of-text token here)."""
    return renderer(DataSpec(path="x"), None, "", "", False, "x").render(example).text


def _prompt_reponse(n: int) -> list[dict]:
    return [{"prompt": f"say {i}", "reponse": str(i)} for i in range(n)]


# ------------------------------------------------------------------------------------------------ the file

def test_prompt_reponse_file_is_one_problem_with_the_fix(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "train.jsonl", _prompt_reponse(200))
    (p,) = _refused(path)
    assert p.message == ("200 of 200 rows have no field 'instruction' (lines 1, 2, 3, ...; line 1 has: prompt, "
                         "reponse)")
    assert (p.line, p.key, p.severity) == (1, "instruction", "error")
    assert "did you mean 'reponse'?" in (p.hint or "")
    assert (p.hint or "").endswith("map them with data.columns: {instruction: prompt, output: reponse}")


def test_the_suggested_mapping_trains(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "train.jsonl", _prompt_reponse(200))
    data = prepare_local(DataSpec(path=path.name, columns={"instruction": "prompt", "output": "reponse"}),
                         tmp_path, SEED)
    assert data.rows == 200
    assert _as_trained(data.examples[7]) == "### Instruction:\nsay 7\n\n### Response:\n7"


def test_only_the_misspelled_field(tmp_path: Path) -> None:
    rows = [{"instruction": f"say {i}", "reponse": str(i)} for i in range(5)]
    (p,) = _refused(_write_jsonl(tmp_path / "d.jsonl", rows))
    assert p.message.startswith("5 of 5 rows have no field 'output' (lines 1, 2, 3, ...;")
    assert p.hint == "did you mean 'reponse'? map it with data.columns.output: reponse"


def test_one_bad_row_keeps_its_own_message_and_gets_the_hint(tmp_path: Path) -> None:
    rows = [{"instruction": "a", "output": "b"}, {"instruction": "c", "outptu": "d"}, {"instruction": "e", "output": "f"}]
    (p,) = _refused(_write_jsonl(tmp_path / "d.jsonl", rows))
    assert p.message == "row 2 (line 2): missing field 'output' (row has: instruction, outptu)"
    # One row of three: a data.columns mapping would break the other two, so the fix is in the file.
    assert p.hint == ("the other rows have 'output': give these rows that field in the file (did you mean "
                      "'outptu'? rename it); a data.columns mapping would apply to every row")


# ------------------------------------------------------------------------------------------------ distinct problems

def test_two_distinct_problems_are_two_messages(tmp_path: Path) -> None:
    rows = [{"instruction": f"q{i}", "output": i} if i % 4 == 1 else {"instruction": f"q{i}"} for i in range(40)]
    problems = _refused(_write_jsonl(tmp_path / "d.jsonl", rows))
    assert [p.message for p in problems] == [
        "30 of 40 rows have no field 'output' (lines 1, 3, 4, ...; line 1 has: instruction)",
        "field 'output' is a number, expected text, in 10 of 40 rows (lines 2, 6, 10, ...)",
    ]
    assert [p.line for p in problems] == [1, 2]


def test_bad_json_lines_are_grouped_keeping_the_first_exact(tmp_path: Path) -> None:
    good = json.dumps({"instruction": "a", "output": "b"})
    lines = [good, "{oops", good, "{oops", "{oops", "[1, 2", good]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    problems = _refused(tmp_path / "d.jsonl")
    assert [(p.line, p.column) for p in problems] == [(2, 2), (6, 6)]
    assert problems[0].message == ("not valid JSON: Expecting property name enclosed in double quotes, "
                                   "in 3 of 7 rows (lines 2, 4, 5)")
    assert problems[1].message.startswith("not valid JSON: Expecting ',' delimiter")       # one line: as it was
    assert problems[0].format().startswith(f"{tmp_path / 'd.jsonl'}:2:2: error: not valid JSON")


def test_bad_lines_and_bad_rows_together(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text("{oops\n" + "".join(json.dumps({"prompt": "p"}) + "\n" for _ in range(3)))
    problems = _refused(tmp_path / "d.jsonl")
    assert [(p.line, p.key) for p in problems] == [(1, ""), (2, "instruction")]
    assert problems[1].message.startswith("3 of 4 rows have no field 'instruction' (lines 2, 3, 4; ")


# ------------------------------------------------------------------------------------------------ line numbers

def test_jsonl_lines_count_blank_lines(tmp_path: Path) -> None:
    row = json.dumps({"prompt": "p", "response": "r"})
    (tmp_path / "d.jsonl").write_text(f"\n{row}\n\n\n{row}\n{row}\n\n{row}\n")
    (p,) = _refused(tmp_path / "d.jsonl")
    assert p.line == 2
    assert "4 of 4 rows have no field 'instruction' (lines 2, 5, 6, ...; line 2 has: prompt, response)" in p.message


def test_csv_lines_count_the_header(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("question,answer\n" + "".join(f"q{i},a{i}\n" for i in range(5)))
    (p,) = _refused(tmp_path / "d.csv")
    assert p.format().startswith(f"{tmp_path / 'd.csv'}:2: error: instruction: 5 of 5 rows have no field "
                                 "'instruction' (lines 2, 3, 4, ...; line 2 has: question, answer)")
    assert p.hint == ("these are question/answer columns: map them with data.columns: "
                      "{instruction: question, output: answer}")


def test_parquet_without_lines_names_rows(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    pq.write_table(pa.Table.from_pylist(_prompt_reponse(4)), tmp_path / "d.parquet")
    (p,) = _refused(tmp_path / "d.parquet")
    assert p.line is None
    assert p.message == "4 of 4 rows have no field 'instruction' (rows 1, 2, 3, ...; row 1 has: prompt, reponse)"


def test_json_list_names_lines(tmp_path: Path) -> None:
    (tmp_path / "d.json").write_text(json.dumps(_prompt_reponse(4), indent=1))
    (p,) = _refused(tmp_path / "d.json")
    assert p.line == 2
    assert p.message.startswith("4 of 4 rows have no field 'instruction' (lines 2, 6, 10, ...;")


# ------------------------------------------------------------------------------------------------ layouts

ALPACA_LAYOUTS = [
    ({"prompt": "P", "response": "R"}, {"instruction": "prompt", "output": "response"}),
    ({"question": "P", "answer": "R"}, {"instruction": "question", "output": "answer"}),
    ({"query": "P", "response": "R"}, {"instruction": "query", "output": "response"}),
    ({"input": "P", "target": "R"}, {"instruction": "input", "input": "", "output": "target"}),
    ({"instruction": "P", "completion": "R"}, {"output": "completion"}),
    ({"prompt": "P", "completion": "R"}, {"instruction": "prompt", "output": "completion"}),
    ({"question": "P", "context": "C", "answer": "R"}, {"instruction": "question", "input": "context", "output": "answer"}),
    ({"instruction": "P", "context": "C", "response": "R"}, {"input": "context", "output": "response"}),   # dolly
    ({"Prompt": "P", "Response": "R"}, {"instruction": "Prompt", "output": "Response"}),
]


@pytest.mark.parametrize(("row", "mapping"), ALPACA_LAYOUTS, ids=lambda v: "/".join(v) if isinstance(v, dict) else v)
def test_alpaca_layouts_get_a_mapping_that_reads_them(row: dict, mapping: dict) -> None:
    hint = column_hint(DataSpec(path="d.jsonl"), row)
    assert hint is not None
    shown = ", ".join(f"{f}: {c or chr(34) * 2}" for f, c in mapping.items())
    assert hint.endswith(f"data.columns: {{{shown}}}" if len(mapping) > 1 else f"data.columns.{shown}"), hint
    example = format_row(row, DataSpec(path="d.jsonl", columns=mapping))
    context = "\n\n### Input:\nC" if "C" in row.values() else ""
    assert _as_trained(example) == f"### Instruction:\nP{context}\n\n### Response:\nR"


CHAT = {"sharegpt": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}],
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}


@pytest.mark.parametrize(("row", "read_as", "wanted"), [
    ({"conversations": CHAT["sharegpt"]}, "alpaca", "these rows look like sharegpt data (a 'conversations' list of "
     "from/value turns): set data.format: sharegpt"),
    ({"messages": CHAT["messages"]}, "alpaca", "these rows look like messages data (a 'messages' list of "
     "role/content turns): set data.format: messages"),
    ({"messages": CHAT["messages"]}, "sharegpt", "set data.format: messages"),
    ({"conversations": CHAT["messages"]}, "sharegpt", "set data.format: messages and data.columns.messages: "
     "conversations"),
    ({"messages": CHAT["sharegpt"]}, "messages", "set data.format: sharegpt and data.columns.conversations: messages"),
    ({"text": "some prose"}, "alpaca", "these rows look like text data (a 'text' column of text): set data.format: text"),
    ({"instruction": "a", "output": "b"}, "text", "set data.format: alpaca"),
])
def test_rows_in_another_format_say_which(row: dict, read_as: str, wanted: str) -> None:
    hint = column_hint(DataSpec(path="d.jsonl", format=read_as), row)
    assert hint is not None and hint.endswith(wanted), hint
    layout = detect_layout(row, prefer=read_as)
    assert layout is not None
    assert format_row(row, DataSpec(path="d.jsonl", format=layout.format, columns=layout.columns))


@pytest.mark.parametrize(("row", "fmt", "hint"), [
    ({"instrucion": "a", "output": "b"}, "alpaca", "did you mean 'instrucion'? map it with data.columns.instruction: "
     "instrucion"),
    ({"instruction": "a", "inptu": "c", "outptu": "b"}, "alpaca", "for 'input', did you mean 'inptu'? for 'output', "
     "did you mean 'outptu'? these are instruction/input/output columns: map them with data.columns: "
     "{input: inptu, output: outptu}"),
    ({"txt": "prose"}, "text", "did you mean 'txt'? map it with data.columns.text: txt"),
    ({"content": "prose"}, "text", "'content' looks like the text: map it with data.columns.text: content"),
    ({"conversation": CHAT["sharegpt"]}, "sharegpt", "did you mean 'conversation'? map it with "
     "data.columns.conversations: conversation"),
    ({"message": CHAT["messages"]}, "messages", "did you mean 'message'? map it with data.columns.messages: message"),
    ({"dialog": CHAT["sharegpt"]}, "sharegpt", "'dialog' looks like the conversations: map it with "
     "data.columns.conversations: dialog"),
    ({"conversations": [{"form": "human", "value": "hi"}, {"form": "gpt", "value": "yo"}]}, "sharegpt",
     "did you mean 'form'? map it with data.columns.role: form"),
    ({"conversations": [{"from": "human", "vaule": "hi"}, {"from": "gpt", "vaule": "yo"}]}, "sharegpt",
     "did you mean 'vaule'? map it with data.columns.content: vaule"),
    ({"messages": [{"role": "user", "contnet": "hi"}, {"role": "assistant", "contnet": "yo"}]}, "messages",
     "did you mean 'contnet'? map it with data.columns.content: contnet"),
])
def test_close_spellings_say_did_you_mean(row: dict, fmt: str, hint: str) -> None:
    spec = DataSpec(path="d.jsonl", format=fmt)
    assert column_hint(spec, row) == hint
    layout = detect_layout(row, prefer=fmt)
    assert layout is not None and layout.format == fmt
    assert format_row(row, DataSpec(path="d.jsonl", format=fmt, columns=layout.columns))


def test_turn_key_typo_through_preflight(tmp_path: Path) -> None:
    rows = [{"conversations": [{"from": "human", "vaule": "hi"}, {"from": "gpt", "vaule": "yo"}]}] * 3
    (p,) = _refused(_write_jsonl(tmp_path / "d.jsonl", rows), format="sharegpt")
    assert p.message == "turn 0 needs 'from' and text 'value', in 3 of 3 rows (lines 1, 2, 3)"
    assert p.hint == "did you mean 'vaule'? map it with data.columns.content: vaule"


def test_an_existing_mapping_is_corrected_not_repeated() -> None:
    spec = DataSpec(path="d.jsonl", columns={"instruction": "question", "output": "answer"})
    assert column_hint(spec, {"question": "q", "response": "r"}) == (
        "'response' looks like the output: map it with data.columns.output: response")


@pytest.mark.parametrize("row", [{"instruction": "a"}, {"id": 3, "label": "x"}, {}])
def test_nothing_known_gives_no_hint(row: dict) -> None:
    assert column_hint(DataSpec(path="d.jsonl"), row) is None


def test_rows_that_read_give_no_hint() -> None:
    assert column_hint(DataSpec(path="d.jsonl"), {"instruction": "a", "output": 3}) is None
    assert column_hint(DataSpec(path="d.jsonl", format="sharegpt"), {"conversations": CHAT["sharegpt"]}) is None


def test_column_names_with_spaces_are_quoted() -> None:
    hint = column_hint(DataSpec(path="d.jsonl"), {"instruction": "a", "Response ": "b"})
    assert hint == "did you mean 'Response '? map it with data.columns.output: \"Response \""
