"""The OpenAI chat-completions wire format as stream events, read from plain dicts.

One reading of a chunk, a whole response and its usage for every path that
meets the format: the lean client (the JSON as it arrives), the SDK client (its
models dumped to the same dicts) and the batch collector (a result line's body),
so the three cannot drift apart on what a tool-call fragment, a finish reason or
a cached-token count is.
"""

from __future__ import annotations

from typing import Any

from evals.providers.base import Usage
from evals.providers.stream import Event, Finish, ServedModel, TextDelta, ToolCallDelta, UsageReport


class StreamError(Exception):
    """An `{"error": ...}` event inside a 200 stream (vLLM reports a failure mid-stream so),
    as the SDK raises APIError for it."""


def usage_of(u: dict[str, Any]) -> Usage:
    pd = u.get("prompt_tokens_details") or {}
    cd = u.get("completion_tokens_details") or {}
    return Usage(
        input_tokens=u.get("prompt_tokens"),
        cached_input_tokens=pd.get("cached_tokens"),
        output_tokens=u.get("completion_tokens"),
        reasoning_tokens=cd.get("reasoning_tokens"),
    )


def chunk_events(obj: Any, served: bool) -> list[Event]:
    """The events of one decoded stream chunk (`served`: the model was already reported)."""
    if not isinstance(obj, dict):
        return []
    err = obj.get("error")
    if err:
        msg = err.get("message") if isinstance(err, dict) else None
        raise StreamError(msg if isinstance(msg, str) and msg else "An error occurred during streaming")
    out: list[Event] = []
    if not served and (model := obj.get("model")):
        out.append(ServedModel(model))
    usage = obj.get("usage")
    if usage is not None:
        out.append(UsageReport(usage_of(usage)))
    for choice in obj.get("choices") or ():
        delta = choice.get("delta")
        if delta:
            content = delta.get("content")
            if content:
                out.append(TextDelta(content))
            for tc in delta.get("tool_calls") or ():
                fn = tc.get("function") or {}
                out.append(ToolCallDelta(tc.get("index", 0), tc.get("id"), fn.get("name"), fn.get("arguments") or ""))
        reason = choice.get("finish_reason")
        if reason:
            out.append(Finish(reason))
    return out


def whole_events(obj: Any) -> list[Event]:
    """The events of a whole (non-streamed) response, in the SDK path's order."""
    if not isinstance(obj, dict):
        return []
    out: list[Event] = []
    if obj.get("model"):
        out.append(ServedModel(obj["model"]))
    if obj.get("usage") is not None:
        out.append(UsageReport(usage_of(obj["usage"])))
    choices = obj.get("choices") or []
    if choices:
        choice = choices[0]
        message = choice.get("message") or {}
        if message.get("content"):
            out.append(TextDelta(message["content"]))
        for i, tc in enumerate(message.get("tool_calls") or ()):
            fn = tc.get("function") or {}
            out.append(ToolCallDelta(i, tc.get("id"), fn.get("name"), fn.get("arguments") or ""))
        if choice.get("finish_reason"):
            out.append(Finish(choice["finish_reason"]))
    return out
