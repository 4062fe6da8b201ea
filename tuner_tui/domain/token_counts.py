"""A model's tokenizer files and chat template on this machine, and a bounded renderer for chat templates.

Pre-flight, `tuner data` and the worker all read the model folder's files the same way (no torch): the folder
(built-in, local or in the Hugging Face cache, no network), `chat_template.jinja` or `tokenizer_config.json`
with the BOS and EOS tokens, and render templates with jinja2 as transformers does, but bounded in time and
size (a template is code from a model repository or a recipe). training_text tokenizes with `tokenizers`.
"""

from __future__ import annotations

import json
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from tuner_tui.domain.chat_templates import template_for
from tuner_tui.domain.model_sources import hub_cache_dir, resolve_local, source_kind


def model_folder(model_source: str, base_dir: Path | None, home_models_dir: Path,
                 revision: str | None = None) -> Path | None:
    """The local folder holding the model's tokenizer files, or None when there is none on this machine yet.

    Built-in models live in TUNER_HOME/models/<name>/ once built or converted; hub models are looked up in the
    Hugging Face cache (no network)."""
    kind = source_kind(model_source, base_dir)
    if kind == "local":
        folder = resolve_local(model_source, base_dir)
    elif kind == "builtin":
        folder = Path(home_models_dir) / model_source
    else:
        folder = _hub_snapshot(model_source, revision) or Path("/nonexistent")
    return folder if folder.is_dir() else None


def _hub_snapshot(repo_id: str, revision: str | None) -> Path | None:
    """The cached snapshot's folder, even with only the tokenizer files downloaded (enough for `tuner data`)."""
    repo = hub_cache_dir() / ("models--" + repo_id.replace("/", "--"))
    ref = repo / "refs" / (revision or "main")
    try:
        commit = ref.read_text().strip() if ref.is_file() else (revision or "")
    except OSError:
        return None
    snapshot = repo / "snapshots" / commit
    return snapshot if commit and snapshot.is_dir() else None


# ------------------------------------------------------------------------------------------------ chat templates

@dataclass(frozen=True)
class ChatTemplate:
    """A Jinja chat template and the special tokens it may refer to."""
    template: str
    bos_token: str = ""
    eos_token: str = ""

    def render(self, messages: list[dict], add_generation_prompt: bool = False, tools: list | None = None) -> str:
        """The rendered text, bounded: TemplateLimit past RENDER_TIME_S or RENDER_MAX_CHARS (a template is
        code from a model repository or a recipe; nested `range(100000)` loops would spin for hours)."""
        with _budget():
            chunks, size = [], 0
            for chunk in _compiled(self.template).generate(
                    messages=messages, tools=tools, add_generation_prompt=add_generation_prompt,
                    bos_token=self.bos_token, eos_token=self.eos_token):
                size += len(chunk)
                if size > RENDER_MAX_CHARS:
                    raise TemplateLimit(f"the chat template's output passed {RENDER_MAX_CHARS:,} characters "
                                        "for one row")
                _tick()
                chunks.append(chunk)
            return "".join(chunks)


# A chat template renders one row in well under a millisecond and a few KB; these bounds are 1,000 times that.
RENDER_TIME_S = 2.0
RENDER_MAX_CHARS = 1_000_000
_BOUND = threading.local()              # the deadline of the render running in this thread (cockpit: a worker)


class TemplateLimit(ValueError):
    """A chat template went past a bound while rendering (time or output size)."""


@contextmanager
def _budget():
    _BOUND.deadline = time.monotonic() + RENDER_TIME_S
    try:
        yield
    finally:
        _BOUND.deadline = None


def _tick() -> None:
    deadline = getattr(_BOUND, "deadline", None)
    if deadline is not None and time.monotonic() > deadline:
        raise TemplateLimit(f"the chat template ran past {RENDER_TIME_S:g} s for one row")


def _bounded_range(*args: int) -> Any:
    """`range` for templates: the sandbox caps each range at 100,000 items, not their nesting."""
    for value in range(*args):
        _tick()
        yield value


@lru_cache(maxsize=8)
def _compiled(template: str) -> Any:
    """The template compiled the way transformers compiles it (sandboxed, trim_blocks, lstrip_blocks), with
    the clock checked at every range step, call, attribute and item lookup, and `*`/`+` refused past the
    output cap before they allocate."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    class BoundedEnvironment(ImmutableSandboxedEnvironment):
        intercepted_binops = frozenset(["*", "+", "**"])

        def call(self, __context, __obj, *args, **kwargs):          # noqa: N807 - jinja's signature
            _tick()
            return super().call(__context, __obj, *args, **kwargs)

        def getattr(self, obj, attribute):
            _tick()
            return super().getattr(obj, attribute)

        def getitem(self, obj, argument):
            _tick()
            return super().getitem(obj, argument)

        def call_binop(self, context, operator, left, right):
            _check_binop(operator, left, right)
            return super().call_binop(context, operator, left, right)

    env = BoundedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = lambda value, indent=None, **_: json.dumps(value, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    env.globals["range"] = _bounded_range
    env.globals["namespace"] = _bounded_namespace()
    return env.from_string(template)


def _bounded_namespace() -> type:
    """`namespace()` whose values are size-checked when set: `{% set ns.s = ns.s ~ ns.s %}` in a loop doubles
    a string each step (a GB in 30 steps), and `~` has no hook of its own."""
    from jinja2.utils import Namespace

    class BoundedNamespace(Namespace):
        def __setitem__(self, name: str, value: Any) -> None:
            _tick()
            if isinstance(value, (str, list, tuple, dict)) and len(value) > RENDER_MAX_CHARS:
                raise TemplateLimit(f"the chat template builds a value past {RENDER_MAX_CHARS:,} items")
            super().__setitem__(name, value)

    return BoundedNamespace


def _check_binop(operator: str, left: object, right: object) -> None:
    """`"x" * 10**9` or `[0] * 10**9` would allocate before any output is counted; huge powers hang."""
    _tick()
    sized = [v for v in (left, right) if isinstance(v, (str, list, tuple))]
    if operator == "*" and sized:
        times = right if sized[0] is left else left
        if isinstance(times, int) and len(sized[0]) * times > RENDER_MAX_CHARS:
            raise TemplateLimit(f"the chat template builds a value past {RENDER_MAX_CHARS:,} items")
    elif operator == "+" and len(sized) == 2 and len(left) + len(right) > RENDER_MAX_CHARS:   # type: ignore
        raise TemplateLimit(f"the chat template builds a value past {RENDER_MAX_CHARS:,} items")
    elif operator == "**" and isinstance(right, int) and right > 1000 and left not in (0, 1, -1):
        raise TemplateLimit("the chat template raises a number to a power past 1,000")


def load_chat_template(model_source: str, base_dir: Path | None, home_models_dir: Path,
                       override: str | None = None, revision: str | None = None) -> ChatTemplate | None:
    """The template the worker will use: data.chat_template when set, else the model folder's own."""
    folder = model_folder(model_source, base_dir, home_models_dir, revision)
    found = folder_chat_template(folder)
    if override:
        return ChatTemplate(template_for(override), found.bos_token if found else "",
                            found.eos_token if found else "")
    return found if found and found.template else None


def folder_chat_template(folder: Path | None) -> ChatTemplate | None:
    """The chat template a model folder ships (chat_template.jinja or tokenizer_config.json) with its BOS and EOS
    tokens; a template of "" when the folder has a tokenizer config but no template, None without a config."""
    config: dict = {}
    if folder is not None and (folder / "tokenizer_config.json").is_file():
        try:
            config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
    if not isinstance(config, dict):
        config = {}
    bos, eos = _token(config.get("bos_token")), _token(config.get("eos_token"))
    template = config.get("chat_template")
    if isinstance(template, list):      # named templates: [{"name": "default", "template": ...}, ...]
        template = next((t.get("template") for t in template if isinstance(t, dict) and t.get("name") == "default"),
                        None)
    if folder is not None and (folder / "chat_template.jinja").is_file():
        template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
    if not isinstance(template, str):
        template = ""
    if not config and not template:
        return None
    return ChatTemplate(template, bos, eos)


def _token(value: object) -> str:
    if isinstance(value, dict):
        value = value.get("content")
    return value if isinstance(value, str) else ""
