"""The simulated server's batch endpoints: OpenAI Batch (files + batches) and
Anthropic Message Batches, so batch mode runs end to end through the real SDKs.

Each request of a batch is answered as the synchronous endpoint would answer
it whole (same answer, same token counts); the model's `simulate.batch` block
decides how long the batch takes and which requests error or expire
(deterministic draws per custom_id, so a rerun sees the same failures).
Wire shapes follow the vendors' references (read 2026-12-03):
https://platform.openai.com/docs/api-reference/batch and
https://docs.anthropic.com/en/api/creating-message-batches, with the limits
checked as the vendors check them: OpenAI 50,000 requests and 200 MB per
input file, Anthropic 100,000 requests and 256 MB per batch.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from evals.config import SimBatch
from evals.sim import behaviour as bh

if TYPE_CHECKING:
    from evals.sim.server import SimServer

OPENAI_MAX_REQUESTS = 50_000
OPENAI_MAX_BYTES = 200 * 1024**2
ANTHROPIC_MAX_REQUESTS = 100_000
ANTHROPIC_MAX_BYTES = 256 * 1024**2
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""Anthropic's rule for custom_id."""
_NO_BATCH = SimBatch()


@dataclass
class _Item:
    custom_id: str
    status: int
    """HTTP status of the answer (200, 400, 404, 500), or 0 for a request the batch leaves expired."""
    body: dict[str, Any]


@dataclass
class _Batch:
    id: str
    vendor: str
    created: float
    delay_s: float
    items: list[_Item]
    input_file_id: str | None = None
    endpoint: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def ended(self, released: bool) -> bool:
        return released or time.time() >= self.created + self.delay_s

    def done(self, released: bool) -> int:
        """Requests processed so far: all once ended, else in proportion to the time passed."""
        if self.ended(released):
            return len(self.items)
        return int(len(self.items) * (time.time() - self.created) / self.delay_s) if self.delay_s else len(self.items)


class SimBatches:
    """Batch state of one SimServer. `submissions` records every accepted batch (vendor, custom_ids) for tests;
    `release()` ends every batch at once (a test's stand-in for the hours a real batch takes)."""

    def __init__(self, server: SimServer) -> None:
        self.server = server
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.submissions: list[tuple[str, list[str]]] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._released = False

    def release(self) -> None:
        self._released = True

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/files", self._upload)
        app.router.add_get("/v1/files/{id}/content", self._file_content)
        app.router.add_post("/v1/batches", self._openai_create)
        app.router.add_get("/v1/batches/{id}", self._openai_get)
        app.router.add_post("/v1/messages/batches", self._anthropic_create)
        app.router.add_get("/v1/messages/batches/{id}", self._anthropic_get)
        app.router.add_get("/v1/messages/batches/{id}/results", self._anthropic_results)

    def _next(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}{next(self._ids):08d}"

    # ------------------------------------------------------------ answering

    def _answer(self, protocol: str, custom_id: str, body: Any) -> tuple[_Item, SimBatch]:
        """One request of a batch, answered as the synchronous endpoint answers it whole."""
        from evals.sim.server import _Reply

        s = self.server
        wire = s._anthropic if protocol == "anthropic" else s._openai
        if not isinstance(body, dict):
            return _Item(custom_id, 400, _error_body(protocol, "bad_request", "the request body is not a JSON object")), _NO_BATCH
        try:
            call = wire.parse(body)
        except ValueError as e:
            return _Item(custom_id, 400, _error_body(protocol, "bad_request", str(e))), _NO_BATCH
        behaviour = s._models.get(call.model)
        if behaviour is None:
            return _Item(custom_id, 404, _error_body(protocol, "unknown_model", f"model: {call.model} not found")), _NO_BATCH
        b = behaviour.batch or _NO_BATCH
        u = bh.unit_draw("batch", behaviour.seed, call.model, custom_id)
        if u < b.error_rate:
            s._stats.add("batch", call.model, "error")
            return _Item(custom_id, 500, _error_body(protocol, "error", "The server had an error while processing your request. (simulated)")), b
        if u < b.error_rate + b.expire_rate:
            s._stats.add("batch", call.model, "expired")
            return _Item(custom_id, 0, {}), b
        s._stats.add("batch", call.model, "ok")
        s._received.append(body)
        answer = bh.choose_answer(s._index, behaviour, call.model, call.prompt, call.tools, s.draw(call))
        calls = answer if isinstance(answer, tuple) else ()
        pieces = bh.tokenise("".join(c.arguments for c in calls) if calls else answer if isinstance(answer, str) else "")
        truncated = call.max_tokens is not None and len(pieces) > call.max_tokens
        if truncated:
            pieces, calls = pieces[: call.max_tokens], ()
        reply = _Reply(
            id=f"{wire.id_prefix}{next(s._ids):010d}", model=call.model, created=int(time.time()), pieces=pieces, truncated=truncated,
            input_tokens=call.input_tokens, include_usage=True, calls=calls,
        )
        return _Item(custom_id, 200, wire.full(reply)), b

    def _items(self, protocol: str, requests: list[tuple[str, Any]]) -> tuple[list[_Item], float]:
        """The answers, and the batch's delay: the longest its models ask for."""
        items, delay = [], 0.0
        for cid, body in requests:
            item, b = self._answer(protocol, cid, body)
            items.append(item)
            delay = max(delay, b.delay_s)
        return items, delay

    # ------------------------------------------------------------ OpenAI

    def _openai_refuse(self, status: int, message: str) -> web.Response:
        return web.json_response({"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}, status=status)

    async def _upload(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return web.json_response({"error": {"message": "Incorrect API key provided.", "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}}, status=401)
        form = await request.post()
        purpose, upload = form.get("purpose"), form.get("file")
        if purpose != "batch" or not isinstance(upload, web.FileField):
            return self._openai_refuse(400, "a batch input file needs purpose=batch and a file part")
        data = upload.file.read()
        if len(data) > OPENAI_MAX_BYTES:
            return self._openai_refuse(400, f"file of {len(data)} bytes exceeds the batch input limit of {OPENAI_MAX_BYTES} bytes")
        fid = self._next("file-sim")
        self.files[fid] = data
        return web.json_response(_file_object(fid, len(data), upload.filename or "batch.jsonl", "batch"))

    async def _openai_create(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return self._openai_refuse(401, "Incorrect API key provided.")
        body = await request.json()
        fid, endpoint = body.get("input_file_id"), body.get("endpoint")
        if fid not in self.files:
            return self._openai_refuse(404, f"No such File object: {fid}")
        if endpoint != "/v1/chat/completions" or body.get("completion_window") != "24h":
            return self._openai_refuse(400, "the simulator batches /v1/chat/completions with completion_window 24h")
        requests: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for n, line in enumerate(self.files[fid].decode().splitlines(), 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
            except ValueError:
                return self._openai_refuse(400, f"line {n} of the input file is not JSON")
            cid = r.get("custom_id") if isinstance(r, dict) else None
            if not isinstance(cid, str) or cid in seen or r.get("url") != endpoint or r.get("method") != "POST":
                return self._openai_refuse(400, f"line {n}: each line needs a unique custom_id, method POST and url {endpoint}")
            seen.add(cid)
            requests.append((cid, r.get("body")))
        if not requests or len(requests) > OPENAI_MAX_REQUESTS:
            return self._openai_refuse(400, f"a batch holds 1 to {OPENAI_MAX_REQUESTS} requests, the file has {len(requests)}")
        items, delay = self._items("openai", requests)
        b = _Batch(self._next("batch_sim"), "openai", time.time(), delay, items, input_file_id=fid, endpoint=endpoint, meta=body.get("metadata") or {})
        self.batches[b.id] = b
        self.submissions.append(("openai", [i.custom_id for i in items]))
        return web.json_response(self._openai_batch(b))

    def _openai_batch(self, b: _Batch) -> dict[str, Any]:
        ended = b.ended(self._released)
        expired = ended and any(i.status == 0 for i in b.items)
        if ended and b.output_file_id is None:
            ok = [i for i in b.items if i.status == 200]
            failed = [i for i in b.items if i.status != 200]
            b.output_file_id = self._store_lines([_openai_line(i) for i in ok]) if ok else None
            b.error_file_id = self._store_lines([_openai_line(i) for i in failed]) if failed else None
        done = b.done(self._released)
        failed_n = sum(1 for i in b.items[:done] if i.status not in (200,)) if ended else 0
        status = ("expired" if expired else "completed") if ended else "in_progress"
        return {
            "id": b.id, "object": "batch", "endpoint": b.endpoint, "errors": None, "input_file_id": b.input_file_id, "completion_window": "24h",
            "status": status, "output_file_id": b.output_file_id, "error_file_id": b.error_file_id, "created_at": int(b.created),
            "in_progress_at": int(b.created), "expires_at": int(b.created) + 86400, "completed_at": int(time.time()) if ended and not expired else None,
            "expired_at": int(time.time()) if expired else None, "request_counts": {"total": len(b.items), "completed": done - failed_n, "failed": failed_n},
            "metadata": b.meta,
        }

    def _store_lines(self, lines: list[dict[str, Any]]) -> str:
        fid = self._next("file-sim")
        self.files[fid] = "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines).encode()
        return fid

    async def _openai_get(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return self._openai_refuse(401, "Incorrect API key provided.")
        b = self.batches.get(request.match_info["id"])
        if b is None or b.vendor != "openai":
            return self._openai_refuse(404, f"No such Batch object: {request.match_info['id']}")
        return web.json_response(self._openai_batch(b))

    async def _file_content(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return self._openai_refuse(401, "Incorrect API key provided.")
        data = self.files.get(request.match_info["id"])
        if data is None:
            return self._openai_refuse(404, f"No such File object: {request.match_info['id']}")
        return web.Response(body=data, content_type="application/octet-stream")

    # ------------------------------------------------------------ Anthropic

    def _anthropic_refuse(self, status: int, kind: str, message: str) -> web.Response:
        return web.json_response({"type": "error", "error": {"type": kind, "message": message}}, status=status)

    async def _anthropic_create(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return self._anthropic_refuse(401, "authentication_error", "invalid x-api-key")
        raw = await request.read()
        if len(raw) > ANTHROPIC_MAX_BYTES:
            return self._anthropic_refuse(413, "request_too_large", f"a batch is at most {ANTHROPIC_MAX_BYTES} bytes")
        body = json.loads(raw)
        reqs = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not 1 <= len(reqs) <= ANTHROPIC_MAX_REQUESTS:
            return self._anthropic_refuse(400, "invalid_request_error", f"requests: a batch holds 1 to {ANTHROPIC_MAX_REQUESTS} requests")
        requests: list[tuple[str, Any]] = []
        seen: set[str] = set()
        for n, r in enumerate(reqs):
            cid = r.get("custom_id") if isinstance(r, dict) else None
            if not isinstance(cid, str) or not _CUSTOM_ID.match(cid) or cid in seen:
                return self._anthropic_refuse(400, "invalid_request_error", f"requests.{n}.custom_id: must be unique and match {_CUSTOM_ID.pattern}")
            seen.add(cid)
            requests.append((cid, r.get("params")))
        items, delay = self._items("anthropic", requests)
        b = _Batch(self._next("msgbatch_sim"), "anthropic", time.time(), delay, items)
        b.meta["results_url"] = f"{self.server.base_url}/v1/messages/batches/{b.id}/results"
        self.batches[b.id] = b
        self.submissions.append(("anthropic", [i.custom_id for i in items]))
        return web.json_response(self._anthropic_batch(b))

    def _anthropic_batch(self, b: _Batch) -> dict[str, Any]:
        ended = b.ended(self._released)
        counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
        if ended:
            for i in b.items:
                counts["succeeded" if i.status == 200 else "expired" if i.status == 0 else "errored"] += 1
        else:
            counts["processing"] = len(b.items)
        created = datetime.fromtimestamp(b.created, UTC)
        return {
            "id": b.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress", "request_counts": counts,
            "ended_at": datetime.now(UTC).isoformat() if ended else None, "created_at": created.isoformat(),
            "expires_at": datetime.fromtimestamp(b.created + 86400, UTC).isoformat(), "archived_at": None, "cancel_initiated_at": None,
            "results_url": b.meta["results_url"] if ended else None,
        }

    async def _anthropic_get(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return self._anthropic_refuse(401, "authentication_error", "invalid x-api-key")
        b = self.batches.get(request.match_info["id"])
        if b is None or b.vendor != "anthropic":
            return self._anthropic_refuse(404, "not_found_error", f"message batch {request.match_info['id']} not found")
        return web.json_response(self._anthropic_batch(b))

    async def _anthropic_results(self, request: web.Request) -> web.Response:
        if not _authorised(request):
            return self._anthropic_refuse(401, "authentication_error", "invalid x-api-key")
        b = self.batches.get(request.match_info["id"])
        if b is None or b.vendor != "anthropic" or not b.ended(self._released):
            return self._anthropic_refuse(404, "not_found_error", "no results for this batch (unknown, or still in progress)")
        lines = []
        for i in b.items:
            if i.status == 200:
                result: dict[str, Any] = {"type": "succeeded", "message": i.body}
            elif i.status == 0:
                result = {"type": "expired"}
            else:
                result = {"type": "errored", "error": i.body}
            lines.append(json.dumps({"custom_id": i.custom_id, "result": result}, separators=(",", ":")))
        await asyncio.sleep(0)
        return web.Response(body=("\n".join(lines) + "\n").encode(), content_type="application/binary")


def _authorised(request: web.Request) -> bool:
    from evals.sim.server import INVALID_KEY, _api_key

    key = _api_key(request)
    return bool(key) and key != INVALID_KEY


def _error_body(protocol: str, kind: str, message: str) -> dict[str, Any]:
    if protocol == "anthropic":
        types = {"bad_request": "invalid_request_error", "unknown_model": "not_found_error", "error": "api_error"}
        return {"type": "error", "error": {"type": types[kind], "message": message}}
    return {"error": {"message": message, "type": "server_error" if kind == "error" else "invalid_request_error", "param": None, "code": None}}


def _openai_line(i: _Item) -> dict[str, Any]:
    """One line of an output or error file, as OpenAI writes them."""
    rid = f"batch_req_{i.custom_id[:24]}"
    if i.status == 0:
        return {"id": rid, "custom_id": i.custom_id, "response": None, "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}}
    return {"id": rid, "custom_id": i.custom_id, "response": {"status_code": i.status, "request_id": f"req_{i.custom_id[:16]}", "body": i.body}, "error": None}


def _file_object(fid: str, size: int, name: str, purpose: str) -> dict[str, Any]:
    return {"id": fid, "object": "file", "bytes": size, "created_at": int(time.time()), "filename": name, "purpose": purpose, "status": "processed"}
