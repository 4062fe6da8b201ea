"""The editor area: a one-line strip of tabs (VS Code style: click a tab to show it, click its × to close it)
over the open panes, one shown at a time.

Not Textual's TabbedContent: that is eight widgets deep (tabs, scroll container, underline, switcher, pane,
...), which cost ~50 ms of the first frame, and Textual re-renders every level of it in each frame of a live
run (bench/ui_startup.py, bench/ui_idle.py). Here the strip and the panes are the children: a pane is the
content widget itself, under the tab's id. Keys: Ctrl+Tab / Ctrl+PgDn and Ctrl+Shift+Tab / Ctrl+PgUp switch
tabs, Ctrl+W closes one (the app's bindings)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.events import Click
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from tuner_tui.domain.terminal_text import printable

CLOSE = "×"


class TabStrip(Widget):
    COMPONENT_CLASSES = {"tab-strip--active", "tab-strip--close"}

    active: reactive[str | None] = reactive(None, layout=False)

    class Clicked(Message):
        def __init__(self, pane_id: str, close: bool) -> None:
            super().__init__()
            self.pane_id, self.close = pane_id, close

    def __init__(self) -> None:
        super().__init__()
        self.tabs: dict[str, str] = {}                    # pane id -> label, in order
        self._spans: list[tuple[int, int, int, str]] = []  # (start, close_x, end, pane id) as last drawn

    def set_tabs(self, tabs: dict[str, str]) -> None:
        self.tabs = dict(tabs)
        self._spans = []                                  # no clicks on what is no longer drawn
        self.refresh()

    def render(self) -> Text:
        items = [(pane_id, f" {label} ", f"{CLOSE} ") for pane_id, label in self.tabs.items()]
        widths = [cell_len(label) + cell_len(close) for _, label, close in items]    # cells: CJK is 2 wide
        ids = [pane_id for pane_id, _, _ in items]
        # Too many tabs for the width: start late enough that the active one is seen, and say so with ‹ (and
        # › when more follow on the right).
        start, room = 0, max(1, self.size.width - 2)
        last = ids.index(self.active) if self.active in ids else len(ids) - 1
        while start < last and sum(widths[start:last + 1]) > room:
            start += 1
        text, x = Text(no_wrap=True, overflow="crop"), 0
        if start:
            text.append("‹")
            x = 1
        active_style = self.get_component_rich_style("tab-strip--active", partial=True)
        close_style = self.get_component_rich_style("tab-strip--close", partial=True)
        self._spans = []
        for i, (pane_id, label, close) in enumerate(items[start:], start):
            if x + widths[i] > self.size.width - (1 if i < len(items) - 1 else 0) and x > 1:
                text.append("›")                              # the rest are off to the right
                break
            style = active_style if pane_id == self.active else None
            text.append(label, style=style or "")
            text.append(close, style=style + close_style if style else close_style)
            self._spans.append((x, x + cell_len(label), x + widths[i], pane_id))
            x += widths[i]
        return text

    def on_click(self, event: Click) -> None:
        for start, close_x, end, pane_id in self._spans:
            if start <= event.x < end:
                self.post_message(self.Clicked(pane_id, close=close_x <= event.x < end - 1))
                return


class EditorTabs(Vertical):
    class Activated(Message):
        """A tab became the shown one (by a click, a key or the code)."""

        def __init__(self, tabs: EditorTabs, pane_id: str) -> None:
            super().__init__()
            self.tabs, self.pane_id = tabs, pane_id

        @property
        def control(self) -> EditorTabs:
            return self.tabs

    class CloseRequested(Message):
        def __init__(self, pane_id: str) -> None:
            super().__init__()
            self.pane_id = pane_id

    def __init__(self, title: str, first: Widget, id: str | None = None) -> None:
        """Open with one tab: `first` (which has its id), titled `title`."""
        super().__init__(id=id)
        self.strip = TabStrip()
        assert first.id is not None, "the first tab's content carries its tab id"
        self._first = first
        self._titles = {first.id: printable(title)}     # titles hold run names
        self._active: str | None = first.id
        self.strip.set_tabs(self._titles)
        self.strip.active = self._active

    def compose(self) -> ComposeResult:
        yield self.strip
        yield self._first

    # ------------------------------------------------------------------------------------------ queries

    @property
    def active(self) -> str | None:
        return self._active

    @active.setter
    def active(self, pane_id: str) -> None:
        if pane_id not in self._titles:                      # closed meanwhile (a double click on its ×)
            return
        changed = pane_id != self._active
        self._active = pane_id
        for pane in self._panes():
            pane.display = pane.id == pane_id
        self.strip.active = pane_id
        if changed:
            self.post_message(self.Activated(self, pane_id))

    def _panes(self) -> list[Widget]:
        """The open tabs' panes, in order (mount() makes a pane a child at once, before its Mount event)."""
        return [w for w in self.children if w is not self.strip and w.id in self._titles]

    def pane_ids(self) -> list[str]:
        return list(self._titles)

    def get_pane(self, pane_id: str) -> Widget | None:
        """The content widget shown by the tab `pane_id`."""
        for pane in self._panes():
            if pane.id == pane_id:
                return pane
        return None

    def label_of(self, pane_id: str) -> str:
        return self._titles[pane_id]

    # ------------------------------------------------------------------------------------------ changes

    def add_pane(self, title: str, pane: Widget):
        """Mount `pane` (a widget with the tab's id; hidden until made active); returns the mount's awaitable."""
        self._titles[pane.id] = printable(title)                         # type: ignore[index]
        self.strip.set_tabs(self._titles)
        pane.display = False
        return self.mount(pane)

    def set_label(self, pane_id: str, label: str) -> None:
        if pane_id in self._titles:
            self._titles[pane_id] = printable(label)
            self.strip.set_tabs(self._titles)

    async def remove_pane(self, pane_id: str) -> None:
        """Close a tab; the one to its right (else its left) is shown next, as in VS Code."""
        ids = self.pane_ids()
        if pane_id not in ids:
            return
        position = ids.index(pane_id)
        pane = self.get_pane(pane_id)
        del self._titles[pane_id]
        self.strip.set_tabs(self._titles)
        was_active = pane_id == self._active
        if was_active:                                        # show the next one before the pane goes
            rest = self.pane_ids()
            self._active = None
            if rest:
                self.active = rest[min(position, len(rest) - 1)]
            else:
                self.strip.active = None
        if pane is not None:
            await pane.remove()

    def on_tab_strip_clicked(self, event: TabStrip.Clicked) -> None:
        event.stop()
        if event.pane_id not in self._titles:
            return
        if event.close:
            self.post_message(self.CloseRequested(event.pane_id))
        else:
            self.active = event.pane_id
