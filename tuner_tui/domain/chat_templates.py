"""The templates a row can be rendered through, as Jinja chat templates.

Every template here is a chat template in the Hugging Face sense (messages, tools, add_generation_prompt,
bos_token, eos_token), because what a run trains through is saved as the `chat_template` of its adapter's and
merged model's tokenizer: `apply_chat_template` at serving time (vLLM, TGI, Ollama's import, a pipeline) then
renders a prompt exactly as training rendered it. The alpaca layout is one of them for that reason.

The sources are single lines of `{%- -%}` tags with all text inside `{{ }}`: transformers compiles templates
with trim_blocks and lstrip_blocks, and a template without literal whitespace renders the same under any
whitespace setting.
"""

from __future__ import annotations

import re

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' "
    "+ '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# The seed's layout: "### Instruction:\n{instruction}\n\n### Response:\n{output}{eos}". A system turn comes first
# as its own paragraph; further turns (alpaca `history`) follow after a blank line. The Input block is part of the
# user turn's text (dataset_rows joins it), so a one-message prompt renders exactly as alpaca_prompt().
ALPACA = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' -%}{{ message['content'] + '\n\n' }}"
    "{%- elif message['role'] == 'user' -%}"
    "{%- if loop.index0 > 0 and messages[loop.index0 - 1]['role'] == 'assistant' -%}{{ '\n\n' }}{%- endif -%}"
    "{{ '### Instruction:\n' + message['content'] + '\n\n### Response:\n' }}"
    "{%- elif message['role'] == 'assistant' -%}{{ message['content'] + eos_token }}"
    "{%- else -%}{{ raise_exception('the alpaca template has no ' + message['role'] + ' turns') }}"
    "{%- endif -%}"
    "{%- endfor -%}"
)
# For tokenizers that put a BOS in front of every text (Llama, Mistral): the template carries it, because
# training and serving both tokenize a rendered template without adding special tokens.
ALPACA_WITH_BOS = "{{- bos_token -}}" + ALPACA

# ChatML with tools, in the Hermes / Qwen2.5 layout: the tool schemas in the system turn inside <tools>, each
# call as a JSON object in a <tool_call> block of the assistant turn, each result as a `tool` turn inside
# <tool_response>. No default system prompt: any ChatML model can learn it.
CHATML_TOOLS = (
    "{%- if tools -%}"
    "{{ '<|im_start|>system\n' }}"
    "{%- if messages and messages[0]['role'] == 'system' -%}{{ messages[0]['content'] + '\n\n' }}{%- endif -%}"
    "{{ '# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
    "function signatures within <tools></tools> XML tags:\n<tools>' }}"
    "{%- for tool in tools -%}{{ '\n' + (tool | tojson) }}{%- endfor -%}"
    "{{ '\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
    "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
    "<args-json-object>}\n</tool_call><|im_end|>\n' }}"
    "{%- elif messages and messages[0]['role'] == 'system' -%}"
    "{{ '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}"
    "{%- endif -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'system' and loop.first -%}"
    "{%- elif message['role'] == 'assistant' and message.tool_calls is defined and message.tool_calls -%}"
    "{{ '<|im_start|>assistant' }}"
    "{%- if message['content'] -%}{{ '\n' + message['content'] }}{%- endif -%}"
    "{%- for call in message.tool_calls -%}"
    "{%- if call.function is defined -%}{%- set call = call.function -%}{%- endif -%}"
    "{{ '\n<tool_call>\n{\"name\": \"' + call.name + '\", \"arguments\": ' + (call.arguments | tojson) + "
    "'}\n</tool_call>' }}"
    "{%- endfor -%}"
    "{{ '<|im_end|>\n' }}"
    "{%- elif message['role'] == 'tool' -%}"
    "{{ '<|im_start|>tool\n<tool_response>\n' + message['content'] + '\n</tool_response><|im_end|>\n' }}"
    "{%- else -%}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|im_start|>assistant\n' }}{%- endif -%}"
)

NAMED = {"chatml": CHATML, "chatml-tools": CHATML_TOOLS}


def template_for(name_or_jinja: str) -> str:
    """A named template, or the value itself when it is a Jinja template string."""
    return NAMED.get(name_or_jinja.strip().lower(), name_or_jinja)


def alpaca_template(adds_bos: bool) -> str:
    return ALPACA_WITH_BOS if adds_bos else ALPACA


_TOOLS = re.compile(r"\btools\b")


def takes_tools(template: str) -> bool:
    """Whether a template renders the `tools` it is given (the function schemas); most without tool support
    never read the variable, so the schemas would vanish without a word."""
    return bool(_TOOLS.search(template))


def takes_tool_calls(template: str) -> bool:
    """Whether a template renders an assistant turn's `tool_calls` (else a call would render as an empty turn)."""
    return "tool_calls" in template
