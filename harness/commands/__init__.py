"""The harness's subcommands, one module each; harness/cli.py registers them."""
