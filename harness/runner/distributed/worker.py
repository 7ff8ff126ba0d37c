"""``harness worker``: a Celery worker (prefork pool, one chunk per pool process at a time)
that runs the harness engine on chunk tasks, each pool process serving its own /metrics."""

from __future__ import annotations

import os
import socket


def start_worker(broker: str, *, concurrency: int = 1, workers_per_process: int | None = None,
                 metrics_port: int | None = None, metrics_addr: str = "127.0.0.1", loglevel: str = "INFO",
                 hostname: str | None = None) -> None:
    """Run the worker until it is told to stop (SIGTERM: warm shutdown, chunks in flight are
    handed back unfinished and resume elsewhere)."""
    os.environ["HARNESS_BROKER"] = broker
    if workers_per_process is not None:
        os.environ["HARNESS_WORKERS_PER_PROCESS"] = str(workers_per_process)
    from celery import signals

    from harness.runner.distributed.app import QUEUE, make_app

    app = make_app(broker)
    if metrics_port is not None:
        def serve(**_kw) -> None:
            from billiard.process import current_process

            from harness.runner.distributed.metrics import serve_metrics

            index = getattr(current_process(), "index", 0) or 0
            try:
                serve_metrics(metrics_port + index, metrics_addr)
            except OSError as exc:  # the chunks still run; say which port could not be served
                import logging

                logging.getLogger("harness.worker").error(
                    "pool process %d cannot serve /metrics on %s:%d (%s): choose a --metrics-port whose next "
                    "%d ports are free", index, metrics_addr, metrics_port + index, exc, concurrency)

        signals.worker_process_init.connect(serve, weak=False)
    name = hostname or f"harness@{socket.gethostname()}-{os.getpid()}"
    app.worker_main(["worker", "--pool", "prefork", "--concurrency", str(concurrency), "-Q", QUEUE,
                     "--loglevel", loglevel, "--hostname", name, "--without-gossip", "--without-mingle",
                     "--prefetch-multiplier", "1"])
