"""A workload-evals extension in its own package.

Importing this module registers its three extensions: the entry points in
pyproject.toml only name the module, and the registrations below do the rest.
"""

from __future__ import annotations

import time

from evals.config import RunnerProfile
from evals.providers.base import Completion, GenerationParams, Message, Status, Timing, Usage
from evals.providers.registry import provider
from evals.report.sections import section
from evals.scoring import Score, scorer
from evals.suite.sample import Sample, content_text


class EchoProvider:
    """Answers every request with its last user message, upper-cased: a stand-in for a real client.
    A provider implements one async method and returns failures as data (a Completion with a status)."""

    def __init__(self, name: str, base_url: str | None) -> None:
        self.name = name
        self.base_url = base_url

    async def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        started = time.perf_counter()
        last = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        if last is None:
            return Completion(status=Status.error, error="no user message to echo", error_kind="bad_request")
        text = content_text(last.get("content")).upper()[: params.max_tokens]
        words = len(text.split())
        return Completion(
            status=Status.ok, text=text, finish_reason="stop",
            usage=Usage(input_tokens=sum(len(content_text(m.get("content")).split()) for m in messages), output_tokens=words),
            timing=Timing(latency_ms=(time.perf_counter() - started) * 1000),
        )

    async def aclose(self) -> None:
        return None


@provider("echo")
def echo(profile: RunnerProfile, url: str | None, key: str | None) -> EchoProvider:
    return EchoProvider(profile.name, url)


@scorer("shouted", sees="completion")
def shouted(min_letters: int = 1):
    """Passes when the answer has at least `min_letters` letters and all are upper case, and the
    server finished it (it sees the whole completion, so it can read the finish reason)."""

    async def score(completion: Completion, sample: Sample) -> Score:
        letters = [c for c in completion.text if c.isalpha()]
        ok = len(letters) >= min_letters and all(c.isupper() for c in letters) and completion.finish_reason == "stop"
        return Score(value=float(ok), passed=ok, explanation=f"{len(letters)} letters, finish {completion.finish_reason}")

    return score


# A report section: a Jinja2 template (autoescaped) with the report's context; `m` is the ReportModel.
# Order 95 puts it between the failure explorer (90) and the method (100).
section(
    "echo-notes",
    title="Echo notes",
    order=95,
    source="<p>{{ m.runners|length }} runner(s) on suite {{ m.suite }}; "
    "{% for r in m.runners %}{{ r.name }}: {{ r.completed }} of {{ r.samples }} completed. {% endfor %}</p>",
)
