"""What the model reads and learns: per-turn loss masks from the template itself, the token counts pre-flight and
`tuner data` show are the worker's exactly, tool data through chatml-tools, and templates that cannot be masked
per turn or drop tools are refused with the setting to change."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuner_tui.domain.chat_templates import CHATML, CHATML_TOOLS
from tuner_tui.domain.dataset_rows import format_row, prepare_local
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.recipe_loader import load_recipe_text
from tuner_tui.domain.token_counts import ChatTemplate
from tuner_tui.domain.training_text import (
    IGNORE,
    Renderer,
    RenderError,
    render_dataset,
    tokenize,
    training_text,
)

CHAT = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}, {"role": "user", "content": "bye"},
        {"role": "assistant", "content": "ciao"}]


def _chatml(train_on: str = "assistant", template: str = CHATML) -> Renderer:
    return Renderer("chat", ChatTemplate(template, "", "<|im_end|>"), train_on, "<|im_end|>")


def _trained(renderer: Renderer, example: dict) -> list[str]:
    rendered = renderer.render(example)
    return [rendered.text[a:b] for a, b in rendered.trained]


def test_every_assistant_turn_is_trained_with_its_end_of_turn():
    assert _trained(_chatml(), {"messages": CHAT}) == ["hello<|im_end|>\n", "ciao<|im_end|>\n"]
    assert _trained(_chatml("last"), {"messages": CHAT}) == ["ciao<|im_end|>\n"]
    rendered = _chatml("all").render({"messages": CHAT})
    assert rendered.trained == ((0, len(rendered.text)),)
    assert [t.role for t in rendered.turns] == ["system", "user", "assistant", "user", "assistant"]
    assert rendered.text[rendered.turns[2].start:rendered.turns[2].end] == "<|im_start|>assistant\nhello<|im_end|>\n"


def test_masks_come_from_the_template_not_from_searching_the_text():
    """An answer that also appears in the question: a string search would find the question's copy."""
    talk = [{"role": "user", "content": "Say: yes"}, {"role": "assistant", "content": "yes"}]
    rendered = _chatml().render({"messages": talk})
    (start, _), = rendered.trained
    assert rendered.text[:start] == "<|im_start|>user\nSay: yes<|im_end|>\n<|im_start|>assistant\n"


def test_a_template_that_rewrites_earlier_turns_is_refused_per_turn_but_works_for_last():
    # Drops every assistant turn but the last one's text from history (as reasoning templates do with <think>).
    rewriting = ("{% for m in messages %}{% if m['role'] == 'assistant' and not loop.last %}"
                 "{{ '<|im_start|>assistant\n(earlier)<|im_end|>\n' }}{% else %}"
                 "{{ '<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n' }}{% endif %}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    with pytest.raises(RenderError, match="differently once later turns follow") as err:
        _chatml(template=rewriting).render({"messages": CHAT})
    assert "data.train_on: last" in (err.value.hint or "")
    assert _trained(_chatml("last", rewriting), {"messages": CHAT}) == ["ciao<|im_end|>\n"]


def test_tool_calls_are_trained_through_chatml_tools():
    row = {"conversations": [{"from": "human", "value": "Weather in Oslo?"},
                             {"from": "function_call", "value": '{"name": "weather", "arguments": {"city": "Oslo"}}'},
                             {"from": "observation", "value": '{"sky": "sunny"}'},
                             {"from": "gpt", "value": "Sunny."}],
           "tools": json.dumps([{"name": "weather", "description": "Weather now",
                                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}])}
    example = format_row(row, DataSpec(path="x", format="sharegpt", chat_template="chatml-tools"))
    renderer = _chatml(template=CHATML_TOOLS)
    renderer.check_tools(example)
    rendered = renderer.render(example)
    assert _trained(renderer, example) == [
        '<tool_call>\n{"name": "weather", "arguments": {"city": "Oslo"}}\n</tool_call><|im_end|>\n',
        "Sunny.<|im_end|>\n"]
    system = rendered.text[rendered.turns[0].start:rendered.turns[0].end]
    # The schemas are in the prompt, in the form servers pass them ({"type": "function", "function": ...}).
    assert '<tools>\n{"type": "function", "function": {"name": "weather", "description": "Weather now"' in system
    assert "<|im_start|>tool\n<tool_response>\n{\"sky\": \"sunny\"}\n</tool_response>" in rendered.text
    assert [t.role for t in rendered.turns] == ["system", "user", "tool_call", "tool", "assistant"]


def test_a_template_without_tools_refuses_tool_data_naming_the_option():
    example = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}],
               "tools": [{"name": "f"}]}
    with pytest.raises(RenderError, match="does not render tools") as err:
        _chatml().check_tools(example)
    assert "data.chat_template: chatml-tools" in (err.value.hint or "")
    calls = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "f", "arguments": {}}}]}]}
    with pytest.raises(RenderError, match="tool calls"):
        _chatml().check_tools(calls)


def test_chatml_tools_renders_as_transformers_renders_it():
    """The template is saved with the outputs: transformers' own apply_chat_template must render it the same."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"x": 0}, unk_token="x")))
    tokenizer.chat_template = CHATML_TOOLS
    messages = [{"role": "system", "content": "S"}, {"role": "user", "content": "q"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]},
                {"role": "tool", "content": "2"}, {"role": "assistant", "content": "two"}]
    tools = [{"name": "f", "parameters": {"type": "object"}}]
    ours = ChatTemplate(CHATML_TOOLS).render(messages, add_generation_prompt=False, tools=tools)
    theirs = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
    assert ours == theirs
    assert ChatTemplate(CHATML_TOOLS).render(messages[:2], add_generation_prompt=True) == \
        tokenizer.apply_chat_template(messages[:2], tokenize=False, add_generation_prompt=True)


def test_labels_are_the_trained_tokens_cut_at_max_length(tiny_model: Path):
    text = training_text(DataSpec(path="x", format="messages"), tiny_model, "x")
    assert text is not None
    rendered = text.renderer.render({"messages": CHAT})
    (row,) = tokenize([rendered], text.encoder, 10_000)
    assert len(row.ids) == row.tokens and row.trained_tokens == sum(label != IGNORE for label in row.labels) > 0
    kept = [t for t, label in zip(row.ids, row.labels, strict=True) if label != IGNORE]
    learned = text.encoder.tokenizer.decode(kept,
                                            skip_special_tokens=False)
    assert learned.replace(" ", "") == "hello<|im_end|>\nciao<|im_end|>\n".replace(" ", "")
    (short,) = tokenize([rendered], text.encoder, 12)
    assert len(short.ids) == len(short.labels) == 12 and short.trained_tokens == 0 and short.trained_uncut > 0


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from tuner_tui.training.model_sources import build_tiny_random_llama

    folder = tmp_path_factory.mktemp("tiny") / "tiny-random-llama"
    folder.mkdir()
    build_tiny_random_llama(folder)
    return folder


def test_preflight_counts_are_the_workers_exactly(tmp_path: Path, tiny_model: Path):
    """`tuner data` / pre-flight (tokenizers + our renderer) and the worker (training/data.build with the
    transformers tokenizer the Trainer gets) produce the same input_ids and labels, row for row."""
    from transformers import AutoTokenizer

    from tuner_tui.training import data as training_data

    rows = [{"conversations": [{"from": "human", "value": f"Question {i}: what is {i} + {i}?"},
                               {"from": "gpt", "value": f"{2 * i}."}, {"from": "human", "value": "Sure? ünïcode"},
                               {"from": "gpt", "value": "Yes, " + "very " * i + "sure."}]} for i in range(30)]
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe_text = json.dumps({"name": "t", "model": {"source": str(tiny_model)},
                              "data": {"path": "d.jsonl", "format": "sharegpt", "max_length": 64}})
    loaded = load_recipe_text(recipe_text, filename=str(tmp_path / "r.yaml"), path=tmp_path / "r.yaml")
    spec = loaded.recipe.data
    prepared = prepare_local(spec, tmp_path, loaded.recipe.train.seed)
    text = training_text(spec, tiny_model, "x")
    assert text is not None
    ours = tokenize(render_dataset(text, prepared), text.encoder, spec.max_length)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    built = training_data.build(loaded.recipe, tmp_path, tokenizer, str(tiny_model), tmp_path / "models")
    worker = [*built.train, *(built.eval or [])]
    by_ids = {tuple(r["input_ids"]): r["labels"] for r in worker}
    kept = [r for r in ours if r.trained_tokens]
    assert len(worker) == len(kept) and built.dropped == len(ours) - len(kept)
    assert all(by_ids[tuple(r.ids)] == r.labels for r in kept)
    assert any(r.tokens > spec.max_length for r in ours)              # the cut is exercised too


def test_no_chat_template_is_refused_with_the_fix(tmp_path: Path):
    from tokenizers import Tokenizer, models

    (tmp_path / "m").mkdir()
    Tokenizer(models.WordLevel({"x": 0}, unk_token="x")).save(str(tmp_path / "m" / "tokenizer.json"))
    with pytest.raises(ProblemsFound, match="no chat template") as found:
        training_text(DataSpec(path="x", format="sharegpt"), tmp_path / "m", "r.yaml")
    assert "data.chat_template: chatml" in str(found.value)
    assert training_text(DataSpec(path="x"), tmp_path / "m", "r.yaml") is not None    # alpaca needs none


@pytest.mark.slow
def test_a_tool_calling_run_trains_what_tuner_data_showed_and_serves_through_the_same_template(home, tmp_path):
    """End to end on LLaMA-Factory's sharegpt tool layout: the worker's token counts are `tuner data`'s, and the
    merged model's tokenizer renders tools and prompts with the template training used (chatml-tools)."""
    from tests.conftest import json_lines, tuner
    from tuner_tui.runtime.event_log import read_events

    fixture = Path(__file__).resolve().parent / "fixtures" / "llamafactory" / "glaive_toolcall.json"
    recipe = tmp_path / "tools.yaml"
    recipe.write_text(json.dumps({
        "name": "tools", "model": {"source": "tiny-random-llama"},
        "method": {"kind": "lora", "lora": {"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}},
        "data": {"path": str(fixture), "format": "sharegpt", "chat_template": "chatml-tools", "max_length": 2048,
                 "val_split": 0.0},
        "train": {"max_steps": 2, "batch_size": 2, "logging_steps": 1, "save": "no"},
        "output": {"merge": True}}))
    proc = tuner("run", str(recipe), "--json", "--force", timeout=600)      # --force: 3 rows, no eval
    assert proc.returncode == 0, proc.stderr
    run_id = json_lines(proc.stdout)[0]["run_id"]
    started = next(e for e in read_events(home.run_dir(run_id) / "events.jsonl") if e["type"] == "started")
    shown = json.loads(tuner("data", str(recipe), "--json", check=True).stdout)
    assert (started["dataset_tokens"], started["trained_tokens"]) == (shown["audit"]["tokens"],
                                                                      shown["audit"]["trained_tokens"])
    assert shown["audit"]["tool_calls"] == shown["audit"]["tool_calls_trained"] > 0
    from transformers import AutoTokenizer

    for output in ("adapter", "merged"):
        served = AutoTokenizer.from_pretrained(home.run_dir(run_id) / output)
        assert served.chat_template == CHATML_TOOLS, output
    prompt = served.apply_chat_template([{"role": "user", "content": "Weather in Oslo?"}], tools=[{"name": "w"}],
                                        tokenize=False, add_generation_prompt=True)
    assert prompt.startswith("<|im_start|>system\n# Tools") and prompt.endswith("<|im_start|>assistant\n")


def test_tuner_try_asks_with_the_system_prompt_and_tools_most_rows_were_trained_with(tmp_path: Path):
    from tuner_tui.domain.training_text import prompt_for, usual_context

    tools = '[{"name": "weather", "parameters": {"type": "object"}}]'
    rows = [{"conversations": [{"from": "human", "value": f"q{i}"}, {"from": "gpt", "value": "a"}],
             "system": "Be terse." if i < 3 else "Other.", "tools": tools} for i in range(4)]
    (tmp_path / "d.json").write_text(json.dumps(rows))
    prepared = prepare_local(DataSpec(path="d.json", format="sharegpt"), tmp_path, 0)
    system, found = usual_context(prepared)
    assert system == "Be terse." and found == prepared.examples[0]["tools"]       # 3 of 4 rows, as written
    text = type("T", (), {"renderer": _chatml(template=CHATML_TOOLS)})()
    prompt = prompt_for(text, "hi", system, found)  # type: ignore[arg-type]
    assert prompt.startswith("<|im_start|>system\nBe terse.\n\n# Tools") and '"name": "weather"' in prompt
    assert prompt.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
