"""The Sample schema: one task of a suite.

A sample is the request production sent, not only its messages. Everything is
kept in the OpenAI chat shape (the canonical one; `evals.providers.translate`
turns it into Anthropic Messages exactly, or says why it cannot):

- `input`: messages `{role, content}`; content is a string or a list of parts
  (`{"type": "text", "text"}`, `{"type": "image_url", "image_url": {"url"}}`);
  assistant turns may carry `tool_calls`, `tool` turns carry `tool_call_id`.
- `tools`: `[{"type": "function", "function": {"name", "description", "parameters"}}]`.
- `tool_choice`: `"auto"`, `"none"`, `"required"` or
  `{"type": "function", "function": {"name": ...}}`.
- `response_format`: `{"type": "json_object"}` or
  `{"type": "json_schema", "json_schema": {"name", "schema", "strict"}}`.
- `settings`: the request's own generation settings (max_tokens, stop,
  temperature, top_p, seed, parallel_tool_calls). A runner's `params` are
  defaults; a sample's own settings win.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator, model_validator


class RequestSettings(BaseModel):
    """Generation settings the logged request itself carried; each one set here overrides the runner's default."""

    model_config = ConfigDict(extra="forbid")

    max_tokens: int | None = Field(default=None, ge=1)
    stop: list[str] | None = None
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = None
    parallel_tool_calls: bool | None = None

    @field_validator("stop", mode="before")
    @classmethod
    def _one_stop(cls, v: Any) -> Any:
        """OpenAI accepts a single stop string; a list is the one shape kept."""
        return [v] if isinstance(v, str) else v


_CHOICES = ("auto", "none", "required")


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, dict):
        raise ValueError(f"{where}: must be a JSON Schema object, got {type(schema).__name__}")  # noqa: TRY004 (pydantic reports ValueErrors)
    from jsonschema import Draft202012Validator  # a third of a second; only samples with schemas need it
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        raise ValueError(f"{where}: not a valid JSON Schema: {e.message}") from None


def check_tools(tools: Any) -> list[dict[str, Any]]:
    """Tool definitions in the OpenAI function shape, with unique names and valid parameter schemas."""
    if not isinstance(tools, list) or not tools:
        raise ValueError("must be a non-empty list of {type: function, function: {name, parameters}}")
    names: set[str] = set()
    for i, t in enumerate(tools):
        fn = t.get("function") if isinstance(t, dict) else None
        if not isinstance(t, dict) or t.get("type", "function") != "function" or not isinstance(fn, dict):
            raise ValueError(f"[{i}]: expected {{type: function, function: {{name, parameters}}}}")
        name = fn.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"[{i}].function.name: a non-empty string is required")
        if name in names:
            raise ValueError(f"[{i}].function.name: {name!r} is defined twice")
        names.add(name)
        if fn.get("parameters") is not None:
            _check_schema(fn["parameters"], f"[{i}].function.parameters")
    return tools


def tool_names(tools: list[dict[str, Any]] | None) -> list[str]:
    return [t["function"]["name"] for t in tools or []]


def named_choice(tool_choice: Any) -> str | None:
    """The one tool a `tool_choice` forces, or None when it forces none."""
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        return fn.get("name") if isinstance(fn, dict) else None
    return None


def response_schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema a request asked its answer to follow (None for plain JSON mode or no format)."""
    if response_format and response_format.get("type") == "json_schema":
        schema = response_format["json_schema"].get("schema")
        return schema if isinstance(schema, dict) else None
    return None


class Sample(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    """Stable across runs; a content hash when the source has none."""
    input: list[dict[str, Any]]
    """Chat messages ({role, content})."""
    reference: Any = None
    """Expected answer: a string, or structured data (labels, JSON, unit tests)."""
    category: str = "all"
    metadata: dict[str, Any] = Field(default_factory=dict)
    scorers: list[dict[str, Any]] | None = None
    """Per-sample scorer settings, merged over the suite's scorer args by name."""
    tools: list[dict[str, Any]] | None = None
    """Tool definitions sent with the request (OpenAI function shape)."""
    tool_choice: str | dict[str, Any] | None = None
    """auto / none / required, or {type: function, function: {name}}."""
    response_format: dict[str, Any] | None = None
    """{type: json_object} or {type: json_schema, json_schema: {name, schema, strict}}."""
    settings: RequestSettings | None = None
    """The request's own generation settings; they win over the runner's params."""

    @field_serializer("settings")
    def _only_given(self, v: RequestSettings | None) -> dict[str, Any] | None:
        """A suite file lists the settings a request had, not every one it could have had."""
        return None if v is None else v.model_dump(exclude_none=True)

    @field_validator("tools")
    @classmethod
    def _tools(cls, v: Any) -> Any:
        return None if v is None else check_tools(v)

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, v: Any) -> Any:
        if v is None or v in _CHOICES:
            return v
        if isinstance(v, dict) and v.get("type") == "function" and isinstance(named_choice(v), str):
            return {"type": "function", "function": {"name": named_choice(v)}}
        raise ValueError(f"must be one of {', '.join(_CHOICES)} or {{type: function, function: {{name}}}}, got {v!r}")

    @field_validator("response_format")
    @classmethod
    def _response_format(cls, v: Any) -> Any:
        if v is None:
            return None
        kind = v.get("type") if isinstance(v, dict) else None
        if kind == "text":
            return None  # the default: no format asked for
        if kind == "json_object":
            return {"type": "json_object"}
        if kind == "json_schema":
            spec = v.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                raise ValueError("json_schema: needs {name, schema} (schema: a JSON Schema object)")
            _check_schema(spec.get("schema"), "json_schema.schema")
            return v
        raise ValueError(f"type must be json_object or json_schema, got {kind!r}")

    @model_validator(mode="after")
    def _choice_names_a_tool(self) -> Sample:
        forced = named_choice(self.tool_choice)
        if forced is not None and forced not in tool_names(self.tools):
            raise ValueError(f"tool_choice names {forced!r}, which is not one of the sample's tools ({', '.join(tool_names(self.tools)) or 'none'})")
        if self.tool_choice is not None and self.tool_choice != "none" and not self.tools:
            raise ValueError(f"tool_choice {self.tool_choice!r} needs `tools`")
        return self

    def request_fields(self) -> dict[str, Any]:
        """What the request carries besides its messages, only the fields that are set (part of the request key)."""
        out: dict[str, Any] = {}
        for name in ("tools", "tool_choice", "response_format"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.settings is not None:
            given = self.settings.model_dump(exclude_none=True)
            if given:
                out["settings"] = given
        return out


def content_id(messages: list[dict[str, Any]], offered: dict[str, Any] | None = None) -> str:
    """An id from what the sample asks: its messages and, when set, what the request offered besides
    them (tools, tool_choice, response_format), so one conversation with other tools is another sample.
    A sample without them keeps the id it had before they were part of it."""
    extra = {k: v for k, v in (offered or {}).items() if v is not None}
    blob = json.dumps([messages, extra] if extra else messages, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or a list of blocks whose text
    blocks are joined by newlines (images and other blocks carry no text here)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = (b.get("text") for b in content if isinstance(b, dict) and b.get("type", "text") == "text")
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""
