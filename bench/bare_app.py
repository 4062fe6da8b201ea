"""The baseline of bench/ui_startup.py: a bare Textual hello-world that, like `TunerApp(exit_on_first_frame=True)`,
exits right after its first frame.

    .venv/bin/python bench/bare_app.py
"""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static


class HelloApp(App):
    def compose(self) -> ComposeResult:
        yield Static("Hello, world")

    def on_mount(self) -> None:
        self.call_after_refresh(self.exit)


if __name__ == "__main__":
    HelloApp().run()
