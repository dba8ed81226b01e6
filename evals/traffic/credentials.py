"""Finders for credentials in free text: API keys, tokens, private keys, passwords.

The well-known key formats (OpenAI, Anthropic, AWS, GitHub, Slack, Google,
bearer tokens, PEM private keys, JWTs, passwords) have literal cues, so one
scan for all cues gates them and each is matched by a short regex of our own.
The long tail of vendor formats comes from detect-secrets' plugins, whose
patterns are only run on text that holds a long token (every such key is one),
and a Shannon-entropy test (detect-secrets' base64 calculation and limit)
catches random-looking tokens no pattern knows. JWTs are confirmed with
detect-secrets' own check that the header and payload decode as JSON, and
quoted assignments (`db_password = "..."`) are found by its keyword plugin.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from detect_secrets.plugins.artifactory import ArtifactoryDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
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

from evals.traffic.spans import Span, occurrences

_TOKEN_TAIL = r"(?![A-Za-z0-9_-])"


class _Known(NamedTuple):
    kind: str
    cues: tuple[str, ...]
    """Literal strings of which one occurs in every match: the cheap test that gates the pattern."""
    pattern: re.Pattern[str]
    group: int = 0
    """The group holding the secret (the token after "Bearer", not the word)."""


_KNOWN: tuple[_Known, ...] = (
    _Known(
        "private_key",
        ("PRIVATE KEY",),
        re.compile(
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\:,-]*)",
            re.S,
        ),
    ),
    _Known("anthropic_key", ("sk-ant-",), re.compile(r"sk-ant-[A-Za-z0-9_-]{20,}" + _TOKEN_TAIL)),
    _Known(
        "openai_key",
        ("sk-",),
        re.compile(r"(?<![A-Za-z0-9_-])sk-(?!ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}" + _TOKEN_TAIL),
    ),
    _Known("aws_access_key", ("AKIA", "ASIA", "ABIA", "ACCA"), re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b")),
    _Known(
        "github_token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})" + _TOKEN_TAIL),
    ),
    _Known(
        "slack_token",
        ("xox", "hooks.slack.com"),
        re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}|https://hooks\.slack\.com/services/[A-Za-z0-9_/]+"),
    ),
    _Known("google_api_key", ("AIza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}" + _TOKEN_TAIL)),
    _Known("bearer_token", ("Bearer", "bearer"), re.compile(r"\b[Bb]earer\s+([A-Za-z0-9._~+/-]{16,}=*)"), 1),
    _Known("jwt", ("eyJ",), re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    _Known(
        "password",
        ("assw", "ASSW", "pwd", "Pwd", "PWD", "asscode"),
        # Prose and config alike ("password: hunter2", "PASSWORD=..."); a value with no
        # digit or symbol ("the password is incorrect") is a word, not a password.
        re.compile(
            r"(?i)\b(?:password|passwd|pwd|passcode)\b[\"']?\s*(?:is|:|=)\s*[\"']?"
            r"((?=[^\s\"'`,;]*[0-9!@#$%^&*_+=~])[^\s\"'`,;]{4,})"
        ),
        1,
    ),
)
# One scan for every cue instead of one substring search per cue: most text has none.
_CUES = re.compile("|".join(sorted({re.escape(c) for k in _KNOWN for c in k.cues}, key=len, reverse=True)))
_BY_CUE = {c: [k for k in _KNOWN if c in k.cues] for k in _KNOWN for c in k.cues}

# A run of token characters at least 20 long: every vendor key is one, prose rarely has one.
_LONG_TOKEN = re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{20,}={0,2}")
# detect-secrets' vendor detectors, used for their maintained patterns: matched here
# with positions (their analyze_string reports values only), with the group that
# holds the secret where a pattern captures one.
_VENDOR_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (re.sub(r"[^a-z0-9]+", "_", plugin.secret_type.lower()).strip("_"), pattern, group)
    for plugin, group in (
        (ArtifactoryDetector(), 0),
        (AzureStorageKeyDetector(), 0),
        (DiscordBotTokenDetector(), 0),
        (GitLabTokenDetector(), 0),
        (MailchimpDetector(), 0),
        (NpmDetector(), 1),
        (PypiTokenDetector(), 0),
        (SendGridDetector(), 0),
        (SquareOAuthDetector(), 0),
        (StripeDetector(), 0),
        (TelegramBotTokenDetector(), 0),
        (TwilioKeyDetector(), 0),
    )
    for pattern in plugin.denylist
)
_BASIC_AUTH = BasicAuthDetector.denylist[0]  # ://user:PASSWORD@host, the password in group 1
# detect-secrets' pattern leaves out passwords holding a symbol it treats as a delimiter (!, $, &)
# and an empty user (redis://:pw@host); any text up to the @ of the authority is the password.
_URL_PASSWORD = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:]*:([^\s/?#@]+)@")
# A password in a URL's query is one whatever it looks like, letters only included (?password=sunshine).
_URL_QUERY_SECRET = re.compile(r"(?i)[?&;](?:password|passwd|pwd|pass|passcode|secret|access_token|api_key|apikey)=([^&\s#]{3,})")
_KEYWORD = KeywordDetector()
# Stems of detect-secrets' keyword denylist ("api_key", "db_pass", "secret", ...): plain
# "key" is too common in prose to gate on. Its patterns need a quoted value.
_KEYWORD_GATE = ("_key", "apikey", "authkey", "privkey", "privatekey", "clientkey", "pass", "pwd", "secret", "contrase")
_QUOTES = ('"', "'", "`")
_MIN_KEYWORD_VALUE = 4
"""Shorter values are replaced nowhere: every other occurrence of them in the text would go too."""
_ENTROPY = Base64HighEntropyString()
_ENTROPY_LIMIT = 4.5
"""detect-secrets' default for base64-like strings; random keys of 32+ characters exceed it, words do not."""
_PADDING = " \t\r\n\"':="


def _has_keyword(lowered: str) -> bool:
    return any(k in lowered for k in _KEYWORD_GATE)


def _high_entropy(token: str) -> bool:
    classes = any(c.isupper() for c in token) + any(c.islower() for c in token) + any(c.isdigit() for c in token)
    return classes == 3 and _ENTROPY.calculate_shannon_entropy(token) > _ENTROPY_LIMIT


def _span(m: re.Match[str], group: int, kind: str) -> Span:
    """The match's secret, without the delimiters some patterns include (`"AKC...\"`)."""
    start, end = m.span(group)
    while start < end and m.string[start] in _PADDING:
        start += 1
    while end > start and m.string[end - 1] in _PADDING:
        end -= 1
    return (start, end, kind)


def find_known(text: str) -> list[Span]:
    cues = set(_CUES.findall(text))
    if not cues:
        return []
    spans: list[Span] = []
    for known in {k for cue in cues for k in _BY_CUE[cue]}:
        for m in known.pattern.finditer(text):
            if known.kind == "jwt" and not JwtTokenDetector.is_formally_valid(m.group()):
                continue
            spans.append(_span(m, known.group, known.kind))
    return spans


def find_plugin_secrets(text: str) -> list[Span]:
    spans: list[Span] = []
    if "://" in text and "@" in text:
        spans.extend(_span(m, 1, "basic_auth_password") for m in _BASIC_AUTH.finditer(text))
        spans.extend(_span(m, 1, "url_password") for m in _URL_PASSWORD.finditer(text))
    if "=" in text:
        spans.extend(_span(m, 1, "url_password") for m in _URL_QUERY_SECRET.finditer(text))
    if any(q in text for q in _QUOTES) and _has_keyword(text.lower()):
        for value in _KEYWORD.analyze_string(text):
            if len(value) >= _MIN_KEYWORD_VALUE:
                spans.extend(occurrences(text, value, "secret_keyword"))
    tokens = _LONG_TOKEN.findall(text)
    if not tokens:
        return spans
    for kind, pattern, group in _VENDOR_PATTERNS:
        spans.extend(_span(m, group, kind) for m in pattern.finditer(text))
    for token in tokens:
        if _high_entropy(token):
            spans.extend(occurrences(text, token, "high_entropy"))
    return spans


FINDERS: tuple[Callable[[str], list[Span]], ...] = (find_known, find_plugin_secrets)
