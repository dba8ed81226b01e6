"""Finders for personal data in free text: emails, phones, cards, IBANs, IPs, US SSNs.

Each finder returns spans `(start, end, kind)`. Finders are gated by a cheap
substring or short regex test, because most traffic text holds no PII and the
full patterns cost far more than the test. Cards and IBANs are checked with
their checksums (Luhn, mod-97) so that order numbers and other long digit runs
are left alone.

Phone numbers are recognised by libphonenumber (the `phonenumbers` port),
which knows every country's numbering plan: a number written with its country
code (+33 1 23 45 67 89) is a phone when the plan says it is valid. A national
number (01 23 45 67 89, 03-1234-5678) is valid in some plan far too often (a
date, an order number, a ZIP+4 is a valid German or Brazilian number), so it
also needs the shape of a written phone number (groups after a trunk-prefix
0 or an area code in parentheses, or North American 3-3-4 grouping) or a
phone word just before it ("call", "tel", "téléphone", "電話", ...); dates never count.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

import phonenumbers

from evals.traffic.spans import Span

_EMAIL = re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,}")

# Every card, SSN and phone number, and nearly every IBAN, holds seven or more
# digits in one run of digits and separators; years, prices and counts do not.
_DIGIT_CLUSTER = re.compile(r"\d[\d ().-]{5,}\d")
# A card is 13 to 19 digits, bare or in its printed groups (4-4-4-4[-1..3], Amex 4-6-5,
# Diners 4-6-4) with one separator throughout: space, dash or dot.
_CARD = re.compile(
    r"(?<![\d.-])(?:\d{13,19}"
    r"|\d{4}([ .-])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ .-])\d{6}\2\d{4,5})(?![\d]|[.-]\d)"
)
_SSN = re.compile(r"(?<![\d-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\d-])")
# Without dashes nine digits are too often something else: only after words that say what they are.
_SSN_BARE = re.compile(
    r"(?i)\b(?:ssn|ss#|social security(?: number| no\.?| #)?)\s*(?:is|:|#|=)?\s*"
    r"((?!000|666|9\d\d)\d{3}([ .]?)(?!00)\d{2}\2(?!0000)\d{4})(?![\d-])"
)
_PHONE_CANDIDATE = re.compile(r"(?<![0-9A-Za-z_+])\+?\(?\d[\d ().\-/\u00a0]{5,}\d")
_PHONE_REGIONS = ("US", "GB", "FR", "DE", "JP", "AU", "IN", "BR", "ES", "IT", "NL", "MX", "KR", "CN", "CA")
"""Numbering plans tried for numbers written without a country code, in this order."""
_PHONE_SHAPE = re.compile(r"^(?:0\d*[ .\-/\u00a0(]|\(\d)|^\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}$")
"""Written in groups after a trunk 0 or an area code in parentheses, or North American 3-3-4."""
_DATE_SHAPE = re.compile(r"^(?:\d{1,2}[./-]\d{1,2}[./-](?:\d{4}|\d{2})|\d{4}[./-]\d{1,2}[./-]\d{1,2})$")
_PHONE_WORDS = re.compile(
    r"(?i)(?:\b(?:call|phone|tel|telephone|mobile|cell|fax|whatsapp|sms|text me|ring|dial|"
    r"appel\w*|t[ée]l[ée]phone|t[ée]l|portable|anruf\w*|telefon|handy|mobil|"
    r"llam\w*|tel[ée]fono|m[óo]vil|celular|chiama\w*|cellulare|telefoon|mobiel|bel|ligue|telefone)\b"
    r"|電話|携帯|电话|手机|전화|휴대폰|телефон)[^\n\d]{0,24}$"
)
# Any case, compact or in groups of four; the mod-97 checksum decides.
_IBAN = re.compile(r"(?i)\b[A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,7}(?:[ -]?[A-Z0-9]{1,3})?\b")

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
    spans.extend((m.start(1), m.end(1), "ssn") for m in _SSN_BARE.finditer(text))
    spans.extend(find_phones(text))
    for m in _IBAN.finditer(text):
        if iban_valid(re.sub(r"[ -]", "", m.group()).upper()):
            spans.append((m.start(), m.end(), "iban"))
    return spans


def find_phones(text: str) -> list[Span]:
    """Phone numbers of any country (see the module docstring for when a national number counts).

    The cheap tests (shape, phone word, date) come first: libphonenumber's
    parse costs tens of microseconds per plan tried."""
    spans: list[Span] = []
    for candidate in _PHONE_CANDIDATE.finditer(text):
        raw, start = candidate.group(), candidate.start()
        if not 7 <= len(_digits(raw)) or not _looks_like_phone(text, start, raw):
            continue
        if _valid_somewhere(raw):
            spans.append((start, candidate.end(), "phone"))
        elif len(_digits(raw)) > 15:  # several numbers in one run: let the matcher split them
            for region in _PHONE_REGIONS:
                for m in phonenumbers.PhoneNumberMatcher(raw, region, leniency=phonenumbers.Leniency.VALID):
                    if _looks_like_phone(text, start + m.start, m.raw_string):
                        spans.append((start + m.start, start + m.end, "phone"))
    return spans


def _looks_like_phone(text: str, start: int, raw: str) -> bool:
    if raw.startswith("+"):
        return True
    if _DATE_SHAPE.match(raw):
        return False
    return bool(_PHONE_SHAPE.match(raw) or _PHONE_WORDS.search(text, max(0, start - 40), start))


def _valid_somewhere(raw: str) -> bool:
    """Valid in its own country's plan (+CC ...), else in one of _PHONE_REGIONS."""
    if raw.startswith("+"):
        try:
            return bool(phonenumbers.is_valid_number(phonenumbers.parse(raw, None)))
        except phonenumbers.NumberParseException:
            return False
    for region in _PHONE_REGIONS:
        try:
            # for_region: is_valid_number would also look the number up in every region sharing the code
            if phonenumbers.is_valid_number_for_region(phonenumbers.parse(raw, region), region):
                return True
        except phonenumbers.NumberParseException:
            continue
    return False


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
