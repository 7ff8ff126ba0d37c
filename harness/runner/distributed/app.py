"""The Celery app: Redis as broker, chunk tasks acknowledged only once they finish.

A worker process that dies mid-chunk (kill -9, OOM) gets its chunk back on the queue: at once
when the pool sees its child die (``task_reject_on_worker_lost``), or after the broker's
visibility timeout when the whole worker went. Redelivery is safe because a chunk journals its
items (:mod:`harness.runner.distributed.tasks`).
"""

from __future__ import annotations

import os

from celery import Celery

QUEUE = "harness"
DEFAULT_VISIBILITY_TIMEOUT = 3600.0


def make_app(broker_url: str, *, visibility_timeout: float | None = None) -> Celery:
    """A Celery app on ``broker_url``; ``visibility_timeout`` (seconds; default
    ``HARNESS_VISIBILITY_TIMEOUT`` or an hour) is how long an unacknowledged chunk of a vanished
    worker waits before another worker gets it. The coordinator's own watch of chunk leases
    usually requeues it much sooner."""
    vt = visibility_timeout or float(os.environ.get("HARNESS_VISIBILITY_TIMEOUT", DEFAULT_VISIBILITY_TIMEOUT))
    app = Celery("harness", broker=broker_url, include=["harness.runner.distributed.tasks"])
    app.conf.update(
        task_default_queue=QUEUE,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_ignore_result=True,          # progress and completion live in the run's own keys
        worker_prefetch_multiplier=1,     # a process holds only the chunk it runs
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options={"visibility_timeout": vt},
        broker_connection_retry_on_startup=True,
        broker_connection_max_retries=None,   # a Redis restart: reconnect, however long it takes
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_track_started=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
    )
    return app


def broker_from_env() -> str:
    return os.environ.get("HARNESS_BROKER", "redis://127.0.0.1:6379/0")


# the app a worker started with `celery -A harness.runner.distributed.app worker` uses
app = make_app(broker_from_env())
