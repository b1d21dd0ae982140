"""``python -m …`` entry points as typer commands that return an exit status: ``main(argv) -> int``.

Why: ``seq2gen.train`` runs under ``deepspeed --module`` / ``torchrun -m`` and tests call ``main([...])`` in
process, so the command must hand back its status instead of calling ``sys.exit`` — the same typer mechanism as
the ``seq2gen`` CLI, without its exit-on-return.
"""
from __future__ import annotations

import sys
from typing import Callable, Sequence


def run_command(command: Callable, argv: Sequence[str] | None, prog: str, help: str | None = None) -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) for ``command`` and run it. The status: what it returns (``None``
    → 0); bad usage → the usage line and message on stderr, 2; ``InputError`` → ``error: …`` on stderr, 2."""
    import typer

    from seq2gen.errors import InputError
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(help=help)(command)
    try:
        rv = app(args=argv, prog_name=prog, standalone_mode=False)
    except _click_class("ClickException") as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        return 1
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if rv is None else int(rv)


def usage_error(message: str, ctx) -> Exception:
    """A usage error of the command whose typer ``Context`` is ``ctx``: ``run_command`` prints the usage line and
    ``message`` and returns 2."""
    return _click_class("UsageError")(message, ctx=ctx)


def _click_class(name: str):
    """click's exception class ``name`` as typer raises it (recent typer ships its own copy of click)."""
    import typer
    return next(c for c in typer.BadParameter.__mro__ if c.__name__ == name)
