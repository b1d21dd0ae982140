"""Evaluation: metrics per task family, the transfer protocol and its report."""
