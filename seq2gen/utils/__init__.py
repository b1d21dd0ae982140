"""Plumbing with no genomics in it, shared by every layer: atomic writes (``io``), human units (``units``),
``KEY=VALUE`` overrides (``overrides``) and ``python -m`` typer entry points (``cli``)."""
