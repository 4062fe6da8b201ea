"""A placeholder that mounts a widget in its place right after the first frame.

Textual's `Lazy` takes a widget that already exists, so its module (and the Textual widgets that module
imports) is loaded before the first frame. This takes a function instead: the panels that are not part of
the first frame are imported and built after it."""

from __future__ import annotations

from collections.abc import Callable

from textual.widget import Widget


class AfterFirstFrame(Widget):
    DEFAULT_CSS = "AfterFirstFrame { display: none; }"

    def __init__(self, make: Callable[[], Widget], then: Callable[[], object] | None = None) -> None:
        super().__init__()
        self._make, self._then = make, then

    def on_mount(self) -> None:
        self.call_after_refresh(self._replace)

    async def _replace(self) -> None:
        parent = self.parent
        if isinstance(parent, Widget):
            await parent.mount(self._make(), after=self)
        await self.remove()
        if self._then is not None:
            self._then()
