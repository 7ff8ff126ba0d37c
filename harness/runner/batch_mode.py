"""``harness run --mode batch``: a scenario of one LLM call per item through the provider's
Batch API (OpenAI Files + Batches, Anthropic Message Batches).

Items are rendered with the step's templates, packed into batches (the profile's requests and
bytes per batch, or ``--batch-size``), submitted, polled, downloaded, and every answer is
mapped back to its row through its ``custom_id`` and the step's ``keep`` templates; the output
is in input order (the same ordered writer and checkpoint as an online run).

Never twice: a batch's *intent* (its seqs) is journaled in the checkpoint before it is
submitted and its id right after; on ``--resume`` a journaled id is polled, never sent again,
and an intent without an id is looked up at the provider (OpenAI: the batch's metadata;
Anthropic: batches created since, of that size) before anything is resubmitted. A batch's
results and its "done" mark commit in one transaction. An expired (or cancelled) batch's
unfinished requests, and only those, go into a new batch, up to the scenario's
``retry.max_attempts`` batches per item.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import orjson

from harness.errors import ScenarioError
from harness.runner.batch_clients import AnthropicBatchClient, BatchAPIError, BatchClient, OpenAIBatchClient
from harness.runner.checkpoint import Checkpoint
from harness.runner.figures import FigureBook
from harness.runner.inputs import read_items
from harness.runner.output import OrderedWriter
from harness.runner.stats import RunStats
from harness.runner.templates import TemplateFailure, compile_tree
from harness.runner.usage import price_of, usage_of

JOURNAL = "batch_journal"
POLL_REAL_SECONDS = 30.0        # how often a batch is polled, in real (profile) time
MIN_POLL_WALL = 0.02
LINE_OVERHEAD = 120             # bytes a request takes in the batch beyond its body


def _runs(seqs: Iterable[int]) -> list[list[int]]:
    """Sorted seqs as [start, end) runs: a 1M-item journal stays small."""
    out: list[list[int]] = []
    for s in sorted(seqs):
        if out and out[-1][1] == s:
            out[-1][1] = s + 1
        else:
            out.append([s, s + 1])
    return out


def _expand(runs: list[list[int]]) -> list[int]:
    return [s for a, b in runs for s in range(a, b)]


@dataclass
class JournalEntry:
    k: int
    seqs: list[list[int]]
    n: int
    attempt: int
    intent_at: float
    id: str | None = None
    state: str = "intent"   # intent -> submitted -> done (results recorded) | refused (send again)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Journal:
    run: str
    entries: list[JournalEntry] = field(default_factory=list)

    @classmethod
    def load(cls, ckpt: Checkpoint, run_key: str) -> "Journal":
        raw = ckpt.get_meta(JOURNAL)
        if raw is None:
            return cls(run_key)
        doc = orjson.loads(raw)
        return cls(doc["run"], [JournalEntry(**e) for e in doc["entries"]])

    def save(self, ckpt: Checkpoint) -> None:
        ckpt.set_meta(JOURNAL, orjson.dumps({"run": self.run, "entries": [e.as_dict() for e in self.entries]}).decode())


def check_batchable(loaded) -> None:
    """Batch mode takes scenarios whose items are one OpenAI or Anthropic call."""
    sc = loaded.scenario
    if sc.function:
        raise ScenarioError("--mode batch: the scenario uses a function; batch mode needs one declared step "
                            "(one LLM call per item)")
    if len(sc.steps) != 1:
        raise ScenarioError(f"--mode batch: the scenario has {len(sc.steps)} steps; batch mode sends one LLM call "
                            "per item (each answer before the next call needs the online run)")
    step = sc.steps[0]
    kind = loaded.profiles[step.target].kind
    if kind not in ("openai", "anthropic"):
        raise ScenarioError(f"--mode batch: target {step.target!r} is a {kind} API; only OpenAI and Anthropic "
                            "have a Batch API")
    if step.method != "POST":
        raise ScenarioError(f"--mode batch: steps.{step.name}.method must be POST")
    if isinstance(step.body, dict) and step.body.get("stream"):
        raise ScenarioError(f"steps.{step.name}.json.stream: the Batch APIs do not stream; remove it for --mode batch")


class BatchRunner:
    """One batch-mode run. ``await runner.run()``."""

    def __init__(self, loaded, config, target, fingerprint: str, batch_size: int | None = None,
                 stats: RunStats | None = None) -> None:
        check_batchable(loaded)
        self.loaded = loaded
        self.config = config
        self.target = target
        self.fingerprint = fingerprint
        self.step = loaded.scenario.steps[0]
        self.profile = loaded.profiles[self.step.target]
        self.body = compile_tree(self.step.body, f"steps.{self.step.name}.json")
        self.path = compile_tree(self.step.path, f"steps.{self.step.name}.path")
        self.keep = {k: compile_tree(v, f"steps.{self.step.name}.keep.{k}") for k, v in self.step.keep.items()}
        settings = self.profile.batch
        self.max_requests = min(batch_size or settings.max_requests, settings.max_requests)
        self.max_bytes = settings.max_bytes
        self.discount = settings.discount
        self.max_attempts = max(1, loaded.scenario.retry.max_attempts)
        self.stats = stats or RunStats(time_scale=config.time_scale)
        self.poll = max(MIN_POLL_WALL, config.time_scale.seconds(POLL_REAL_SECONDS))
        self.submitted = 0
        self.figures = FigureBook(config.time_scale.factor)  # per-result figures for calibrate and compare

    def _client(self) -> BatchClient:
        headers = {**self.target.static_headers, **self.target.auth_headers}
        if self.profile.kind == "openai":
            path = self.step.path if isinstance(self.step.path, str) else "/v1/chat/completions"
            return OpenAIBatchClient(self.target.base_url, headers, path)
        return AnthropicBatchClient(self.target.base_url, headers)

    # -- the run -----------------------------------------------------------------------------
    async def run(self) -> RunStats:
        cfg = self.config
        ckpt = Checkpoint(cfg.checkpoint, fingerprint=self.fingerprint + "-batch", resume=cfg.resume)
        ckpt.set_meta("input", str(cfg.input.resolve()))
        if self.loaded.path is not None:
            ckpt.set_meta("scenario", str(self.loaded.path.resolve()))
        ckpt.set_meta("time_scale", repr(cfg.time_scale.factor))
        ckpt.set_meta("mode", "batch")
        fmt = cfg.output_format or ("csv" if cfg.output.suffix.lower() == ".csv" else "jsonl")
        writer = OrderedWriter(cfg.output, fmt, self.loaded.scenario.output.columns, ckpt)
        if cfg.resume:
            writer.skip_finished()
        journal = Journal.load(ckpt, cfg.run_id)
        if cfg.resume:
            self.figures.resume_from(ckpt.get_figures())
        counts = ckpt.counts()
        from harness.runner.inputs import count_items

        total = cfg.total_hint if cfg.total_hint is not None else count_items(cfg.input, cfg.input_format)
        self.stats.start(total=total, already_done=counts.get("done", 0), already_failed=counts.get("failed", 0))
        client = self._client()
        try:
            live = await self._recover(journal, ckpt, client)
            attempts = {s: e.attempt for e in journal.entries if e.state != "done" for s in _expand(e.seqs)}
            in_flight = {s for e in live for s in _expand(e.seqs)}
            pending = self._fresh_items(ckpt, writer, in_flight)
            await self._drive(journal, ckpt, writer, client, live, pending, attempts)
        finally:
            self.stats.outcomes["ok"] += client.calls  # Batch API calls: files, creates, polls, downloads
            await client.close()
            writer.close()
            self.stats.finish(None)
            ckpt.set_figures(self.figures.to_dict())
            ckpt.set_meta("summary", orjson.dumps({**self.stats.summary(), "workers": 0, "mode": "batch",
                                                   "batches_submitted": self.submitted}).decode())
            ckpt.close()
        return self.stats

    def _fresh_items(self, ckpt: Checkpoint, writer: OrderedWriter, skip: set[int]):
        """Items neither finished nor in a live batch: (seq, custom_id, body), rendered;
        a row that fails to render fails at once."""
        finished = ckpt.finished_filter()
        for item in read_items(self.config.input, self.config.input_format, self.loaded.scenario.input.id,
                               skip=lambda s: finished(s) or s in skip):
            if item.error is not None:
                self._record(ckpt, writer, [(item.seq, item.item_id, "failed", None, item.error, 0, 0)])
                continue
            ctx = {"row": item.row, "item": {"id": item.item_id, "seq": item.seq, "line": item.line}, "steps": {}}
            try:
                body = self.body(ctx)
            except (TemplateFailure, ValueError) as exc:
                self._record(ckpt, writer, [(item.seq, item.item_id, "failed", None, f"line {item.line}: {exc}", 0, 0)])
                continue
            yield item.seq, body

    def _record(self, ckpt: Checkpoint, writer: OrderedWriter, records: list[tuple],
                journal: Journal | None = None) -> None:
        with ckpt.batch():
            ckpt.record_many(records)
            writer.add_many([r[:5] for r in records])
            if journal is not None:
                journal.save(ckpt)  # the batch's "done" mark commits with its results
        for r in records:
            self.stats.item_finished(r[2], r[4])

    async def _recover(self, journal: Journal, ckpt: Checkpoint, client: BatchClient) -> list[JournalEntry]:
        """Live batches after a restart: journaled ids are polled; an intent without an id is
        found at the provider, or the run stops rather than risk sending it twice."""
        live = []
        for e in journal.entries:
            if e.state == "submitted":
                live.append(e)
            elif e.state == "intent":
                found = await client.find({"harness_run": journal.run, "harness_batch": f"b{e.k}"}, e.n, e.intent_at)
                if len(found) == 1:
                    e.id, e.state = found[0], "submitted"
                    live.append(e)
                elif not found:
                    e.state = "refused"  # never reached the provider: its items are sent again
                else:
                    raise ScenarioError(f"batch b{e.k} of this run may have been submitted as any of {found}; "
                                        "cancel the extra ones at the provider, then --resume")
        journal.save(ckpt)
        return live

    async def _drive(self, journal, ckpt, writer, client, live, pending, attempts) -> None:
        fresh = iter(pending)
        retry: list[tuple[int, Any]] = []
        exhausted = False
        while True:
            # fill and submit new batches (unfinished requests of expired batches first)
            while not exhausted or retry:
                lines, size = [], 0
                while retry and len(lines) < self.max_requests:
                    seq, body = retry.pop()
                    lines.append((seq, body))
                while not exhausted and len(lines) < self.max_requests:
                    nxt = next(fresh, None)
                    if nxt is None:
                        exhausted = True
                        break
                    b = len(orjson.dumps(nxt[1])) + LINE_OVERHEAD
                    if lines and size + b > self.max_bytes:
                        retry.append(nxt)
                        break
                    size += b
                    lines.append(nxt)
                if not lines:
                    break
                live.append(await self._submit(journal, ckpt, client, lines, attempts))
            if not live:
                return
            await asyncio.sleep(self.poll)
            for e in list(live):
                try:
                    ended, state = await client.status(e.id)
                except BatchAPIError as exc:
                    if exc.transient:
                        continue
                    raise
                if not ended:
                    continue
                live.remove(e)
                retry += await self._collect(journal, ckpt, writer, client, e, state, attempts)

    async def _submit(self, journal, ckpt, client, lines, attempts) -> JournalEntry:
        seqs = [s for s, _ in lines]
        e = JournalEntry(len(journal.entries), _runs(seqs), len(seqs), max(attempts.get(s, 0) for s in seqs) + 1,
                         time.time())
        journal.entries.append(e)
        journal.save(ckpt)  # the intent first: a crash from here on is found again, never resent blindly
        for s in seqs:
            attempts[s] = e.attempt
        for attempt in range(6):
            try:
                e.id = await client.submit([(f"h-{s}", body) for s, body in lines],
                                           {"harness_run": journal.run, "harness_batch": f"b{e.k}"})
                break
            except BatchAPIError as exc:
                if not exc.transient or attempt == 5:
                    raise
                # a transient refusal may still have created it: look before sending again
                found = await client.find({"harness_run": journal.run, "harness_batch": f"b{e.k}"}, e.n, e.intent_at)
                if found:
                    e.id = found[0]
                    break
                await asyncio.sleep(self.poll * (attempt + 1))
        e.state = "submitted"
        journal.save(ckpt)
        self.submitted += 1
        return e

    async def _collect(self, journal, ckpt, writer, client, e: JournalEntry, state: str, attempts) -> list:
        """Record a finished batch's answers; returns the (seq, body) to send again."""
        seqs = _expand(e.seqs)
        wanted = set(seqs)
        again: set[int] = set()
        outcomes: dict[int, Any] = {}
        if state.startswith("failed"):
            if "token_limit_exceeded" in state:  # the queue was full: the whole batch goes again, later
                again = wanted
            else:
                outcomes = {s: ("failed", f"batch failed ({state})") for s in seqs}
        else:
            for o in await client.results(e.id):
                seq = int(o.custom_id[2:]) if o.custom_id.startswith("h-") else -1
                if seq not in wanted:
                    continue
                if o.kind == "ok":
                    outcomes[seq] = ("done", o.body)
                elif o.kind == "unfinished":
                    again.add(seq)
                else:
                    outcomes[seq] = ("failed", o.error)
            again |= wanted - set(outcomes) - again  # never answered: send again
        rows = self._rows(wanted)
        records = []
        turnaround = max(0.0, time.time() - e.intent_at)  # wall seconds, submitted (its intent) to collected
        fig = None
        for seq in seqs:
            item_id, row, line = rows.get(seq, (str(seq), {}, 0))
            fig = self._figure(fig, seq, item_id, row, line, turnaround, outcomes.get(seq), seq in again)
            if seq in again:
                if attempts.get(seq, 1) >= self.max_attempts:
                    records.append((seq, item_id, "failed", None, f"unfinished after {attempts[seq]} batches "
                                    f"(last {e.id}: {state})", attempts[seq], attempts[seq]))
                    again.discard(seq)
                continue
            kind, value = outcomes[seq]
            if kind == "failed":
                records.append((seq, item_id, "failed", None, str(value)[:300], attempts.get(seq, 1), 1))
                continue
            ctx = {"row": row, "item": {"id": item_id, "seq": seq, "line": line}, "steps": {}, "response": value}
            try:
                kept = {k: r(ctx) for k, r in self.keep.items()}
            except TemplateFailure as exc:
                records.append((seq, item_id, "failed", None, f"line {line}: {exc}", attempts.get(seq, 1), 1))
                continue
            usage = usage_of(self.profile, value)
            model = value.get("model") if isinstance(value, dict) else None
            dollars = price_of(self.profile, model if model in self.profile.models else None, usage) \
                * (1 - self.discount)
            self.stats.usage(usage.input_tokens, usage.output_tokens, dollars)
            records.append((seq, item_id, "done", kept, None, attempts.get(seq, 1), 1))
        e.state = "done"
        if fig is not None:
            fig.add_batch(turnaround, len(seqs))
        self._record(ckpt, writer, records, journal)
        ckpt.set_figures(self.figures.to_dict())
        if not again:
            return []
        bodies = []
        for seq in sorted(again):
            item_id, row, line = rows[seq]
            ctx = {"row": row, "item": {"id": item_id, "seq": seq, "line": line}, "steps": {}}
            bodies.append((seq, self.body(ctx)))
        return bodies

    def _figure(self, fig, seq: int, item_id: str, row: dict, line: int, turnaround: float, outcome,
                unfinished: bool):
        """One result's figures (the request re-rendered for its size and model; never a body):
        status 200 with its tokens and bytes, the provider's error, or ``expired``."""
        ctx = {"row": row, "item": {"id": item_id, "seq": seq, "line": line}, "steps": {}}
        try:
            body = self.body(ctx)
        except (TemplateFailure, ValueError):
            return fig
        model = body.get("model") if isinstance(body, dict) else None
        fig = self.figures.slot(self.step.target, self.step.name, model if isinstance(model, str) else None,
                                kind=self.profile.kind, profile=self.profile.name, mode="batch")
        out_bytes = len(orjson.dumps(body))
        if unfinished or outcome is None:
            fig.add(turnaround, "expired", out_bytes, 0, ok=False)
        elif outcome[0] == "done":
            usage = usage_of(self.profile, outcome[1])
            fig.add(turnaround, "200", out_bytes, len(orjson.dumps(outcome[1])), usage.input_tokens,
                    usage.output_tokens)
        else:
            fig.add(turnaround, "error", out_bytes, 0, ok=False)
        return fig

    def _rows(self, seqs: set[int]) -> dict[int, tuple[str, dict, int]]:
        """The input rows of a batch (for ``keep`` templates that read ``row``), streamed."""
        out = {}
        last = max(seqs) if seqs else -1
        for item in read_items(self.config.input, self.config.input_format, self.loaded.scenario.input.id,
                               skip=lambda s: s not in seqs):
            out[item.seq] = (item.item_id, item.row or {}, item.line)
            if item.seq >= last:
                break
        return out


def execute_batch(loaded, config, batch_size: int | None = None, console=None) -> dict:
    """``harness run --mode batch``: targets as for an online run (a mock started here unless
    the scenario names one), then the batch run; returns the summary."""
    from contextlib import ExitStack

    from rich.console import Console

    from harness.runner.progress import summary_table
    from harness.runner.run import fingerprint, ready_targets

    console = console or Console(stderr=True)
    check_batchable(loaded)
    if not config.input.exists():
        raise ScenarioError(f"input file not found: {config.input}")
    for path in (config.output, config.checkpoint):
        path.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        targets = ready_targets(loaded, config, stack)
        runner = BatchRunner(loaded, config, targets[loaded.scenario.steps[0].target],
                             fingerprint(loaded, config.input), batch_size)
        stats = _run(runner.run())
    summary = stats.summary()
    summary.update({"run_id": config.run_id, "scenario": loaded.scenario.name, "target": config.target,
                    "mode": "batch", "batches_submitted": runner.submitted, "workers": 0,
                    "output": str(config.output), "checkpoint": str(config.checkpoint)})
    if config.summary_json is not None:
        Path(config.summary_json).write_bytes(orjson.dumps(summary, option=orjson.OPT_INDENT_2))
    if not config.quiet:
        console.print(summary_table(summary, f"{loaded.scenario.name}: batch run {config.run_id}"))
    return summary


def _run(coro):
    try:
        import uvloop

        return uvloop.run(coro)
    except ImportError:  # pragma: no cover
        return asyncio.run(coro)
