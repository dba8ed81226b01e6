"""Anthropic Messages log lines -> Records in the canonical (OpenAI-style) message shape.

Accepted line shapes: `{"request": {...}, "response": {...}, ...}`, Message
Batches lines (`params` / `result.message`), and a bare request body. The
system prompt becomes a leading system message; `tool_use` blocks become
assistant `tool_calls` and `tool_result` blocks become `tool` messages, so one
sample shape serves every provider.
"""

from __future__ import annotations

import json
from typing import Any

from evals.providers.translate import block_to_part, response_format_from_anthropic, tool_choice_from_anthropic, tools_from_anthropic
from evals.traffic.openai_log import check_request, request_settings
from evals.traffic.records import Record, ReferenceStatus
from evals.traffic.values import as_int

_STATUS: dict[str, ReferenceStatus] = {"max_tokens": "truncated", "refusal": "refused"}
_IGNORED_BLOCKS = ("thinking", "redacted_thinking")


def _blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise ValueError("message content is neither text nor a list of blocks")
    if not all(isinstance(b, dict) for b in content):
        raise ValueError("content block is not an object")
    return content


def _text(content: Any) -> tuple[str, int]:
    """Joined text of a content value, and how many non-text blocks it had."""
    texts, other = [], 0
    for b in _blocks(content):
        if b.get("type") == "text":
            texts.append(str(b.get("text") or ""))
        elif b.get("type") not in _IGNORED_BLOCKS:
            other += 1
    return "\n".join(texts), other


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(block.get("id") or ""),
        "type": "function",
        "function": {"name": str(block.get("name") or ""), "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)},
    }


def canonical_messages(system: Any, messages: Any, images: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """OpenAI-style messages (image blocks go to `images` by message index, as image_url parts), and the count of other blocks dropped."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("no messages")
    out: list[dict[str, Any]] = []
    dropped = 0
    if system:
        text, other = _text(system)
        dropped += other
        out.append({"role": "system", "content": text})
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ValueError(f"message {i} has a missing or unknown role")
        texts: list[str] = []
        calls: list[dict[str, Any]] = []
        before: list[dict[str, Any]] = []
        after: list[dict[str, Any]] = []
        for b in _blocks(m.get("content")):
            kind = b.get("type")
            if kind == "text":
                texts.append(str(b.get("text") or ""))
            elif kind == "image" and images is not None and (b.get("source") or {}).get("type") in ("base64", "url"):
                (after if texts else before).append(block_to_part(b))
            elif kind == "tool_use":
                calls.append(_tool_call(b))
            elif kind == "tool_result":
                # Tool results come first in a user turn; as tool messages they precede its text.
                result, other = _text(b.get("content") or "")
                dropped += other
                out.append({"role": "tool", "tool_call_id": str(b.get("tool_use_id") or ""), "content": result})
            elif kind not in _IGNORED_BLOCKS:
                dropped += 1
        if texts or calls or before or after:
            msg: dict[str, Any] = {"role": m["role"], "content": "\n".join(texts)}
            if calls:
                msg["tool_calls"] = calls
            if (before or after) and images is not None:
                images[len(out)] = (before, after)
            out.append(msg)
    return out, dropped


def _unwrap(obj: dict[str, Any]) -> tuple[dict[str, Any], Any, bool]:
    """(request, response, failed) for the plain, request/response and Message Batches shapes."""
    failed = obj.get("error") not in (None, {}, "")
    request = next((obj[k] for k in ("request", "params", "body") if isinstance(obj.get(k), dict)), obj)
    response = obj.get("response")
    result = obj.get("result")
    if response is None and isinstance(result, dict):
        failed = failed or result.get("type") not in (None, "succeeded")
        response = result.get("message")
    return request, response, failed


def parse(obj: dict[str, Any]) -> Record:
    """One log line as a Record; a ValueError says why the line is unusable."""
    request, response, failed = _unwrap(obj)
    images: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    messages, dropped = canonical_messages(request.get("system"), request.get("messages"), images)
    model = request.get("model")
    rec = Record(messages=messages, images=images or None, non_text_parts=dropped, reference_model=model if isinstance(model, str) else None)
    if request.get("tools"):
        rec.tools = json.dumps(tools_from_anthropic(request["tools"]), ensure_ascii=False)
    rec.tool_choice, parallel = tool_choice_from_anthropic(request.get("tool_choice"))
    rec.response_format = response_format_from_anthropic(request.get("output_config"))
    rec.settings = request_settings(request, "max_tokens", "stop_sequences")
    if parallel is not None:
        rec.settings = {**(rec.settings or {}), "parallel_tool_calls": parallel}
    check_request(rec)
    if isinstance(request.get("metadata"), dict) and request["metadata"]:
        rec.metadata = request["metadata"]
    if isinstance(response, dict):
        _apply_response(rec, response, failed)
    elif failed:
        rec.reference_status = "error"
    return rec


def _apply_response(rec: Record, response: dict[str, Any], failed: bool) -> None:
    if isinstance(response.get("model"), str):
        rec.reference_model = response["model"]
    usage: dict[str, Any] = response["usage"] if isinstance(response.get("usage"), dict) else {}
    if usage.get("input_tokens") is not None:
        rec.input_tokens = sum(
            as_int(usage.get(k)) or 0 for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
    rec.output_tokens = as_int(usage.get("output_tokens"))
    if failed or response.get("type") == "error" or "content" not in response:
        rec.reference_status = "error"
        return
    texts, calls = [], []
    for b in _blocks(response["content"]):
        if b.get("type") == "text":
            texts.append(str(b.get("text") or ""))
        elif b.get("type") == "tool_use":
            calls.append(_tool_call(b)["function"])
    rec.reference_status = _STATUS.get(str(response.get("stop_reason")), "ok")
    if texts and any(texts):
        rec.reference, rec.reference_kind = "\n".join(texts), "text"
    elif calls:
        rec.reference, rec.reference_kind = json.dumps(calls, ensure_ascii=False), "tool_calls"
    elif rec.reference_status == "ok":
        rec.reference_status = "error"
