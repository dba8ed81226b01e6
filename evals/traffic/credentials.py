"""Finders for credentials in free text: API keys, tokens, private keys, passwords.

The well-known key formats (OpenAI, Anthropic, AWS, GitHub, Slack, Google,
bearer tokens, PEM private keys, JWTs) have fixed prefixes, so each is gated by
a plain substring test and matched by a short regex of our own. The long tail
of vendor formats comes from detect-secrets' plugins, which are only run on
text that holds a long token (every such key is one), and a Shannon-entropy
test (detect-secrets' base64 calculation and limit) catches random-looking
tokens no pattern knows. JWTs are confirmed with detect-secrets' own check that
the header and payload decode as JSON.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import BasePlugin
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.discord import DiscordBotTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.high_entropy_strings import Base64HighEntropyString
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.keyword import KeywordDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector
from detect_secrets.plugins.telegram_token import TelegramBotTokenDetector
from detect_secrets.plugins.twilio import TwilioKeyDetector

from evals.traffic.pii import Span

_TOKEN_TAIL = r"(?![A-Za-z0-9_-])"

# (kind, substrings of which one must occur, pattern, group holding the secret)
_KNOWN: tuple[tuple[str, tuple[str, ...], re.Pattern[str], int], ...] = (
    (
        "private_key",
        ("PRIVATE KEY",),
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)",
            re.S,
        ),
        0,
    ),
    ("anthropic_key", ("sk-ant-",), re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}" + _TOKEN_TAIL), 0),
    (
        "openai_key",
        ("sk-",),
        re.compile(r"(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}" + _TOKEN_TAIL),
        0,
    ),
    ("aws_access_key", ("AKIA", "ASIA", "ABIA", "ACCA"), re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"), 0),
    (
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})" + _TOKEN_TAIL),
        0,
    ),
    (
        "slack_token",
        ("xox", "hooks.slack.com"),
        re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9_/]+"),
        0,
    ),
    ("google_api_key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}" + _TOKEN_TAIL), 0),
    ("bearer_token", ("earer",), re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)"), 1),
    ("jwt", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), 0),
    (
        "password",
        ("assw", "ASSW", "pwd", "PWD", "asscode"),
        # Prose and config alike ("password: hunter2", "PASSWORD=..."); a plain word
        # after it ("the password is incorrect") is not a password.
        re.compile(
            r"(?i)\b(?:password|passwd|pwd|passcode)\b[\"']?\s*(?:is|:|=)\s*[\"']?"
            r"((?=[^\s\"'`]*[^A-Za-z\s\"'`])[^\s\"'`,;]{4,})"
        ),
        1,
    ),
)

# A run of token characters at least 20 long: every vendor key is one, prose rarely has one.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{20,}")
_VENDOR_PLUGINS: tuple[BasePlugin, ...] = (
    ArtifactoryDetector(),
    AzureStorageKeyDetector(),
    DiscordBotTokenDetector(),
    GitLabTokenDetector(),
    MailchimpDetector(),
    NpmDetector(),
    PypiTokenDetector(),
    SendGridDetector(),
    SquareOAuthDetector(),
    StripeDetector(),
    TelegramBotTokenDetector(),
    TwilioKeyDetector(),
)
_KEYWORD = KeywordDetector()
# Stems of detect-secrets' keyword denylist ("api_key", "db_pass", "secret", ...): plain
# "key" is too common in prose to gate on.
_KEYWORD_GATE = ("_key", "apikey", "authkey", "privkey", "privatekey", "clientkey", "pass", "pwd", "secret", "contrase")
_QUOTES = ('"', "'", "`")
_BASIC_AUTH = BasicAuthDetector()
_ENTROPY = Base64HighEntropyString()
_ENTROPY_LIMIT = 4.5
"""detect-secrets' default for base64-like strings; random keys of 32+ characters exceed it, words do not."""


def _kind(plugin: BasePlugin) -> str:
    return re.sub(r"[^a-z0-9]+", "_", plugin.secret_type.lower()).strip("_")


def _occurrences(text: str, value: str, kind: str) -> Iterator[Span]:
    """Spans of every occurrence of a value a plugin reported (plugins report values, not positions)."""
    start = text.find(value)
    while start >= 0 and value:
        yield (start, start + len(value), kind)
        start = text.find(value, start + len(value))


def _high_entropy(token: str) -> bool:
    classes = any(c.isupper() for c in token) + any(c.islower() for c in token) + any(c.isdigit() for c in token)
    return classes == 3 and _ENTROPY.calculate_shannon_entropy(token) > _ENTROPY_LIMIT


def find_known(text: str) -> list[Span]:
    spans: list[Span] = []
    for kind, gates, pattern, group in _KNOWN:
        if not any(g in text for g in gates):
            continue
        for m in pattern.finditer(text):
            if kind == "jwt" and not JwtTokenDetector.is_formally_valid(m.group()):
                continue
            spans.append((m.start(group), m.end(group), kind))
    return spans


def find_plugin_secrets(text: str) -> list[Span]:
    spans: list[Span] = []
    if "://" in text and "@" in text:
        for value in _BASIC_AUTH.analyze_string(text):
            spans.extend(_occurrences(text, value, "basic_auth_password"))
    lowered = text.lower()
    if any(q in text for q in _QUOTES) and any(k in lowered for k in _KEYWORD_GATE):
        for value in _KEYWORD.analyze_string(text):
            spans.extend(_occurrences(text, value, "secret_keyword"))
    tokens = _LONG_TOKEN.findall(text)
    if not tokens:
        return spans
    for plugin in _VENDOR_PLUGINS:
        for value in plugin.analyze_string(text):
            spans.extend(_occurrences(text, value, _kind(plugin)))
    for token in tokens:
        if _high_entropy(token):
            spans.extend(_occurrences(text, token, "high_entropy"))
    return spans


FINDERS: tuple[Callable[[str], list[Span]], ...] = (find_known, find_plugin_secrets)
