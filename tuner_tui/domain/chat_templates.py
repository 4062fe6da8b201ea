"""Chat templates a recipe can name in data.chat_template, for base models that ship none."""

CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' "
    "+ '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
NAMED = {"chatml": CHATML}


def template_for(name_or_jinja: str) -> str:
    """A named template, or the value itself when it is a Jinja template string."""
    return NAMED.get(name_or_jinja.strip().lower(), name_or_jinja)
