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
    import click
    import typer

    from seq2gen.errors import InputError
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command(help=help)(command)
    try:
        rv = app(args=argv, prog_name=prog, standalone_mode=False)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        return 1
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0 if rv is None else int(rv)
