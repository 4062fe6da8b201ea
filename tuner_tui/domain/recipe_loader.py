"""Recipe file -> validated Recipe, or every Problem in it at once.

Steps: read bytes (size, encoding), parse YAML with positions, apply `--set a.b=c` overrides typed by the
schema, validate with pydantic, then turn each validation error into a Problem that names the file, line,
column, key path, what was expected and a "did you mean".
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from tuner_tui.domain.problems import Problem, ProblemsFound, did_you_mean
from tuner_tui.domain.recipe import Recipe
from tuner_tui.domain.yaml_source import MAX_BYTES, YamlDocument, decode, dotted, parse


@dataclass
class LoadedRecipe:
    recipe: Recipe
    data: dict                          # the validated input as written (after overrides)
    path: Path | None
    warnings: list[Problem] = field(default_factory=list)

    @property
    def base_dir(self) -> Path:
        """Relative data paths are relative to the recipe's folder."""
        return self.path.parent if self.path else Path.cwd()


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> LoadedRecipe:
    """Read and validate a recipe file. Raises ProblemsFound with every problem found."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise ProblemsFound([Problem(str(path), "no such file")]) from None
    except IsADirectoryError:
        raise ProblemsFound([Problem(str(path), "is a folder, not a recipe file")]) from None
    except OSError as err:
        raise ProblemsFound([Problem(str(path), f"cannot read: {err.strerror}")]) from None
    text, problems = decode(raw, str(path))
    if text is None:
        raise ProblemsFound(problems)
    return load_recipe_text(text, str(path), overrides, path=path)


def load_recipe_text(text: str, filename: str = "<recipe>", overrides: list[str] | None = None,
                     path: Path | None = None) -> LoadedRecipe:
    doc = parse(text, filename)
    if doc.problems and doc.data is None:
        raise ProblemsFound(doc.problems)
    problems = list(doc.problems)
    data = doc.data
    if data is None:
        problems.append(Problem(filename, "the file is empty; a recipe needs at least name, model.source and "
                                "data.path", hint="start from `tuner recipes` and copy a built-in one"))
        raise ProblemsFound(problems)
    if not isinstance(data, dict):
        problems.append(Problem(filename, f"the top level is a {type(data).__name__}, not a mapping of keys",
                                line=1, expected="keys such as name:, model:, data:"))
        raise ProblemsFound(problems)
    overridden = apply_overrides(data, overrides or [], problems)
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        problems.extend(_explain(err, doc, filename, overridden))
        raise ProblemsFound(problems) from None
    if problems:
        raise ProblemsFound(problems)
    warnings = [_problem_at(doc, filename, overridden, tuple(key.split(".")), why, severity="warning")
                for key, why in recipe.ignored_settings()]
    return LoadedRecipe(recipe, data, path, warnings)


# ---------------------------------------------------------------------------------------------- overrides

def apply_overrides(data: dict, overrides: list[str], problems: list[Problem]) -> dict[tuple, str]:
    """Apply `a.b=c` in order; returns {path: the override text} so errors can point at the flag."""
    applied: dict[tuple, str] = {}
    for item in overrides:
        source = f"--set {item}"
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            problems.append(Problem(source, "expected KEY=VALUE, e.g. --set train.learning_rate=1e-4"))
            continue
        path = tuple(key.strip().split("."))
        annotation, problem = _field_type(path, source)
        if problem:
            problems.append(problem)
            continue
        value = _typed_value(raw, annotation, source, problems)
        target = data
        for part in path[:-1]:
            if not isinstance(target.get(part), dict):
                target[part] = {}
            target = target[part]
        target[path[-1]] = value
        applied[path] = source
    return applied


def _field_type(path: tuple[str, ...], source: str) -> tuple[Any, Problem | None]:
    """The schema type at `path`, or a Problem naming the unknown part with a did-you-mean."""
    model: Any = Recipe
    annotation: Any = Recipe
    for depth, part in enumerate(path):
        if model is None:
            return None, Problem(source, f"'{dotted(path[:depth])}' is a single value and has no key "
                                 f"'{part}'", key=dotted(path))
        if model is dict:                       # free-form mapping such as data.columns
            annotation, model = str, None
            continue
        fields = model.model_fields
        if part not in fields:
            return None, Problem(source, f"unknown key '{part}'", key=dotted(path[: depth + 1]),
                                 expected="one of " + ", ".join(fields), hint=did_you_mean(part, fields))
        annotation = fields[part].annotation
        model = _inner_model(annotation)
    return annotation, None


def _inner_model(annotation: Any) -> Any:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        if arg is dict or typing.get_origin(arg) is dict:
            return dict
    return None


def _typed_value(raw: str, annotation: Any, source: str, problems: list[Problem]) -> Any:
    """YAML-parse the value (numbers, true/false, null, [a,b]) unless the schema wants a plain string."""
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        problems.append(Problem(source, f"cannot read the value {raw!r}", hint="quote it, or write lists as "
                                "[a,b]"))
        return raw
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) or \
        typing.get_origin(annotation) is typing.Union else (annotation,)
    if str in args and value is not None and not isinstance(value, str):
        return raw.strip()                 # e.g. --set name=2024 stays the string "2024"
    return value


# ---------------------------------------------------------------------------------------------- validation

def _explain(err: ValidationError, doc: YamlDocument, filename: str,
             overridden: dict[tuple, str]) -> list[Problem]:
    """pydantic errors -> Problems; union branches of one key collapse into one Problem."""
    seen: dict[tuple, Problem] = {}
    for e in err.errors(include_url=False):
        loc = tuple(e["loc"])
        kind = e["type"]
        if kind == "missing":
            path = loc
        else:
            path = _present_prefix(loc, doc, overridden) if kind != "extra_forbidden" else loc
        problem = _one(e, kind, path, doc, filename, overridden)
        if path in seen and kind not in ("missing", "extra_forbidden"):
            old = seen[path]
            merged = f"{old.expected} or {problem.expected}" if old.expected and problem.expected else None
            seen[path] = Problem(old.file, "not an accepted value", key=old.key, line=old.line,
                                 column=old.column, expected=merged or old.expected, hint=old.hint)
            continue
        seen[path] = problem
    # Reading order: the file top to bottom, then the --set flags.
    return sorted(seen.values(), key=lambda p: (p.file != filename, p.line or 0, p.column or 0))


def _present_prefix(loc: tuple, doc: YamlDocument, overridden: dict[tuple, str]) -> tuple:
    """Drop pydantic's union-branch labels: keep the longest prefix of loc that exists in the input."""
    for end in range(len(loc), -1, -1):
        if loc[:end] in doc.values or loc[:end] in overridden:
            return loc[:end]
    return loc


def _one(e: Any, kind: str, path: tuple, doc: YamlDocument, filename: str,
         overridden: dict[tuple, str]) -> Problem:
    ctx = e.get("ctx") or {}
    given = e.get("input")
    if kind == "extra_forbidden":
        choices = _field_names(path[:-1])
        return _problem_at(doc, filename, overridden, path, f"unknown key '{path[-1]}'", prefer_key=True,
                           expected="one of " + ", ".join(choices) if choices else None,
                           hint=did_you_mean(path[-1], choices))
    if kind == "missing":
        what = _description(path)
        return _problem_at(doc, filename, overridden, path, "missing required key", expected=what)
    if kind == "literal_error":
        expected = str(ctx.get("expected", ""))
        options = [o.strip().strip("'") for o in expected.replace(" or ", ",").split(",") if o.strip()]
        return _problem_at(doc, filename, overridden, path, f"{given!r} is not allowed",
                           expected="one of " + ", ".join(options), hint=did_you_mean(given, options))
    if kind == "value_error" and not path:
        # A cross-field rule of Recipe: its message starts with the key path it is about.
        message = str(ctx.get("error", e["msg"]))
        key, _, rest = message.partition(": ")
        return _problem_at(doc, filename, overridden, tuple(key.split(".")), rest or message)
    if kind in ("finite_number", "int_parsing_size"):
        # .inf, .nan, 1e400 (a float overflow) or a whole number beyond 64 bits: never a setting.
        what = "not a finite number" if kind == "finite_number" else "far too large for a whole number"
        return _problem_at(doc, filename, overridden, path, f"{given!r} is {what}", expected=_bounds(path))
    hint = _type_hint(kind)
    if hint and not isinstance(given, (dict, list)):
        return _problem_at(doc, filename, overridden, path, f"{given!r} is not {hint}")
    message = e["msg"].removeprefix("Value error, ")
    if not isinstance(given, (dict, list)):
        message += f" (got {given!r})"
    return _problem_at(doc, filename, overridden, path, message, expected=hint)


def _problem_at(doc: YamlDocument, filename: str, overridden: dict[tuple, str], path: tuple, message: str,
                expected: str | None = None, hint: str | None = None, prefer_key: bool = False,
                severity: str = "error") -> Problem:
    for end in range(len(path), 0, -1):
        if path[:end] in overridden:
            return Problem(overridden[path[:end]], message, key=dotted(path), expected=expected, hint=hint,
                           severity=severity)  # type: ignore[arg-type]
    position = doc.position(path, prefer_key=prefer_key)
    line, column = position if position else (None, None)
    return Problem(filename, message, key=dotted(path), line=line, column=column, expected=expected,
                   hint=hint, severity=severity)  # type: ignore[arg-type]


def _schema_at(path: tuple) -> tuple[Any, Any] | None:
    """(model class or dict or None, FieldInfo of the last part) for a key path, or None when unknown."""
    model: Any = Recipe
    info = None
    for part in path:
        if model is None or model is dict or part not in model.model_fields:
            return None
        info = model.model_fields[part]
        model = _inner_model(info.annotation)
    return model, info


def _field_names(path: tuple) -> list[str]:
    found = _schema_at(path)
    return list(found[0].model_fields) if found and found[0] not in (None, dict) else []


def _description(path: tuple) -> str | None:
    found = _schema_at(path)
    return found[1].description if found and found[1] else None


def _bounds(path: tuple) -> str | None:
    """'a number >= 1 and <= 65536' from the field's constraints, for the errors pydantic words without them."""
    found = _schema_at(path)
    if not found or found[1] is None:
        return None
    parts = [f"{op} {getattr(m, name)}" for m in found[1].metadata
             for name, op in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
             if getattr(m, name, None) is not None]
    return "a number " + " and ".join(parts) if parts else None


def _type_hint(kind: str) -> str | None:
    return {
        "int_parsing": "a whole number", "int_type": "a whole number", "int_from_float": "a whole number",
        "float_parsing": "a number", "float_type": "a number", "bool_parsing": "true or false",
        "bool_type": "true or false", "string_type": "text", "list_type": "a list, e.g. [a, b]",
        "dict_type": "a mapping of keys", "model_type": "a mapping of keys", "model_attributes_type":
        "a mapping of keys",
    }.get(kind)
