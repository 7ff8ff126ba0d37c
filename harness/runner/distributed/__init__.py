"""Scale out: one batch run as chunk tasks on Celery workers (Redis broker), paced by one
limit shared in Redis (:mod:`harness.runner.redis_limiter`).

- :mod:`.chunks`: the run folder (plan, chunk inputs, their checkpoints and outputs) and the merge.
- :mod:`.app`: the Celery app (late acks, redelivery of a lost worker's chunk).
- :mod:`.tasks`: the chunk task (a lease in Redis, the engine on the chunk, progress counters).
- :mod:`.worker`: ``harness worker`` (a Celery worker that serves /metrics).
- :mod:`.coordinator`: ``harness run --engine celery`` (split, send, watch, merge, resume).
- :mod:`.local`: the embedded default (a local redis-server and local worker processes).
"""
