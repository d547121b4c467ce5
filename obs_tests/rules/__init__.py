"""Prometheus rule files read into located dataclasses, and what a PromQL expression reads."""
