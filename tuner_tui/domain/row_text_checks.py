"""Checks on a row's own text (what the data file holds, before any template): things a person would fix in
the data, not in the recipe. Pure functions on one prepared example; data_audit counts them over a data set.

- **Placeholders** left unrendered: the model learns them literally. LLaMA-Factory's `identity.json` ships
  "I am {{name}}, an AI assistant developed by {{author}}." for the user to fill in; GPT-written data often
  has "[Your Name]". The rule, kept narrow so code and markup answers raise no false alarm:
    * `{{ name }}`: double braces around one identifier (a dotted one too);
    * `<NAME>` (ALL CAPS, 2+ characters) or `<user_name>` (an identifier with an underscore), never right after
      a letter or digit (`List<T>`, `Map<KEY_T>` are generics), never closed by `</name>` in the same text (then
      it is a tag: `<tool_call>...</tool_call>`), never a known tool tag or the tokenizer's special token;
      HTML and reasoning tags (`<br>`, `<think>`, `<div>`) are lower-case words without an underscore, so they
      never match, nor does `<|im_start|>`;
    * `[Your Name]`, `[Insert date]`, `[Enter ...]`: square brackets opening with your/insert/enter, not a
      Markdown link (`[Your account](url)`);
  and text inside Markdown code (``` fences and `inline code`) is skipped: a Jinja or Handlebars answer is
  meant to show `{{ name }}`.
- **Template markers** in a row's own text (`<|im_start|>`, `[INST]`, `### Instruction:`, the tokenizer's
  special tokens): the row was rendered already and will be rendered a second time; special tokens in text also
  tokenize as control tokens. Plain-text rows (data.format: text) are pre-rendered on purpose and not checked.
- **A duplicated system prompt**: the same system text twice in one conversation (a system column and a system
  turn, a system turn repeated mid-conversation, or the system text pasted into another turn). The same system
  prompt in every row is normal and not flagged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_CODE = re.compile(r"```.*?(?:```|\Z)|`[^`\n]+`", re.DOTALL)
_BRACES = re.compile(r"\{\{\s*[A-Za-z_][\w.]*\s*\}\}")
_ANGLE = re.compile(r"(?<![\w<])<([A-Z][A-Z0-9_]+|[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+)>")
_BRACKETS = re.compile(r"\[(?:your|insert|enter)\b[^\]\n]{0,40}\](?!\()", re.IGNORECASE)
TOOL_TAGS = frozenset({"tool_call", "tool_calls", "tool_response", "tool_result", "function_call",
                       "function_response", "function_calls", "start_of_turn", "end_of_turn", "start_of_image"})

# Markers of chat and instruction layouts: ChatML, Llama 3, Llama 2 / Mistral, Gemma, Phi-3, Alpaca.
TEMPLATE_MARKERS = ("<|im_start|>", "<|im_end|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
                    "<|begin_of_text|>", "<|endoftext|>", "<|user|>", "<|assistant|>", "<|end|>", "[INST]",
                    "[/INST]", "<<SYS>>", "<start_of_turn>", "<end_of_turn>", "### Instruction:", "### Response:")
SYSTEM_PASTED_MIN = 20      # characters: a shorter system text ("Be brief.") can appear in a turn by chance


def placeholders(text: str, special: Iterable[str] = ()) -> list[str]:
    """The unrendered placeholders in `text`, in order, each once."""
    prose = _CODE.sub(" ", text) if "`" in text else text
    found = [m.group(0) for m in _BRACES.finditer(prose)]
    tokens = set(special)
    for m in _ANGLE.finditer(prose):
        name = m.group(1)
        if name.lower() in TOOL_TAGS or m.group(0) in tokens or f"</{name}>" in prose:
            continue
        found.append(m.group(0))
    found += [m.group(0) for m in _BRACKETS.finditer(prose)]
    return list(dict.fromkeys(found))


def template_markers(text: str, special: Iterable[str] = ()) -> list[str]:
    """The chat-layout markers and special tokens written in `text` itself."""
    return [marker for marker in dict.fromkeys((*TEMPLATE_MARKERS, *special)) if marker and marker in text]


def own_texts(example: dict) -> list[str]:
    """The texts a row holds, as the data file has them: an alpaca row's instruction and input separately (its
    user turn joins them with a layout of ours), every turn's content, and the text of a text row."""
    if "text" in example:
        return [example["text"]]
    messages = example["messages"]
    if "instruction" in example:          # the last user turn is ours: instruction + "### Input:" + input
        last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
        return [m["content"] for i, m in enumerate(messages) if i != last_user] + \
            [example["instruction"], example.get("input", "")]
    return [m["content"] for m in messages]


def duplicated_system(messages: list[dict]) -> bool:
    """Whether the conversation says its system prompt twice (see the module docstring)."""
    systems = [m["content"].strip() for m in messages if m["role"] == "system" and m["content"].strip()]
    if len(systems) != len(set(systems)):
        return True
    others = [m["content"] for m in messages if m["role"] != "system"]
    return any(len(s) >= SYSTEM_PASTED_MIN and any(s in text for text in others) for s in systems)
