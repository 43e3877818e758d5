"""Inference: the Tagger (words or text -> entities) over an engine (a model that gives per-token labels)."""
