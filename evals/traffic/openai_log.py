"""OpenAI chat-completions log lines -> Records.

Accepted line shapes: `{"request": {...}, "response": {...}, ...}`, a Batch API
input or output line (`body` / `response.body`), and a bare request body
(`{"model": ..., "messages": [...]}`). A bare conversation whose last message
is the assistant's (the fine-tuning format) uses that message as the reference.
Messages keep OpenAI's shape, which is the canonical one for samples: text
content, assistant `tool_calls` with JSON-string arguments, and `tool`
messages carrying `tool_call_id`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from evals.suite.sample import RequestSettings, Sample, check_tools, named_choice, tool_names
from evals.traffic.records import Record, ReferenceStatus
from evals.traffic.values import as_int

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}
_TEXT_PARTS = ("text", "input_text", "output_text")


def content_text(content: Any) -> tuple[str, int]:
    """Text of a message's content (a string or a list of parts) and how many non-text parts it had."""
    if content is None:
        return "", 0
    if isinstance(content, str):
        return content, 0
    if not isinstance(content, list):
        raise ValueError("message content is neither text nor a list of parts")
    texts: list[str] = []
    other = 0
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict) and part.get("type") in _TEXT_PARTS and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif isinstance(part, dict) and part.get("type") == "refusal":
            texts.append(str(part.get("refusal") or ""))
        else:
            other += 1
    return "\n".join(texts), other


def _tool_call(call: Any) -> dict[str, Any]:
    if not isinstance(call, dict) or not isinstance(call.get("function"), dict):
        raise ValueError("tool call without a function")
    fn = call["function"]
    args = fn.get("arguments")
    return {
        "id": str(call.get("id") or ""),
        "type": "function",
        "function": {
            "name": str(fn.get("name") or ""),
            "arguments": args if isinstance(args, str) else json.dumps(args if args is not None else {}),
        },
    }


def _image_parts(content: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The image_url parts of a content list as the request sent them (url and detail): those before its first text, and the rest."""
    before: list[dict[str, Any]] = []
    out = before
    after: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, str) or (isinstance(part, dict) and part.get("type") in _TEXT_PARTS):
            out = after
        elif isinstance(part, dict) and part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str) or not url:
                raise ValueError("image_url part without a url")
            kept = {"url": url, **({"detail": image["detail"]} if isinstance(image, dict) and image.get("detail") else {})}
            out.append({"type": "image_url", "image_url": kept})
    return before, after


def canonical_messages(messages: Any, images: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] | None = None) -> tuple[list[dict[str, Any]], int]:
    """OpenAI-style messages in canonical form (text content; image parts go to `images` by message index),
    and the count of other non-text parts dropped."""
    if not isinstance(messages, list) or not messages:
        raise ValueError("no messages")
    out: list[dict[str, Any]] = []
    dropped = 0
    for i, m in enumerate(messages, 1):
        if not isinstance(m, dict):
            raise ValueError(f"message {i} is not an object")
        role = _ROLES.get(m.get("role"))  # type: ignore[arg-type]
        if role is None:
            raise ValueError(f"message {i} has a missing or unknown role")
        text, other = content_text(m.get("content"))
        before, after = _image_parts(m.get("content"))
        if (before or after) and images is not None:
            images[len(out)] = (before, after)
            other -= len(before) + len(after)
        dropped += other
        msg: dict[str, Any] = {"role": role, "content": text}
        if role == "assistant" and m.get("tool_calls"):
            msg["tool_calls"] = [_tool_call(c) for c in m["tool_calls"]]
        if role == "tool":
            msg["tool_call_id"] = str(m.get("tool_call_id") or "")
        out.append(msg)
    return out, dropped


def _unwrap(obj: dict[str, Any]) -> tuple[dict[str, Any], Any, bool]:
    """(request, response, failed): where this line shape keeps each part."""
    failed = obj.get("error") not in (None, {}, "")
    request = obj.get("request")
    if not isinstance(request, dict):
        body = obj.get("body")
        request = body if isinstance(body, dict) else obj
    response = obj.get("response")
    if isinstance(response, dict) and isinstance(response.get("body"), dict) and "status_code" in response:
        failed = failed or (as_int(response.get("status_code")) or 0) >= 400
        response = response["body"]
    return request, response, failed


def _status(finish_reason: Any) -> ReferenceStatus:
    if finish_reason == "length":
        return "truncated"
    if finish_reason == "content_filter":
        return "refused"
    return "ok"


def parse(obj: dict[str, Any]) -> Record:
    """One log line as a Record; a ValueError says why the line is unusable."""
    request, response, failed = _unwrap(obj)
    images: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
    messages, dropped = canonical_messages(request.get("messages"), images)
    rec = Record(messages=messages, images=images or None, non_text_parts=dropped, reference_model=_text_or_none(request.get("model")))
    _apply_request(rec, request)
    if isinstance(request.get("metadata"), dict) and request["metadata"]:
        rec.metadata = request["metadata"]
    if isinstance(response, dict):
        _apply_response(rec, response, failed)
    elif failed:
        rec.reference_status = "error"
    elif isinstance(response, str) and response:
        _set_reference(rec, response, None, "ok")
    elif response is None and messages[-1]["role"] == "assistant" and len(messages) > 1:
        last = messages.pop()
        _set_reference(rec, last.get("content") or "", last.get("tool_calls"), "ok")
    return rec


def _apply_request(rec: Record, request: dict[str, Any]) -> None:
    """Tools, tool_choice, response_format and generation settings, checked as a sample will check them."""
    tools = request.get("tools")
    if not tools and request.get("functions"):  # the legacy `functions` parameter
        tools = [{"type": "function", "function": f} for f in request["functions"]]
    if tools:
        check_tools(tools)
        rec.tools = json.dumps(tools, ensure_ascii=False)
    choice = request.get("tool_choice")
    if choice is None and isinstance(request.get("function_call"), (str, dict)):
        legacy = request["function_call"]
        choice = {"type": "function", "function": {"name": legacy.get("name")}} if isinstance(legacy, dict) else legacy
    rec.tool_choice = choice
    rf = request.get("response_format")
    rec.response_format = rf if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema") else None
    rec.settings = request_settings(request, "max_completion_tokens", "max_tokens", "stop")
    check_request(rec)


def check_request(rec: Record) -> None:
    """What a sample refuses, refused here, so the line is skipped with a reason instead of failing the import."""
    forced = named_choice(rec.tool_choice)
    if forced is not None and forced not in tool_names(json.loads(rec.tools) if rec.tools else None):
        raise ValueError(f"tool_choice names {forced!r}, which is not one of the request's tools")
    if rec.tool_choice is not None and rec.tool_choice not in ("auto", "none", "required") and forced is None:
        raise ValueError("tool_choice is neither auto, none, required nor a named function")
    if rec.response_format is not None:
        try:
            Sample.model_validate({"id": "-", "input": [], "response_format": rec.response_format})
        except ValidationError as e:
            raise ValueError(f"response_format: {e.errors()[0]['msg']}") from None


def request_settings(request: dict[str, Any], *names: str) -> dict[str, Any] | None:
    """A request's own generation settings: the first of max-token `names` present, the stop field, and the sampling settings."""
    *limits, stop = names
    out: dict[str, Any] = {}
    limit = next((request[n] for n in limits if request.get(n) is not None), None)
    if limit is not None:
        out["max_tokens"] = limit
    if request.get(stop):
        out["stop"] = request[stop]
    for name in ("temperature", "top_p", "seed", "parallel_tool_calls"):
        if request.get(name) is not None:
            out[name] = request[name]
    if not out:
        return None
    try:
        return RequestSettings.model_validate(out).model_dump(exclude_none=True)
    except ValidationError as e:
        first = e.errors()[0]
        raise ValueError(f"request setting `{'.'.join(map(str, first['loc']))}`: {first['msg']}") from None


def _apply_response(rec: Record, response: dict[str, Any], failed: bool) -> None:
    rec.reference_model = _text_or_none(response.get("model")) or rec.reference_model
    usage: dict[str, Any] = response["usage"] if isinstance(response.get("usage"), dict) else {}
    rec.input_tokens = as_int(usage.get("prompt_tokens", usage.get("input_tokens")))
    rec.output_tokens = as_int(usage.get("completion_tokens", usage.get("output_tokens")))
    choices = response.get("choices")
    if failed or response.get("error") or not isinstance(choices, list) or not choices:
        rec.reference_status = "error"
        return
    choice: dict[str, Any] = choices[0] if isinstance(choices[0], dict) else {}
    message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
    text, _ = content_text(message.get("content"))
    if not text and message.get("refusal"):
        text = str(message["refusal"])
    status = "refused" if message.get("refusal") and not message.get("content") else _status(choice.get("finish_reason"))
    _set_reference(rec, text, message.get("tool_calls"), status)


def _set_reference(rec: Record, text: str, tool_calls: Any, status: ReferenceStatus) -> None:
    """Text answers are the reference; an answer that only called tools is referenced by its calls."""
    rec.reference_status = status
    if text:
        rec.reference, rec.reference_kind = text, "text"
    elif tool_calls:
        calls = [_tool_call(c)["function"] for c in tool_calls]
        rec.reference, rec.reference_kind = json.dumps(calls, ensure_ascii=False), "tool_calls"
    elif status == "ok":
        rec.reference_status = "error"


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
