"""``KEY=VALUE`` overrides of nested config mappings, at any depth: one parser and one setter for every command
(``seq2gen train --set``, ``seq2gen quickstart``'s ``train_overrides.max_steps``, ``seq2gen evaluate table --param``)."""
from __future__ import annotations

from seq2gen.errors import InputError


def parse_overrides(overrides) -> list[tuple[str, object]]:
    """A dict → its items; ``["max_steps=100", "rates.expr=2", "labels={0: <no>}"]`` → ``(key, value)`` pairs with
    each value read as YAML (``100`` an int, ``null`` None, ``[a, b]`` a list)."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    import yaml
    items = []
    for item in overrides:
        if "=" not in item:
            raise InputError(f"override {item!r} is not KEY=VALUE", hint="e.g. max_steps=100 or rates.expr=2")
        key, value = item.split("=", 1)
        try:
            items.append((key.strip(), yaml.safe_load(value)))
        except yaml.YAMLError as exc:
            raise InputError(f"override {item!r}: the value is not YAML ({getattr(exc, 'problem', exc)})",
                             hint="quote strings with special characters") from None
    return items


def set_dotted(data: dict, key: str, value) -> None:
    """``data["a"]["b"]["c"] = value`` for ``key="a.b.c"``, creating the mappings on the way."""
    *parents, last = key.split(".")
    node = data
    for i, part in enumerate(parents):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise InputError(f"override {key!r}: {'.'.join(parents[:i + 1])!r} is not a mapping")
    node[last] = value
