"""``python -m mock_servers`` is ``harness mock``."""

from harness.cli import mock_main

if __name__ == "__main__":
    mock_main()
