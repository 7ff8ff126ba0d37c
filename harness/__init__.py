"""The client side of the harness: the command line now; runner, planner and reports to come."""

__version__ = "0.1.0"
__all__ = ["__version__"]
