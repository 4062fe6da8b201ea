"""What the model reads and learns from each row: the rendered text, its turns, and the tokens the loss trains on.

One path for everything that needs to know: pre-flight's audit, `tuner data` (the loss-mask X-ray), the
cockpit's row browser and the worker, which trains on exactly the `input_ids` and `labels` made here. Pure
Python on jinja2 and the `tokenizers` library (Rust): no torch, no transformers.

A row (dataset_rows.format_row) is a conversation, {"messages": [...], "tools": [...]}, or {"text": str}. It is
rendered through one chat template (the alpaca layout is one too: chat_templates.ALPACA), and the turns are found
from the template itself, not by searching for their text: turn k spans from the end of the rendering of the
first k messages to the end of the first k+1, and an assistant turn is trained from the end of the generation
prompt (`add_generation_prompt=True` after the first k messages) to the end of its turn, so the header
("<|im_start|>assistant\\n", "### Response:\\n") is context and the end-of-turn token is learned. Token by token,
a token is trained when its first character lies in a trained span (the tokenizer's offsets). That needs a
template whose earlier turns render the same whatever follows; one that does not (some strip reasoning from past
turns) is refused with the row, and `data.train_on: last` still works with it.

Templates render without special tokens added by the tokenizer (as transformers and vLLM do for chat
templates): the template carries BOS where the model wants one. Plain text gets the tokenizer's special tokens
and an end-of-text token, as trl did.
"""

from __future__ import annotations

import json
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuner_tui.domain.chat_templates import alpaca_template, takes_tool_calls, takes_tools, template_for
from tuner_tui.domain.dataset_rows import PreparedData
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import DataSpec
from tuner_tui.domain.token_counts import ChatTemplate, TemplateLimit, folder_chat_template

IGNORE = -100               # the label of a token the loss skips (transformers' ignore_index)
BATCH = 4096                # texts per encode_batch call: bounds the memory of the Encoding objects


class RenderError(ValueError):
    """A row the template cannot render as training needs; `key` is the setting to change."""

    def __init__(self, message: str, key: str = "data.chat_template", hint: str | None = None):
        super().__init__(message)
        self.key, self.hint = key, hint


@dataclass(frozen=True)
class Turn:
    role: str
    start: int              # characters of Rendered.text
    end: int


@dataclass(frozen=True)
class Rendered:
    text: str
    turns: tuple[Turn, ...]
    trained: tuple[tuple[int, int], ...]       # character spans the loss learns from
    add_special_tokens: bool                   # plain text only: the tokenizer adds BOS/EOS itself


# ------------------------------------------------------------------------------------------------ rendering

@dataclass(frozen=True)
class Renderer:
    """How rows of one recipe become text: `kind` is 'text', 'alpaca' or 'chat'; `template` is what is saved
    with the outputs as the tokenizer's chat_template (None for text)."""
    kind: str
    template: ChatTemplate | None
    train_on: str           # assistant | last | all
    eos_token: str = ""

    def render(self, example: dict) -> Rendered:
        if "text" in example:
            text = example["text"]
            if self.eos_token and not text.rstrip().endswith(self.eos_token):   # "...<|im_end|>\n" has one
                text += self.eos_token
            return Rendered(text, (Turn("text", 0, len(text)),), ((0, len(text)),), True)
        assert self.template is not None
        return _render_conversation(self.template, example["messages"], example.get("tools"), self.train_on)

    def check_tools(self, example: dict) -> None:
        """Refuse a row whose tool schemas or calls this template would drop without a word."""
        if self.template is None or "messages" not in example:
            return
        source, how = self.template.template, _tool_hint(self.kind)
        if example.get("tools") and not takes_tools(source):
            raise RenderError(f"the row has tool schemas (a tools column) but {self._which()} does not render "
                              "tools: they would be dropped", hint=how)
        if any(m.get("tool_calls") for m in example["messages"]) and not takes_tool_calls(source):
            raise RenderError(f"the row has tool calls but {self._which()} does not render them: the calls "
                              "would be trained as empty turns", hint=how)

    def _which(self) -> str:
        return "the alpaca template" if self.kind == "alpaca" else "the chat template"


def _tool_hint(kind: str) -> str:
    start = "set data.template: chat and " if kind == "alpaca" else "set "
    return (start + "data.chat_template: chatml-tools (ChatML with tools, the Hermes/Qwen2.5 layout), or a "
            "template of your own that renders tools and tool_calls")


def _render_conversation(template: ChatTemplate, messages: list[dict], tools: list | None,
                         train_on: str) -> Rendered:
    def render(upto: int, generation: bool = False) -> str:
        return template.render(messages[:upto], add_generation_prompt=generation, tools=tools)

    try:
        full = render(len(messages))
    except TemplateLimit:
        raise
    except Exception as err:  # noqa: BLE001 - a template's own raise_exception or a Jinja error
        raise RenderError(f"the chat template cannot render this row: {_first_line(err)}") from None
    answers = [k for k, m in enumerate(messages) if m["role"] == "assistant"]
    if train_on == "last":
        answers = answers[-1:]
    # Where each turn starts. Training on the last answer only needs that answer's start to be exact: a template
    # that renders earlier turns differently later on merges them (the X-ray shows them as one span).
    needed = set(range(len(messages))) if train_on == "assistant" else {answers[-1]} if answers else set()
    head = _empty_prefix(template, tools, full)
    ends = [head]
    for k in range(1, len(messages)):
        ends.append(_prefix_end(full, render, k, strict=k in needed, fallback=ends[-1]))
    ends.append(len(full))
    turns = tuple(Turn(_role(m), ends[k], ends[k + 1]) for k, m in enumerate(messages))
    if head:        # what the template writes before any turn: a BOS, a default system prompt, the tool schemas
        turns = (Turn("system", 0, head), *turns)
    if train_on == "all":
        return Rendered(full, turns, ((0, len(full)),), False)
    trained = []
    for k in answers:
        start, end = ends[k], ends[k + 1]
        try:
            prompt = render(k, generation=True)
        except TemplateLimit:
            raise
        except Exception:  # noqa: BLE001 - no generation prompt: the whole turn is the answer
            prompt = full[:start]
        trained.append((min(end, max(start, _common_prefix(prompt, full))), end))
    return Rendered(full, turns, tuple(trained), False)


def _prefix_end(full: str, render, k: int, strict: bool = True, fallback: int = 0) -> int:
    try:
        prefix = render(k)
    except TemplateLimit:
        raise
    except Exception as err:  # noqa: BLE001
        if not strict:
            return fallback
        raise RenderError(f"the chat template cannot render the first {k} turns of this row on their own "
                          f"({_first_line(err)}): masks per turn need every prefix to render",
                          hint="set data.train_on: last, or data.chat_template: chatml") from None
    if not full.startswith(prefix):
        if not strict:
            return fallback
        raise RenderError(f"the chat template renders turn {k} differently once later turns follow, so turns "
                          "cannot be told apart by rendering", hint="set data.train_on: last (trains the last "
                          "answer only), or data.chat_template: chatml")
    return len(prefix)


def _empty_prefix(template: ChatTemplate, tools: list | None, full: str) -> int:
    """What the template writes before any turn (a BOS, a default system prompt), when it renders no turns."""
    try:
        head = template.render([], tools=tools)
    except TemplateLimit:
        raise
    except Exception:  # noqa: BLE001 - many templates read messages[0]
        return 0
    return len(head) if full.startswith(head) else 0


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n
    while lo < hi:                              # the longest equal prefix, by halving
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _role(message: dict) -> str:
    return "tool_call" if message["role"] == "assistant" and message.get("tool_calls") and \
        not message.get("content") else message["role"]


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:160]


# ------------------------------------------------------------------------------------------------ tokens

@dataclass
class Encoder:
    """A `tokenizers.Tokenizer` (the model's tokenizer.json) with the ids tuner needs."""
    tokenizer: Any
    eos_id: int | None
    adds_bos: bool

    @classmethod
    def of(cls, tokenizer: Any, eos_token: str) -> Encoder:
        tokenizer.no_truncation()
        tokenizer.no_padding()
        plain = tokenizer.encode("a", add_special_tokens=False).ids
        special = tokenizer.encode("a", add_special_tokens=True).ids
        adds_bos = len(special) > len(plain) and special[len(special) - len(plain):] == plain
        eos_id = tokenizer.token_to_id(eos_token) if eos_token else None
        return cls(tokenizer, eos_id, adds_bos)

    def encode(self, texts: list[str], add_special_tokens: bool) -> Iterator[Any]:
        for start in range(0, len(texts), BATCH):
            yield from self.tokenizer.encode_batch(texts[start:start + BATCH], add_special_tokens=add_special_tokens)


@dataclass
class TokenizedRow:
    """One row as the trainer gets it. `ids`/`labels` are cut at max_length; the counts say what was cut."""
    ids: list[int]
    labels: list[int]
    tokens: int                 # before the cut
    trained_tokens: int         # learned from, after the cut
    trained_uncut: int          # trained tokens in the whole row
    starts: list[int]           # each token's first character in Rendered.text (before the cut)

    @property
    def cut_before_end(self) -> bool:
        """The cut at max_length drops tokens the loss would have learned from: an answer loses its end."""
        return self.trained_uncut > self.trained_tokens


def tokenize(rendered: list[Rendered], encoder: Encoder, max_length: int) -> list[TokenizedRow]:
    """Token ids and labels of rendered rows, in one batch per kind (encode_batch runs on every core)."""
    out: list[TokenizedRow | None] = [None] * len(rendered)
    for special in (False, True):
        picked = [i for i, r in enumerate(rendered) if r.add_special_tokens is special]
        if not picked:
            continue
        encodings = encoder.encode([rendered[i].text for i in picked], add_special_tokens=special)
        for i, encoding in zip(picked, encodings, strict=True):
            out[i] = _row(rendered[i], encoding.ids, [s for s, _ in encoding.offsets], max_length)
    return out  # type: ignore[return-value]  # every index was filled above


def _row(rendered: Rendered, ids: list[int], starts: list[int], max_length: int) -> TokenizedRow:
    ranges = _trained_ranges(starts, rendered.trained)
    kept_ids = ids[:max_length]
    labels = [IGNORE] * len(kept_ids)
    kept = 0
    for i, j in ranges:                       # slices, not a loop per token: 10M tokens in well under a second
        j = min(j, max_length)
        if i < j:
            labels[i:j] = kept_ids[i:j]
            kept += j - i
    return TokenizedRow(kept_ids, labels, len(ids), kept, sum(j - i for i, j in ranges), starts)


def _trained_ranges(starts: list[int], spans: tuple[tuple[int, int], ...]) -> list[tuple[int, int]]:
    """Token index ranges [i, j) whose first character lies in a trained span (starts rise: bisect)."""
    out = []
    for a, b in spans:
        i, j = bisect_left(starts, a), bisect_left(starts, b)
        if i < j:
            out.append((i, j))
    return out


def _trained_mask(starts: list[int], spans: tuple[tuple[int, int], ...]) -> list[bool]:
    mask = [False] * len(starts)
    for i, j in _trained_ranges(starts, spans):
        mask[i:j] = [True] * (j - i)
    return mask


# ------------------------------------------------------------------------------------------------ segments

@dataclass(frozen=True)
class Segment:
    role: str
    text: str
    state: str              # trained | masked | eos (an end-of-sequence token) | cut (past max_length)
    tokens: int

    @property
    def trained(self) -> bool:
        return self.state == "trained" or (self.state == "eos" and self.learned)

    learned: bool = False   # for eos: whether the loss learns it

    def as_json(self) -> dict:
        return {"role": self.role, "text": self.text, "trained": self.trained, "state": self.state,
                "tokens": self.tokens}


def segments(rendered: Rendered, row: TokenizedRow, max_length: int, eos_id: int | None) -> list[Segment]:
    """The rendered text in runs of tokens alike (same turn, same fate): joined, the texts give back the text
    exactly. Each token owns the characters from its first one to the next token's first one."""
    text, starts, n = rendered.text, row.starts, len(row.starts)
    ids = row.ids + [None] * (n - len(row.ids))       # ids past the cut are not kept: only their fate matters
    trained = _trained_mask(starts, rendered.trained)
    out: list[Segment] = []
    turn = 0
    for i in range(n):
        begin = 0 if i == 0 else max(starts[i], starts[i - 1])
        end = len(text) if i + 1 == n else max(begin, starts[i + 1])
        while turn + 1 < len(rendered.turns) and rendered.turns[turn].end <= starts[i]:
            turn += 1
        role = rendered.turns[turn].role if rendered.turns else ""
        if i >= max_length:
            state = "cut"
        elif eos_id is not None and ids[i] == eos_id:
            state = "eos"
        else:
            state = "trained" if trained[i] else "masked"
        learned = state == "eos" and trained[i]
        if out and out[-1].role == role and out[-1].state == state and out[-1].learned == learned:
            last = out[-1]
            out[-1] = Segment(role, last.text + text[begin:end], state, last.tokens + 1, learned)
        else:
            out.append(Segment(role, text[begin:end], state, 1, learned))
    return out


# ------------------------------------------------------------------------------------------------ loading

@dataclass
class TrainingText:
    """The renderer and the tokenizer of one recipe on one model: what pre-flight, `tuner data` and the worker
    share."""
    renderer: Renderer
    encoder: Encoder

    def render_all(self, examples: list[dict]) -> list[Rendered]:
        return [self.renderer.render(e) for e in examples]


def training_text(spec: DataSpec, folder: Path | None, source: str) -> TrainingText | None:
    """The recipe's training text on the model in `folder`, or None when the model's tokenizer.json is not on
    this machine (a hub id not downloaded yet). Raises ProblemsFound when the recipe cannot render at all."""
    if folder is None or not (folder / "tokenizer.json").is_file():
        return None
    try:
        from tokenizers import Tokenizer  # light (Rust), but only needed here

        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception:  # noqa: BLE001 - an unreadable tokenizer is the same as none: estimates still work
        return None
    found = folder_chat_template(folder)
    bos, eos = (found.bos_token, found.eos_token) if found else ("", "")
    return training_text_of(spec, tokenizer, found.template if found else "", bos, eos, source)


def training_text_of(spec: DataSpec, tokenizer: Any, chat_template: str | None, bos: str, eos: str,
                     source: str) -> TrainingText:
    """The same from parts: a `tokenizers.Tokenizer` and the model's chat template and special tokens (the
    worker, for a model whose folder has no tokenizer.json, passes its loaded tokenizer's backend)."""
    encoder = Encoder.of(tokenizer, eos)
    model_template = ChatTemplate(chat_template, bos, eos) if chat_template else None
    return TrainingText(renderer(spec, model_template, bos, eos, encoder.adds_bos, source), encoder)


def render_dataset(text: TrainingText, prepared: PreparedData) -> list[Rendered]:
    """Every example rendered, or ProblemsFound with one message per distinct problem (count, first lines)."""
    out: list[Rendered] = []
    failed: dict[tuple[str, str, str | None], list[int]] = {}
    for i, example in enumerate(prepared.examples):
        try:
            text.renderer.check_tools(example)
            out.append(text.renderer.render(example))
        except RenderError as err:
            failed.setdefault((str(err), err.key, err.hint), []).append(i)
    if not failed:
        return out
    problems = []
    for (message, key, hint), rows in failed.items():
        where = ", ".join(prepared.where(i).rsplit(":", 1)[-1] if prepared.origins[i][1] else
                          f"row {prepared.origins[i][0]}" for i in rows[:3]) + (", ..." if len(rows) > 3 else "")
        count = f"{len(rows)} of {prepared.rows} rows" if len(rows) > 1 else "a row"
        line = prepared.origins[rows[0]][1] if prepared.origins else None
        problems.append(Problem(prepared.source, f"{count} ({where}): {message}", key=key, line=line, hint=hint))
    raise ProblemsFound(problems)


def renderer(spec: DataSpec, model_template: ChatTemplate | None, bos: str, eos: str, adds_bos: bool,
             source: str) -> Renderer:
    kind = spec.rendering
    if kind == "text":
        return Renderer("text", None, "all", eos)
    if kind == "alpaca":
        return Renderer("alpaca", ChatTemplate(alpaca_template(adds_bos), bos, eos), spec.trained, eos)
    if spec.chat_template:
        return Renderer("chat", ChatTemplate(template_for(spec.chat_template), bos, eos), spec.trained, eos)
    if model_template is None:
        raise ProblemsFound([Problem(source, "the model's tokenizer has no chat template, which data.template: "
                                     "chat needs", key="data.chat_template",
                                     hint="set data.chat_template: chatml (or chatml-tools for tool calls), or "
                                     "data.template: alpaca")])
    return Renderer("chat", model_template, spec.trained, eos)


def describe(text: TrainingText) -> str:
    """One line on what renders the rows, for pre-flight and `tuner data`."""
    r = text.renderer
    if r.kind == "text":
        return "plain text, every token trained"
    what = {"assistant": "every assistant turn", "last": "the last assistant turn", "all": "every token"}
    template = "the alpaca layout" if r.kind == "alpaca" else "the chat template"
    return f"{template}; trains {what[r.train_on]}"


def prompt_for(text: TrainingText, user_text: str, system: str | None = None, tools: list | None = None) -> str:
    """A user's prompt as the trained model expects it (what `tuner try` sends and apply_chat_template gives)."""
    template = text.renderer.template
    if template is None:
        return user_text
    messages = [{"role": "system", "content": system}] if system else []
    return template.render([*messages, {"role": "user", "content": user_text}], add_generation_prompt=True,
                           tools=tools)


def usual_context(prepared: PreparedData) -> tuple[str | None, list | None]:
    """The system prompt and the tools most rows were trained with (each only when more than half had the same):
    `tuner try` prompts with them by default, so the tuned model is asked as it was taught."""
    systems: dict[str, int] = {}
    tools: dict[str, int] = {}
    first: dict[str, list] = {}          # each tools list as written (its key order is what the template dumps)
    for example in prepared.examples:
        messages = example.get("messages") or []
        if messages and messages[0]["role"] == "system":
            systems[messages[0]["content"]] = systems.get(messages[0]["content"], 0) + 1
        if example.get("tools"):
            key = json.dumps(example["tools"], sort_keys=True)
            tools[key] = tools.get(key, 0) + 1
            first.setdefault(key, example["tools"])
    half = prepared.rows / 2
    system = max(systems, key=systems.__getitem__) if systems else None
    tool = max(tools, key=tools.__getitem__) if tools else None
    return (system if system is not None and systems[system] > half else None,
            first[tool] if tool is not None and tools[tool] > half else None)


__all__ = ["IGNORE", "Encoder", "RenderError", "Rendered", "Renderer", "Segment", "TokenizedRow", "TrainingText", "training_text_of",
           "Turn", "describe", "prompt_for", "usual_context", "render_dataset", "renderer", "segments", "tokenize", "training_text"]
