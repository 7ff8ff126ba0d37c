"""``harness demo``: the mocks answering a time-compressed seed-003 batch, as a speed table.

Seed 003 sent users one at a time to the CardGenius partner API (2.7 s each) and then with 20
workers. This demo starts the mock at a compressed time scale, sends a sample of users at
several worker counts and prints measured throughput converted back to real time, next to the
document's claims. The batch runner and the capacity planner (later issues) grow this into a
full reproduction with a model column and a load spec.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp
from rich.console import Console
from rich.table import Table

from .mockproc import start_mock

CLAIMS = {1: "22 users/min", 20: "400-800 users/min"}
USERS = 200_000


@dataclass
class Measured:
    workers: int
    items: int
    wall_seconds: float
    errors: int


async def _batch(url: str, items: int, workers: int, key: str) -> Measured:
    sem = asyncio.Semaphore(workers)
    errors = 0
    body = {"user_id": 0, "income": 85000, "spend": {"groceries": 600, "travel": 250}}

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal errors
        async with sem:
            async with session.post(url, json={**body, "user_id": i}, headers={"x-api-key": key}) as r:
                await r.read()
                if r.status != 200:
                    errors += 1

    conn = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=conn) as session:
        start = time.perf_counter()
        await asyncio.gather(*(one(session, i) for i in range(items)))
        wall = time.perf_counter() - start
    return Measured(workers, items, wall, errors)


def run_demo(time_scale: float = 0.01, workers: tuple[int, ...] = (1, 5, 10, 20), sample: int = 60,
             console: Console | None = None) -> list[Measured]:
    console = console or Console()
    console.print(f"[bold]Demo:[/] seed 003 (CardGenius, 2.7 s per user) on the mock at time scale {time_scale:g}")
    with start_mock(["cardgenius"], time_scale=time_scale, seed=1) as mock:
        console.print(f"mock server: {mock.base_url}/cardgenius")
        url = mock.url("cardgenius") + "/v1/recommendations"
        results = []
        for w in workers:
            n = max(sample, 3 * w)
            results.append(asyncio.run(_batch(url, n, w, key="demo-key")))
    table = Table(title=f"CardGenius batch: measured on the mock (x{1 / time_scale:g} compressed), real-time figures")
    for col in ("workers", "users/min", "time for 200K users", "vs sequential", "errors", "document claims"):
        table.add_column(col, justify="right")
    base = None
    for m in results:
        per_min = m.items / (m.wall_seconds / time_scale) * 60
        base = base or per_min
        hours = USERS / per_min / 60
        table.add_row(str(m.workers), f"{per_min:,.0f}", f"{hours:,.1f} h" if hours >= 1 else f"{hours * 60:.0f} min",
                      f"{per_min / base:.1f}x", str(m.errors), CLAIMS.get(m.workers, ""))
    console.print(table)
    console.print("20 workers at 2.7 s each cannot exceed 20 / 2.7 = 7.4 users/s = 444 users/min; "
                  "the document's 800 users/min would need 36 workers.")
    return results
