"""``harness worker``: serve chunk tasks of distributed runs (``harness run --engine celery``)."""

from __future__ import annotations

from typing import Optional

import typer


def worker(
    broker: str = typer.Option("redis://127.0.0.1:6379/0", "--broker", envvar="HARNESS_BROKER",
                               help="Redis URL: the Celery broker, and the shared rate limits."),
    concurrency: int = typer.Option(1, "--concurrency", min=1, help="Pool processes: chunks run at once here."),
    workers_per_process: Optional[int] = typer.Option(None, "--workers-per-process", min=1,
                                                      help="Requests in flight in each process (default: what "
                                                           "the coordinator planned, --workers / processes)."),
    metrics_port: Optional[int] = typer.Option(None, "--metrics-port", help="Pool process i serves Prometheus "
                                               "/metrics on PORT+i (labels run_id and worker)."),
    metrics_addr: str = typer.Option("127.0.0.1", "--metrics-addr", help="Address /metrics listens on "
                                     "(0.0.0.0 inside a container)."),
    loglevel: str = typer.Option("INFO", "--loglevel", help="Celery log level."),
    hostname: Optional[str] = typer.Option(None, "--hostname", help="Celery node name (default harness@HOST-PID)."),
) -> None:
    """Run a Celery worker for distributed runs: it takes chunk tasks from the Redis broker,
    runs the harness engine on each (its items journaled, so a chunk redelivered after a crash
    resumes without repeating a done item), and paces every request by the run's shared limit
    in Redis. Stop it with Ctrl-C or SIGTERM (warm shutdown)."""
    from harness.runner.distributed.worker import start_worker

    start_worker(broker, concurrency=concurrency, workers_per_process=workers_per_process,
                 metrics_port=metrics_port, metrics_addr=metrics_addr, loglevel=loglevel, hostname=hostname)
