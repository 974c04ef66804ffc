"""Shelf-label models and write protocols, as pure code."""
