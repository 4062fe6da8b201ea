"""YAML with `yaml.safe_load` semantics, plus what a hostile or sloppy file needs: positions for every key,
duplicate keys as errors, a size cap, an alias-expansion budget and a nesting limit.

We compose the node graph with PyYAML's safe composer (linear in the text, aliases stay shared nodes), then
build Python values ourselves, counting every node we expand. A billion-laughs file therefore fails fast with a
message instead of eating memory, and every value keeps the line/column it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from tuner_tui.domain.problems import Problem

MAX_BYTES = 1024 * 1024          # recipes are small; a bigger file is a mistake (or an attack)
MAX_NODES = 50_000               # values built, aliases expanded included
MAX_DEPTH = 64                   # nesting levels

Path_ = tuple[Any, ...]
_PLAIN_TAGS = {
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
}
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_SEQ, _MAP, _MERGE = "tag:yaml.org,2002:seq", "tag:yaml.org,2002:map", "tag:yaml.org,2002:merge"


@dataclass
class YamlDocument:
    data: Any = None
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)   # path -> (line, column), 1-based
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)     # path -> position of its key
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: Path_, prefer_key: bool = False) -> tuple[int, int] | None:
        """Where `path` (or its nearest present ancestor) is written."""
        for end in range(len(path), -1, -1):
            sub = tuple(path[:end])
            table = (self.keys, self.values) if prefer_key else (self.values, self.keys)
            for positions in table:
                if sub in positions:
                    return positions[sub]
        return None


class _Budget(Exception):
    pass


def decode(raw: bytes, filename: str) -> tuple[str | None, list[Problem]]:
    """Bytes -> text, refusing oversized, binary and non-UTF-8 files with the line of the bad byte."""
    if len(raw) > MAX_BYTES:
        return None, [Problem(filename, f"file is {len(raw):,} bytes; recipes are limited to {MAX_BYTES:,} "
                              "bytes (1 MiB)", hint="is this really a recipe? Data goes in data.path")]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Problem(filename, "file is UTF-16 (e.g. saved as 'Unicode' on Windows)",
                              hint="save the file as UTF-8")]
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return None, [Problem(filename, "file contains NUL bytes: it looks binary, not YAML", line=line)]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        column = err.start - (raw.rfind(b"\n", 0, err.start) + 1) + 1
        return None, [Problem(filename, f"not valid UTF-8 (byte 0x{raw[err.start]:02x})", line=line,
                              column=column, hint="save the file as UTF-8")]


def parse(text: str, filename: str) -> YamlDocument:
    doc = YamlDocument()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        message = " ".join(s for s in (err.context, err.problem) if s) or "invalid YAML"
        hint = "YAML indents with spaces, not tabs" if "\\t" in message or "\t" in message else None
        if mark is None:
            doc.problems.append(Problem(filename, f"invalid YAML: {message}"))
        else:
            doc.problems.append(Problem(filename, f"invalid YAML: {message}", line=mark.line + 1,
                                        column=mark.column + 1, hint=hint))
        return doc
    except yaml.reader.ReaderError as err:   # control characters and the like
        line = text[: err.position].count("\n") + 1
        column = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        char = err.character if isinstance(err.character, str) else chr(err.character)
        doc.problems.append(Problem(filename, f"invalid YAML: {err.reason} U+{ord(char):04X}", line=line,
                                    column=column, hint="remove the control character"))
        return doc
    except yaml.YAMLError as err:
        doc.problems.append(Problem(filename, f"invalid YAML: {str(err).splitlines()[0]}"))
        return doc
    except RecursionError:
        doc.problems.append(Problem(filename, f"nesting is too deep (more than {MAX_DEPTH} levels)"))
        return doc
    if node is None:
        return doc
    builder = _Builder(filename, doc)
    try:
        doc.data = builder.build(node, (), 0)
    except _Budget as stop:
        doc.data = None
        doc.problems.append(Problem(filename, str(stop), line=builder.last_line))
    return doc


class _Builder:
    def __init__(self, filename: str, doc: YamlDocument):
        self.filename, self.doc = filename, doc
        self.count = 0
        self.last_line: int | None = None
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.count += 1
        self.last_line = node.start_mark.line + 1
        if self.count > MAX_NODES:
            raise _Budget(f"the document expands to more than {MAX_NODES:,} values (alias bomb?); "
                          "recipes are small: remove the aliases")
        if depth > MAX_DEPTH:
            raise _Budget(f"nesting is too deep (more than {MAX_DEPTH} levels)")
        self.doc.values.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self._tag_problem(node, path)
            return [self.build(child, (*path, i), depth + 1) for i, child in enumerate(node.value)]
        assert isinstance(node, yaml.MappingNode)
        if node.tag != _MAP:
            self._tag_problem(node, path)
        return self._mapping(node, path, depth)

    def _scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        if node.tag == _TIMESTAMP:
            return node.value           # a date-looking string stays a string
        if node.tag not in _PLAIN_TAGS:
            self._tag_problem(node, path)
            return node.value
        return self.scalars.construct_object(node)

    def _mapping(self, node: yaml.MappingNode, path: Path_, depth: int) -> dict:
        out: dict[Any, Any] = {}
        merged: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:     # `<<: *defaults`: explicit keys win over merged ones
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    value = self.build(source, path, depth + 1)
                    if isinstance(value, dict):
                        merged.update({k: v for k, v in value.items() if k not in merged})
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.doc.problems.append(self._at(key_node, path, "a key must be a plain word, not a list or "
                                                  "mapping"))
                continue
            key = self._scalar(key_node, path)
            sub = (*path, key)
            where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            if key in out:
                first = self.doc.keys[sub][0]
                self.doc.problems.append(self._at(key_node, sub, f"duplicate key '{key}' (first set on line "
                                                  f"{first})", hint="keep one of them"))
                continue
            self.doc.keys[sub] = where
            out[key] = self.build(value_node, sub, depth + 1)
        for key, value in merged.items():
            out.setdefault(key, value)
        return out

    def _tag_problem(self, node: yaml.Node, path: Path_) -> None:
        self.doc.problems.append(self._at(node, path, f"YAML tag {node.tag} is not allowed in recipes",
                                          hint="remove the tag; recipes hold plain values only"))

    def _at(self, node: yaml.Node, path: Path_, message: str, hint: str | None = None) -> Problem:
        return Problem(self.filename, message, key=dotted(path), line=node.start_mark.line + 1,
                       column=node.start_mark.column + 1, hint=hint)


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
