"""Presenting results: tables, plots, the load spec and the partner notice."""
