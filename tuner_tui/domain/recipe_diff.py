"""What changed between two recipes, as dotted key paths: the edits a re-launch records and compare shows."""

from __future__ import annotations

from typing import Any

_MISSING = "<unset>"


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: data}


def diff(old: dict, new: dict) -> dict[str, tuple[Any, Any]]:
    """{key path: (old value, new value)} for every leaf that differs."""
    a, b = flatten(old), flatten(new)
    return {key: (a.get(key, _MISSING), b.get(key, _MISSING)) for key in sorted(a.keys() | b.keys())
            if a.get(key, _MISSING) != b.get(key, _MISSING)}


def diff_many(recipes: list[dict]) -> dict[str, list[Any]]:
    """{key path: [value in each recipe]} for keys that are not the same in all of them."""
    flat = [flatten(r) for r in recipes]
    keys = sorted(set().union(*flat))
    return {key: [f.get(key, _MISSING) for f in flat] for key in keys
            if len({repr(f.get(key, _MISSING)) for f in flat}) > 1}
