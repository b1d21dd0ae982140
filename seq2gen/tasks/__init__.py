"""Declared tasks: YAML templates → ``Task``; ``TaskRegistry`` (an object, not a global); ``Mixture`` rates.

See docs/tasks.md for the template schema and the shipped tasks.
"""
from seq2gen.tasks.mixture import Mixture
from seq2gen.tasks.registry import DEFAULT_TEMPLATES_DIR, TaskRegistry
from seq2gen.tasks.render import Renderer, parse_answer, snap, span_tokens
from seq2gen.tasks.task import FAMILIES, QuantizerSpec, SourceSpec, Task, Window

__all__ = ["DEFAULT_TEMPLATES_DIR", "FAMILIES", "Mixture", "QuantizerSpec", "Renderer", "SourceSpec", "Task",
           "TaskRegistry", "Window", "parse_answer", "snap", "span_tokens"]
