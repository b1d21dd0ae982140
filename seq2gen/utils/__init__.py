"""Plumbing with no genomics in it, shared by every layer: atomic writes (``io``) and human units (``units``)."""
