"""Builders of tiny real components for tests and examples (lhotse-style ``testing``).

Only tests (and examples) import this package; package code never does.
"""
