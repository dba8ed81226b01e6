"""A sample's request on the wire: OpenAI chat <-> Anthropic Messages, exactly or not at all.

Samples hold the request in the OpenAI chat shape (see evals.suite.sample).
These pure functions turn it into the keyword arguments of each official SDK,
read an Anthropic request back into the canonical shape (for `evals import`),
and turn either protocol's answer into tool calls. They never change what was
asked: where a protocol has no exact equivalent (a JSON mode without a schema
for Anthropic, an audio part, tool-call arguments that are not an object),
`Unsupported` says why, and the provider turns it into a per-sample error.

Mappings (OpenAI chat <-> Anthropic Messages):

- tools: `{type: function, function: {name, description, parameters}}`
  <-> `{name, description, input_schema}` (no parameters = an empty object schema).
- tool_choice: auto <-> {type: auto}; required <-> {type: any}; none <-> {type: none};
  {type: function, function: {name}} <-> {type: tool, name};
  parallel_tool_calls: false <-> disable_parallel_tool_use: true.
- assistant `tool_calls` (arguments as JSON text) <-> `tool_use` blocks (input as an object);
  `tool` messages <-> `tool_result` blocks at the head of the next user turn.
- response_format json_schema <-> output_config.format {type: json_schema, schema}.
- stop <-> stop_sequences; max_tokens <-> max_tokens.
- image_url parts (data: URLs or http(s) URLs) <-> image blocks (base64 or url source).
- temperature, top_p and seed: the Messages API of SDK 2.x takes none of them;
  they are not sent, and the attempt's settings record says so.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import Field

from evals.providers.base import GenerationParams, Status
from evals.suite.sample import Sample, content_text, tool_names

OPENAI_FINISH_STATUS = {"stop": Status.ok, "tool_calls": Status.ok, "function_call": Status.ok, "length": Status.truncated, "content_filter": Status.refused}
"""An OpenAI chat completion's finish_reason as a status; here, not in the SDK provider, so the lean client needs no SDK."""


class Unsupported(ValueError):
    """The request cannot be sent to this protocol without changing what it asks."""


def mark_invalid(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Tool calls (OpenAI shape) as stored: arguments kept as the model sent them,
    and `invalid_json: true` on a call whose arguments do not parse."""
    out = []
    for call in calls:
        try:
            json.loads((call.get("function") or {}).get("arguments") or "{}")
            out.append(call)
        except ValueError:
            out.append({**call, "invalid_json": True})
    return out


# ---------------------------------------------------------------- the request


class RequestParams(GenerationParams):
    """A runner's params with one sample's request applied: everything one request sends besides its messages."""

    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    origin: dict[str, str] = Field(default_factory=dict)
    """Where each generation setting came from: `sample` (the request's own) or `runner` (the profile's default)."""


_SETTINGS = ("max_tokens", "stop", "temperature", "top_p", "seed")


def request_params(params: GenerationParams, sample: Sample) -> RequestParams:
    """The request as sent: the runner's `params` are defaults, the sample's own settings win."""
    own = sample.settings.model_dump(exclude_none=True) if sample.settings is not None else {}
    values = params.model_dump()
    origin: dict[str, str] = {}
    for name in _SETTINGS:
        if name in own:
            values[name], origin[name] = own[name], "sample"
        elif values.get(name) is not None:
            origin[name] = "runner"
    if "parallel_tool_calls" in own:
        origin["parallel_tool_calls"] = "sample"
    return RequestParams(
        **values,
        tools=sample.tools,
        tool_choice=sample.tool_choice,
        response_format=sample.response_format,
        parallel_tool_calls=own.get("parallel_tool_calls"),
        origin=origin,
    )


# ---------------------------------------------------------------- OpenAI chat


def to_openai(messages: list[dict[str, Any]], p: GenerationParams, *, model: str, max_tokens_field: str = "max_tokens", stream: bool = True) -> dict[str, Any]:
    """Keyword arguments for `openai.AsyncOpenAI().chat.completions.create`."""
    out: dict[str, Any] = {"model": model, "messages": messages, max_tokens_field: p.max_tokens}
    if stream:
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    fields = vars(p)  # pydantic keeps the values here; getattr of a field GenerationParams lacks takes pydantic's slow path
    for name in ("temperature", "top_p", "seed", "stop", "tools", "tool_choice", "response_format", "extra_body"):
        value = fields.get(name)
        if value is not None and value != []:
            out[name] = value
    parallel = fields.get("parallel_tool_calls")
    if parallel is not None and fields.get("tools"):
        out["parallel_tool_calls"] = parallel
    return out


# ---------------------------------------------------------------- Anthropic Messages

_DATA_URL = re.compile(r"data:(?P<type>[\w/+.-]+);base64,(?P<data>.*)", re.DOTALL)
_ANTHROPIC_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def part_to_block(part: Any, where: str) -> dict[str, Any]:
    """One OpenAI content part as an Anthropic content block."""
    if isinstance(part, str):
        return {"type": "text", "text": part}
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        return {"type": "text", "text": str(part.get("text") or "")}
    if kind == "image_url":
        url = part.get("image_url", {}).get("url") if isinstance(part.get("image_url"), dict) else part.get("image_url")
        if not isinstance(url, str):
            raise Unsupported(f"{where}: image_url part without a url")
        m = _DATA_URL.fullmatch(url)
        if m:
            if m["type"] not in _ANTHROPIC_IMAGE_TYPES:
                raise Unsupported(f"{where}: image type {m['type']} is not one Anthropic accepts ({', '.join(_ANTHROPIC_IMAGE_TYPES)})")
            return {"type": "image", "source": {"type": "base64", "media_type": m["type"], "data": m["data"]}}
        if url.startswith(("http://", "https://")):
            return {"type": "image", "source": {"type": "url", "url": url}}
        raise Unsupported(f"{where}: image url must be a data: URL or http(s) URL")
    raise Unsupported(f"{where}: content part of type {kind!r} has no Anthropic equivalent")


def block_to_part(block: dict[str, Any]) -> dict[str, Any]:
    """One Anthropic text or image block as an OpenAI content part (the reverse of part_to_block)."""
    if block.get("type") == "text":
        return {"type": "text", "text": str(block.get("text") or "")}
    if block.get("type") == "image":
        src = block.get("source") or {}
        if src.get("type") == "base64":
            return {"type": "image_url", "image_url": {"url": f"data:{src.get('media_type')};base64,{src.get('data')}"}}
        if src.get("type") == "url":
            return {"type": "image_url", "image_url": {"url": src.get("url")}}
    raise ValueError(f"content block of type {block.get('type')!r} (source {(block.get('source') or {}).get('type')!r}) has no OpenAI equivalent")


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [part_to_block(p, f"{where}.content[{j}]") for j, p in enumerate(content)]


def _tool_result_content(content: Any, where: str) -> Any:
    if isinstance(content, str) or content is None:
        return content or ""
    return _blocks(content, where)


def to_anthropic_messages(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """(system, messages) for the Messages API: system turns move to `system`,
    tool calls become tool_use blocks, tool turns become tool_result blocks of a
    user turn, and consecutive turns of one role are merged (the API alternates roles)."""
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        where = f"input[{i}]"
        role = m.get("role")
        if role in ("system", "developer"):
            if isinstance(m.get("content"), list) and any(isinstance(p, dict) and p.get("type") != "text" for p in m["content"]):
                raise Unsupported(f"{where}: Anthropic's system prompt takes text only")
            system.append(content_text(m.get("content")))
            continue
        if role == "tool":
            block: dict[str, Any] = {"type": "tool_result", "tool_use_id": str(m.get("tool_call_id") or ""), "content": _tool_result_content(m.get("content"), where)}
            blocks, role = [block], "user"
        elif role == "assistant":
            blocks = _blocks(m.get("content"), where)
            for j, call in enumerate(m.get("tool_calls") or ()):
                fn = call.get("function") or {}
                try:
                    args = json.loads(fn.get("arguments") or "{}")
                except ValueError:
                    raise Unsupported(f"{where}.tool_calls[{j}]: arguments are not JSON; Anthropic's tool_use input must be an object") from None
                if not isinstance(args, dict):
                    raise Unsupported(f"{where}.tool_calls[{j}]: arguments are a {type(args).__name__}; Anthropic's tool_use input must be an object")
                blocks.append({"type": "tool_use", "id": str(call.get("id") or ""), "name": fn.get("name"), "input": args})
        elif role == "user":
            blocks = _blocks(m.get("content"), where)
        else:
            raise Unsupported(f"{where}: role {role!r} has no Anthropic equivalent")
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    for m in out:
        # Plain text turns go as strings, the shape most logs and examples use.
        if len(m["content"]) == 1 and m["content"][0]["type"] == "text":
            m["content"] = m["content"][0]["text"]
    text = "\n\n".join(s for s in system if s)
    return (text or None), out


def to_anthropic_tools(tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tools:
        fn = t["function"]
        tool: dict[str, Any] = {"name": fn["name"], "input_schema": fn.get("parameters") or {"type": "object", "properties": {}}}
        if fn.get("description"):
            tool["description"] = fn["description"]
        if fn.get("strict") is not None:
            tool["strict"] = fn["strict"]
        out.append(tool)
    return out


def to_anthropic_tool_choice(choice: str | dict[str, Any] | None, parallel: bool | None) -> dict[str, Any] | None:
    if choice is None and parallel is not False:
        return None
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict):
        out: dict[str, Any] = {"type": "tool", "name": choice["function"]["name"]}
    else:
        out = {"type": {"required": "any", "auto": "auto", None: "auto"}[choice]}
    if parallel is False:
        out["disable_parallel_tool_use"] = True
    return out


def to_anthropic(messages: list[dict[str, Any]], p: GenerationParams, *, model: str, stream: bool = True) -> dict[str, Any]:
    """Keyword arguments for `anthropic.AsyncAnthropic().messages.create`; Unsupported when it cannot be exact."""
    req = p if isinstance(p, RequestParams) else RequestParams(**p.model_dump())
    system, turns = to_anthropic_messages(messages)
    out: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": req.max_tokens}
    if system:
        out["system"] = system
    if req.stop:
        out["stop_sequences"] = req.stop
    if req.tools:
        out["tools"] = to_anthropic_tools(req.tools)
        choice = to_anthropic_tool_choice(req.tool_choice, req.parallel_tool_calls)
        if choice is not None:
            out["tool_choice"] = choice
    elif req.tool_choice not in (None, "none"):
        raise Unsupported(f"tool_choice {req.tool_choice!r} without tools")
    if req.response_format is not None:
        if req.response_format.get("type") != "json_schema":
            raise Unsupported("response_format json_object (JSON without a schema) has no Anthropic equivalent; give the sample a json_schema response_format")
        out["output_config"] = {"format": {"type": "json_schema", "schema": req.response_format["json_schema"]["schema"]}}
    if req.extra_body:
        out["extra_body"] = req.extra_body
    if stream:
        out["stream"] = True
    return out


def anthropic_not_sent(p: RequestParams) -> dict[str, str]:
    """The settings record for an Anthropic request: which settings the Messages API took none of."""
    out = dict(p.origin)
    for name in ("temperature", "top_p", "seed"):
        if name in out:
            out[name] = f"{out[name]} (not sent: the Messages API takes no {name})"
    return out


# ---------------------------------------------------------------- Anthropic -> canonical (import)


def tools_from_anthropic(tools: Any) -> list[dict[str, Any]]:
    """Anthropic client tools as OpenAI function tools; server tools (web search, code execution) cannot be replayed."""
    out = []
    for i, t in enumerate(tools):
        if not isinstance(t, dict) or "input_schema" not in t or t.get("type") not in (None, "custom"):
            raise ValueError(f"tools[{i}] is not a client tool with an input_schema (server tools cannot be replayed)")
        fn: dict[str, Any] = {"name": t.get("name"), "parameters": t["input_schema"]}
        if t.get("description"):
            fn["description"] = t["description"]
        if t.get("strict") is not None:
            fn["strict"] = t["strict"]
        out.append({"type": "function", "function": fn})
    return out


def tool_choice_from_anthropic(choice: Any) -> tuple[str | dict[str, Any] | None, bool | None]:
    """(tool_choice, parallel_tool_calls) in OpenAI terms."""
    if not isinstance(choice, dict):
        return None, None
    parallel = False if choice.get("disable_parallel_tool_use") else None
    kind = choice.get("type")
    if kind == "tool":
        return {"type": "function", "function": {"name": choice.get("name")}}, parallel
    mapped = {"auto": "auto", "any": "required", "none": "none"}.get(str(kind))
    if mapped is None:
        raise ValueError(f"tool_choice type {kind!r} is unknown")
    return mapped, parallel


def response_format_from_anthropic(output_config: Any) -> dict[str, Any] | None:
    fmt = output_config.get("format") if isinstance(output_config, dict) else None
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") != "json_schema" or not isinstance(fmt.get("schema"), dict):
        raise ValueError(f"output_config.format of type {fmt.get('type')!r} is unknown")
    return {"type": "json_schema", "json_schema": {"name": "output", "schema": fmt["schema"]}}


# ---------------------------------------------------------------- tool calls spoken as text

_TAGGED = re.compile(r"<tool_call>|<\|python_tag\|>|\[TOOL_CALLS\]|<function=")
_NAMED = re.compile(r'"name"\s*:\s*"(?P<name>[^"]+)"')


def text_tool_call(text: str, tools: list[dict[str, Any]] | None) -> str | None:
    """Why `text` looks like a tool call the server failed to parse, or None.

    Chat templates mark tool calls with tags (Hermes/Qwen `<tool_call>`, Llama
    `<|python_tag|>`, Mistral `[TOOL_CALLS]`) or emit `{"name": <tool>,
    "arguments"|"parameters": ...}`; a server started without the right
    `--tool-call-parser` returns that text as content instead of tool_calls."""
    if not tools or not text:
        return None
    tag = _TAGGED.search(text)
    if tag:
        return f"the answer holds {tag.group(0)!r}, a tool-call marker"
    names = set(tool_names(tools))
    for m in _NAMED.finditer(text):
        if m["name"] in names and re.search(r'"(arguments|parameters)"\s*:', text):
            return f"the answer holds a JSON call of tool {m['name']!r}"
    return None


def render_calls(calls: list[dict[str, Any]]) -> str:
    """Tool calls as a reader sees them beside a text answer: one `name(arguments)` a line
    ({name, arguments} or OpenAI's {function: {name, arguments}}), invalid JSON marked."""
    lines = []
    for c in calls:
        fn: dict[str, Any] = c["function"] if isinstance(c.get("function"), dict) else c
        args = fn.get("arguments")
        text = args if isinstance(args, str) else json.dumps(args if args is not None else {}, ensure_ascii=False)
        lines.append(f"{fn.get('name')}({text})" + ("  [arguments are not valid JSON]" if c.get("invalid_json") else ""))
    return "\n".join(lines)
