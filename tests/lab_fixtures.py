"""Shared fixtures that run the embedded lab (filled in by the lab AWS work)."""
