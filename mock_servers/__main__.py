"""``python -m mock_servers`` is ``harness mock``."""

from mock_servers.cli import main

if __name__ == "__main__":
    main()
