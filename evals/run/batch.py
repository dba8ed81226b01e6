"""Batch mode: a runner's pending requests through its vendor's batch API
(OpenAI Batch: a JSONL file + a batch; Anthropic Message Batches), at the
catalogue's batch rate, resumable across processes.

Order of work, and why:
1. Requests already in a batch some earlier run submitted and nobody collected
   (a killed `evals run`, or one that stopped waiting) are *adopted*: that batch
   is polled and collected instead of submitting them again. Nothing is paid twice.
2. The rest are chunked within the vendor's limits, each chunk's worst case is
   reserved on the budget, and each batch id is committed to the store the
   moment the vendor returns it, before anything waits on it.
3. Batches are polled with doubling waits until they end or the run's wait
   limit passes (then they stay in flight for `evals run --collect`).
4. Each result is stored as an attempt with the synchronous path's statuses
   (ok, truncated at max_tokens, error; an expired or cancelled request is an
   error whose kind says so), priced at the batch rate, tagged with its batch id.
5. Failed requests (errored, expired, cancelled, or in a batch the vendor lost)
   go to a follow-up batch or to the synchronous API, as the runner's
   `batch.retry` says; a failure is never dropped: once retries are spent it
   stands as the final attempt.

Vendor limits (read 2026-12-03): OpenAI 50,000 requests and 200 MB per batch
input file (https://platform.openai.com/docs/guides/batch); Anthropic 100,000
requests or 256 MB per Message Batch, whichever comes first
(https://docs.anthropic.com/en/docs/build-with-claude/batch-processing).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import anthropic
import httpx2
import openai

from evals.config import BatchMode, RunnerProfile
from evals.cost.pricing import RunnerPricing
from evals.providers.anthropic_messages import _STOP_STATUS
from evals.providers.anthropic_messages import _usage as anthropic_usage
from evals.providers.base import Completion, GenerationParams, Message, Provider, Status, Timing, Usage
from evals.providers.factory import api_key
from evals.providers.openai_wire import usage_of as openai_usage
from evals.providers.translate import OPENAI_FINISH_STATUS, Unsupported, to_anthropic, to_openai
from evals.run.budget import Budget
from evals.run.executor import Job, RunnerResult, run_jobs
from evals.secrets import scrub
from evals.store.batches import COLLECTED, LOST, BatchLedger, BatchRow
from evals.store.db import Store


@dataclass(frozen=True)
class Limits:
    requests: int
    bytes: int


LIMITS = {"openai": Limits(50_000, 200 * 1024**2), "anthropic": Limits(100_000, 256 * 1024**2)}

RETRIED_KINDS = frozenset({"server", "rate_limit", "connection", "batch_expired", "batch_cancelled", "batch_failed", "batch_missing"})
"""Failure kinds a follow-up batch or the synchronous API may answer; a request the vendor refused (400, 404) is final."""


class TooLarge(ValueError):
    """One request is bigger than a whole batch may be."""


def chunk(lines: list[tuple[str, bytes]], limits: Limits, overhead: int = 0) -> list[list[tuple[str, bytes]]]:
    """(custom_id, serialized request) in submission order, cut into batches within `limits`
    (`overhead`: bytes a batch adds around its requests)."""
    out: list[list[tuple[str, bytes]]] = []
    cur: list[tuple[str, bytes]] = []
    size = overhead
    for cid, line in lines:
        if len(line) + overhead > limits.bytes:
            raise TooLarge(f"request {cid} is {len(line):,} bytes, more than a batch may hold ({limits.bytes:,}); send it synchronously")
        if cur and (len(cur) >= limits.requests or size + len(line) > limits.bytes):
            out.append(cur)
            cur, size = [], overhead
        cur.append((cid, line))
        size += len(line)
    if cur:
        out.append(cur)
    return out


@dataclass(frozen=True)
class Standing:
    """A batch's state as its vendor reports it."""

    ended: bool
    status: str
    done: int
    total: int


class Vendor(Protocol):
    name: str
    base_url: str | None
    overhead: int

    def line(self, key: str, messages: list[Message], params: GenerationParams) -> bytes: ...
    async def submit(self, lines: list[bytes]) -> str: ...
    async def check(self, vendor_id: str) -> Standing | None: ...
    async def results(self, vendor_id: str) -> tuple[dict[str, Completion], str]: ...
    async def aclose(self) -> None: ...


def _error(kind: str, message: str, http_status: int | None = None) -> Completion:
    return Completion(status=Status.error, error=scrub(message), error_kind=kind, http_status=http_status)


def _kind_of_status(code: int) -> str:
    return "rate_limit" if code == 429 else "server" if code >= 500 else "bad_request"


def missing(vendor_status: str) -> Completion:
    """A request the ended batch has no result for: what the batch's own end says happened to it."""
    if vendor_status == "expired":
        return _error("batch_expired", "the batch expired (24 h window) before this request was processed")
    if vendor_status in ("cancelled", "canceled", "cancelling"):
        return _error("batch_cancelled", "the batch was cancelled before this request was processed")
    if vendor_status == "failed":
        return _error("batch_failed", "the vendor refused the whole batch (validation failed)")
    return _error("batch_missing", f"the ended batch ({vendor_status}) returned no result for this request")


class OpenAIBatches:
    """Files + Batches of the `openai` SDK, for /v1/chat/completions."""

    name = "openai"
    overhead = 0

    def __init__(self, profile: RunnerProfile, base_url: str | None, key: str | None) -> None:
        self.base_url = base_url
        self.model = profile.model
        self.max_tokens_field = "max_completion_tokens" if profile.provider == "openai" else "max_tokens"
        self.client = openai.AsyncOpenAI(base_url=base_url, api_key=key or "no-key", max_retries=4, timeout=httpx2.Timeout(600.0, connect=profile.timeouts.connect_s))

    def line(self, key: str, messages: list[Message], params: GenerationParams) -> bytes:
        body = to_openai(messages, params, model=self.model, max_tokens_field=self.max_tokens_field, stream=False)
        body.update(body.pop("extra_body", None) or {})  # a batch line carries the body as sent
        return json.dumps({"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}, ensure_ascii=False).encode() + b"\n"

    async def submit(self, lines: list[bytes]) -> str:
        f = await self.client.files.create(file=("evals-batch.jsonl", b"".join(lines), "application/jsonl"), purpose="batch")
        # never retried by the SDK: a create that timed out may have created a batch, and a second one would be paid twice
        b = await self.client.with_options(max_retries=0).batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        return b.id

    async def check(self, vendor_id: str) -> Standing | None:
        try:
            b = await self.client.batches.retrieve(vendor_id)
        except openai.NotFoundError:
            return None
        c = b.request_counts
        ended = b.status in ("completed", "expired", "cancelled", "failed")
        return Standing(ended, b.status, (c.completed + c.failed) if c else 0, c.total if c else 0)

    async def results(self, vendor_id: str) -> tuple[dict[str, Completion], str]:
        b = await self.client.batches.retrieve(vendor_id)
        out: dict[str, Completion] = {}
        for fid in (b.output_file_id, b.error_file_id):
            if not fid:
                continue
            content = await self.client.files.content(fid)
            for text in content.text.splitlines():
                if text.strip():
                    row = json.loads(text)
                    out[row["custom_id"]] = openai_result(row)
        return out, b.status

    async def aclose(self) -> None:
        await self.client.close()


def openai_result(row: dict[str, Any]) -> Completion:
    """One line of an OpenAI batch output or error file."""
    err, resp = row.get("error"), row.get("response")
    if err:
        code = err.get("code") or "error"
        return _error("batch_expired" if code == "batch_expired" else "batch_failed", f"{code}: {err.get('message') or ''}")
    if not resp:
        return _error("batch_missing", "the result line holds neither a response nor an error")
    status, body = resp.get("status_code"), resp.get("body") or {}
    if status != 200:
        msg = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        return _error(_kind_of_status(int(status or 500)), f"HTTP {status}: {msg or body}", int(status or 500))
    cc = openai.types.chat.ChatCompletion.model_validate(body)
    choice = cc.choices[0] if cc.choices else None
    usage = openai_usage(body["usage"]) if isinstance(body.get("usage"), dict) else Usage()
    if choice is None or not choice.finish_reason:
        return Completion(status=Status.error, usage=usage, error="server fault: the batch result holds no choice with a finish_reason", error_kind="empty_stream", served_model=cc.model)
    calls = [
        {"id": tc.id, "type": "function", "function": {"name": tc.function.name, "arguments": tc.function.arguments}}
        for tc in choice.message.tool_calls or ()
        if isinstance(tc, openai.types.chat.ChatCompletionMessageFunctionToolCall)
    ]
    return Completion(
        status=OPENAI_FINISH_STATUS.get(choice.finish_reason, Status.ok), text=choice.message.content or "", tool_calls=calls, finish_reason=choice.finish_reason,
        usage=usage, timing=Timing(), served_model=cc.model,
    )


class AnthropicBatches:
    """Message Batches of the `anthropic` SDK."""

    name = "anthropic"
    overhead = len(b'{"requests":[]}')

    def __init__(self, profile: RunnerProfile, base_url: str | None, key: str | None) -> None:
        self.base_url = base_url
        self.model = profile.model
        self.client = anthropic.AsyncAnthropic(base_url=base_url, api_key=key or "no-key", max_retries=4, timeout=httpx2.Timeout(600.0, connect=profile.timeouts.connect_s))

    def line(self, key: str, messages: list[Message], params: GenerationParams) -> bytes:
        req = to_anthropic(messages, params, model=self.model, stream=False)
        req.pop("stream", None)
        req.update(req.pop("extra_body", None) or {})
        return json.dumps({"custom_id": key, "params": req}, ensure_ascii=False).encode() + b","

    async def submit(self, lines: list[bytes]) -> str:
        requests = [json.loads(x[:-1]) for x in lines]
        b = await self.client.with_options(max_retries=0).messages.batches.create(requests=requests)  # see OpenAIBatches.submit
        return b.id

    async def check(self, vendor_id: str) -> Standing | None:
        try:
            b = await self.client.messages.batches.retrieve(vendor_id)
        except anthropic.NotFoundError:
            return None
        c = b.request_counts
        total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
        return Standing(b.processing_status == "ended", b.processing_status, total - c.processing, total)

    async def results(self, vendor_id: str) -> tuple[dict[str, Completion], str]:
        out: dict[str, Completion] = {}
        async for r in await self.client.messages.batches.results(vendor_id):
            out[r.custom_id] = anthropic_result(r.result)
        return out, "ended"

    async def aclose(self) -> None:
        await self.client.close()


def anthropic_result(result: Any) -> Completion:
    """One result of an Anthropic Message Batch."""
    if result.type == "expired":
        return missing("expired")
    if result.type == "canceled":
        return missing("canceled")
    if result.type == "errored":
        e = result.error.error
        kind = {"api_error": "server", "overloaded_error": "server", "rate_limit_error": "rate_limit"}.get(e.type, "bad_request")
        return _error(kind, f"{e.type}: {e.message}")
    m = result.message
    mu = m.usage
    usage = anthropic_usage({"input_tokens": mu.input_tokens, "cache_read": mu.cache_read_input_tokens, "cache_write": mu.cache_creation_input_tokens, "output_tokens": mu.output_tokens})
    text = "".join(b.text for b in m.content if b.type == "text")
    calls = [{"id": b.id, "type": "function", "function": {"name": b.name, "arguments": json.dumps(b.input)}} for b in m.content if b.type == "tool_use"]
    if not m.stop_reason:
        return Completion(status=Status.error, usage=usage, error="server fault: the batch result holds no stop_reason", error_kind="empty_stream", served_model=m.model)
    return Completion(status=_STOP_STATUS.get(m.stop_reason, Status.ok), text=text, tool_calls=calls, finish_reason=m.stop_reason, usage=usage, timing=Timing(), served_model=m.model)


def vendor_for(profile: RunnerProfile, base_url: str | None) -> Vendor:
    protocol = profile.simulate.protocol if profile.simulated and profile.simulate is not None else profile.provider
    key = api_key(profile)
    return AnthropicBatches(profile, base_url, key) if protocol == "anthropic" else OpenAIBatches(profile, base_url, key)


@dataclass
class BatchResult:
    result: RunnerResult
    in_flight: int = 0
    """Batches still running when the wait limit passed: `evals run --collect` picks them up."""
    submitted: int = 0
    adopted: int = 0


Say = Callable[[str], None]


class BatchRun:
    """One batch runner's part of a run."""

    def __init__(
        self, profile: RunnerProfile, providers: list[Provider], jobs: list[Job], *, store: Store, ledger: BatchLedger, run_id: str,
        pricing: RunnerPricing, budget: Budget, mode: BatchMode, say: Say = lambda s: None, on_done: Callable[[], None] | None = None,
        wait_s: float | None = None, vendor: Vendor | None = None,
    ) -> None:
        self.profile, self.providers, self.store, self.ledger, self.run_id = profile, providers, store, ledger, run_id
        self.budget, self.mode, self.say, self.on_done = budget, mode, say, on_done
        self.batch_price = dataclasses.replace(pricing, batch=True)
        self.sync_price = dataclasses.replace(pricing, batch=False)
        self.vendor = vendor or vendor_for(profile, providers[0].base_url)
        self.by_key: dict[str, list[Job]] = {}
        for j in jobs:
            self.by_key.setdefault(j.key, []).append(j)
        limit = wait_s if wait_s is not None else mode.wait_s
        self.deadline = time.monotonic() + limit if limit is not None else None
        self.out = BatchResult(RunnerResult(runner=profile.name))
        self.attempts: dict[str, int] = {}

    async def run(self) -> BatchResult:
        started = time.perf_counter()
        try:
            await self._rounds()
        finally:
            self.out.result.wall_s = time.perf_counter() - started
            await self.vendor.aclose()
        return self.out

    async def _rounds(self) -> None:
        pending = dict(self.by_key)
        rnd = 1
        while pending:
            adopted = self.ledger.in_flight_for(self.vendor.name, pending)
            covered = {k for b in adopted for k in self.ledger.requests(b.id)} & pending.keys()
            fresh = await self._submit({k: v for k, v in pending.items() if k not in covered}, rnd)
            self.out.adopted += len(adopted)
            batches = adopted + fresh
            if not batches:
                break
            ended, lost = await self._wait(batches)
            failed: set[str] = set()
            for b in ended:
                failed |= await self._collect(b, pending, rnd)
            for b in lost:  # nothing to collect: its requests are sent again, and its reservation is freed for them
                failed |= set(self.ledger.requests(b.id)) & pending.keys()
                self.budget.settle(b.worst_case_usd if b.run_id == self.run_id else 0.0, 0.0)
            in_flight = [b for b in batches if b not in ended and b not in lost]
            if in_flight:
                self.out.in_flight = len(in_flight)
                self.say(f"waiting for batch: runner {self.profile.name}: {len(in_flight)} batch(es) still in flight after the wait limit; `evals run --collect` collects them")
                return
            pending = {k: pending[k] for k in failed}
            if self.out.result.stopped_reason is not None:
                return  # the budget stopped submission: what was not sent stays unanswered
            rnd += 1
            if self.mode.retry == "sync" or rnd > self.mode.rounds:
                break
        if pending and self.mode.retry == "sync":
            jobs = [dataclasses.replace(j, worst_case_usd=self.sync_price.worst_case_usd(j.messages, (j.params or self.profile.params).max_tokens)) for js in pending.values() for j in js]
            self.say(f"runner {self.profile.name}: {len(jobs)} request(s) the batch did not answer go to the synchronous API")
            res = await run_jobs(self.profile, self.providers, jobs, store=self.store, run_id=self.run_id, cost_of=self.sync_price.cost_of, budget=self.budget, on_done=self.on_done)
            r = self.out.result
            r.sent += res.sent
            r.answered_ok += res.answered_ok
            r.stopped_reason = r.stopped_reason or res.stopped_reason

    async def _submit(self, jobs: dict[str, list[Job]], rnd: int) -> list[BatchRow]:
        """Chunk, reserve each chunk's worst case, submit, and record each batch id at once."""
        lines: list[tuple[str, bytes]] = []
        for key, js in jobs.items():
            j = js[0]
            try:
                lines.append((key, self.vendor.line(key, j.messages, j.params or self.profile.params)))
            except Unsupported as e:  # this request cannot be sent as it is: a final error, as the synchronous path stores it
                self._record(key, js, _error("bad_request", f"request not sent: {e}"), None, rnd)
        rows = []
        for part in chunk(lines, LIMITS[self.vendor.name], self.vendor.overhead):
            reserved, take = 0.0, []
            for key, line in part:
                worst = sum(j.worst_case_usd for j in jobs[key][:1])
                if not self.budget.try_reserve(worst):
                    self.out.result.stopped_reason = "budget"
                    break
                reserved += worst
                take.append((key, line))
            if take:
                vid = await self.vendor.submit([x for _, x in take])
                row = self.ledger.add(
                    run_id=self.run_id, runner=self.profile.name, vendor=self.vendor.name, vendor_batch_id=vid, base_url=self.vendor.base_url, round=rnd,
                    worst_case_usd=reserved, requests={k: [j.sample_id for j in jobs[k]] for k, _ in take},
                )
                self.out.submitted += 1
                self.out.result.sent += len(take)
                self.say(f"runner {self.profile.name}: submitted batch {vid} ({len(take)} requests, round {rnd})")
                rows.append(row)
            if self.out.result.stopped_reason is not None:
                break
        return rows

    async def _wait(self, batches: list[BatchRow]) -> tuple[list[BatchRow], list[BatchRow]]:
        """Poll until every batch ended or the wait limit passes: (ended, lost)."""
        ended: list[BatchRow] = []
        lost: list[BatchRow] = []
        delay = self.mode.poll_s
        seen: dict[int, tuple[str, int]] = {}
        while True:
            for b in batches:
                if b in ended or b in lost:
                    continue
                s = await self.vendor.check(b.vendor_batch_id)
                if s is None:
                    self.ledger.mark(b.id, LOST)
                    lost.append(b)
                    self.say(f"runner {self.profile.name}: the vendor does not know batch {b.vendor_batch_id} any more; its requests are sent again")
                    continue
                self.ledger.progress(b.id, s.status, s.done, s.ended)
                if seen.get(b.id) != (s.status, s.done):
                    seen[b.id] = (s.status, s.done)
                    self.say(f"waiting for batch {b.vendor_batch_id} ({self.profile.name}): {s.done}/{s.total} done, {s.status}")
                if s.ended:
                    ended.append(b)
            if len(ended) + len(lost) == len(batches):
                return ended, lost
            if self.deadline is not None and time.monotonic() + delay > self.deadline:
                return ended, lost
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.mode.poll_max_s)

    async def _collect(self, b: BatchRow, pending: dict[str, list[Job]], rnd: int) -> set[str]:
        """Store every result of an ended batch; return this run's keys whose result is a failure to retry.
        A result this run does not need (an adopted batch carried more) goes to the run that submitted it."""
        got, vendor_status = await self.vendor.results(b.vendor_batch_id)
        failed: set[str] = set()
        actual = 0.0
        for key, sample_ids in self.ledger.requests(b.id).items():
            c = got.get(key) or missing(vendor_status)
            cost = self.batch_price.cost_of(c.usage) if c.usage.input_tokens is not None or c.usage.output_tokens is not None else 0.0
            actual += cost
            retry = c.status is Status.error and c.error_kind in RETRIED_KINDS
            if key in pending:
                last = self.mode.retry == "batch" and rnd >= self.mode.rounds
                self._record(key, pending[key], c, b.vendor_batch_id, rnd, cost, final=not retry or last)
                if retry and not last:
                    failed.add(key)
            else:
                epoch = self.store.epoch_of(key)
                for i, sid in enumerate(sample_ids):
                    self.store.record_attempt(b.run_id, b.runner, sid, key, b.round, True, c, cost if i == 0 else 0.0, self.vendor.base_url, purpose="run", batch_id=b.vendor_batch_id, epoch=epoch)
        self.budget.settle(b.worst_case_usd if b.run_id == self.run_id else 0.0, actual)
        self.ledger.mark(b.id, COLLECTED)
        return failed

    def _record(self, key: str, jobs: list[Job], c: Completion, batch_id: str | None, rnd: int, cost: float = 0.0, final: bool = True) -> None:
        n = self.attempts[key] = self.attempts.get(key, 0) + 1
        for i, j in enumerate(jobs):
            self.store.record_attempt(self.run_id, self.profile.name, j.sample_id, key, n, final, c, cost if i == 0 else 0.0, self.vendor.base_url, purpose="run", batch_id=batch_id, epoch=j.epoch)
            if final:
                if c.status is Status.ok:
                    self.out.result.answered_ok += 1
                if self.on_done:
                    self.on_done()
