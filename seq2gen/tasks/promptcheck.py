"""Check a hand-written prompt against its task's template: the structure ``Renderer.prompt`` would have produced.

Why: the model answers any token sequence with a confident-looking value; an expression prompt without its tissue
and position tokens, a stray token, a missing ``</dna>`` or a window of the wrong length is outside everything it
was trained on, and the answer means nothing. ``check_prompt`` walks the template (``task.prompt``) and the prompt's
tokens side by side and raises ``InputError`` naming the first part that does not fit (parts are counted from 1:
each grammar token is one part, each run of DNA one part), the template, and what a correct prompt looks like.

Checked: the literal tokens (task token, ``<dna>``, ``</dna>``) in place; each placeholder filled by a token of its
kind (``{tissue}`` → ``<tissue:…>``, ``{chr}`` → ``<chr:…>``, ``{bin}``, ``{offset}``, ``{ref}``, ``{alt}``,
``{species}``); nothing after the template; the DNA's length equal to ``window.length`` (at most that for tiled
tasks such as ``annotate``, whose last tile may be short, and for ``sequence_table`` tasks with
``fixed_length: false``; span-corruption prompts, whose sentinels stand for a random number of bases, only need
some DNA) and offsets inside the window.
"""
from __future__ import annotations

from seq2gen.errors import InputError

#: placeholder → (token prefix, what to call it in a message)
KINDS = {
    "{tissue}": ("<tissue:", "a tissue token <tissue:…>"),
    "{species}": ("<species:", "a species token <species:…>"),
    "{chr}": ("<chr:", "a chromosome token <chr:…>"),
    "{bin}": ("<bin:", "a position bin token <bin:NNNN>"),
    "{offset}": ("<off:", "an offset token <off:NNNN>"),
    "{ref}": ("<ref:", "a REF allele token <ref:…>"),
    "{alt}": ("<alt:", "an ALT allele token <alt:…>"),
}


def _is_grammar(tok: str) -> bool:
    return tok.startswith("<") and tok.endswith(">") and len(tok) > 2


def _items(tokens: list[str]) -> list[str | int]:
    """Grammar tokens as themselves, each run of DNA tokens as its number of bases."""
    out: list[str | int] = []
    for t in tokens:
        if _is_grammar(t):
            out.append(t)
        elif out and isinstance(out[-1], int):
            out[-1] += len(t)
        else:
            out.append(len(t))
    if out and out[-1] == "</s>":
        out.pop()
    return out


def _show(item) -> str:
    return f"{item} bases of DNA" if isinstance(item, int) else item


def _length_rule(task) -> tuple[int, bool] | None:
    """(window length, exact?) — None where the prompt's DNA length is not fixed by the template."""
    if task.family == "pretrain":
        return None
    table = next((s for s in task.sources if s.type == "sequence_table"), None)
    exact = table is None or bool(table.params.get("fixed_length", True))
    if task.window.centre == "tiled":       # the last tile of a sequence may be short (answers stay inside it)
        exact = False
    return task.window.length, exact


class _Walk:
    """The prompt's items against the template, one placeholder at a time; ``fail`` words the error."""

    def __init__(self, task, items, off_resolution: int):
        self.task, self.items, self.i, self.res = task, items, 0, off_resolution

    def fail(self, what: str, hint: str | None = None) -> InputError:
        t = self.task
        return InputError(f"prompt does not follow the template of task {t.name} ({' '.join(t.prompt)}): part "
                          f"{self.i + 1}: {what}", hint=hint or self._example())

    def _example(self) -> str:
        w = self.task.window
        return (f"write {' '.join(self.task.prompt)} with {w.length} bp of DNA; GET /tasks lists each template, "
                "and the typed helpers such as Seq2Gen.expression build prompts for you")

    def peek(self):
        return self.items[self.i] if self.i < len(self.items) else None

    def literal(self, tok: str) -> None:
        got = self.peek()
        if got != tok:
            raise self.fail(f"expected {tok}, got {'the end of the prompt' if got is None else _show(got)}")
        self.i += 1

    def placeholder(self, item: str) -> None:
        prefix, name = KINDS[item]
        got = self.peek()
        if not isinstance(got, str) or not got.startswith(prefix):
            raise self.fail(f"expected {name}, got {'the end of the prompt' if got is None else _show(got)}")
        if item == "{offset}":
            k = int(got[len(prefix):-1])
            if k * self.res >= self.task.window.length:
                raise self.fail(f"{got} is {k * self.res} bp into a {self.task.window.length}-bp window")
        self.i += 1

    def dna(self) -> None:
        n = 0
        while isinstance(self.peek(), int) or (self.task.family == "pretrain"
                                              and str(self.peek()).startswith("<extra_id_")):
            got = self.peek()
            n += got if isinstance(got, int) else 0
            self.i += 1
        if n == 0:
            got = "the end of the prompt" if self.peek() is None else self.peek()
            raise self.fail(f"expected DNA, got {got}: a prompt holds exactly one non-empty <dna> … </dna> run")
        rule = _length_rule(self.task)
        if rule is not None:
            L, exact = rule
            if (n != L) if exact else (n > L):
                w = self.task.window
                raise self.fail(f"the DNA has {n} bp; task {self.task.name} reads {'' if exact else 'at most '}"
                                f"{L}-bp windows (anchor at offset {w.before})",
                                hint=f"pass {'exactly' if exact else 'at most'} {L} bp; the typed helpers' "
                                     "fit='centre' crops or pads a sequence around its centre")


def check_prompt(task, tokens: list[str], off_resolution: int = 1) -> None:
    """Raise ``InputError`` unless ``tokens`` (a prompt's tokens, ``</s>`` optional) fill ``task.prompt``."""
    walk = _Walk(task, _items(tokens), off_resolution)
    for item in task.prompt:
        if item == "{dna}":
            walk.dna()
        elif item in KINDS:
            walk.placeholder(item)
        else:
            walk.literal(item)
    rest = walk.items[walk.i:]
    if rest:
        raise walk.fail(f"stray {'token' if len(rest) == 1 else 'tokens'} after the template: "
                        f"{' '.join(_show(x) for x in rest[:4])}")
