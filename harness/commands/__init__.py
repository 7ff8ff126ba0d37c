"""Subcommands that live in their own module; harness/cli.py registers each with one line."""
