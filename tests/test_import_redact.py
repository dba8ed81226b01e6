"""Redaction in `evals import`: every PII and credential type, in prompts and references, and nothing left behind.

Every fake credential is assembled at run time from pieces, so no literal in
this file looks like a real key to a secret scanner run over the repository.
"""

from __future__ import annotations

import base64
import csv
import json
import random
from pathlib import Path

import pytest

from evals.traffic import ImportOptions, import_traffic
from evals.traffic.pii import iban_valid, luhn_valid
from evals.traffic.redact import redact_sample

FAKE = "TESTONLY"


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def redact(text: str) -> str:
    return redact_sample([text])[0][0]


def _random_token(n: int) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(random.Random(7).choices(alphabet, k=n))


# kind -> (value, placeholder label, context the value appears in)
PLANTED: dict[str, tuple[str, str, str]] = {
    "email": ("jane.doe@example.com", "EMAIL", "Write to {v} today."),
    "phone_intl": ("+44 20 7946 0958", "PHONE", "Call {v} after 5pm."),
    "phone_us": ("(415) 555-0132", "PHONE", "My number is {v}."),
    "card_visa": ("4111 1111 1111 1111", "CARD", "Card: {v}, exp 12/29."),
    "card_mc": ("5555-5555-5555-4444", "CARD", "Charge {v} please."),
    "iban": ("GB82 WEST 1234 5698 7654 32", "IBAN", "Send it to {v}."),
    "iban_compact": ("DE89370400440532013000", "IBAN", "IBAN {v} is mine."),
    "ipv4": ("203.0.113.42", "IP", "Login from {v} was blocked."),
    "ipv6": ("2001:db8:85a3::8a2e:370:7334", "IP", "Client address {v} timed out."),
    "ssn": ("078-05-1120", "SSN", "SSN {v} on file."),
    "openai_key": ("sk-" + "proj-" + FAKE + "0123456789abcdefABCDEF" + "fake", "SECRET", "key={v}"),
    "anthropic_key": ("sk-" + "ant-" + "api03-" + FAKE + "_0123456789" + "abcdefghij" + "-klmnop", "SECRET", "ANTHROPIC_API_KEY={v}"),
    "aws_access_key": ("AKIA" + FAKE + "FAKE0000", "SECRET", "aws_access_key_id = {v}"),
    "github_token": ("ghp_" + FAKE + "fake0123456789abcdefghijkl", "SECRET", "token {v} for the CI"),
    "github_pat": ("github_pat_" + "11" + FAKE + "0123456789" + "_abcdefghij" + "klmnopqrstuv", "SECRET", "use {v}"),
    "slack_token": ("xox" + "b-" + "000000000000-000000000000-" + FAKE + "fake0000", "SECRET", "SLACK={v}"),
    "google_api_key": ("AIza" + "Sy" + FAKE + "0123456789abcdefghijklmno", "SECRET", "maps key {v}"),
    "bearer_token": (FAKE + ".fake-bearer-token_0123456789", "SECRET", "Authorization: Bearer {v}"),
    "jwt": (
        _b64({"alg": "HS256", "typ": "JWT"}) + "." + _b64({"sub": "test-user", "name": "Test Only"}) + ".ZmFrZS1zaWduYXR1cmU",
        "SECRET",
        "session cookie {v}",
    ),
    "private_key": (
        "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIBOgIBAAJBAK" + FAKE + "fakefakefakefake\n"
        "T2theUZha2VLZXlGb3JUZXN0c09ubHk=\n-----END " + "RSA PRIVATE KEY-----",
        "SECRET",
        "here is the key:\n{v}\nthanks",
    ),
    "high_entropy": (_random_token(40), "SECRET", "the webhook signing value is {v} ok"),
    "password": ("hunter2!x", "SECRET", "password: {v}"),
}


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_each_type_is_replaced_by_its_placeholder(kind: str) -> None:
    value, label, context = PLANTED[kind]
    (out,), found = redact_sample([context.format(v=value)])
    assert value not in out
    assert f"<{label}_1>" in out
    assert sum(found.values()) == 1


@pytest.mark.parametrize("kind", sorted(PLANTED))
def test_a_value_in_the_prompt_and_the_reference_gets_one_placeholder(kind: str) -> None:
    value, label, context = PLANTED[kind]
    (prompt, reference), _ = redact_sample([context.format(v=value), f"Noted: {value}."])
    assert f"<{label}_1>" in prompt
    assert reference == f"Noted: <{label}_1>."


def test_a_value_recognised_in_one_text_is_replaced_where_nothing_gives_it_away() -> None:
    token = PLANTED["bearer_token"][0]
    (answer, prompt), found = redact_sample([f"Your token {token} expired.", f"Authorization: Bearer {token}"])
    assert answer == "Your token <SECRET_1> expired." and prompt == "Authorization: Bearer <SECRET_1>"
    assert found == {"bearer_token": 2}


def test_placeholders_are_numbered_per_value_and_spellings_of_one_value_share_one() -> None:
    out = redact(
        "From jane.doe@example.com to bob@example.org, cc Jane.Doe@example.com; "
        "card 4111 1111 1111 1111 or 4111-1111-1111-1111 or 4111111111111111"
    )
    assert out == "From <EMAIL_1> to <EMAIL_2>, cc <EMAIL_1>; card <CARD_1> or <CARD_1> or <CARD_1>"
    assert redact("mail bob@example.org") == "mail <EMAIL_1>"  # numbering is per sample


def test_luhn_decides_what_is_a_card() -> None:
    assert luhn_valid("4111111111111111") and luhn_valid("5555555555554444") and luhn_valid("378282246310005")
    assert not luhn_valid("4111111111111112")
    out = redact("valid 4111 1111 1111 1111, invalid 4111 1111 1111 1112, tracking 1234567890123")
    assert out == "valid <CARD_1>, invalid 4111 1111 1111 1112, tracking 1234567890123"


def test_mod97_decides_what_is_an_iban() -> None:
    assert iban_valid("GB82WEST12345698765432") and iban_valid("DE89370400440532013000")
    assert not iban_valid("GB82WEST12345698765433")
    assert redact("pay GB82 WEST 1234 5698 7654 33 now") == "pay GB82 WEST 1234 5698 7654 33 now"


def test_keys_inside_code_blocks_are_redacted_and_the_code_kept() -> None:
    openai_key = PLANTED["openai_key"][0]
    aws = PLANTED["aws_access_key"][0]
    pem = PLANTED["private_key"][0]
    jwt = PLANTED["jwt"][0]
    text = (
        "Why does this fail?\n```python\nfrom openai import OpenAI\n"
        f'client = OpenAI(api_key="{openai_key}")\n```\n'
        f"```bash\nexport AWS_ACCESS_KEY_ID={aws}\ncurl -H 'Authorization: Bearer {jwt}' https://api.example.com\n```\n"
        f'```python\nKEY = """{pem}"""\n```'
    )
    out = redact(text)
    for secret in (openai_key, aws, pem, jwt, "MIIBOgIBAAJBAK"):
        assert secret not in out
    assert 'client = OpenAI(api_key="<SECRET_1>")' in out
    assert "export AWS_ACCESS_KEY_ID=<SECRET_2>" in out
    assert "'Authorization: Bearer <SECRET_3>'" in out
    assert 'KEY = """<SECRET_4>"""' in out
    assert out.count("```") == 6


def test_a_quoted_assignment_is_found_by_detect_secrets_keyword_plugin() -> None:
    value = "s3cr3t" + "-" + FAKE
    out = redact(f'db_password = "{value}"\nretries = 3')
    assert value not in out and "retries = 3" in out


@pytest.mark.parametrize(
    "text",
    [
        "Order 48213 shipped on 2025-03-06 at 14:05 and costs €189.50 (ref 12/29).",
        "Python 3.11.7 fixed it; see https://docs.python.org/3/library/gzip.html#gzip.open.",
        "Request id 550e8400-e29b-41d4-a716-446655440000, commit 9fceb02d0ae598e95dc970b74767f19372d61af8.",
        "Rename calculate_total_price_with_tax_and_discount to total_price.",
        "The password is incorrect; please reset it. The key points are below.",
        "Call the API 1000000 times; a[::2] slices; std::vector<int>; 10:30:45 is the time.",
        "Ticket TCK-2025-000123 for batch 20250306-0001.",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


# ------------------------------------------------------------- end to end


def _write_logs(root: Path) -> list[Path]:
    """Every planted value, in every place a log can carry text: system prompt, turns, tool calls, references.

    Where a value first appears in a sample it has its telling context ("Bearer ...",
    "password: ..."); later mentions in the same sample are bare.
    """
    snippets = {k: context.format(v=v) for k, (v, _, context) in PLANTED.items()}
    values = {k: v for k, (v, _, _) in PLANTED.items()}
    kinds = sorted(values)
    openai_lines = []
    for i, kind in enumerate(kinds):
        v = values[kind]
        other = values[kinds[(i + 1) % len(kinds)]]
        openai_lines.append(
            {
                "timestamp": 1741000000 + i,
                "request": {
                    "model": "gpt-4o-mini",
                    "messages": [
                        {"role": "system", "content": f"Internal note: {snippets[kinds[(i + 1) % len(kinds)]]}"},
                        {"role": "user", "content": f"Case {i}: please look at this. {snippets[kind]}"},
                        {
                            "role": "assistant",
                            "content": None,
                            "tool_calls": [
                                {"id": f"call_{i}", "type": "function", "function": {"name": "lookup", "arguments": json.dumps({"q": v})}}
                            ],
                        },
                        {"role": "tool", "tool_call_id": f"call_{i}", "content": json.dumps({"match": v, "other": other})},
                    ],
                },
                "response": {
                    "model": "gpt-4o-mini",
                    "choices": [{"message": {"role": "assistant", "content": f"Found {v} (and {other})."}, "finish_reason": "stop"}],
                },
            }
        )
    anthropic_lines = [
        {
            "request": {
                "model": "claude-sonnet-4-5",
                "system": f"Escalate to {values['email']}",
                "messages": [
                    {"role": "user", "content": f"Audit #{i}: is this exposed? {snippets[kind]}"},
                    {"role": "assistant", "content": [{"type": "tool_use", "id": f"tu_{i}", "name": "scan", "input": {"value": values[kind]}}]},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"tu_{i}", "content": f"exposed: {values[kind]}"}]},
                ],
            },
            "response": {"type": "message", "model": "claude-sonnet-4-5", "content": [{"type": "text", "text": f"Yes, {values[kind]} is exposed."}], "stop_reason": "end_turn"},
        }
        for i, kind in enumerate(kinds)
    ]
    paths = [root / "openai.jsonl", root / "anthropic.jsonl", root / "tickets.csv"]
    paths[0].write_text("".join(json.dumps(x) + "\n" for x in openai_lines), encoding="utf-8")
    paths[1].write_text("".join(json.dumps(x) + "\n" for x in anthropic_lines), encoding="utf-8")
    with paths[2].open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["prompt", "answer"])
        for i, kind in enumerate(kinds):
            w.writerow([f"Ticket {i}: customer sent: {snippets[kind]}", f"We removed {values[kind]} from the ticket."])
    return paths


def _forms(value: str) -> set[str]:
    """The value as it could appear in a written file: raw, JSON-escaped, and its lines (a PEM body)."""
    forms = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}
    forms.update(line for line in value.splitlines() if len(line) >= 8 and "PRIVATE KEY" not in line)
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) >= 9 and not any(c.isalpha() for c in value):
        forms.add(digits)
    return forms


def test_no_planted_value_survives_anywhere_in_the_suite(tmp_path: Path) -> None:
    paths = _write_logs(tmp_path)
    report = import_traffic(paths, "planted", tmp_path, ImportOptions())
    suite_dir = tmp_path / "tasks" / "planted"
    written = {p.name: p.read_text(encoding="utf-8") for p in suite_dir.iterdir()}
    assert set(written) == {"suite.yaml", "samples.jsonl", "workload.json", "import_report.json"}
    for kind, (value, _, _) in PLANTED.items():
        for form in _forms(value):
            for name, text in written.items():
                assert form not in text, f"{kind} survived in {name}"
    assert report.sampling.selected == 3 * len(PLANTED)
    labels = {label for _, label, _ in PLANTED.values()}
    assert set(report.redaction.found) == labels
    assert set(report.redaction.in_samples) == labels
    # Per value: 4 in its OpenAI line (prompt, tool arguments, tool result, answer), 3 in its
    # neighbour's (system prompt, tool result, answer), 4 in its Anthropic line, 2 in its CSV row;
    # the email is also in all 22 Anthropic system prompts. Two values per kind for cards, phones, IBANs.
    per_value = 4 + 3 + 4 + 2
    assert report.redaction.found_by_kind["email"] == per_value + len(PLANTED)
    assert report.redaction.found_by_kind["card"] == 2 * per_value
    assert report.redaction.found_by_kind["jwt"] == per_value
    samples = [json.loads(line) for line in written["samples.jsonl"].splitlines()]
    first = samples[0]
    placeholder = first["reference"].split("Found ")[1].split(" (")[0]
    assert placeholder.startswith("<") and placeholder in first["input"][1]["content"]
    assert placeholder in first["input"][2]["tool_calls"][0]["function"]["arguments"]
    assert placeholder in first["input"][3]["content"]


def test_redaction_off_must_be_asked_for_and_is_reported(tmp_path: Path) -> None:
    paths = _write_logs(tmp_path)[:1]
    report = import_traffic(paths, "raw", tmp_path, ImportOptions(no_redact=True))
    text = (tmp_path / "tasks" / "raw" / "samples.jsonl").read_text(encoding="utf-8")
    assert PLANTED["email"][0] in text
    assert not report.redaction.enabled and report.redaction.found == {}
    assert any("redaction was turned off" in w for w in report.warnings)
