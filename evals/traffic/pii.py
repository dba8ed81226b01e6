"""Finders for personal data in free text: emails, phones, cards, IBANs, IPs, US SSNs.

Each finder returns spans `(start, end, kind)`. Finders are gated by a cheap
substring or short regex test, because most traffic text holds no PII and the
full patterns cost far more than the test. Cards and IBANs are checked with
their checksums (Luhn, mod-97) so that order numbers and other long digit runs
are left alone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

from evals.traffic.spans import Span

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")

# Every card, SSN and phone number, and nearly every IBAN, holds seven or more
# digits in one run of digits and separators; years, prices and counts do not.
_DIGIT_CLUSTER = re.compile(r"\d[\d ().-]{5,}\d")
_CARD = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?!\d)")
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
_PHONE = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,4}\)?){2,5}(?!\d)"  # international, +CC ...
    r"|(?<![\w(])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?!\d)"  # North American 555-555-0100
    r"|(?<![\w.])0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}(?!\d)"  # national trunk prefix 020 7946 0958
)
_IBAN = re.compile(r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")

# Addresses are written in ASCII digits, whatever the language around them.
_IPV4_GATE = re.compile(r"[0-9]\.[0-9]")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"(?<![0-9.]){_OCTET}(?:\.{_OCTET}){{3}}(?![0-9]|\.[0-9])")
_IPV6_GATE = re.compile(r"[0-9A-Fa-f]:[0-9A-Fa-f:]|::[0-9A-Fa-f]")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w:])")


def luhn_valid(digits: str) -> bool:
    """The payment-card checksum: a mistyped or random digit run fails it 9 times in 10."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)  # any decimal digit `\d` matched, Arabic-Indic included
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """ISO 13616 check: move the first four characters to the end, letters to numbers, mod 97 == 1."""
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _digits(s: str) -> str:
    return "".join(str(int(ch)) for ch in s if ch.isdecimal())  # as ASCII, whatever the script


def find_emails(text: str) -> list[Span]:
    if "@" not in text:
        return []
    return [(m.start(), m.end(), "email") for m in _EMAIL.finditer(text)]


def find_numbers(text: str) -> list[Span]:
    """Cards, SSNs, phone numbers and IBANs: all hold a long digit run, so one gate serves them."""
    if not _DIGIT_CLUSTER.search(text):
        return []
    spans: list[Span] = []
    for m in _CARD.finditer(text):
        if luhn_valid(_digits(m.group())):
            spans.append((m.start(), m.end(), "card"))
    spans.extend((m.start(), m.end(), "ssn") for m in _SSN.finditer(text))
    for m in _PHONE.finditer(text):
        if 7 <= len(_digits(m.group())) <= 15:
            spans.append((m.start(), m.end(), "phone"))
    for m in _IBAN.finditer(text):
        if iban_valid(m.group().replace(" ", "")):
            spans.append((m.start(), m.end(), "iban"))
    return spans


def find_ips(text: str) -> list[Span]:
    spans: list[Span] = []
    if _IPV4_GATE.search(text):
        spans.extend((m.start(), m.end(), "ipv4") for m in _IPV4.finditer(text))
    if text.count(":") >= 2 and _IPV6_GATE.search(text):
        for m in _IPV6.finditer(text):
            if _plausible_ipv6(m.group()):
                spans.append((m.start(), m.end(), "ipv6"))
    return spans


def _plausible_ipv6(candidate: str) -> bool:
    """A valid address with at least three groups: `a[::2]` and clock times are not addresses."""
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return False
    return sum(1 for g in candidate.split(":") if g) >= 3


def canonical(kind: str, value: str) -> str:
    """The form under which two spellings of one value share a placeholder (4111 1111… == 4111-1111…)."""
    if kind in ("card", "phone", "ssn"):
        return _digits(value)
    if kind == "email":
        return value.lower()
    if kind == "iban":
        return value.replace(" ", "").upper()
    if kind in ("ipv4", "ipv6"):
        return str(ipaddress.ip_address(value))
    return value


FINDERS: tuple[Callable[[str], list[Span]], ...] = (find_emails, find_numbers, find_ips)
