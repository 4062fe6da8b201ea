"""`tuner data`: the loss-mask X-ray and the data audit, on LLaMA-Factory-shaped data (tests/fixtures/llamafactory,
our own text in the shapes of its data/ folder). Fast: the built-in tiny-random-llama's tokenizer is built with
`tokenizers` alone (no torch, no weights), under a private TUNER_HOME."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console

from tuner_tui.cli import main
from tuner_tui.domain import row_text_checks as checks
from tuner_tui.domain.data_audit import audit
from tuner_tui.domain.dataset_rows import prepare_local
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.domain.training_text import render_dataset, training_text

FIXTURES = Path(__file__).parent / "fixtures" / "llamafactory"
DATA = {"alpaca": ("alpaca_en_demo.json", "alpaca"), "identity": ("identity.json", "alpaca"),
        "glaive": ("glaive_toolcall.json", "sharegpt"), "messages": ("messages_toolcall.json", "messages")}


@pytest.fixture(scope="session")
def tiny_tokenizer(tmp_path_factory) -> Path:
    """tiny-random-llama's tokenizer files, made as training/model_sources makes them (minus the weights)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    from tuner_tui.training.model_sources import _TINY_ALPHABET, _TINY_CORPUS, _TINY_SPECIAL, CHATML_TEMPLATE

    folder = tmp_path_factory.mktemp("models") / "tiny-random-llama"
    folder.mkdir()
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.train_from_iterator([_TINY_CORPUS, _TINY_ALPHABET], trainer=trainers.BpeTrainer(
        vocab_size=1000, min_frequency=1, special_tokens=_TINY_SPECIAL, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(str(folder / "tokenizer.json"))
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "chat_template": CHATML_TEMPLATE}))
    return folder


@pytest.fixture
def xray_home(tmp_path, tiny_tokenizer, monkeypatch) -> Path:
    (tmp_path / "home" / "models").mkdir(parents=True)
    (tmp_path / "home" / "models" / "tiny-random-llama").symlink_to(tiny_tokenizer, target_is_directory=True)
    monkeypatch.setenv("TUNER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))      # nothing downloaded
    return tmp_path / "home"


def _recipe(tmp_path: Path, data: str, max_length: int = 2048, **extra: str) -> str:
    file, fmt = DATA[data]
    settings = "".join(f", {k}: {v}" for k, v in extra.items())
    path = tmp_path / f"{data}.yaml"
    path.write_text(f"name: {data}\nmodel: {{source: tiny-random-llama}}\nmethod: {{kind: lora}}\n"
                    f"data: {{path: {FIXTURES / file}, format: {fmt}, max_length: {max_length}, val_split: 0"
                    f"{settings}}}\n")
    return str(path)


def _tuner(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["data", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys, *argv: str) -> tuple[int, dict]:
    code, stdout, _ = _tuner(capsys, *argv, "--json")
    return code, json.loads(stdout)


def _audit(recipe: str):
    loaded = load_recipe(Path(recipe))
    spec = loaded.recipe.data
    data = prepare_local(spec, loaded.base_dir, 42)
    text = training_text(spec, Path(os.environ["TUNER_HOME"]) / "models" / "tiny-random-llama", recipe)
    assert text is not None
    return audit(data, text, render_dataset(text, data), spec.max_length)


# ------------------------------------------------------------------------------------------------ the contract

def test_json_contract(xray_home, tmp_path, capsys):
    code, doc = _json(capsys, _recipe(tmp_path, "glaive", chat_template="chatml-tools"))
    assert code == 0 and doc["rows_total"] == 3 and len(doc["rows"]) == 3          # the first 3 by default
    for key in ("train_on_nothing", "cut_before_end", "placeholders", "template_markers", "duplicated_system",
                "longer_than_max_length", "tool_calls", "tool_calls_trained"):
        assert isinstance(doc["audit"][key], int), key
    assert set(doc["audit_rows"]) >= {"train_on_nothing", "placeholders"}
    for row in doc["rows"]:
        assert {"row", "source", "segments", "tokens", "trained_tokens"} <= set(row)
        assert all({"role", "text", "trained"} <= set(s) and isinstance(s["trained"], bool) for s in row["segments"])
        assert row["trained_tokens"] == sum(s["tokens"] for s in row["segments"] if s["trained"])


@pytest.mark.parametrize("data,extra", [("alpaca", {}), ("identity", {}), ("glaive", {"chat_template": "chatml-tools"}),
                                        ("messages", {"chat_template": "chatml-tools"}),
                                        ("alpaca", {"template": "chat", "train_on": "last"})])
def test_segments_join_to_the_rendered_text(xray_home, tmp_path, data, extra):
    found = _audit(_recipe(tmp_path, data, **extra))
    for i, rendered in enumerate(found.rendered):
        assert "".join(s["text"] for s in found.row_json(i)["segments"]) == rendered.text


def test_every_assistant_turn_and_function_call_is_trained_with_chatml_tools(xray_home, tmp_path, capsys):
    code, doc = _json(capsys, _recipe(tmp_path, "glaive", chat_template="chatml-tools"))
    assert code == 0
    audit_ = doc["audit"]
    assert audit_["tool_calls"] == audit_["tool_calls_trained"] == 2
    assert audit_["assistant_turns"] == audit_["assistant_turns_trained"] == 4
    for row in doc["rows"]:
        trained = {s["role"] for s in row["segments"] if s["trained"]}
        assert trained <= {"assistant", "tool_call"} and "assistant" in trained
        schemas = "".join(s["text"] for s in row["segments"] if s["role"] == "system")
        assert "<tools>" in schemas and not any(s["trained"] for s in row["segments"] if s["role"] == "system")
    first = doc["rows"][0]["segments"]
    call = "".join(s["text"] for s in first if s["role"] == "tool_call" and s["trained"])
    assert '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>' in call
    assert '"name": "get_weather"' in "".join(s["text"] for s in first if s["role"] == "system" and not s["trained"])
    result = "".join(s["text"] for s in first if s["role"] == "tool")
    assert "<tool_response>" in result and not any(s["trained"] for s in first if s["role"] == "tool")


def test_messages_tool_calls_trained_too(xray_home, tmp_path, capsys):
    code, doc = _json(capsys, _recipe(tmp_path, "messages", chat_template="chatml-tools"))
    assert code == 0 and doc["audit"]["tool_calls"] == doc["audit"]["tool_calls_trained"] == 1


def test_row_2_is_the_second_row_with_its_file_line(xray_home, tmp_path, capsys):
    lines = (FIXTURES / "glaive_toolcall.json").read_text().splitlines()
    second = [n for n, line in enumerate(lines, start=1) if line == "  {"][1]
    code, doc = _json(capsys, _recipe(tmp_path, "glaive", chat_template="chatml-tools"), "--row", "2")
    assert code == 0 and [r["row"] for r in doc["rows"]] == [2]
    assert doc["rows"][0]["source"] == f"{FIXTURES / 'glaive_toolcall.json'}:{second}"
    assert "Convert 100 euros" in "".join(s["text"] for s in doc["rows"][0]["segments"])


def test_a_row_beyond_the_data_says_how_many_rows_there_are(xray_home, tmp_path, capsys):
    code, _, err = _tuner(capsys, _recipe(tmp_path, "alpaca"), "--row", "9")
    assert code == 2 and "no row 9: the data has 4 rows" in err


# ------------------------------------------------------------------------------------------------ the audit

def test_identity_placeholders_flagged(xray_home, tmp_path, capsys):
    code, doc = _json(capsys, _recipe(tmp_path, "identity"))
    assert code == 0 and doc["audit"]["placeholders"] == 2 and doc["audit_rows"]["placeholders"] == [1, 2]
    message = next(p for p in doc["problems"] if "placeholders" in p["message"])
    assert "2 of 4 rows (50%; lines 2, 7) hold unrendered placeholders ({{name}}, {{author}})" in message["message"]
    assert message["severity"] == "warning" and message["line"] == 2


@pytest.mark.parametrize("text,found", [
    ("Hello! I am {{name}}, an AI assistant developed by {{author}}.", ["{{name}}", "{{author}}"]),
    ("Written by {{ author }} for {{ user.name }}.", ["{{ author }}", "{{ user.name }}"]),
    ("Dear <NAME>, your order for <user_name> ships today.", ["<NAME>", "<user_name>"]),
    ("Best regards,\n[Your Name]", ["[Your Name]"]),
    ("<tool_call>\n{\"name\": \"f\"}\n</tool_call>", []),
    ("Line one<br>line two. <think>hmm</think> <|im_start|>", []),
    ("Use `{{ name }}` in Jinja:\n```html\n<p>{{ user }}</p>\n<USER_ID>42</USER_ID>\n```", []),
    ("In Java, List<T> and Map<KEY_TYPE, V> are generics; <config_value>3</config_value> is XML.", []),
    ("See [Your account](https://example.com) and <s>old</s>.", []),
])
def test_placeholder_rule(text, found):
    assert checks.placeholders(text, special=["<|im_start|>"]) == found


def test_template_markers_and_a_system_prompt_said_twice(xray_home, tmp_path):
    rows = [{"messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"},
                          {"role": "assistant", "content": "Hi."}, {"role": "system", "content": "You are terse."},
                          {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye."}]},
            {"messages": [{"role": "user", "content": "<|im_start|>user\nHello<|im_end|>"},
                          {"role": "assistant", "content": "Hello."}]},
            {"messages": [{"role": "user", "content": "[INST] Hi [/INST]"}, {"role": "assistant", "content": "Yo."}]},
            {"messages": [{"role": "system", "content": "You answer questions about the weather."},
                          {"role": "user", "content": "You answer questions about the weather. Rain?"},
                          {"role": "assistant", "content": "No."}]}]
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: r\nmodel: {{source: tiny-random-llama}}\nmethod: {{kind: lora}}\n"
                      f"data: {{path: {path}, format: messages, val_split: 0}}\n")
    found = _audit(str(recipe))
    assert found.found["duplicated_system"] == [0, 3] and found.found["template_markers"] == [1, 2]
    assert set(found.seen["template_markers"]) == {"<|im_start|>", "<|im_end|>", "[INST]", "[/INST]"}
    messages = [p.message for p in found.problems]
    assert any("2 of 4 rows (50%; lines 2, 3) hold chat-template markers" in m for m in messages)
    assert any("2 of 4 rows (50%; lines 1, 4) say their system prompt twice" in m for m in messages)


def test_alpaca_layout_is_not_a_marker_in_its_own_rows(xray_home, tmp_path):
    found = _audit(_recipe(tmp_path, "alpaca"))
    assert not found.found["template_markers"] and not found.found["placeholders"]
    assert not found.found["duplicated_system"]


def test_train_on_nothing_blocks(xray_home, tmp_path, capsys):
    code, doc = _json(capsys, _recipe(tmp_path, "glaive", max_length=200, chat_template="chatml-tools"))
    assert code == 1 and doc["audit"]["train_on_nothing"] == 3 and doc["audit_rows"]["train_on_nothing"] == [1, 2, 3]
    code, _, err = _tuner(capsys, _recipe(tmp_path, "glaive", max_length=200, chat_template="chatml-tools"))
    assert code == 1 and "error: data.max_length: 3 of 3 rows" in err and "train on nothing" in err


def test_force_cannot_launch_data_where_no_row_trains(xray_home, tmp_path):
    """--force launches past a few rows that train on nothing; with none left the worker could only fail."""
    from tuner_tui.domain.problems import ProblemsFound
    from tuner_tui.domain.recipe_loader import load_recipe
    from tuner_tui.runtime.home import Home
    from tuner_tui.runtime.preflight import preflight

    loaded = load_recipe(Path(_recipe(tmp_path, "glaive", max_length=200, chat_template="chatml-tools")))
    with pytest.raises(ProblemsFound, match="--force cannot help"):
        preflight(loaded, Home(xray_home), force=True)


# ------------------------------------------------------------------------------------------------ refusals

@pytest.mark.parametrize("data", ["glaive", "messages"])
def test_the_model_template_without_tools_refuses_tool_data(xray_home, tmp_path, capsys, data):
    code, stdout, err = _tuner(capsys, _recipe(tmp_path, data))
    assert code == 1 and not stdout
    assert "does not render tools" in err and "data.chat_template: chatml-tools" in err and "Traceback" not in err


def test_a_hub_tokenizer_not_downloaded_says_what_to_do(xray_home, tmp_path, capsys):
    code, stdout, err = _tuner(capsys, _recipe(tmp_path, "alpaca"), "--set", "model.source=someone/not-here-7b")
    assert code == 1 and not stdout and "Traceback" not in err
    assert "the tokenizer of someone/not-here-7b is not on this machine" in err
    assert "huggingface-cli download someone/not-here-7b" in err


# ------------------------------------------------------------------------------------------------ human output

def test_human_output_without_colour_marks_trained_text_in_brackets(xray_home, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    code, stdout, err = _tuner(capsys, _recipe(tmp_path, "identity"), "--row", "1")
    assert code == 0 and "\x1b[" not in stdout
    lines = stdout.splitlines()
    assert lines[0] == "tests/fixtures/llamafactory/identity.json · 4 rows"           # relative to the cwd
    assert lines[1] == "the alpaca layout; trains every assistant turn · max_length 2048"
    assert lines[2].startswith("[[trained]]; the rest is read, not trained")
    assert lines[4] == "row 1 · tests/fixtures/llamafactory/identity.json:2 · 80 tokens, 51 trained · placeholders"
    lines = lines[1:]
    assert lines[4:8] == ["user      │ ### Instruction:", "          │ hi", "          │", "          │ ### Response:"]
    assert lines[8].startswith("assistant │ [[Hello! I am {{name}}, an AI assistant developed by {{author}}.")
    assert "can I assist you today?<|im_end|>]]" in lines[9]
    assert "  placeholders                2  row 1 (line 2), row 2 (line 7): {{name}}," in lines
    assert max(len(line) for line in lines if "identity.json" not in line) <= 80 and all(line == line.rstrip() for line in lines)
    assert "warning: data.path: 2 of 4 rows" in err


def test_the_cut_is_marked_once_where_it_falls(xray_home, tmp_path, capsys):
    code, stdout, _ = _tuner(capsys, _recipe(tmp_path, "glaive", max_length=600, chat_template="chatml-tools"),
                             "--row", "2")
    assert stdout.count("✂ cut at max_length 600 ✂") == 1
    before, after = stdout.split("✂ cut at max_length 600 ✂")
    assert "]]" in before and "[[" not in after.split("audit ·")[0]       # nothing is trained past the cut


def test_human_output_in_colour_styles_instead_of_brackets(xray_home, tmp_path, capsys, monkeypatch):
    from tuner_tui.commands import data as command

    screen = Console(file=io.StringIO(), force_terminal=True, color_system="standard", width=80,
                     highlight=False, markup=False)
    monkeypatch.setattr(command, "out", screen)
    assert main(["data", _recipe(tmp_path, "alpaca"), "--row", "1"]) == 0
    shown = screen.file.getvalue()
    assert "\x1b[1;32mRed, yellow and blue.\x1b[0m" in shown and "[[" not in shown
    assert "\x1b[1;7;32m<|im_end|>" in shown                           # the learned end token, reversed
