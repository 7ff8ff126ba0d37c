"""Counters, gauges and histograms that cost an attribute update on the hot path, served to
Prometheus by a custom collector at scrape time.

Written by hand because prometheus_client's children take a lock on every update (its
``MutexValue``) and the mock and the runner update several per request from one event-loop
thread; here an update is ``child.value += n``, and a read at scrape time from another thread
(the runner's /metrics) can at worst miss the update in progress, which the next scrape shows.
The mock serves /metrics from its own loop, so it never even races.

>>> from prometheus_client import CollectorRegistry, generate_latest
>>> reg = CollectorRegistry()
>>> c = PlainCounter("demo_requests_total", "Requests.", ["outcome"], reg)
>>> c.labels("ok").inc()
>>> b"demo_requests_total{outcome=\\"ok\\"} 1.0" in generate_latest(reg)
True
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString


class CounterChild:
    __slots__ = ("value",)

    def __init__(self) -> None:
        self.value = 0.0

    def inc(self, amount: float = 1) -> None:
        if amount < 0:
            raise ValueError(f"counters only go up: inc({amount})")
        self.value += amount


class GaugeChild:
    __slots__ = ("value", "function")

    def __init__(self) -> None:
        self.value = 0.0
        self.function: Callable[[], float] | None = None

    def set(self, value: float) -> None:
        self.value = float(value)

    def inc(self, amount: float = 1) -> None:
        self.value += amount

    def dec(self, amount: float = 1) -> None:
        self.value -= amount

    def set_function(self, function: Callable[[], float]) -> None:
        """Read ``function()`` at each scrape instead of the stored value."""
        self.function = function

    def read(self) -> float:
        return float(self.function()) if self.function is not None else self.value


class HistogramChild:
    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # per bucket, the last is +Inf; cumulated at scrape
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le is inclusive: the first bound >= value
        self.sum += value


class _Family:
    kind = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        self.children: dict[tuple[str, ...], object] = {}
        registry.register(_FamilyCollector(self))

    def _new_child(self):  # pragma: no cover - every family overrides it
        raise NotImplementedError

    def labels(self, *values: str):
        child = self.children.get(values)
        if child is None:
            if len(values) != len(self.labelnames):
                raise ValueError(f"{self.name} takes labels {self.labelnames}, got {values}")
            key = tuple(str(v) for v in values)
            child = self.children.get(key)
            if child is None:
                child = self.children[key] = self._new_child()
        return child

    def family(self) -> Metric:  # pragma: no cover - every family overrides it
        raise NotImplementedError


class PlainCounter(_Family):
    def _new_child(self) -> CounterChild:
        return CounterChild()

    def family(self) -> Metric:
        out = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self.children.items()):
            out.add_metric(key, child.value)
        return out


class PlainGauge(_Family):
    def _new_child(self) -> GaugeChild:
        return GaugeChild()

    def family(self) -> Metric:
        out = GaugeMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for key, child in list(self.children.items()):
            out.add_metric(key, child.read())
        return out


class PlainHistogram(_Family):
    def __init__(self, name: str, documentation: str, labelnames: Sequence[str], registry: CollectorRegistry,
                 buckets: Sequence[float]) -> None:
        self.bounds = tuple(sorted(float(b) for b in buckets if b != float("inf")))
        super().__init__(name, documentation, labelnames, registry)

    def _new_child(self) -> HistogramChild:
        return HistogramChild(self.bounds)

    def family(self) -> Metric:
        out = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        les = [floatToGoString(b) for b in self.bounds] + ["+Inf"]
        for key, child in list(self.children.items()):
            counts, total = list(child.counts), child.sum
            cumulative, running = [], 0
            for le, n in zip(les, counts):
                running += n
                cumulative.append((le, running))
            out.add_metric(key, cumulative, total)
        return out


class _FamilyCollector(Collector):
    def __init__(self, family: _Family) -> None:
        self._family = family

    def collect(self) -> Iterator[Metric]:
        yield self._family.family()

    def describe(self) -> Iterator[Metric]:
        # the family's name and type without its samples: the registry checks names are unique
        f = self._family
        kind = {PlainCounter: CounterMetricFamily, PlainGauge: GaugeMetricFamily,
                PlainHistogram: HistogramMetricFamily}[type(f)]
        yield kind(f.name, f.documentation, labels=f.labelnames)
