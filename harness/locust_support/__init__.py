"""Locust support for the harness (README, "Ramp tests with Locust").

- :mod:`.plugin`: what a locustfile imports (it registers the options and hooks, and needs Locust);
- :mod:`.outcomes`: 429s apart from errors, TTFT and tokens/s entry names (pure, no Locust);
- :mod:`.shapes`, :mod:`.pacing`, :mod:`.exporter`, :mod:`.llm`: the pieces.

Importing this package alone does not import Locust (which patches the standard library with
gevent), so :mod:`harness.planning.knee` and the CLI can use :mod:`.outcomes`.
"""
