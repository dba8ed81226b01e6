"""PII formats from many countries are redacted; numbers that only look like them survive.

Phone numbers are written the way people of each country write them; each was
checked by hand against that country's numbering plan (the area or mobile
prefix exists and the length is right). Negatives are the digit runs of
ordinary traffic: dates, times, versions, order and ticket numbers, ZIP codes.
"""

from __future__ import annotations

import pytest

from evals.traffic.redact import redact_sample


def redact(text: str) -> str:
    return redact_sample([text])[0][0]


# (country, sentence, the personal value in it, its placeholder label)
FOUND = [
    ("US", "Call me at (415) 555-0132 tonight.", "(415) 555-0132", "PHONE"),
    ("US", "My cell is 4155550132, thanks.", "4155550132", "PHONE"),
    ("US", "Office: 415.555.0132", "415.555.0132", "PHONE"),
    ("US", "Reach us on +1 415-555-0132.", "+1 415-555-0132", "PHONE"),
    ("FR", "Appelez le 01 23 45 67 89 demain.", "01 23 45 67 89", "PHONE"),
    ("FR", "Mon portable : 06.12.34.56.78", "06.12.34.56.78", "PHONE"),
    ("FR", "Numéro +33 1 23 45 67 89 au standard.", "+33 1 23 45 67 89", "PHONE"),
    ("JP", "電話 03-1234-5678 まで", "03-1234-5678", "PHONE"),
    ("JP", "携帯は090-1234-5678です", "090-1234-5678", "PHONE"),
    ("AU", "Ring 0412 345 678 after 9.", "0412 345 678", "PHONE"),
    ("AU", "Sydney office (02) 9876 5432", "(02) 9876 5432", "PHONE"),
    ("GB", "Our number is 020 7946 0958.", "020 7946 0958", "PHONE"),
    ("GB", "Text 07911 123456 when you land.", "07911 123456", "PHONE"),
    ("DE", "Rufen Sie 030 12345678 an.", "030 12345678", "PHONE"),
    ("DE", "Handy: 0151 23456789", "0151 23456789", "PHONE"),
    ("IN", "WhatsApp +91 98765 43210 for updates.", "+91 98765 43210", "PHONE"),
    ("BR", "Ligue (11) 91234-5678 hoje.", "(11) 91234-5678", "PHONE"),
    ("ES", "Llame al 912 34 56 78 por favor.", "912 34 56 78", "PHONE"),
    ("IT", "Chiamami al 06 1234 5678.", "06 1234 5678", "PHONE"),
    ("NL", "Bel 020 123 4567 voor hulp.", "020 123 4567", "PHONE"),
    ("KR", "전화 010-1234-5678", "010-1234-5678", "PHONE"),
    ("CN", "手机 +86 138 0013 8000", "+86 138 0013 8000", "PHONE"),
    ("MX", "Llámanos: +52 55 1234 5678", "+52 55 1234 5678", "PHONE"),
    # cards: Visa test number 4111 1111 1111 1111 (Luhn sum 30), Amex 3782 822463 10005 (Luhn sum 60)
    ("any", "Card 4111.1111.1111.1111 exp 12/29", "4111.1111.1111.1111", "CARD"),
    ("any", "Amex 3782 822463 10005 on file", "3782 822463 10005", "CARD"),
    ("any", "Card 4111-1111-1111-1111 please", "4111-1111-1111-1111", "CARD"),
    # IBANs: GB82 WEST... and DE89 3704... are the ISO 13616 examples (mod 97 == 1)
    ("GB", "iban gb82 west 1234 5698 7654 32 ok", "gb82 west 1234 5698 7654 32", "IBAN"),
    ("DE", "IBAN de89370400440532013000 bitte", "de89370400440532013000", "IBAN"),
    ("NL", "Rekening NL91 ABNA 0417 1643 00.", "NL91 ABNA 0417 1643 00", "IBAN"),
    # SSNs without dashes, after words that say what they are (078-05-1120 is the famous Woolworth card)
    ("US", "SSN 078051120 on file", "078051120", "SSN"),
    ("US", "Social security number: 078 05 1120.", "078 05 1120", "SSN"),
    # passwords in URLs, letters only included
    ("any", "Open https://shop.example.com/login?user=bob&password=sunshine now", "sunshine", "SECRET"),
    ("any", "Cache at redis://:sunshine@cache.internal:6379/0", "sunshine", "SECRET"),
    ("any", "Mirror ftp://bob:Sun-shine!@files.example.com/pub", "Sun-shine!", "SECRET"),
]


@pytest.mark.parametrize(("country", "text", "value", "label"), FOUND, ids=[f"{c}-{v}" for c, _, v, _ in FOUND])
def test_personal_value_is_replaced(country: str, text: str, value: str, label: str) -> None:
    out = redact(text)
    assert value not in out, out
    assert out == text.replace(value, f"<{label}_1>")


def test_the_corpus_covers_ten_countries() -> None:
    assert len({c for c, *_ in FOUND if c != "any"}) >= 10


SURVIVE = [
    "Order 48213 shipped on 2025-03-06 at 14:05 and costs €189.50.",
    "Dates: 06/03/2025, 06-03-2025, 2025.03.06 and 03.06.25.",
    "Ticket TCK-2025-000123 for batch 20250306-0001.",
    "Invoice 2024-118-00042 is due; ZIP 94103-1234.",
    "Upgrade requests 2.31.0 to 2.32.3; Python 3.11.7.",
    "Unix time 1741000000 is in March 2025.",
    "ISBN 978-0-306-40615-7 is a classic.",
    "The order number is 1741000000, not a phone.",
    "Call the API 1000000 times; the password is incorrect.",
    "Transactions 4111 1111 1111 1112 and 1234 5678 9012 3456 failed the checksum.",
    "Reference gb82 west 1234 5698 7654 33 has a bad checksum.",
    "Run 078051120 rows through the job.",
    "See https://host.example.com:8080/a@b and ?page=2&sort=asc.",
]


@pytest.mark.parametrize("text", SURVIVE)
def test_ordinary_numbers_survive(text: str) -> None:
    assert redact(text) == text
