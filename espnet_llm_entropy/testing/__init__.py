"""Builders of tiny real components for tests and examples (lhotse-style ``testing``)."""
