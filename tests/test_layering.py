"""The package's import graph: layers in one direction, no cycles (every import counts, lazy ones too).

Layer order (docs/ARCHITECTURE.md): a module may import its own layer and earlier ones only. ``infer`` comes before
``evaluate`` because evaluation scores models through the one inference path (``Seq2Gen``); ``baselines`` shares
the evaluation layer (the CNN it trains is scored with ``evaluate.metrics``); ``serve``, ``quickstart`` and ``cli``
are the applications on top.
"""
from __future__ import annotations

import ast
from pathlib import Path

import seq2gen

PKG = Path(seq2gen.__file__).resolve().parent
LAYERS = [
    ("errors", "resources", "utils"),
    ("vocab",),
    ("genome",),
    ("world",),
    ("tasks",),
    ("data",),
    ("model",),
    ("train",),
    ("infer", "interpret"),
    ("evaluate", "baselines"),
    ("serve",),
    ("quickstart",),
    ("cli", "__main__"),
]
RANK = {name: i for i, names in enumerate(LAYERS) for name in names}


def modules(root: Path = PKG) -> dict[str, Path]:
    """Dotted name → file of every module of the package (``seq2gen.x.__init__`` is ``seq2gen.x``)."""
    out = {}
    for p in sorted(root.rglob("*.py")):
        parts = ["seq2gen", *p.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


def imports(name: str, path: Path, known: dict) -> set[str]:
    """The seq2gen modules ``name`` imports anywhere in its file (top level, functions, relative imports)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "seq2gen")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != "seq2gen":
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in known else base)
    out.discard(name)
    return out


def graph(root: Path = PKG) -> dict[str, set[str]]:
    known = modules(root)
    return {m: imports(m, p, known) for m, p in known.items()}


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "errors"   # the package itself: foundation


def backward_imports(g: dict[str, set[str]]) -> list[str]:
    bad = []
    for m, targets in sorted(g.items()):
        for t in sorted(targets):
            if RANK[layer(t)] > RANK[layer(m)]:
                bad.append(f"{m} imports {t} ({layer(m)} may not import the later layer {layer(t)})")
    return bad


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in g:
        if root in index:
            continue
        work = [(root, iter(sorted(g[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next((x for x in it if x in g), None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g[w]))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def test_every_package_has_a_layer():
    missing = sorted({layer(m) for m in modules()} - set(RANK))
    assert not missing, f"add {missing} to LAYERS (and to docs/ARCHITECTURE.md)"


def test_later_layers_import_earlier_ones_only():
    bad = backward_imports(graph())
    assert not bad, "backward imports:\n" + "\n".join(bad)


def test_no_import_cycles():
    found = cycles(graph())
    assert not found, "import cycles: " + "; ".join(" ↔ ".join(c) for c in found)


def test_the_checks_catch_a_planted_backward_import_and_cycle(tmp_path):
    """The walker itself: a copy of two modules with a planted backward import and a two-file cycle."""
    root = tmp_path / "seq2gen"
    (root / "vocab").mkdir(parents=True)
    (root / "infer").mkdir()
    (root / "__init__.py").write_text("")
    (root / "vocab" / "__init__.py").write_text("")
    (root / "infer" / "__init__.py").write_text("")
    (root / "vocab" / "a.py").write_text("def f():\n    from seq2gen.infer import b\n")     # lazy, still counts
    (root / "infer" / "b.py").write_text("from ..vocab import a\n")                         # relative
    g = graph(root)
    assert g["seq2gen.vocab.a"] == {"seq2gen.infer.b"} and g["seq2gen.infer.b"] == {"seq2gen.vocab.a"}
    assert backward_imports(g) == ["seq2gen.vocab.a imports seq2gen.infer.b (vocab may not import the later "
                                   "layer infer)"]
    assert cycles(g) == [["seq2gen.infer.b", "seq2gen.vocab.a"]]


def test_graph_sees_real_edges():
    """Guard against a walker that finds nothing: known edges of the real package, top-level and lazy."""
    g = graph()
    assert g["seq2gen.vocab.grammar"] >= {"seq2gen.errors", "seq2gen.resources"}      # top-level imports
    assert "seq2gen.infer.args" in g["seq2gen.infer.variants"]                          # a lazy import
    assert "seq2gen.utils.io" in g["seq2gen.world.generate"]                            # a relative import
    assert len(g) > 60 and sum(map(len, g.values())) > 150
