"""UGRN Explorer: read gene regulatory networks out of frozen single-cell foundation models."""

__version__ = "0.1.0"
