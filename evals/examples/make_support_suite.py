"""Generate the example `support` traffic: a week of a fictional company's assistant requests.

Loomwise is a made-up B2B SaaS (order and inventory management for small
retailers). Its support and ops teams use an internal assistant for seven
kinds of work:

- triage: label an incoming ticket (billing, bug, account_access,
  feature_request, outage, cancellation);
- extract: pull order and payment fields from an email, invoice or note
  into JSON;
- factual: answer an agent's question from a documentation excerpt;
- rewrite: turn a curt internal draft into a customer-facing reply, or
  summarise a thread in one sentence;
- code: small Python helpers for the support-tools engineers, each with a
  correct solution, a plausible buggy one, and assert-based tests;
- agent: requests with tools (get_order, check_stock, issue_refund,
  update_ticket), answered with tool calls: single lookups, parallel stock
  checks, typed refund arguments, a forced tool_choice, and conversations
  that carry a tool result into the next call;
- structured: requests whose response_format asks for JSON against a schema.

This script writes what the team's LLM gateway would have logged that week,
`traffic/support-traffic.jsonl.gz`: OpenAI chat-completions log lines (1 in
500 requests is logged), each answered correctly, with the noise real logs
carry and `evals import` must clean up: repeated and near-repeated requests,
failed attempts (5xx, 429, truncated) followed by their retry, a few pasted
credentials and card numbers, and two broken lines. The example suite
`workspace/tasks/support/` is then *imported* from that log, by the command
the README documents (`IMPORT_COMMAND` below), which this script runs last.

The example must look like real traffic (varied phrasing, typos, names,
amounts in local formats) so the demo report reads like one a team would
get, yet it must be reproducible byte for byte, because the test suite and
`evals init` ship the files and a changed file would change every demo
number. Hence: one seeded `random.Random` per stream, the standard library
only, no clock, no set iteration, gzip with a fixed mtime, and a self-check
before writing that runs every code task's tests against its solution (must
pass) and its buggy solution (must fail), so a grading bug never hides in
the example.

Every person, company, email address (example.com), phone number (555),
card number, IBAN and key here is fictional: test cards, documentation
examples, or random letters.

    python evals/examples/make_support_suite.py [--traffic PATH] [--no-import]
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import os
import random
import shlex
import subprocess
import sys
import tempfile
import textwrap
import unicodedata
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

SEED = 20261005
HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TRAFFIC = HERE / "traffic" / "support-traffic.jsonl.gz"
WORKSPACE = HERE / "workspace"
SOURCE = "synthetic example traffic"
LOGGED_FRACTION = 0.002
"""The gateway logs 1 request in 500: the week's 320 logged requests stand for about 22,900 a day."""
IMPORT_COMMAND = (
    "evals import evals/examples/traffic/support-traffic.jsonl.gz --suite support"
    " --map category=request.metadata.category --map id=request.metadata.task_id"
    f" --logged-fraction {LOGGED_FRACTION:g} --verbatim-metadata tests"
    " --scorers-from evals/examples/traffic/support-scorers.yaml --overwrite"
)
"""Rebuilds `tasks/support/` from the traffic log, run from the repository root (the README shows it)."""
WEEK_START = datetime(2026, 10, 5, tzinfo=UTC)
"""Monday of the sampled week; every timestamp and date is relative to it, never to the clock."""

# ---------------------------------------------------------------- people and customers

FIRST_NAMES = [
    "Dana", "Priya", "Mateo", "Sofia", "Kwame", "Hannah", "Lukas", "Aiko", "Tomasz", "Fatima",
    "Jonah", "Inès", "Ravi", "Chloe", "Oluwaseun", "Marta", "Erik", "Yusuf", "Camille", "Diego",
    "Nora", "Samir", "Greta", "Wei", "Amara", "Felix", "Leila", "Patrick", "Zanele", "Henrik",
    "Bianca", "Omar", "Siobhan", "Keiko", "Arjun", "Elena", "Tobias", "Maya", "Rosa", "Declan",
]
LAST_NAMES = [
    "Okafor", "Lindqvist", "Fernández", "Nakamura", "Kowalski", "Haddad", "Brennan", "Mensah",
    "Duarte", "Schreiber", "Patel", "Moreau", "Oyelaran", "Castellano", "Varga", "Ahmadi", "Novak",
    "Whitfield", "Takahashi", "Rossi", "Eriksen", "Abernathy", "Delacroix", "Dlamini", "Byrne",
    "Hoffmann", "Quispe", "Sørensen", "Chen", "Adeyemi", "Kaur", "Lefebvre", "Morales", "Walsh",
]
TITLES = [
    "Operations Manager", "Warehouse Lead", "Head of Ecommerce", "Finance Manager", "Office Manager",
    "Founder", "IT Administrator", "Accounts Payable", "COO", "Inventory Planner",
]
AGENTS = ["Marcus", "Ana", "Jules", "Tamsin", "Kofi", "Lena", "Rahul", "Bea"]
SALES_REPS = ["Olivia Grant", "Ben Achterberg", "Sana Qureshi", "Tom Vidal"]

# (name, currency, city, VAT/sales tax rate applied on invoices)
CUSTOMERS = [
    ("Halvorsen Freight GmbH", "EUR", "Hamburg", "0.19"),
    ("Brightwater Ceramics Ltd", "GBP", "Stoke-on-Trent", "0.20"),
    ("Pinecrest Outdoor Supply", "USD", "Boise, ID", "0"),
    ("Alder & Finch Interiors", "USD", "Portland, OR", "0"),
    ("Marisol Coffee Roasters", "USD", "San Diego, CA", "0"),
    ("Northgate Medical Supplies Ltd", "GBP", "Leeds", "0.20"),
    ("Vireo Bicycle Works", "CAD", "Vancouver, BC", "0.05"),
    ("Quarry Lane Books", "USD", "Asheville, NC", "0"),
    ("Tidewater Marine Parts", "USD", "Norfolk, VA", "0"),
    ("Saltbox Apparel Co.", "USD", "Brooklyn, NY", "0"),
    ("Copperleaf Home GmbH", "EUR", "Munich", "0.19"),
    ("Foxglove Botanicals Ltd", "GBP", "Bristol", "0.20"),
    ("Meridian Lab Equipment AG", "CHF", "Basel", "0.081"),
    ("Hollowell Hardware", "USD", "Dayton, OH", "0"),
    ("Blue Heron Pet Co.", "CAD", "Halifax, NS", "0.05"),
    ("Ostara Kitchenware B.V.", "EUR", "Utrecht", "0.21"),
    ("Granite Peak Electronics", "USD", "Denver, CO", "0"),
    ("Lumière Cosmetics SAS", "EUR", "Lyon", "0.20"),
    ("Redfern Auto Parts Pty Ltd", "AUD", "Sydney", "0.10"),
    ("Juniper & Sage Tea Co.", "USD", "Austin, TX", "0"),
    ("Ironbark Tools Pty Ltd", "AUD", "Melbourne", "0.10"),
    ("Cascadia Print Shop", "USD", "Seattle, WA", "0"),
    ("Oakhurst Furniture Inc.", "USD", "Grand Rapids, MI", "0"),
    ("Sundial Sporting Goods", "CAD", "Calgary, AB", "0.05"),
    ("Wexford Office Supply Ltd", "GBP", "Manchester", "0.20"),
    ("Nordlys Skincare ApS", "EUR", "Copenhagen", "0.25"),
    ("Bramble Baby Co.", "GBP", "York", "0.20"),
    ("Kestrel Drone Supply", "USD", "Tucson, AZ", "0"),
    ("Harbor Light Candles", "USD", "Portland, ME", "0"),
    ("Zephyr Cycle Imports AG", "CHF", "Zürich", "0.081"),
    ("Fennel & Fig Grocers", "USD", "Chicago, IL", "0"),
    ("Tessera Tile Studio S.r.l.", "EUR", "Bologna", "0.22"),
]
PAID_PLANS = ["Team", "Business"]
SEAT_PRICE = {"Team": 32, "Business": 54}
"""List price per seat per month in USD (matches the documentation below); other currencies scale it."""
CURRENCY_FACTOR = {"USD": "1", "EUR": "0.95", "GBP": "0.80", "CHF": "0.90", "CAD": "1.35", "AUD": "1.50"}
INTEGRATIONS = ["Shopify", "WooCommerce", "NetSuite", "QuickBooks Online", "Amazon Seller Central", "Xero", "ShipStation"]
WAREHOUSES = ["Leeds DC", "the Reno warehouse", "our Dayton site", "Warehouse 2", "the Rotterdam hub", "the back stockroom"]
CITIES = ["Denver", "Leeds", "Utrecht", "Melbourne", "Austin", "Calgary", "Lyon", "Basel"]
TIMEZONES = ["Europe/Berlin", "America/Chicago", "America/Los_Angeles", "Europe/London", "Australia/Sydney"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
          "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
AREA_CODES = ["212", "312", "415", "646", "617", "206", "303", "512", "718", "404"]


def ascii_fold(s: str) -> str:
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode()


def slug(s: str) -> str:
    out = "".join(c if c.isalnum() else "-" for c in ascii_fold(s).lower())
    return "-".join(p for p in out.split("-") if p)


def company_domain(company: str) -> str:
    words = [w for w in slug(company).split("-") if w not in ("ltd", "gmbh", "inc", "co", "ag", "sas", "b", "v", "aps", "pty", "s", "r", "l")]
    return "-".join(words[:2]) + ".example.com"


def phone(rng: random.Random) -> str:
    area, line = rng.choice(AREA_CODES), f"01{rng.randrange(100):02d}"
    return rng.choice([f"({area}) 555-{line}", f"+1 {area} 555 {line}", f"{area}.555.{line}", f"{area}-555-{line}"])


def money(amount: Decimal, currency: str, rng: random.Random) -> str:
    """An amount the way a person in that currency's country would write it."""
    us = f"{amount:,.2f}"
    eu = us.replace(",", " ").replace(".", ",").replace(" ", ".")
    styles = {
        "USD": [f"${us}", f"USD {us}", f"{us} USD"],
        "EUR": [f"€{eu}", f"{eu} €", f"EUR {us}", f"{eu} EUR"],
        "GBP": [f"£{us}", f"GBP {us}"],
        "CHF": [f"CHF {us.replace(',', chr(39))}", f"CHF {us}"],
        "CAD": [f"CA${us}", f"CAD {us}", f"${us} CAD"],
        "AUD": [f"A${us}", f"AUD {us}"],
    }
    return rng.choice(styles[currency])


def long_date(d: date, rng: random.Random) -> str:
    """A date in one of the unambiguous ways people write them (day-first numeric only when day > 12)."""
    styles = [d.isoformat(), f"{d.day} {MONTHS[d.month - 1]} {d.year}", f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
              f"{MONTHS[d.month - 1][:3]} {d.day}, {d.year}"]
    if d.day > 12:
        styles.append(f"{d.day:02d}.{d.month:02d}.{d.year}")
    return rng.choice(styles)


def short_date(d: date) -> str:
    return f"{MONTHS[d.month - 1][:3]} {d.day}"


def add_typos(text: str, rng: random.Random, n: int) -> str:
    """Swap, drop or double a letter in `n` ordinary words: the slips people make typing tickets."""
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if w.isalpha() and len(w) >= 4]
    for i in sorted(rng.sample(candidates, min(n, len(candidates)))):
        w, j = words[i], rng.randrange(1, len(words[i]) - 1)
        kind = rng.randrange(3)
        if kind == 0:
            w = w[:j] + w[j + 1] + w[j] + w[j + 2:]
        elif kind == 1:
            w = w[:j] + w[j + 1:]
        else:
            w = w[:j] + w[j] + w[j:]
        words[i] = w
    return " ".join(words)


def lower_first(text: str) -> str:
    """Lowercase the first letter the way people start a chat message, but leave acronyms (API, SAML) alone."""
    return text[0].lower() + text[1:] if len(text) > 1 and text[1].islower() else text


def person(rng: random.Random) -> dict[str, Any]:
    """A contact at a customer, with everything a ticket or document might mention about them."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    company, currency, city, tax = rng.choice(CUSTOMERS)
    domain = company_domain(company)
    colleague = rng.choice([n for n in FIRST_NAMES if n != first])
    return {
        "first": first,
        "full": f"{first} {last}",
        "company": company,
        "currency": currency,
        "city": city,
        "tax": tax,
        "domain": domain,
        "email": f"{ascii_fold(first).lower()}.{ascii_fold(last).lower()}@{domain}",
        "email2": f"{ascii_fold(colleague).lower()}@{domain}",
        "colleague": f"{colleague} {rng.choice(LAST_NAMES)}",
        "phone": phone(rng),
        "title": rng.choice(TITLES),
    }


def timestamp(rng: random.Random) -> datetime:
    """A moment in the sampled week, weighted to working hours like real ticket traffic."""
    day = rng.randrange(7) if rng.random() < 0.15 else rng.randrange(5)
    hour = rng.randrange(24) if rng.random() < 0.2 else rng.randrange(7, 19)
    return WEEK_START + timedelta(days=day, hours=hour, minutes=rng.randrange(60), seconds=rng.randrange(60))


def context(rng: random.Random) -> dict[str, Any]:
    """Slot values shared by the ticket and rewrite templates."""
    p = person(rng)
    when = timestamp(rng)
    seats = rng.choice([6, 8, 10, 12, 15, 18, 22, 25, 30, 40, 45, 60, 75])
    amount = Decimal(rng.randrange(9000, 480000)) / 100
    p.update(
        plan=rng.choice(PAID_PLANS),
        seats=seats,
        seats_less=seats - rng.randrange(2, 6),
        amount=money(amount, p["currency"], rng),
        invoice=f"INV-2026-{rng.randrange(1000, 99999):05d}",
        order=f"ORD-{rng.randrange(10000, 99999)}",
        order2=f"ORD-{rng.randrange(10000, 99999)}",
        sku=f"{''.join(w[0] for w in slug(p['company']).split('-')[:2]).upper()}-{rng.choice(['MUG', 'TEE', 'BOX', 'KIT', 'LMP'])}-{rng.randrange(1, 60):02d}",
        integration=rng.choice(INTEGRATIONS[:4]),
        integration2=rng.choice(INTEGRATIONS[4:]),
        warehouse=rng.choice(WAREHOUSES),
        city=rng.choice(CITIES),
        tz=rng.choice(TIMEZONES),
        date=short_date((when - timedelta(days=rng.randrange(1, 20))).date()),
        future_date=short_date((when + timedelta(days=rng.randrange(10, 80))).date()),
        month=MONTHS[when.month + rng.randrange(0, 2)],
        last_month=MONTHS[when.month - 2],
        time=f"{rng.randrange(7, 12)}:{rng.choice(['05', '20', '35', '50'])} am",
        card4=f"{rng.randrange(10000):04d}",
        vat=f"DE{rng.randrange(10**8, 10**9)}",
        wire_ref=f"TRF{rng.randrange(10**7, 10**8)}",
        rep=rng.choice(SALES_REPS),
        reqid=f"req_{rng.getrandbits(48):012x}",
        evtid=f"evt_{rng.getrandbits(40):010x}",
        appver=f"4.{rng.randrange(2, 9)}.{rng.randrange(0, 12)}",
        chrome=f"{rng.randrange(128, 142)}",
        rows=f"{rng.randrange(3, 40)},{rng.randrange(1000):03d}",
        n=rng.choice([300, 800, 1200, 2500, 4000]),
        olddomain=f"{slug(p['company']).split('-')[0]}-old.example.com",
        ticket=rng.randrange(48000, 61000),
        agent=rng.choice(AGENTS),
        days_ago=rng.choice([34, 41, 45, 52, 63, 80]),
        weekday=rng.choice(WEEKDAYS),
        quarter=rng.choice(["Q1 2027", "Q2 2027", "the first half of 2027"]),
        ap_email=f"ap@{p['domain']}",
        eng=f"ENG-{rng.randrange(2000, 9999)}",
        credit_seats=rng.randrange(2, 6),
        received_at=when,
    )
    return p


def messages(system: str, user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


# ---------------------------------------------------------------- triage

TRIAGE_SYSTEM = """You are the triage assistant for Loomwise customer support. Classify the customer ticket into exactly one of these labels:
- billing: invoices, charges, refunds, payment methods, prices, discounts, taxes
- bug: something in the product works incorrectly for this customer while the service itself is up
- account_access: signing in, SSO, two-factor authentication, password resets, locked accounts, invites, roles and permissions
- feature_request: asks for something the product does not do today
- outage: the service or a major part of it is down or badly degraded, usually for many users at once
- cancellation: wants to cancel, not renew, close the account, or confirm a cancellation
Answer with the label only, in lowercase, and nothing else."""

# label -> [(subject, body)]; bodies are what the customer wrote, slots filled from context().
TICKETS: dict[str, list[tuple[str, str]]] = {
    "billing": [
        ("Charged twice", "we were charged twice for our {plan} subscription this month, two identical charges of {amount} on the company card ending {card4}. Can you refund the duplicate? Invoice is {invoice}."),
        ("Wrong seat count on invoice", "Our invoice {invoice} shows {seats} seats but we only have {seats_less} active users. We removed people back in {last_month}. Please correct the invoice before we pay it."),
        ("VAT number missing", "finance here. we need the invoices re-issued with our VAT number {vat} on them, our auditors won't accept them without it. thanks"),
        ("Switch to invoicing", "Can we switch from monthly card payments to annual invoicing with bank transfer? Our AP team can't keep putting this on someone's personal card."),
        ("Proration question", "We upgraded from Starter to {plan} mid-cycle on {date} and the prorated charge looks way too high ({amount}). Can someone explain how it was calculated?"),
        ("Payment failed after card update", "Our card expired and I updated it under Settings > Billing, but the payment for {invoice} still shows as failed. Do I need to do anything else or will it retry on its own?"),
        ("Price increase at renewal?", "Quick question - is the per-seat price on {plan} going up at renewal? We got an email mentioning new pricing and our budget for next year is already locked."),
        ("Nonprofit discount not applied", "We were promised a 15% nonprofit discount by {rep} on the sales call but the first invoice ({invoice}) is full price. Can you apply it?"),
        ("Copies of invoices", "Please send copies of all invoices from this year as PDF to {ap_email}. Our accountant needs them for the quarter close."),
        ("Billing currency", "We were charged {amount} in USD but our contract is in EUR. The FX fee from our bank adds up, can you bill us in euros going forward?"),
        ("Payment reminder but we paid", "Got a payment reminder for {invoice} but we paid it by wire on {date}, reference {wire_ref}. Please check and stop the reminders."),
        ("Unknown line item", "Why is there a line item 'Connect add-on' on our latest bill ({invoice})? As far as I know nobody here turned that on."),
    ],
    "bug": [
        ("CSV export missing SKUs", "When I export the stock report to CSV the SKU column is empty for every row. The PDF export of the same report looks fine. Chrome {chrome}, {plan} plan."),
        ("Wrong shipping addresses from {integration}", "Since yesterday, orders synced from {integration} come in with the shipping address of the previous order. Example: {order} has the address that belongs to {order2}. Everything else on the orders looks right."),
        ("Mark as packed not working", "The 'Mark as packed' button in Orders does nothing when more than 50 orders are selected. No error, just a spinner forever. Works fine with fewer."),
        ("Low stock alerts wrong", "Low stock alerts keep firing for {sku} even though we have 340 units on hand in {warehouse}. I think it's ignoring our second warehouse?"),
        ("Dates off by one in Insights", "Dates in the Insights dashboard are off by one day. An order placed on {date} at 11pm shows up on the next day. Our account timezone is set to {tz}."),
        ("Scan app crashes on QR", "The barcode scanner in the Loomwise Scan app (Android, v{appver}) crashes as soon as I scan a QR label. EAN-13 codes still work fine."),
        ("API returns wrong status", "GET /v2/orders?status=shipped returns orders that are still in awaiting_payment. Happens for roughly 1 in 20 orders. Example request id {reqid}."),
        ("PO editing resets prices", "When editing a purchase order, changing the quantity on one line resets the unit price on all the other lines to 0.00. Reproduced it 3 times this morning."),
        ("Duplicate webhooks", "Our webhook endpoint receives the order.updated event twice for every change, identical payloads, same event id ({evtid}). Started after the weekend."),
        ("Search ignores accents", "Search in Stock doesn't find products with an accent in the name, e.g. 'Café Crème mug'. Typing 'Cafe' returns nothing at all."),
        ("CSV import stops at 1000 rows", "Bulk CSV import says 'completed' but only the first 1,000 of our {rows} rows were imported. No errors in the import log."),
        ("Wrong currency symbol on invoices", "Invoice PDFs generated from Orders show the wrong currency symbol ($ instead of £) for our UK customers. Totals are right, it's just the symbol."),
    ],
    "account_access": [
        ("2FA code invalid", "I can't log in, after entering the code from my authenticator app it says 'invalid code' every single time. I've checked the time on my phone is correct. My login is {email}."),
        ("Locked out", "Got locked out after too many password attempts. Can you unlock {email}? I need to ship orders today."),
        ("SSO for new hires", "Our Okta SSO stopped working for new hires, they get 'user not provisioned' when they click the Loomwise tile. Existing users are fine."),
        ("Admin left the company", "{colleague} left the company and was the only admin on our account. How do we get admin rights transferred to me?"),
        ("No password reset email", "password reset email never arrives. checked spam. tried 3 times now. {email}"),
        ("Lost phone with 2FA", "I lost my phone with the 2FA app on it. How do I get back into my account? I have backup codes somewhere but not with me."),
        ("Invite link expired", "I invited a new warehouse user ({email2}) last week but the invite link now says it has expired. Can you resend it or tell me how?"),
        ("Can't log in after domain change", "After we changed our email domain from {olddomain} to {domain}, none of us can log in with the new addresses. Help!"),
        ("Permission denied on POs", "One of my team members gets 'You don't have permission to view this page' on the Purchase Orders screen even though I gave her the Manager role."),
        ("Keeps logging me out", "I keep getting logged out every few minutes in Firefox. Other browsers are ok. Already cleared cookies."),
        ("SAML audience mismatch", "SAML login fails with 'Audience mismatch' since we rotated the certificate on our IdP this morning. None of our {seats} users can sign in with SSO."),
    ],
    "feature_request": [
        ("Scheduled reports", "Would be great if we could schedule the stock report to be emailed every Monday at 8am. Right now someone exports it by hand every week."),
        ("Support for {integration2}?", "Any plans to support {integration2}? We're moving off {integration} and it's the one thing stopping us from switching fully."),
        ("Per-warehouse thresholds", "Feature request: let us set different low-stock thresholds per warehouse instead of one global number per SKU."),
        ("Dark mode", "Can you add a dark mode? Our night shift stares at the packing screen for 8 hours straight."),
        ("Bulk stock update endpoint", "It would help a lot if the API had a bulk endpoint for updating stock levels, we're making {n} calls on every sync right now."),
        ("Custom fields on POs", "Is it possible to add custom fields to purchase orders? We need to track the container number for imports."),
        ("Offline mode for the app", "Could the mobile app work fully offline? Our warehouse basement has no signal and we'd like to do stock counts down there."),
        ("Restrict users to a warehouse", "We'd love to be able to restrict users to a single warehouse. Right now everyone sees every location."),
        ("Audit log export", "Please add an audit log export, our SOC 2 auditor wants a record of who changed what in Stock."),
        ("Show all tracking numbers", "Suggestion: when an order ships in multiple parcels, show all the tracking numbers on the order page, not just the first one."),
        ("Spanish UI", "Would you consider translating the interface into Spanish? Half of our warehouse team would prefer it."),
    ],
    "outage": [
        ("Is Loomwise down??", "Getting 502 Bad Gateway on every page since about {time}. Whole team affected, status page says all green."),
        ("URGENT no orders syncing", "No orders have synced from any of our channels for the last 45 minutes. We have a sale running. Is something going on on your side?"),
        ("API timing out", "API requests are timing out for us across the board, every call takes 30s+ and then fails. Started around {time} UTC, nothing changed on our end."),
        ("Very slow for everyone", "The app is extremely slow for everyone in our {city} office, pages take a minute to load. Other SaaS tools are fine, so it's not our network."),
        ("Webhooks stopped", "None of our webhooks have fired since this morning. Dashboard shows 0 deliveries in the last 3 hours across all endpoints."),
        ("Service unavailable", "The login page just shows 'Service unavailable' for me and 4 colleagues in different locations. Please advise asap, the warehouse is at a standstill."),
        ("Labels failing for all carriers", "Our packing stations can't print any shipping labels, generation fails with 'upstream error' for every carrier. Started 20 minutes ago."),
        ("incident?", "is there an incident right now? dashboard won't load and the mobile app says 'cannot reach server'. tried different networks."),
        ("Insights blank everywhere", "Insights dashboards are blank for every user on our account, and a friend at another company that uses you says theirs are blank too. Looks like a wider problem."),
        ("Connect returning 503", "We're getting HTTP 503 from Connect for all integrations since {time}. Orders are piling up in {integration}."),
        ("Can't save anything", "Everything is read-only, any save fails with 'Something went wrong (E5001)'. My colleague in another office sees exactly the same."),
    ],
    "cancellation": [
        ("Cancel subscription", "We've decided to move to another platform. Please cancel our subscription at the end of the current billing period and confirm in writing."),
        ("Closing the business", "We're closing the business at the end of {month}. How do we cancel, and will we get anything back for the unused months of the annual plan?"),
        ("Do not renew", "Please don't renew our {plan} contract when it comes up on {future_date}. We won't be continuing."),
        ("Cancel my account", "Cancel my account please. It's just me now and I don't need it anymore. How do I download my data first?"),
        ("Acquisition - terminate contract", "Our company was acquired and the new parent uses a different system. We need to terminate Loomwise for {company}, what's the notice period?"),
        ("Cancelling", "I want to cancel. The {integration} sync has been unreliable for months and we've given up on it. Please confirm there will be no further charges."),
        ("Did my cancellation go through?", "Can you confirm our cancellation went through? I clicked cancel in the billing settings last week but never got an email."),
        ("Not renewing", "We're not renewing, budget got cut. Please make sure auto-renew is switched off for {company}."),
        ("Close account and delete data", "How do I close our account completely and have all our data deleted? We're switching tools next month."),
        ("Cancellation - all seats", "Following our call, please go ahead and cancel the Loomwise subscription for all {seats} seats effective {future_date}."),
        ("End before first invoice", "We'd like to stop before the first invoice after the trial. It's not the right fit for us, thanks anyway."),
    ],
}

GREETINGS = ["Hi,", "Hello,", "Hi team,", "Hey,", "", "", "Hi Loomwise support,", "Good morning,", "Hello support team,"]
SIGNOFFS = [
    "Thanks,\n{first}",
    "Best regards,\n{full}\n{company}",
    "Cheers, {first}",
    "--\n{full} | {title} | {company}\n{phone}",
    "thx",
    "Kind regards,\n{full}\n{title}, {company}",
    "{first}",
    "Thank you!\n{full}\nSent from my iPhone",
]


def triage_samples(rng: random.Random, count: int) -> list[dict[str, Any]]:
    pool = [(label, t) for label in TICKETS for t in TICKETS[label]]
    rng.shuffle(pool)
    order = pool + rng.sample(pool, count - len(pool))
    out = []
    for label, (subject, body) in order:
        c = context(rng)
        text = body.format(**c)
        if rng.random() < 0.35:
            text = add_typos(text, rng, rng.randint(1, 2))
        channel = rng.choices(["email", "web form", "chat"], weights=[5, 3, 2])[0]
        if channel == "chat":
            user = f"Chat · {c['full']} ({c['company']})\n\n{lower_first(text)}"
        else:
            parts = [p for p in (rng.choice(GREETINGS), text, rng.choice(SIGNOFFS).format(**c)) if p]
            header = f"Ticket #{c['ticket']} · via {channel}\nFrom: {c['full']} <{c['email']}>\nSubject: {subject.format(**c)}"
            user = header + "\n\n" + "\n\n".join(parts)
        out.append({
            "input": messages(TRIAGE_SYSTEM, user),
            "reference": label,
            "metadata": {"channel": channel, "customer": c["company"], "plan": c["plan"],
                         "received_at": c["received_at"].isoformat()},
        })
    return out


# ---------------------------------------------------------------- extract

EXTRACT_SYSTEM = """You extract structured data for the Loomwise billing team. Return one JSON object with exactly these keys:
- "customer_name": the customer organisation's name exactly as written (the company, not the contact person)
- "order_id": the Loomwise order reference, format ORD-#####
- "amount": the total amount due or charged, including tax, as a number (no currency symbol, no thousands separators)
- "currency": the ISO 4217 code, e.g. "USD", "EUR", "GBP"
- "due_date": the payment due date as YYYY-MM-DD, or null if there is none
Return the JSON object only: no code fences, no comments."""

def to_money(x: Decimal) -> Decimal:
    return x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def order_facts(rng: random.Random) -> dict[str, Any]:
    """An order whose amounts add up the way a real invoice's would."""
    p = person(rng)
    plan = rng.choice(PAID_PLANS)
    annual = rng.random() < 0.45
    months = 10 if annual else 1
    seats = rng.choice([5, 8, 10, 12, 15, 20, 25]) if plan == "Team" else rng.choice([20, 30, 40, 55, 70, 90])
    factor = Decimal(CURRENCY_FACTOR[p["currency"]])
    lines = [(f"Loomwise {plan}, {seats} seats ({'annual' if annual else 'monthly'})",
              to_money(Decimal(SEAT_PRICE[plan] * seats * months) * factor))]
    if plan == "Team" and rng.random() < 0.5:
        lines.append((f"Loomwise Connect add-on ({'annual' if annual else 'monthly'})", to_money(Decimal(99 * months) * factor)))
    if rng.random() < 0.25:
        lines.append(("Onboarding package (one-off)", to_money(Decimal(rng.choice([450, 900, 1500])) * factor)))
    subtotal = sum((x for _, x in lines), Decimal(0))
    tax = to_money(subtotal * Decimal(p["tax"]))
    issued = (WEEK_START - timedelta(days=rng.randrange(0, 25))).date()
    p.update(
        plan=plan, seats=seats, lines=lines, subtotal=subtotal, tax_amount=tax, total=subtotal + tax,
        issued=issued, due=issued + timedelta(days=rng.choice([14, 30, 30, 30])),
        order_id=f"ORD-{rng.randrange(10000, 99999)}", invoice=f"INV-2026-{rng.randrange(1000, 99999):05d}",
        po=rng.choice(["PO", "PO-", "P.O. "]) + str(rng.randrange(1000, 99999)),
        rep=rng.choice(SALES_REPS), card4=f"{rng.randrange(10000):04d}",
        received_at=timestamp(rng),
    )
    return p


def extract_invoice(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    cur = o["currency"]
    body = "\n".join(f"  {desc:<48} {money(amt, cur, rng)}" for desc, amt in o["lines"])
    tax_line = f"Tax ({float(o['tax']) * 100:g}%): {money(o['tax_amount'], cur, rng)}\n" if o["tax_amount"] else ""
    doc = (f"LOOMWISE INC. · INVOICE\nInvoice no.: {o['invoice']}\nIssue date: {long_date(o['issued'], rng)}\n"
           f"Order ref: {o['order_id']}\nCustomer PO: {o['po']}\n\nBill to:\n  {o['company']}\n  Attn: {o['full']}\n  {o['city']}\n\n"
           f"Items:\n{body}\n\nSubtotal: {money(o['subtotal'], cur, rng)}\n{tax_line}"
           f"Total due: {money(o['total'], cur, rng)}\nPayment due by: {long_date(o['due'], rng)}\n"
           "Pay by bank transfer quoting the invoice number.")
    return "invoice", doc, True


def extract_payment_email(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    doc = (f"From: {o['full']} <{o['email']}>\nSubject: Payment for {o['order_id']}\n\n{rng.choice(GREETINGS) or 'Hello,'}\n\n"
           f"Just confirming we'll pay the outstanding balance of {money(o['total'], o['currency'], rng)} for order {o['order_id']} "
           f"by the due date on your invoice, {long_date(o['due'], rng)}. Our PO reference is {o['po']} if your team needs it.\n\n"
           f"Best,\n{o['full']}\n{o['title']}, {o['company']}\n{o['phone']}")
    return "customer email", doc, True


def extract_crm_note(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    doc = (f"CRM note ({o['rep']}, {short_date(o['issued'])}): {o['company']} confirmed the move to {o['plan']}, {o['seats']} seats. "
           f"Order {o['order_id']}, total {money(o['total'], o['currency'], rng)} incl. tax, invoice {o['invoice']} goes out today, "
           f"due {long_date(o['due'], rng)}. Main contact {o['full']} ({o['email']}, {o['phone']}).")
    return "CRM note", doc, True


def extract_forwarded(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    doc = (f"---------- Forwarded message ---------\nFrom: {o['full']} <{o['email']}>\nDate: {long_date(o['issued'] + timedelta(days=2), rng)}\n"
           f"Subject: RE: Invoice {o['invoice']}\n\nHello Loomwise billing,\n\nWe received invoice {o['invoice']} for order {o['order_id']}. "
           f"Our system shows {money(o['total'], o['currency'], rng)}, which matches your total. It's due {long_date(o['due'], rng)} "
           f"and is in our next payment run.\n\nRegards,\n{o['full']}\nAccounts Payable\n{o['company']}")
    return "forwarded email", doc, True


def extract_chat(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    doc = (f"[chat] hey it's {o['first']} from {o['company']}. can u confirm order {o['order_id']}? "
           f"we owe {money(o['total'], o['currency'], rng)} right, due {long_date(o['due'], rng)}? "
           f"want to get it approved before our finance person goes on leave")
    return "chat message", doc, True


def extract_reminder(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    o["issued"] -= timedelta(days=45)
    o["due"] -= timedelta(days=45)
    doc = (f"Collections draft: {o['company']} has an open balance. Order {o['order_id']} / invoice {o['invoice']}: "
           f"{money(o['total'], o['currency'], rng)} was due on {long_date(o['due'], rng)} and is now overdue "
           f"(subtotal {money(o['subtotal'], o['currency'], rng)} before tax). Contact on file: {o['full']}, {o['phone']}.")
    return "collections note", doc, True


def extract_card_receipt(o: dict[str, Any], rng: random.Random) -> tuple[str, str, bool]:
    doc = (f"Payment receipt\nReceived from: {o['company']} ({o['full']})\nFor order: {o['order_id']}\n"
           f"Amount charged: {money(o['total'], o['currency'], rng)} to card ending {o['card4']}\n"
           f"Date: {long_date(o['issued'], rng)}\nPrepaid by card: nothing further is due on this order.")
    return "card receipt", doc, False


EXTRACT_KINDS = [extract_invoice, extract_payment_email, extract_crm_note, extract_forwarded, extract_chat,
                 extract_reminder, extract_card_receipt]


def extract_samples(rng: random.Random, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        o = order_facts(rng)
        kind, doc, has_due = EXTRACT_KINDS[i % len(EXTRACT_KINDS)](o, rng)
        reference = {
            "customer_name": o["company"],
            "order_id": o["order_id"],
            "amount": float(o["total"]),
            "currency": o["currency"],
            "due_date": o["due"].isoformat() if has_due else None,
        }
        out.append({
            "input": messages(EXTRACT_SYSTEM, f"Extract the fields from this {kind}:\n\n{doc}"),
            "reference": reference,
            "metadata": {"doc_kind": kind, "received_at": o["received_at"].isoformat()},
        })
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------- factual

FACTUAL_SYSTEM = """You answer questions from Loomwise support agents using only the documentation excerpts provided.
Reply with the shortest exact phrase from the documentation that answers the question (a number, a duration, a price, a name), with no other words and no full stop.
For a yes/no question, reply yes or no."""

DOCS = {
    "Plans and limits": "Loomwise is sold in four plans. Starter includes up to 5 seats, 1 warehouse location and 2,000 orders per month. Team includes up to 25 seats, 3 warehouse locations and 20,000 orders per month. Business includes up to 100 seats, 10 warehouse locations and 150,000 orders per month. Enterprise has custom limits agreed in the order form. Extra seats on Team and Business are sold in packs of 5. Orders above the monthly allowance are never blocked; they are billed at $0.02 per order.",
    "API rate limits": "The REST API allows 120 requests per minute on Starter, 600 requests per minute on Team, 2,400 requests per minute on Business and 6,000 requests per minute on Enterprise, per account. Short bursts of up to twice the limit are allowed for 10 seconds. Requests over the limit receive HTTP 429 with a Retry-After header in seconds. List endpoints return at most 200 items per page; the default page size is 50. Bulk endpoints accept up to 500 items per call.",
    "Authentication": "API keys start with lw_live_ (production) or lw_test_ (sandbox) and do not expire until they are revoked. Each account can have up to 10 active API keys. OAuth access tokens expire after 60 minutes; refresh tokens are valid for 30 days.",
    "Webhooks": "Every webhook is signed with HMAC-SHA256; the signature is in the X-Loomwise-Signature header. Your endpoint must answer with a 2xx status within 10 seconds. Failed deliveries are retried up to 8 times over 24 hours with exponential backoff. An endpoint that keeps failing for 3 consecutive days is disabled automatically and the account owner is emailed.",
    "Sign-in and security": "SAML single sign-on is available on Business and Enterprise. SCIM user provisioning is available on Enterprise only. Supported second factors are authenticator apps (TOTP) and security keys (WebAuthn); SMS codes are not supported. After 5 failed sign-in attempts an account is locked for 15 minutes. Password reset links are valid for 30 minutes. Sessions expire after 12 hours of inactivity by default; admins on Business and Enterprise can choose between 1 and 72 hours. Invitations to new users expire after 7 days.",
    "Support and SLAs": "Starter customers get email support with a first response within 2 business days. Team customers get email and chat support with a first response within 8 business hours. Business customers get a first response within 4 hours, 24/5. Enterprise customers get 24/7 support with a 1-hour first response for P1 incidents. The uptime commitment is 99.9% on Business and 99.95% on Enterprise. If monthly uptime falls below the commitment, the customer receives a service credit of 10% of the monthly fee, or 25% if uptime falls below 99.0%.",
    "Billing": "Invoices are issued on the 1st of each month and are payable within 30 days. Failed card payments are retried 3 times over 7 days. An account with an invoice more than 14 days overdue becomes read-only until the invoice is paid. Annual plans are billed upfront at the price of 10 months. Loomwise bills in USD, EUR, GBP, CHF, CAD and AUD. Refunds on annual plans are prorated and only available within 30 days of the renewal date.",
    "Prices": "List prices per seat per month, billed monthly: Starter $15, Team $32, Business $54. Enterprise is quoted individually. Loomwise Connect (integrations) is an add-on at $99 per month per account on Starter and Team, and is included in Business and Enterprise. Loomwise Insights is included in every plan.",
    "Integrations": "Shopify and WooCommerce orders sync every 5 minutes. NetSuite and QuickBooks Online sync every 15 minutes. Amazon Seller Central syncs every 30 minutes because of Amazon's own rate limits. A manual sync can be started once every 10 minutes per integration. Stock level changes are pushed to sales channels within 2 minutes.",
    "Importing and exporting": "CSV imports accept files up to 50 MB or 200,000 rows, whichever comes first. Files must be UTF-8 encoded. Exports are available as CSV, XLSX and Parquet; exports larger than 1 GB are delivered by email as a download link that is valid for 7 days.",
    "Cancellation and data retention": "Monthly plans can be cancelled at any time and stay active until the end of the paid period. Annual plans must be cancelled at least 30 days before the renewal date. After cancellation, data can still be exported for 30 days; it is permanently deleted 90 days after cancellation. Audit logs are kept for 1 year on Team, 3 years on Business and 7 years on Enterprise.",
    "Loomwise Scan (mobile app)": "Loomwise Scan runs on Android 10 or later and iOS 16 or later. It reads EAN-13, UPC-A, Code 128 and QR codes. In offline mode it stores up to 5,000 scans and uploads them when the device reconnects.",
}

# (doc section, question as an agent typed it, reference answer, answer type)
FACTS = [
    ("Plans and limits", "Customer on Team wants to add more users, how many seats does Team include?", "25", "numeric"),
    ("Plans and limits", "how many warehouse locations can a Business account have", "10", "numeric"),
    ("Plans and limits", "What's the monthly order allowance on Starter?", "2,000 orders per month", "phrase"),
    ("Plans and limits", "What do we charge for orders over the monthly allowance?", "$0.02 per order", "phrase"),
    ("Plans and limits", "Extra seats come in packs of how many?", "5", "numeric"),
    ("API rate limits", "What's the API rate limit on the Team plan?", "600 requests per minute", "phrase"),
    ("API rate limits", "Business customer asking for their API rate limit, what is it?", "2,400 requests per minute", "phrase"),
    ("API rate limits", "which HTTP status do clients get when they go over the rate limit?", "429", "numeric"),
    ("API rate limits", "Max page size on list endpoints?", "200", "numeric"),
    ("API rate limits", "If a customer doesn't pass a page size, how many items per page do they get?", "50", "numeric"),
    ("API rate limits", "How long can a burst above the rate limit last?", "10 seconds", "phrase"),
    ("API rate limits", "How many items can one bulk API call take?", "500", "numeric"),
    ("Authentication", "What prefix do sandbox API keys have?", "lw_test_", "phrase"),
    ("Authentication", "how long is an OAuth access token valid", "60 minutes", "phrase"),
    ("Authentication", "How long do refresh tokens last?", "30 days", "phrase"),
    ("Authentication", "Customer wants another API key. What's the maximum number of active keys per account?", "10", "numeric"),
    ("Authentication", "Do API keys expire on their own?", "no", "yes_no"),
    ("Webhooks", "Which header carries the webhook signature?", "X-Loomwise-Signature", "phrase"),
    ("Webhooks", "How fast does a webhook endpoint have to respond before we count it as failed?", "10 seconds", "phrase"),
    ("Webhooks", "How many times do we retry a failed webhook delivery?", "8", "numeric"),
    ("Webhooks", "Over what period do webhook retries happen?", "24 hours", "phrase"),
    ("Webhooks", "after how long of failing is a webhook endpoint disabled automatically?", "3 consecutive days", "phrase"),
    ("Webhooks", "What algorithm is used to sign webhooks?", "HMAC-SHA256", "phrase"),
    ("Sign-in and security", "Which plan do you need for SCIM provisioning?", "Enterprise", "phrase"),
    ("Sign-in and security", "How many failed sign-ins before an account gets locked?", "5", "numeric"),
    ("Sign-in and security", "Customer is locked out, how long does the lock last?", "15 minutes", "phrase"),
    ("Sign-in and security", "how long is a password reset link valid for?", "30 minutes", "phrase"),
    ("Sign-in and security", "Default session timeout?", "12 hours", "phrase"),
    ("Sign-in and security", "Can customers use SMS codes as a second factor?", "no", "yes_no"),
    ("Sign-in and security", "How long before a user invitation expires?", "7 days", "phrase"),
    ("Sign-in and security", "Is SAML SSO available on the Business plan?", "yes", "yes_no"),
    ("Support and SLAs", "What's the first response time for Team customers?", "8 business hours", "phrase"),
    ("Support and SLAs", "Enterprise P1, what first response do we commit to?", "1 hour", "phrase"),
    ("Support and SLAs", "What uptime do we commit to on Enterprise?", "99.95%", "numeric"),
    ("Support and SLAs", "Uptime was 98.7% last month for a Business customer, what service credit do they get?", "25%", "numeric"),
    ("Support and SLAs", "what's the uptime commitment for Business?", "99.9%", "numeric"),
    ("Support and SLAs", "How quickly do Starter customers get a first reply?", "2 business days", "phrase"),
    ("Billing", "Within how many days does an invoice have to be paid?", "30 days", "phrase"),
    ("Billing", "How many times do we retry a failed card payment?", "3", "numeric"),
    ("Billing", "After how many days overdue does an account go read-only?", "14 days", "phrase"),
    ("Billing", "Annual plans are billed at the price of how many months?", "10 months", "phrase"),
    ("Billing", "Customer renewed their annual plan 3 weeks ago and wants a refund. What's the window for refunds after renewal?", "30 days", "phrase"),
    ("Prices", "What's the list price per seat on Team?", "$32", "numeric"),
    ("Prices", "How much is the Connect add-on?", "$99 per month", "phrase"),
    ("Prices", "Is Connect included in the Business plan?", "yes", "yes_no"),
    ("Integrations", "How often do Shopify orders sync?", "every 5 minutes", "phrase"),
    ("Integrations", "Customer asks why Amazon orders take so long to show up. What's the Amazon sync interval?", "every 30 minutes", "phrase"),
    ("Integrations", "How often can someone trigger a manual sync?", "once every 10 minutes", "phrase"),
    ("Importing and exporting", "What's the max file size for a CSV import?", "50 MB", "phrase"),
    ("Importing and exporting", "Which encoding do import files need?", "UTF-8", "phrase"),
    ("Importing and exporting", "How long is the download link for a big export valid?", "7 days", "phrase"),
    ("Cancellation and data retention", "How long before renewal does an annual plan have to be cancelled?", "30 days", "phrase"),
    ("Cancellation and data retention", "How long after a cancellation is the data permanently deleted?", "90 days", "phrase"),
    ("Cancellation and data retention", "How long are audit logs kept on Business?", "3 years", "phrase"),
    ("Loomwise Scan (mobile app)", "What's the minimum Android version for the Scan app?", "Android 10", "phrase"),
    ("Loomwise Scan (mobile app)", "How many scans can the app hold while offline?", "5,000", "numeric"),
]

FACT_LEADS = ["", "", "", "Quick one: ", "Hey, ", "Customer on the phone. ", "Sorry if this is obvious, ", "@assistant "]


def factual_samples(rng: random.Random) -> list[dict[str, Any]]:
    """One sample per fact; the excerpt holds the answer's section and, like a retriever, one other section."""
    out = []
    titles = list(DOCS)
    for section, question, answer, kind in FACTS:
        other = rng.choice([t for t in titles if t != section])
        shown = [section, other] if rng.random() < 0.5 else [other, section]
        excerpt = "\n\n".join(f"### {t}\n{DOCS[t]}" for t in shown)
        lead = rng.choice(FACT_LEADS)
        q = lead + (lower_first(question) if lead.endswith(", ") else question)
        if rng.random() < 0.25:
            q = add_typos(q, rng, 1)
        out.append({
            # The retrieved excerpts go in the system prompt, the agent's question is the user turn.
            "input": messages(f"{FACTUAL_SYSTEM}\n\nDocumentation excerpts:\n\n{excerpt}", q),
            "reference": answer,
            "metadata": {"doc_section": section, "answer_type": kind, "received_at": timestamp(rng).isoformat()},
        })
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------- rewrite

POLITE_SYSTEM = """You help Loomwise support agents write replies. Rewrite the agent's internal draft as a short, polite reply to the customer, addressed to them by first name.
Keep every fact, number and date from the draft, add no new promises, and leave out internal remarks. No subject line and no signature."""

SUMMARY_SYSTEM = """Summarise the support conversation in one sentence for the ticket's internal notes: who the customer is, what the problem was, and what was done or happens next."""

# (curt internal draft, a good customer-facing rewrite)
POLITE = [
    ("refund denied. annual refunds only within 30 days of renewal, theirs renewed {days_ago} days ago.",
     "Hi {first}, thank you for getting in touch. I'm sorry, but refunds on annual plans are only possible within 30 days of the renewal date, and your plan renewed {days_ago} days ago, so we can't issue a refund this time."),
    ("known bug w/ CSV export, fix ships {weekday}. use XLSX export till then",
     "Hi {first}, thanks for reporting this. It's a known issue with the CSV export, and a fix is scheduled to ship on {weekday}. Until then, the XLSX export works correctly and should give you the data you need."),
    ("dark mode not on roadmap. logged it.",
     "Hi {first}, thank you for the suggestion. Dark mode isn't on our roadmap at the moment, but I've logged your request so our product team can see the demand for it."),
    ("unlocked {email}. tell them reset link is valid 30 min",
     "Hi {first}, I've unlocked the account for {email}. Please use the password reset link we've sent you; it's valid for 30 minutes."),
    ("dup charge confirmed, refunded {amount}, 5-10 business days to show",
     "Hi {first}, thank you for your patience. We've confirmed the duplicate charge and refunded {amount}; it should appear on your statement within 5 to 10 business days."),
    ("SSO needs Business. they're on Team. upgrade or no SSO",
     "Hi {first}, thanks for your question. SAML single sign-on is available on the Business plan, and your account is currently on Team, so you'd need to upgrade to Business to use SSO."),
    ("webhooks fail bc their endpoint takes >10s to answer. not on us, they need to respond faster",
     "Hi {first}, thanks for the details. We looked into the failed deliveries: your endpoint takes longer than 10 seconds to respond, which is our webhook timeout. If it returns a 2xx response within 10 seconds, the deliveries will go through."),
    ("invoice reissued w/ VAT no., sent to {ap_email}",
     "Hi {first}, we've reissued the invoice with your VAT number and sent it to {ap_email}. Please let me know if anything else needs changing."),
    ("outage over. root cause db failover. postmortem by {weekday}",
     "Hi {first}, thank you for bearing with us. The outage is now resolved; it was caused by a database failover, and we'll share a full post-mortem by {weekday}. We're sorry for the disruption."),
    ("no spanish UI yet. roadmap says {quarter}, no promises",
     "Hi {first}, thanks for asking. The interface isn't available in Spanish yet; it's on our roadmap for {quarter}, although we can't commit to a date."),
    ("cancelled, no more charges. they can export data for 30d, deleted at 90d",
     "Hi {first}, your subscription has been cancelled and there will be no further charges. You can still export your data for 30 days, and it will be permanently deleted 90 days after the cancellation."),
    ("can't repro. need screenshot + browser version",
     "Hi {first}, thanks for letting us know. So that we can reproduce the problem, could you send us a screenshot and tell us which browser version you're using?"),
    ("team limit is 600/min, they exceed it -> 429s. tell them to use bulk endpoints",
     "Hi {first}, the 429 errors happen because your requests exceed the Team plan's API limit of 600 requests per minute. Using the bulk endpoints to batch your updates should keep you under the limit."),
    ("invite expired (7 days). resent to {email2}",
     "Hi {first}, the original invitation expired after 7 days, so I've sent a new one to {email2}."),
    ("admin transfer needs written ok from account owner or a director. once we have it we switch",
     "Hi {first}, we can transfer admin rights once we receive written approval from the account owner or a director of {company}. As soon as we have it, we'll make the change."),
    ("discount applied from next invoice, can't backdate",
     "Hi {first}, we've applied the discount to your account. It will show on your next invoice, but unfortunately we can't apply it to invoices that have already been issued."),
    ("found the wire, landed {date}. reminders stopped",
     "Hi {first}, thank you, we've found your wire transfer, which arrived on {date}, and we've stopped the payment reminders. Apologies for the confusion."),
    ("amazon sync is every 30 min, can't speed up, amazon's limits",
     "Hi {first}, Amazon Seller Central orders sync every 30 minutes. Unfortunately we can't make this faster because of Amazon's own rate limits."),
    ("dup webhooks = our bug from {weekday} deploy, fixed now. they can ignore repeated event ids",
     "Hi {first}, the duplicate webhooks were caused by a bug in our {weekday} release, and it's now fixed. If you received duplicates in the meantime, you can safely ignore any event with an ID you've already processed."),
    ("custom fields on POs = Business only",
     "Hi {first}, thanks for asking. Custom fields on purchase orders are available on the Business plan."),
]

# (conversation, one-sentence summary)
THREADS = [
    ("Customer ({full}, {company}): Hi, I lost my phone and my 2FA app was on it. Can't log in.\n"
     "Agent ({agent}): Sorry to hear that! For security we need to verify your identity first. Could you do a short video call with photo ID?\n"
     "Customer: Sure, now works.\n"
     "Agent: Thanks, you're verified. I've reset your two-factor authentication, so you can sign in with your password and set up a new authenticator.\n"
     "Customer: I'm in, thanks!",
     "{full} from {company} lost the phone with their authenticator app, so {agent} verified their identity over a video call and reset their two-factor authentication, and they can sign in again."),
    ("Customer ({full}, {company}): Orders from {integration} are showing the wrong shipping addresses since yesterday, e.g. {order}.\n"
     "Agent ({agent}): Thanks, I can see it. It's a sync bug on our side and engineering is on it ({eng}).\n"
     "Agent ({agent}): Update: the fix is live and we've re-synced the affected orders from the last 48 hours.\n"
     "Customer: Checked a few, addresses look right now.",
     "{full} from {company} reported wrong shipping addresses on orders synced from {integration}, which was a sync bug ({eng}) that engineering fixed before re-syncing the affected orders from the last 48 hours."),
    ("Customer ({full}, {company}): Invoice {invoice} bills {seats} seats but we only have {seats_less} users.\n"
     "Agent ({agent}): You're right, the seats removed last month weren't taken off. I'll issue a credit note for {credit_seats} seats.\n"
     "Customer: Great, can it go against the next invoice?\n"
     "Agent: Yes, the credit will be applied to your next invoice automatically.",
     "{full} from {company} was billed for too many seats on invoice {invoice}, so {agent} is issuing a credit note for {credit_seats} seats that will be applied to the next invoice."),
    ("Customer ({full}, {company}): None of our shipping labels print, every carrier fails.\n"
     "Agent ({agent}): Checking... our label service is healthy, but your account's carrier credentials expired yesterday.\n"
     "Customer: Ah, our ops lead changed the carrier password. Updating now.\n"
     "Customer: Labels are printing again.",
     "{full} from {company} couldn't print shipping labels because their carrier credentials had expired, and labels printed again once they updated the credentials."),
    ("Customer ({full}, {company}): We want to cancel before our {plan} renewal on {future_date}, it's too expensive for us now.\n"
     "Agent ({agent}): Understood. Before you go, would moving to Starter for 5 seats work? It keeps your data and history.\n"
     "Customer: Actually yes, that would work for us.\n"
     "Agent: Done, you'll move to Starter at the renewal on {future_date}.",
     "{full} from {company} asked to cancel before the {plan} renewal on {future_date} because of cost, and instead agreed to {agent}'s offer to move to the Starter plan at that renewal."),
    ("Customer ({full}, {company}): Our stock sync keeps failing with 429 errors.\n"
     "Agent ({agent}): You're sending about {n} single-item calls per sync, which goes over your plan's rate limit. The bulk endpoint takes up to 500 items per call.\n"
     "Customer: Makes sense, our developer will switch to the bulk endpoint this week.",
     "{full} from {company} hit 429 rate-limit errors because their stock sync makes about {n} single-item API calls, and their developer will switch to the bulk endpoint this week."),
    ("Customer ({full}, {company}): Any chance of a Spanish version of the app? Our warehouse team would really like it.\n"
     "Agent ({agent}): Not yet, but it's a common request. I've added your vote to the feature request.\n"
     "Customer: Thanks, please let us know if it happens.",
     "{full} from {company} asked for a Spanish version of the interface, and {agent} added their vote to the existing feature request."),
    ("Customer ({full}, {company}): Our webhooks stopped arriving yesterday.\n"
     "Agent ({agent}): Our deliveries are failing with a TLS error: the certificate on your endpoint expired yesterday.\n"
     "Customer: Oops. Renewed it just now.\n"
     "Agent: Deliveries are going through again, and the failed ones will be retried automatically.",
     "{full} from {company} stopped receiving webhooks because the TLS certificate on their endpoint had expired, and after they renewed it deliveries resumed, with the failed ones retried automatically."),
    ("Customer ({full}, {company}): CSV import only brought in 1,000 of our {rows} rows.\n"
     "Agent ({agent}): That's a bug in the importer, logged as {eng}. If you send me the file I'll run the import for you from our side.\n"
     "Customer: Sent it over.\n"
     "Agent: Import finished, all rows are in.",
     "{full} from {company} hit an importer bug ({eng}) that stopped their CSV import at 1,000 rows, so {agent} ran the import for them and all rows are now in."),
    ("Customer ({full}, {company}): We're a registered nonprofit, can we get the nonprofit discount?\n"
     "Agent ({agent}): Yes, 15% off. I just need proof of nonprofit status.\n"
     "Customer: Attached our registration certificate.\n"
     "Agent: Thanks, the discount is applied from your next invoice.",
     "{full} from {company} asked for the nonprofit discount and sent proof of their status, so {agent} applied the 15% discount from the next invoice."),
]


def rewrite_samples(rng: random.Random, polite: int, summaries: int) -> list[dict[str, Any]]:
    out = []
    chosen = [("polite_reply", t) for t in POLITE + rng.sample(POLITE, polite - len(POLITE))]
    chosen += [("summary", t) for t in THREADS + rng.sample(THREADS, summaries - len(THREADS))]
    for task, (source, good) in chosen:
        c = context(rng)
        if task == "polite_reply":
            user = f"Customer: {c['full']} ({c['company']})\nDraft: {source.format(**c)}"
            system = POLITE_SYSTEM
        else:
            user = f"Ticket #{c['ticket']}\n\n{source.format(**c)}"
            system = SUMMARY_SYSTEM
        out.append({
            "input": messages(system, user),
            "reference": good.format(**c),
            "metadata": {"task": task, "customer": c["company"], "received_at": c["received_at"].isoformat()},
        })
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------- code

CODE_SYSTEM = """You are a coding assistant for the Loomwise support-tools team. Reply with one Python code block containing the requested function (and any helpers and imports it needs), standard library only, no explanation."""


def _code(s: str) -> str:
    return textwrap.dedent(s).strip() + "\n"


# (function name, request as the engineer wrote it, solution, plausible buggy solution, tests)
CODE_TASKS: list[tuple[str, str, str, str, str]] = [
    ("parse_log_line",
     "Need a parser for our connector logs. Lines look like `2026-10-06T14:03:22Z level=ERROR service=connect msg=\"sync failed for shop 42\"`: a timestamp, then key=value pairs where a value may be double-quoted and contain spaces. Write `parse_log_line(line: str) -> dict` returning {'ts': <timestamp>, <key>: <value>, ...} with the quotes removed; all values stay strings.",
     r'''
     import re

     _PAIR = re.compile(r'(\w+)=("[^"]*"|\S+)')


     def parse_log_line(line):
         ts, _, rest = line.strip().partition(" ")
         fields = {"ts": ts}
         for key, value in _PAIR.findall(rest):
             fields[key] = value[1:-1] if value.startswith('"') else value
         return fields
     ''',
     r'''
     def parse_log_line(line):
         parts = line.split()
         fields = {"ts": parts[0]}
         for part in parts[1:]:
             if "=" in part:
                 key, value = part.split("=", 1)
                 fields[key] = value.strip('"')
         return fields
     ''',
     r'''
     r = parse_log_line('2026-10-06T14:03:22Z level=ERROR service=connect msg="sync failed for shop 42"')
     assert r == {"ts": "2026-10-06T14:03:22Z", "level": "ERROR", "service": "connect", "msg": "sync failed for shop 42"}, r
     assert parse_log_line("2026-10-06T14:03:23Z level=INFO service=api status=200")["status"] == "200"
     assert parse_log_line('2026-10-06T14:03:24Z level=WARN msg=""')["msg"] == ""
     '''),
    ("normalize_phone",
     "can you write normalize_phone(raw: str) -> str | None for our CRM cleanup? North American numbers only: ignore spaces, dots, dashes, parentheses and a leading +, accept 10 digits or 11 digits starting with 1, and return E.164 like '+14155550182'. Anything else (too short, other country codes) returns None.",
     r'''
     import re


     def normalize_phone(raw):
         digits = re.sub(r"\D", "", raw)
         if len(digits) == 11 and digits.startswith("1"):
             digits = digits[1:]
         if len(digits) != 10:
             return None
         return "+1" + digits
     ''',
     r'''
     import re


     def normalize_phone(raw):
         digits = re.sub(r"\D", "", raw)
         if len(digits) < 10:
             return None
         return "+1" + digits[-10:]
     ''',
     r'''
     assert normalize_phone("(415) 555-0182") == "+14155550182"
     assert normalize_phone("+1 212.555.0147") == "+12125550147"
     assert normalize_phone("1-646-555-0199") == "+16465550199"
     assert normalize_phone("555-0182") is None
     assert normalize_phone("+44 20 7946 0958") is None
     '''),
    ("sla_breach_minutes",
     "For the SLA dashboard: sla_breach_minutes(opened_at: str, responded_at: str, sla_minutes: int) -> int. Both timestamps are ISO 8601 with a UTC offset (the offsets can differ, agents sit in different timezones). Return how many whole minutes the first response came after the SLA ran out, rounded down, or 0 if it was in time.",
     r'''
     from datetime import datetime


     def sla_breach_minutes(opened_at, responded_at, sla_minutes):
         elapsed = datetime.fromisoformat(responded_at) - datetime.fromisoformat(opened_at)
         return max(0, int(elapsed.total_seconds() // 60) - sla_minutes)
     ''',
     r'''
     from datetime import datetime


     def sla_breach_minutes(opened_at, responded_at, sla_minutes):
         opened = datetime.strptime(opened_at[:19], "%Y-%m-%dT%H:%M:%S")
         responded = datetime.strptime(responded_at[:19], "%Y-%m-%dT%H:%M:%S")
         elapsed = (responded - opened).total_seconds() // 60
         return max(0, int(elapsed) - sla_minutes)
     ''',
     r'''
     assert sla_breach_minutes("2026-10-05T09:00:00+00:00", "2026-10-05T09:30:00+00:00", 60) == 0
     assert sla_breach_minutes("2026-10-05T09:00:00+00:00", "2026-10-05T11:15:30+00:00", 60) == 75
     assert sla_breach_minutes("2026-10-05T09:00:00+02:00", "2026-10-05T09:00:00+00:00", 60) == 60
     '''),
    ("dedupe_tickets",
     "We get the same customer opening several tickets. Write dedupe_tickets(tickets: list[dict]) -> list[dict] that keeps only the first ticket per email address, comparing emails case-insensitively and ignoring surrounding whitespace. Keep the original order.",
     r'''
     def dedupe_tickets(tickets):
         seen = {}
         kept = []
         for ticket in tickets:
             key = ticket["email"].strip().lower()
             if key not in seen:
                 seen[key] = True
                 kept.append(ticket)
         return kept
     ''',
     r'''
     def dedupe_tickets(tickets):
         seen = {}
         kept = []
         for ticket in tickets:
             key = ticket["email"].lower()
             if key not in seen:
                 seen[key] = True
                 kept.append(ticket)
         return kept
     ''',
     r'''
     t = [{"id": 1, "email": "Dana@Example.com"}, {"id": 2, "email": "sam@example.com"},
          {"id": 3, "email": " dana@example.com"}, {"id": 4, "email": "SAM@example.com "}]
     assert [x["id"] for x in dedupe_tickets(t)] == [1, 2]
     assert dedupe_tickets([]) == []
     '''),
    ("business_minutes_between",
     "Write business_minutes_between(start: datetime, end: datetime) -> int: the number of whole minutes between two naive datetimes that fall inside business hours, Monday to Friday 09:00-17:00. We use it to pause SLA clocks outside office hours.",
     r'''
     from datetime import datetime, time, timedelta


     def business_minutes_between(start, end):
         total = 0
         day = start.date()
         while day <= end.date():
             if day.weekday() < 5:
                 lo = max(start, datetime.combine(day, time(9)))
                 hi = min(end, datetime.combine(day, time(17)))
                 if hi > lo:
                     total += int((hi - lo).total_seconds() // 60)
             day += timedelta(days=1)
         return total
     ''',
     r'''
     from datetime import datetime, time, timedelta


     def business_minutes_between(start, end):
         total = 0
         day = start.date()
         while day <= end.date():
             lo = max(start, datetime.combine(day, time(9)))
             hi = min(end, datetime.combine(day, time(17)))
             if hi > lo:
                 total += int((hi - lo).total_seconds() // 60)
             day += timedelta(days=1)
         return total
     ''',
     r'''
     from datetime import datetime
     assert business_minutes_between(datetime(2026, 10, 5, 10, 0), datetime(2026, 10, 5, 11, 30)) == 90
     assert business_minutes_between(datetime(2026, 10, 9, 16, 0), datetime(2026, 10, 12, 10, 0)) == 120
     assert business_minutes_between(datetime(2026, 10, 5, 18, 0), datetime(2026, 10, 6, 8, 0)) == 0
     '''),
    ("parse_amount",
     "parse_amount(text: str) -> float please. Customers write amounts like '€1.234,50', '$2,400.00', \"CHF 1'234.50\", '1.234 EUR' or just '980'. Strip currency symbols/codes; a comma or dot followed by exactly 1-2 digits at the end is the decimal separator, any other comma, dot or apostrophe is a thousands separator.",
     r'''
     import re


     def parse_amount(text):
         s = re.sub(r"[^\d,.']", "", text).replace("'", "")
         m = re.search(r"[.,](\d{1,2})$", s)
         if m:
             whole = re.sub(r"[.,]", "", s[: m.start()])
             return float(f"{whole}.{m.group(1)}")
         return float(re.sub(r"[.,]", "", s))
     ''',
     r'''
     import re


     def parse_amount(text):
         s = re.sub(r"[^\d,.]", "", text)
         return float(s.replace(",", ""))
     ''',
     r'''
     assert parse_amount("€1.234,50") == 1234.5
     assert parse_amount("$2,400.00") == 2400.0
     assert parse_amount("CHF 1'234.50") == 1234.5
     assert parse_amount("980") == 980.0
     assert parse_amount("1.234 EUR") == 1234.0
     '''),
    ("mask_email",
     "For screenshots in bug reports we mask emails. mask_email(email: str) -> str: keep the domain, and of the part before the @ keep the first and last character with '***' in between, e.g. dana.okafor@example.com -> d***r@example.com. If the local part is 1 or 2 characters, keep just the first character followed by '***'.",
     r'''
     def mask_email(email):
         local, _, domain = email.rpartition("@")
         masked = local[:1] + "***" if len(local) <= 2 else local[0] + "***" + local[-1]
         return f"{masked}@{domain}"
     ''',
     r'''
     def mask_email(email):
         local, domain = email.split("@")
         return f"{local[0]}***{local[-1]}@{domain}"
     ''',
     r'''
     assert mask_email("dana.okafor@example.com") == "d***r@example.com"
     assert mask_email("jo@example.com") == "j***@example.com"
     assert mask_email("a@example.com") == "a***@example.com"
     '''),
    ("sla_due",
     "sla_due(opened_at: datetime, priority: str) -> datetime: first-response deadline in calendar hours. P1 = 1 hour, P2 = 4 hours, P3 = 8 hours, P4 = 24 hours. Raise ValueError for any other priority so bad data doesn't slip through.",
     r'''
     from datetime import timedelta

     _HOURS = {"P1": 1, "P2": 4, "P3": 8, "P4": 24}


     def sla_due(opened_at, priority):
         if priority not in _HOURS:
             raise ValueError(f"unknown priority {priority!r}")
         return opened_at + timedelta(hours=_HOURS[priority])
     ''',
     r'''
     from datetime import timedelta

     _HOURS = {"P1": 1, "P2": 4, "P3": 8, "P4": 24}


     def sla_due(opened_at, priority):
         return opened_at + timedelta(hours=_HOURS.get(priority))
     ''',
     r'''
     from datetime import datetime
     assert sla_due(datetime(2026, 10, 5, 9, 0), "P1") == datetime(2026, 10, 5, 10, 0)
     assert sla_due(datetime(2026, 10, 5, 9, 0), "P4") == datetime(2026, 10, 6, 9, 0)


     def raises_value_error(*args):
         try:
             sla_due(*args)
         except ValueError:
             return True
         return False


     assert raises_value_error(datetime(2026, 10, 5, 9, 0), "P9")
     '''),
    ("chunk",
     "Our bulk endpoint takes at most 500 ids per call. Write chunk(items: list, size: int) -> list[list] that splits a list into consecutive chunks of `size` (the last one may be shorter).",
     r'''
     def chunk(items, size):
         return [items[i:i + size] for i in range(0, len(items), size)]
     ''',
     r'''
     def chunk(items, size):
         return [items[i:i + size] for i in range(0, len(items) - size + 1, size)]
     ''',
     r'''
     assert chunk([1, 2, 3, 4, 5, 6, 7], 3) == [[1, 2, 3], [4, 5, 6], [7]]
     assert chunk([1, 2, 3], 3) == [[1, 2, 3]]
     assert chunk([], 500) == []
     '''),
    ("extract_order_ids",
     "Write extract_order_ids(text: str) -> list[str] that finds our order numbers in ticket text. Format is ORD- followed by exactly 5 digits; customers sometimes type it lowercase. Return them uppercased, each once, in order of first appearance. Don't match longer digit runs like ORD-123456.",
     r'''
     import re


     def extract_order_ids(text):
         found = []
         for m in re.finditer(r"\bORD-\d{5}\b", text, re.IGNORECASE):
             oid = m.group().upper()
             if oid not in found:
                 found.append(oid)
         return found
     ''',
     r'''
     import re


     def extract_order_ids(text):
         return sorted(set(m.upper() for m in re.findall(r"ORD-\d{5}", text, re.IGNORECASE)))
     ''',
     r'''
     assert extract_order_ids("re ord-10422 and ORD-10399, also ORD-10422 again") == ["ORD-10422", "ORD-10399"]
     assert extract_order_ids("ref ORD-123456 is not ours") == []
     assert extract_order_ids("nothing here") == []
     '''),
    ("verify_webhook_signature",
     "verify_webhook_signature(secret: str, body: bytes, header: str) -> bool. The header looks like 'sha256=<hex digest>' where the digest is HMAC-SHA256 of the raw body with the secret. Use a constant-time comparison; return False for a missing or malformed header.",
     r'''
     import hashlib
     import hmac


     def verify_webhook_signature(secret, body, header):
         prefix = "sha256="
         if not header or not header.startswith(prefix):
             return False
         expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
         return hmac.compare_digest(expected, header[len(prefix):])
     ''',
     r'''
     import hashlib
     import hmac


     def verify_webhook_signature(secret, body, header):
         if not header:
             return False
         expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
         return hmac.compare_digest(expected, header.lstrip("sha256="))
     ''',
     r'''
     import hashlib
     import hmac
     body = b'{"event":"order.updated","id":"evt_0"}'
     sig = "sha256=" + hmac.new(b"whsec_test", body, hashlib.sha256).hexdigest()
     assert verify_webhook_signature("whsec_test", body, sig) is True
     assert verify_webhook_signature("whsec_test", body + b" ", sig) is False
     assert verify_webhook_signature("whsec_test", body, "sha256=deadbeef") is False
     assert verify_webhook_signature("whsec_test", body, "") is False
     '''),
    ("backoff_delays",
     "backoff_delays(base: float, factor: float, attempts: int, cap: float) -> list[float]: the wait before each retry attempt, exponential: base, base*factor, base*factor**2, ... never more than cap. One entry per attempt.",
     r'''
     def backoff_delays(base, factor, attempts, cap):
         return [min(cap, base * factor ** i) for i in range(attempts)]
     ''',
     r'''
     def backoff_delays(base, factor, attempts, cap):
         return [min(cap, base * factor ** i) for i in range(1, attempts + 1)]
     ''',
     r'''
     assert backoff_delays(0.5, 2, 5, 4) == [0.5, 1.0, 2.0, 4.0, 4.0]
     assert backoff_delays(1, 3, 3, 100) == [1, 3, 9]
     assert backoff_delays(1, 2, 0, 10) == []
     '''),
    ("parse_duration",
     "Agents type snooze durations like '1h30m', '45s', '2h' or '1h 5m 10s'. Write parse_duration(s: str) -> int returning seconds. Raise ValueError if the string has no valid h/m/s parts.",
     r'''
     import re


     def parse_duration(s):
         parts = re.findall(r"(\d+)\s*([hms])", s.lower())
         if not parts:
             raise ValueError(f"not a duration: {s!r}")
         unit = {"h": 3600, "m": 60, "s": 1}
         return sum(int(n) * unit[u] for n, u in parts)
     ''',
     r'''
     import re


     def parse_duration(s):
         m = re.search(r"(\d+)\s*([hms])", s.lower())
         if not m:
             raise ValueError(f"not a duration: {s!r}")
         return int(m.group(1)) * {"h": 3600, "m": 60, "s": 1}[m.group(2)]
     ''',
     r'''
     assert parse_duration("45s") == 45
     assert parse_duration("1h30m") == 5400
     assert parse_duration("1h 5m 10s") == 3910


     def raises_value_error(text):
         try:
             parse_duration(text)
         except ValueError:
             return True
         return False


     assert raises_value_error("soon")
     '''),
    ("add_business_days",
     "add_business_days(start: date, days: int, holidays=()) -> date. Skip Saturdays, Sundays and any date in `holidays`. days=0 returns start unchanged. We use it to promise refund dates.",
     r'''
     from datetime import timedelta


     def add_business_days(start, days, holidays=()):
         current = start
         remaining = days
         while remaining > 0:
             current += timedelta(days=1)
             if current.weekday() < 5 and current not in holidays:
                 remaining -= 1
         return current
     ''',
     r'''
     from datetime import timedelta


     def add_business_days(start, days, holidays=()):
         current = start
         remaining = days
         while remaining > 0:
             current += timedelta(days=1)
             if current.weekday() < 5:
                 remaining -= 1
         return current
     ''',
     r'''
     from datetime import date
     assert add_business_days(date(2026, 10, 9), 1) == date(2026, 10, 12)
     assert add_business_days(date(2026, 10, 5), 3, holidays=[date(2026, 10, 6)]) == date(2026, 10, 9)
     assert add_business_days(date(2026, 10, 5), 0) == date(2026, 10, 5)
     '''),
    ("redact_card_numbers",
     "Customers paste card numbers into tickets. Write redact_card_numbers(text: str) -> str that replaces every 13-19 digit number (digits may be grouped with spaces or dashes) that passes the Luhn check with '[CARD]'. Numbers failing Luhn (tracking numbers etc.) must stay as they are.",
     r'''
     import re

     _CANDIDATE = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")


     def _luhn_ok(digits):
         total = 0
         for i, ch in enumerate(reversed(digits)):
             d = int(ch)
             if i % 2 == 1:
                 d *= 2
                 if d > 9:
                     d -= 9
             total += d
         return total % 10 == 0


     def redact_card_numbers(text):
         def replace(m):
             return "[CARD]" if _luhn_ok(re.sub(r"\D", "", m.group())) else m.group()

         return _CANDIDATE.sub(replace, text)
     ''',
     r'''
     import re


     def redact_card_numbers(text):
         return re.sub(r"\b\d(?:[ -]?\d){12,18}\b", "[CARD]", text)
     ''',
     r'''
     assert redact_card_numbers("card 4242 4242 4242 4242 exp 12/28") == "card [CARD] exp 12/28"
     assert redact_card_numbers("try 4111-1111-1111-1111 instead") == "try [CARD] instead"
     assert redact_card_numbers("tracking 1234567812345678") == "tracking 1234567812345678"
     assert redact_card_numbers("order ORD-10422") == "order ORD-10422"
     '''),
    ("top_skus",
     "top_skus(lines: list[tuple[str, int]], n: int) -> list[tuple[str, int]]: lines are (sku, quantity) order lines, a SKU can appear many times. Return the n SKUs with the highest total quantity as (sku, total), highest first; break ties alphabetically by SKU so the report is stable.",
     r'''
     def top_skus(lines, n):
         totals = {}
         for sku, qty in lines:
             totals[sku] = totals.get(sku, 0) + qty
         return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:n]
     ''',
     r'''
     def top_skus(lines, n):
         totals = {}
         for sku, qty in lines:
             totals[sku] = totals.get(sku, 0) + qty
         return sorted(totals.items(), key=lambda kv: kv[1], reverse=True)[:n]
     ''',
     r'''
     lines = [("TEE-01", 5), ("MUG-02", 3), ("MUG-01", 4), ("MUG-02", 2), ("BOX-09", 1)]
     assert top_skus(lines, 2) == [("MUG-02", 5), ("TEE-01", 5)]
     assert top_skus(lines, 10)[-1] == ("BOX-09", 1)
     assert top_skus([], 3) == []
     '''),
    ("truncate_message",
     "For SMS notifications: truncate_message(text: str, limit: int) -> str. Return text unchanged if it fits. Otherwise cut at a word boundary so that the result including a trailing '…' is at most `limit` characters (strip trailing spaces before the '…'). If not even the first word fits, hard-cut it.",
     r'''
     def truncate_message(text, limit):
         if len(text) <= limit:
             return text
         cut = text[: limit - 1]
         if text[limit - 1] != " " and " " in cut:
             cut = cut[: cut.rfind(" ")]
         return cut.rstrip() + "…"
     ''',
     r'''
     def truncate_message(text, limit):
         if len(text) <= limit:
             return text
         cut = text[:limit]
         if " " in cut:
             cut = cut[: cut.rfind(" ")]
         return cut.rstrip() + "…"
     ''',
     r'''
     msg = "Your order ORD-10422 has shipped and will arrive Thursday"
     assert truncate_message(msg, 100) == msg
     assert truncate_message(msg, 30) == "Your order ORD-10422 has…"
     assert truncate_message(msg, 25) == "Your order ORD-10422 has…"
     assert truncate_message("Supercalifragilistic", 8) == "Superca…"
     '''),
    ("read_order_csv",
     "read_order_csv(text: str) -> list[dict]: parse a CSV export with a header row customer,order_id,qty into dicts, converting qty to int. Customer names can contain commas, in which case they're double-quoted.",
     r'''
     import csv
     import io


     def read_order_csv(text):
         rows = []
         for row in csv.DictReader(io.StringIO(text)):
             row["qty"] = int(row["qty"])
             rows.append(row)
         return rows
     ''',
     r'''
     def read_order_csv(text):
         lines = text.strip().splitlines()
         header = lines[0].split(",")
         rows = []
         for line in lines[1:]:
             row = dict(zip(header, line.split(",")))
             row["qty"] = int(row["qty"])
             rows.append(row)
         return rows
     ''',
     r'''
     text = 'customer,order_id,qty\nHollowell Hardware,ORD-10001,3\n"Alder & Finch, Inc.",ORD-10002,12\n'
     assert read_order_csv(text) == [
         {"customer": "Hollowell Hardware", "order_id": "ORD-10001", "qty": 3},
         {"customer": "Alder & Finch, Inc.", "order_id": "ORD-10002", "qty": 12},
     ]
     assert read_order_csv("customer,order_id,qty\n") == []
     '''),
    ("percentile",
     "percentile(values: list[float], p: float) -> float for response-time reports, with linear interpolation between closest ranks (same as numpy's default), p from 0 to 100. Don't pull in numpy for this.",
     r'''
     def percentile(values, p):
         ordered = sorted(values)
         pos = (len(ordered) - 1) * p / 100
         lo = int(pos)
         hi = min(lo + 1, len(ordered) - 1)
         return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
     ''',
     r'''
     def percentile(values, p):
         ordered = sorted(values)
         return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]
     ''',
     r'''
     assert percentile([1, 2, 3, 4], 50) == 2.5
     assert percentile([10], 95) == 10
     assert abs(percentile([15, 20, 35, 40, 50], 40) - 29.0) < 1e-9
     assert percentile([5, 1, 3], 100) == 5
     '''),
    ("company_slug",
     "company_slug(name: str) -> str to build subdomains from customer names: lowercase, accents removed (Lumière -> lumiere), every run of other non-alphanumeric characters becomes a single '-', no leading or trailing '-'. 'Alder & Finch Interiors' -> 'alder-finch-interiors'.",
     r'''
     import re
     import unicodedata


     def company_slug(name):
         ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
         return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
     ''',
     r'''
     import re


     def company_slug(name):
         return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
     ''',
     r'''
     assert company_slug("Alder & Finch Interiors") == "alder-finch-interiors"
     assert company_slug("Lumière Cosmetics SAS") == "lumiere-cosmetics-sas"
     assert company_slug("  Saltbox Apparel Co. ") == "saltbox-apparel-co"
     '''),
    ("downtime_minutes",
     "Incident windows overlap when several monitors fire. downtime_minutes(windows: list[tuple[int, int]]) -> int: each window is (start_minute, end_minute), end exclusive; return the total number of minutes covered by at least one window.",
     r'''
     def downtime_minutes(windows):
         total = 0
         current_start = current_end = None
         for start, end in sorted(windows):
             if current_end is None or start > current_end:
                 if current_end is not None:
                     total += current_end - current_start
                 current_start, current_end = start, end
             else:
                 current_end = max(current_end, end)
         if current_end is not None:
             total += current_end - current_start
         return total
     ''',
     r'''
     def downtime_minutes(windows):
         return sum(end - start for start, end in windows)
     ''',
     r'''
     assert downtime_minutes([(0, 10), (5, 20), (30, 35)]) == 25
     assert downtime_minutes([(100, 110), (0, 5)]) == 15
     assert downtime_minutes([(0, 10), (10, 15)]) == 15
     assert downtime_minutes([]) == 0
     '''),
    ("next_invoice_date",
     "next_invoice_date(d: date) -> date: invoices go out on the 1st, so return the first day of the month after d.",
     r'''
     from datetime import date


     def next_invoice_date(d):
         if d.month == 12:
             return date(d.year + 1, 1, 1)
         return date(d.year, d.month + 1, 1)
     ''',
     r'''
     from datetime import date


     def next_invoice_date(d):
         return date(d.year, d.month + 1, 1)
     ''',
     r'''
     from datetime import date
     assert next_invoice_date(date(2026, 1, 31)) == date(2026, 2, 1)
     assert next_invoice_date(date(2026, 10, 1)) == date(2026, 11, 1)
     assert next_invoice_date(date(2026, 12, 15)) == date(2027, 1, 1)
     '''),
    ("TokenBucket",
     "I need a tiny rate limiter for our Zendesk sync: class TokenBucket(rate: float, capacity: int) with allow(now: float) -> bool. It starts full, refills `rate` tokens per second up to `capacity`, and allow() takes one token if available. `now` is passed in (seconds) so it's testable.",
     r'''
     class TokenBucket:
         def __init__(self, rate, capacity):
             self.rate = rate
             self.capacity = capacity
             self.tokens = float(capacity)
             self.last = None

         def allow(self, now):
             if self.last is not None:
                 self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
             self.last = now
             if self.tokens >= 1:
                 self.tokens -= 1
                 return True
             return False
     ''',
     r'''
     class TokenBucket:
         def __init__(self, rate, capacity):
             self.rate = rate
             self.capacity = capacity
             self.tokens = float(capacity)
             self.last = None

         def allow(self, now):
             if self.last is not None:
                 self.tokens += (now - self.last) * self.rate
             self.last = now
             if self.tokens >= 1:
                 self.tokens -= 1
                 return True
             return False
     ''',
     r'''
     b = TokenBucket(rate=1, capacity=2)
     assert [b.allow(0), b.allow(0), b.allow(0)] == [True, True, False]
     assert b.allow(1) is True
     assert [b.allow(10), b.allow(10), b.allow(10)] == [True, True, False]
     '''),
    ("age_bucket",
     "age_bucket(hours: float) -> str for the backlog chart: '<4h' below 4 hours, '4-24h' from 4 up to (not including) 24, '1-3d' from 24 up to (not including) 72, '>3d' from 72 on.",
     r'''
     def age_bucket(hours):
         if hours < 4:
             return "<4h"
         if hours < 24:
             return "4-24h"
         if hours < 72:
             return "1-3d"
         return ">3d"
     ''',
     r'''
     def age_bucket(hours):
         if hours <= 4:
             return "<4h"
         if hours <= 24:
             return "4-24h"
         if hours <= 72:
             return "1-3d"
         return ">3d"
     ''',
     r'''
     assert age_bucket(0.5) == "<4h"
     assert age_bucket(4) == "4-24h"
     assert age_bucket(24) == "1-3d"
     assert age_bucket(71.9) == "1-3d"
     assert age_bucket(72) == ">3d"
     '''),
    ("flatten",
     "flatten(d: dict, sep: str = '.') -> dict: flatten nested dicts from our webhook payloads into dotted keys, any depth. Lists and other values are kept as they are. {'a': {'b': {'c': 1}}} -> {'a.b.c': 1}.",
     r'''
     def flatten(d, sep=".", _prefix=""):
         flat = {}
         for key, value in d.items():
             name = f"{_prefix}{sep}{key}" if _prefix else str(key)
             if isinstance(value, dict) and value:
                 flat.update(flatten(value, sep, name))
             else:
                 flat[name] = value
         return flat
     ''',
     r'''
     def flatten(d, sep="."):
         flat = {}
         for key, value in d.items():
             if isinstance(value, dict):
                 for sub, v in value.items():
                     flat[f"{key}{sep}{sub}"] = v
             else:
                 flat[key] = value
         return flat
     ''',
     r'''
     assert flatten({"a": {"b": {"c": 1}}, "d": 2}) == {"a.b.c": 1, "d": 2}
     assert flatten({"order": {"id": "ORD-1", "lines": [1, 2]}}, sep="/") == {"order/id": "ORD-1", "order/lines": [1, 2]}
     assert flatten({}) == {}
     '''),
    ("stock_changes",
     "stock_changes(before: dict[str, int], after: dict[str, int]) -> dict[str, int]: per SKU, after minus before, for the nightly stock diff email. A SKU missing on one side counts as 0 there. Leave out SKUs that didn't change.",
     r'''
     def stock_changes(before, after):
         changes = {}
         for sku in list(before) + [s for s in after if s not in before]:
             delta = after.get(sku, 0) - before.get(sku, 0)
             if delta:
                 changes[sku] = delta
         return changes
     ''',
     r'''
     def stock_changes(before, after):
         changes = {}
         for sku in before:
             delta = after.get(sku, 0) - before[sku]
             if delta:
                 changes[sku] = delta
         return changes
     ''',
     r'''
     assert stock_changes({"A": 5, "B": 3, "C": 1}, {"A": 5, "B": 1, "D": 4}) == {"B": -2, "C": -1, "D": 4}
     assert stock_changes({}, {}) == {}
     '''),
    ("mask_api_key",
     "mask_api_key(key: str) -> str for the admin audit page: keep the 'lw_live_' or 'lw_test_' prefix and the last 4 characters, replace everything between with the same number of '*' so the length doesn't change. Keys without one of those prefixes: keep only the last 4 and star the rest.",
     r'''
     def mask_api_key(key):
         prefix = next((p for p in ("lw_live_", "lw_test_") if key.startswith(p)), "")
         middle = len(key) - len(prefix) - 4
         return prefix + "*" * max(middle, 0) + key[len(prefix):][-4:]
     ''',
     r'''
     def mask_api_key(key):
         prefix = key[:8]
         return prefix + "********" + key[-4:]
     ''',
     r'''
     assert mask_api_key("lw_live_9f8e7d6c5b4aa1b2") == "lw_live_************a1b2"
     assert mask_api_key("lw_test_abcd1234") == "lw_test_****1234"
     assert mask_api_key("sk_other_key_5678") == "*************5678"
     '''),
    ("split_name",
     "split_name(full: str) -> tuple[str, str] for CRM imports: the last word is the last name, except that particles (van, von, de, der, da, del, la, le, di) directly before it belong to the last name too. 'Anna van der Berg' -> ('Anna', 'van der Berg'). A single word is (word, '').",
     r'''
     _PARTICLES = ("van", "von", "de", "der", "da", "del", "la", "le", "di")


     def split_name(full):
         words = full.split()
         if len(words) < 2:
             return (full.strip(), "")
         i = len(words) - 1
         while i > 1 and words[i - 1].lower() in _PARTICLES:
             i -= 1
         return (" ".join(words[:i]), " ".join(words[i:]))
     ''',
     r'''
     def split_name(full):
         first, _, last = full.strip().partition(" ")
         return (first, last)
     ''',
     r'''
     assert split_name("Anna van der Berg") == ("Anna", "van der Berg")
     assert split_name("María José García") == ("María José", "García")
     assert split_name("Dana Okafor") == ("Dana", "Okafor")
     assert split_name("Cher") == ("Cher", "")
     '''),
    ("current_status_counts",
     "current_status_counts(events: list[tuple[str, str, str]]) -> dict[str, int]. Events are (ticket_id, status, iso_timestamp) from our event log, NOT sorted. Work out each ticket's latest status by timestamp and count tickets per current status.",
     r'''
     def current_status_counts(events):
         latest = {}
         for ticket, status, ts in events:
             if ticket not in latest or ts > latest[ticket][0]:
                 latest[ticket] = (ts, status)
         counts = {}
         for _, status in latest.values():
             counts[status] = counts.get(status, 0) + 1
         return counts
     ''',
     r'''
     def current_status_counts(events):
         latest = {}
         for ticket, status, ts in events:
             latest[ticket] = status
         counts = {}
         for status in latest.values():
             counts[status] = counts.get(status, 0) + 1
         return counts
     ''',
     r'''
     events = [
         ("T1", "open", "2026-10-05T09:00:00Z"),
         ("T1", "solved", "2026-10-05T12:00:00Z"),
         ("T2", "pending", "2026-10-06T10:00:00Z"),
         ("T2", "open", "2026-10-06T08:00:00Z"),
         ("T3", "open", "2026-10-06T11:00:00Z"),
     ]
     assert current_status_counts(events) == {"solved": 1, "pending": 1, "open": 1}
     assert current_status_counts([]) == {}
     '''),
    ("render_macro",
     "Our reply macros use placeholders like {{ first_name }} or {{order_id}} (spaces inside the braces optional). Write render_macro(template: str, values: dict) -> str that fills them in; placeholders without a value stay exactly as written.",
     r'''
     import re


     def render_macro(template, values):
         def fill(m):
             key = m.group(1)
             return str(values[key]) if key in values else m.group(0)

         return re.sub(r"\{\{\s*(\w+)\s*\}\}", fill, template)
     ''',
     r'''
     def render_macro(template, values):
         for key, value in values.items():
             template = template.replace("{{" + key + "}}", str(value))
         return template
     ''',
     r'''
     t = "Hi {{ first_name }}, order {{order_id}} ships {{ ship_day }}."
     assert render_macro(t, {"first_name": "Dana", "order_id": "ORD-10422"}) == "Hi Dana, order ORD-10422 ships {{ ship_day }}."
     assert render_macro("no placeholders", {"x": 1}) == "no placeholders"
     '''),
]

CODE_LEADS = ["", "", "Hey! ", "Small one: ", "For the support-tools repo: ", "Could you help with this? "]


def code_samples(rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for name, request, solution, wrong, tests in CODE_TASKS:
        out.append({
            "input": messages(CODE_SYSTEM, rng.choice(CODE_LEADS) + request),
            "reference": {"solution": _code(solution), "wrong_solution": _code(wrong), "tests": _code(tests)},
            "metadata": {"function": name, "received_at": timestamp(rng).isoformat()},
        })
    rng.shuffle(out)
    return out



# ---------------------------------------------------------------- agent (tool calls)

AGENT_SYSTEM = """You are Loomwise's support operations agent. Use the tools to look up orders and stock, refund orders within policy (damaged, late or lost orders, up to the amount paid) and update tickets. Call a tool instead of guessing, and make independent lookups in parallel."""

WAREHOUSE_CODES = {"Leeds DC": "LDS", "the Reno warehouse": "RNO", "our Dayton site": "DAY", "the Rotterdam hub": "RTM"}
REFUND_REASONS = ["damaged", "late", "lost", "duplicate_charge", "other"]
AGENT_TOOLS = [
    {"type": "function", "function": {
        "name": "get_order",
        "description": "Look up an order: status, carrier, amount paid and currency.",
        "parameters": {"type": "object", "properties": {"order_id": {"type": "string", "pattern": "^ORD-[0-9]{5}$"}},
                       "required": ["order_id"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "check_stock",
        "description": "Units on hand of one SKU, in one warehouse or (without one) in all of them.",
        "parameters": {"type": "object", "properties": {"sku": {"type": "string"},
                                                        "warehouse": {"type": "string", "enum": sorted(set(WAREHOUSE_CODES.values()))}},
                       "required": ["sku"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "issue_refund",
        "description": "Refund (part of) an order to the customer's original payment method.",
        "parameters": {"type": "object", "properties": {
            "order_id": {"type": "string", "pattern": "^ORD-[0-9]{5}$"},
            "amount": {"type": "number", "exclusiveMinimum": 0},
            "currency": {"type": "string", "enum": ["AUD", "CAD", "CHF", "EUR", "GBP", "USD"]},
            "reason": {"type": "string", "enum": REFUND_REASONS}},
            "required": ["order_id", "amount", "currency", "reason"], "additionalProperties": False}}},
    {"type": "function", "function": {
        "name": "update_ticket",
        "description": "Set a ticket's status, with an optional internal note.",
        "parameters": {"type": "object", "properties": {"ticket_id": {"type": "integer"},
                                                        "status": {"type": "string", "enum": ["open", "pending", "solved"]},
                                                        "note": {"type": "string"}},
                       "required": ["ticket_id", "status"], "additionalProperties": False}}},
]

AGENT_LOOKUP = [
    "{full} from {company} is asking where {order} is. Can you check?",
    "Where's order {order}? {first} at {company} says it hasn't moved since {weekday}.",
    "Customer on the phone ({company}): status of {order} please",
    "{first} wants to know if {order} shipped yet, what do we have?",
]
AGENT_STOCK = [
    "Do we have {sku} and {sku2} in stock at {warehouse}? {first} from {company} wants to reorder both.",
    "{company} asks about stock for {sku} and {sku2} in {warehouse}, can you check both?",
    "Check {warehouse} for {sku} and {sku2} please, {first} is waiting on the phone.",
]
AGENT_REFUND = [
    ("{first}'s order {order} from {company} arrived damaged. Refund the {amount} they paid.", "damaged"),
    ("{company} was charged twice for {order}; refund the duplicate charge of {amount}.", "duplicate_charge"),
    ("{order} arrived nine days late and {full} asked for their money back: refund {amount}.", "late"),
]
AGENT_CLOSE = [
    "Ticket #{ticket}: {first} confirmed the {integration} sync works again, please close it.",
    "#{ticket} can be marked solved, {company} says the invoice issue is fixed.",
    "Close ticket {ticket} for {full}, they're happy with the workaround.",
]
AGENT_LOST = [
    "{full} says {order} never arrived. If it's lost in transit, refund them.",
    "{company}: order {order} is missing. Look it up and refund it if the carrier lost it.",
]


def _fn_call(call_id: str, name: str, **arguments: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(arguments, ensure_ascii=False)}}


def agent_samples(rng: random.Random) -> list[dict[str, Any]]:
    """Tool-using requests: one lookup, parallel stock checks, refunds with typed arguments,
    a forced ticket update (its optional note left out of the reference), and a conversation
    that carries a tool result into the next call."""
    out = []

    def add(user: str, calls: list[dict[str, Any]], c: dict[str, Any], kind: str, history: list[dict[str, Any]] | None = None,
            tool_choice: Any = "auto") -> None:
        out.append({
            "input": [{"role": "system", "content": AGENT_SYSTEM}, {"role": "user", "content": user}, *(history or [])],
            "reference": calls,
            "request": {"tools": AGENT_TOOLS, "tool_choice": tool_choice, "max_tokens": 512},
            "metadata": {"kind": kind, "customer": c["company"], "received_at": c["received_at"].isoformat()},
        })

    for template in AGENT_LOOKUP + AGENT_LOOKUP[:2]:
        c = context(rng)
        add(template.format(**c), [_fn_call("call_1", "get_order", order_id=c["order"])], c, "lookup")
    for template in AGENT_STOCK + AGENT_STOCK[:2]:
        c = context(rng)
        c["sku2"] = c["sku"].rsplit("-", 1)[0] + f"-{rng.randrange(60, 99):02d}"
        code = rng.choice(list(WAREHOUSE_CODES))
        c["warehouse"] = code
        where = WAREHOUSE_CODES[code]
        add(template.format(**c), [_fn_call("call_1", "check_stock", sku=c["sku"], warehouse=where),
                                   _fn_call("call_2", "check_stock", sku=c["sku2"], warehouse=where)], c, "parallel_stock")
    for template, reason in AGENT_REFUND + AGENT_REFUND[:2]:
        c = context(rng)
        paid = Decimal(rng.randrange(1500, 90000)) / 100
        c["amount"] = money(paid, c["currency"], rng)
        add(template.format(**c), [_fn_call("call_1", "issue_refund", order_id=c["order"], amount=float(paid), currency=c["currency"], reason=reason)], c, "refund")
    for template in AGENT_CLOSE + AGENT_CLOSE[:1]:
        c = context(rng)
        add(template.format(**c), [_fn_call("call_1", "update_ticket", ticket_id=c["ticket"], status="solved")], c, "close_ticket",
            tool_choice={"type": "function", "function": {"name": "update_ticket"}})
    for template in AGENT_LOST + AGENT_LOST:
        c = context(rng)
        paid = Decimal(rng.randrange(1500, 90000)) / 100
        lookup = _fn_call(f"call_{_fake_token(rng, 8)}", "get_order", order_id=c["order"])
        result = {"order_id": c["order"], "status": "lost_in_transit", "carrier": rng.choice(["DHL", "UPS", "DPD", "FedEx"]),
                  "paid": float(paid), "currency": c["currency"]}
        history = [{"role": "assistant", "content": "", "tool_calls": [lookup]},
                   {"role": "tool", "tool_call_id": lookup["id"], "content": json.dumps(result)}]
        add(template.format(**c), [_fn_call("call_2", "issue_refund", order_id=c["order"], amount=float(paid), currency=c["currency"], reason="lost")],
            c, "refund_after_lookup", history)
    rng.shuffle(out)
    return out


# ---------------------------------------------------------------- structured (response_format json_schema)

STRUCTURED_SYSTEM = """Read the customer's message and fill in the support dashboard's fields: sentiment, urgency, and whether they ask for a refund."""
STRUCTURED_SCHEMA = {
    "type": "object",
    "properties": {
        "sentiment": {"type": "string", "enum": ["positive", "neutral", "negative"]},
        "urgency": {"type": "string", "enum": ["low", "normal", "high"]},
        "wants_refund": {"type": "boolean"},
    },
    "required": ["sentiment", "urgency", "wants_refund"],
    "additionalProperties": False,
}
STRUCTURED_MESSAGES = [
    ("Our whole warehouse team is locked out and we ship at 2pm. Fix this NOW.", "negative", "high", False),
    ("Thanks {first}, the {integration} sync has been perfect since the update!", "positive", "low", False),
    ("We were billed for {seats} seats but only use {seats_less}. Please refund the difference.", "negative", "normal", True),
    ("Quick question: can we export {last_month}'s orders as CSV?", "neutral", "low", False),
    ("Order {order} arrived broken for the second time. I want my money back today.", "negative", "high", True),
    ("Love the new picking screen, {agent} walked us through it and it's great.", "positive", "low", False),
    ("Invoice {invoice} shows the wrong VAT number, could you reissue it when you get a chance?", "neutral", "normal", False),
    ("Checkout is down on our store since {time} and we're losing sales every minute.", "negative", "high", False),
]


def structured_samples(rng: random.Random) -> list[dict[str, Any]]:
    """Requests that ask for JSON against a schema (response_format json_schema, strict)."""
    out = []
    for template, sentiment, urgency, refund in STRUCTURED_MESSAGES + STRUCTURED_MESSAGES:
        c = context(rng)
        user = f"From {c['full']} ({c['company']}):\n\n{template.format(**c)}"
        if rng.random() < 0.3:
            user = add_typos(user, rng, 1)
        out.append({
            "input": messages(STRUCTURED_SYSTEM, user),
            "reference": {"sentiment": sentiment, "urgency": urgency, "wants_refund": refund},
            "request": {"response_format": {"type": "json_schema", "json_schema": {"name": "ticket_fields", "schema": STRUCTURED_SCHEMA, "strict": True}},
                        "max_tokens": 256},
            "metadata": {"received_at": c["received_at"].isoformat()},
        })
    rng.shuffle(out)
    return out

# ---------------------------------------------------------------- assembly and self-check


def build() -> list[dict[str, Any]]:
    """All samples, in a deterministic interleaved order like a day's real traffic."""
    rng = random.Random(SEED)
    by_category = {
        "triage": triage_samples(rng, 70),
        "extract": extract_samples(rng, 50),
        "factual": factual_samples(rng),
        "rewrite": rewrite_samples(rng, polite=26, summaries=14),
        "code": code_samples(rng),
    }
    # Agent traffic draws from its own streams, so the categories above stay as they were.
    by_category["agent"] = agent_samples(random.Random(f"{SEED}-agent"))
    by_category["structured"] = structured_samples(random.Random(f"{SEED}-structured"))
    samples = []
    for category, items in by_category.items():
        for n, item in enumerate(items, start=1):
            samples.append({
                "id": f"{category}-{n:03d}",
                "input": item["input"],
                "reference": item["reference"],
                "category": category,
                "metadata": {"source": SOURCE, **item["metadata"]},
                **({"request": item["request"]} if "request" in item else {}),
            })
    samples.sort(key=lambda s: s["metadata"]["received_at"])
    return samples


def run_python(code: str, timeout_s: float = 10.0) -> bool:
    """True when `code` exits 0 in a fresh, isolated interpreter within the timeout."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "check.py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        try:
            proc = subprocess.run([sys.executable, "-I", path], cwd=tmp, capture_output=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return proc.returncode == 0


TEST_SETUP = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.Assign)
"""Besides asserts, what a code sample's tests may hold: the code_tests scorer
counts each top-level assert as one test, and any other statement is setup
whose failure would not be counted as a failed test."""


def self_check(samples: list[dict[str, Any]]) -> list[str]:
    """Problems that would make the example grade wrongly; empty when all is well."""
    problems = []
    ids = [s["id"] for s in samples]
    if len(ids) != len(dict.fromkeys(ids)):
        problems.append("duplicate sample ids")
    for s in samples:
        if s["category"] != "code":
            continue
        ref = s["reference"]
        body = ast.parse(ref["tests"]).body
        if sum(isinstance(n, ast.Assert) for n in body) < 2 or not all(isinstance(n, (ast.Assert, *TEST_SETUP)) for n in body):
            problems.append(f"{s['id']} ({s['metadata']['function']}): tests must be top-level asserts (plus imports, defs, assignments)")
        if not run_python(ref["solution"] + "\n\n" + ref["tests"]):
            problems.append(f"{s['id']} ({s['metadata']['function']}): solution fails its tests")
        if run_python(ref["wrong_solution"] + "\n\n" + ref["tests"]):
            problems.append(f"{s['id']} ({s['metadata']['function']}): wrong_solution passes its tests")
    return problems


# ---------------------------------------------------------------- the gateway's log

GATEWAY_MODELS = {"claude-sonnet-4-5": "claude-sonnet-4-5-20250929", "gpt-5": "gpt-5-2025-08-07"}
"""Requested model -> the model the response names. Most traffic goes to Claude; gpt-5 is on a trial."""
WEEK_END = WEEK_START + timedelta(days=7)


def answer_text(sample: dict[str, Any]) -> str:
    """The reference as the model's answer: a label, a JSON object, a short phrase, a reply, or fenced code."""
    ref = sample["reference"]
    if sample["category"] == "code":
        return f"```python\n{ref['solution']}```"
    if isinstance(ref, dict):
        return json.dumps(ref, ensure_ascii=False)
    return ref


def tokens(text: str, rng: random.Random) -> int:
    """About 4 characters a token, as tokenisers give on English text, never exactly."""
    return max(1, round(len(text) / 4 * rng.uniform(0.9, 1.1)))


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _fake_token(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789") for _ in range(n))


def pasted_secrets(rng: random.Random) -> dict[str, list[str]]:
    """What customers paste into tickets although they should not, by the ticket label it fits.

    All fictional, and assembled from pieces so that no secret scanner mistakes this file
    for a leak: a Stripe test card, the IBAN of the ECBS specification's example, AWS's
    documentation key pair, a random Loomwise key, xkcd's password, a TEST-NET address.
    """
    card = " ".join(["4000", "0566", "5566", "5556"])
    iban = " ".join(["GB33", "BUKB", "2020", "1555", "5555", "55"])
    aws_id = "AKIA" + "IOSFODNN7" + "EXAMPLE"
    aws_secret = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCY" + "EXAMPLEKEY"
    lw_key = "lw_" + "live_" + _fake_token(rng, 32)
    return {
        "billing": [
            f"PS: please use our new company card from now on: {card}, exp 09/28, CVC 123.",
            f"Our bank details, in case you need them for a credit note: IBAN {iban}, Brightline Bank.",
        ],
        "bug": [
            f"Here's the call our script makes, in case it helps:\ncurl -H \"Authorization: Bearer {lw_key}\" https://api.loomwise.example.com/v2/orders",
            f"Our S3 export settings: access key {aws_id}, secret {aws_secret}, bucket loomwise-exports.",
        ],
        "account_access": ["You can log in as me to check, my password is Tr0ub4dor&3"],
        "outage": ["Our side looks fine, the store server at 203.0.113.42 can reach everything else."],
    }


def _request(sample: dict[str, Any], messages: list[dict[str, str]], model: str) -> dict[str, Any]:
    meta = {"category": sample["category"], "task_id": sample["id"]}
    if sample["category"] == "code":
        meta["tests"] = sample["reference"]["tests"]  # the IDE plugin sends the tests of the function it asks for
    return {"model": model, "messages": messages, "max_tokens": 1024, "metadata": meta}


def _response(rng: random.Random, model: str, when: datetime, prompt: list[dict[str, str]], text: str,
              finish: str = "stop") -> dict[str, Any]:
    prompt_tokens = sum(tokens(m["content"], rng) + 4 for m in prompt) + 3
    completion = tokens(text, rng)
    return {
        "id": "chatcmpl-" + _fake_token(rng, 24),
        "object": "chat.completion",
        "created": int(when.timestamp()),
        "model": GATEWAY_MODELS[model],
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion, "total_tokens": prompt_tokens + completion},
    }


def _line(when: datetime, request: dict[str, Any], response: Any, **extra: Any) -> dict[str, Any]:
    return {"timestamp": _iso(when), "request": request, "response": response, **extra}


def _later(rng: random.Random, when: datetime) -> datetime:
    """A repeat of a request: minutes to two days later, within the logged week."""
    later = when + timedelta(minutes=rng.randrange(3, 60 * 48))
    return later if later < WEEK_END else when + (WEEK_END - when) / 2


def _near_copy(user: str, rng: random.Random) -> str:
    """The same text sent again with a word added: the kind of repeat near-duplicate detection exists for."""
    return user + rng.choice([" thx", " pls", "\n\nthanks!", " (urgent)", "\n\nAny update?"])


def traffic_log(samples: list[dict[str, Any]]) -> list[str]:
    """The gateway's log lines for the week, in time order: one answered request per sample, plus noise.

    Noise: 16 exact repeats, 12 near repeats (long tickets and documents sent again with a
    word added: a short prompt edited is another task), 6 failed attempts each followed by a successful retry of the same request (502,
    429, a timeout and a truncated answer), secrets pasted into 6 tickets, and 2 broken lines.
    """
    rng = random.Random(f"{SEED}-traffic")
    by_id = {s["id"]: s for s in samples}
    ids = [s["id"] for s in samples if "request" not in s]  # agent traffic is logged below, from its own stream
    events: list[tuple[datetime, int, dict[str, Any]]] = []

    def add(when: datetime, line: dict[str, Any]) -> None:
        events.append((when, len(events), line))

    # Secrets pasted into tickets: one per snippet, into a ticket with a fitting label.
    triage_by_label: dict[str, list[str]] = {}
    for s in samples:
        if s["category"] == "triage":
            triage_by_label.setdefault(s["reference"], []).append(s["id"])
    prompts = {s["id"]: [dict(m) for m in s["input"]] for s in samples}
    for label, snippets in pasted_secrets(rng).items():
        for sid, snippet in zip(rng.sample(triage_by_label[label], len(snippets)), snippets):
            user = prompts[sid][-1]
            user["content"] = user["content"] + "\n\n" + snippet

    models = {sid: "gpt-5" if rng.random() < 0.15 else "claude-sonnet-4-5" for sid in ids}
    daytime = [sid for sid in ids if 7 <= datetime.fromisoformat(by_id[sid]["metadata"]["received_at"]).hour < 20]
    retried = rng.sample([sid for sid in daytime if by_id[sid]["category"] in ("triage", "extract", "factual")], 4)
    retried += rng.sample([sid for sid in daytime if by_id[sid]["category"] in ("rewrite", "code")], 2)
    repeated = rng.sample([sid for sid in ids if sid not in retried], 16)
    long_prompts = [sid for sid in ids if by_id[sid]["category"] in ("triage", "extract")
                    and len(prompts[sid][-1]["content"].split()) >= 45]
    near = rng.sample([sid for sid in long_prompts if sid not in retried + repeated], 12)

    failures = [
        ({"error": {"type": "server_error", "status": 502, "message": "upstream connect error or disconnect/reset before headers"}}, None),
        ({"error": {"type": "timeout", "status": 504, "message": "upstream request timeout after 60s"}}, None),
        ({}, {"error": {"message": "Rate limit reached for requests per minute. Please try again in 2s.",
                        "type": "rate_limit_error", "code": "rate_limit_exceeded"}}),
        ({}, {"error": {"message": "Overloaded", "type": "overloaded_error", "code": 529}}),
    ]
    for sid in ids:
        s = by_id[sid]
        when = datetime.fromisoformat(s["metadata"]["received_at"])
        model = models[sid]
        messages = prompts[sid]
        text = answer_text(s)
        if sid in retried:
            k = retried.index(sid)
            failed_at = when - timedelta(seconds=rng.randrange(2, 40))
            if k < 4:
                extra, response = failures[k]
                add(failed_at, _line(failed_at, _request(s, messages, model), response, **extra))
            else:  # cut off at max_tokens, retried with more room
                short = {**_request(s, messages, model), "max_tokens": 48}
                cut = text[: len(text) * 2 // 5]
                cut_off = _response(rng, model, failed_at, messages, cut, finish="length")
                cut_off["usage"]["completion_tokens"] = 48
                add(failed_at, _line(failed_at, short, cut_off))
        add(when, _line(when, _request(s, messages, model), _response(rng, model, when, messages, text)))
        if sid in repeated:
            again = _later(rng, when)
            copy = [dict(m) for m in messages]
            if rng.random() < 0.3:  # pasted again with different spacing: still the same request
                copy[-1]["content"] = copy[-1]["content"].replace("\n\n", "\n\n\n", 1) + " "
            add(again, _line(again, _request(s, copy, model), _response(rng, model, again, copy, text)))
        if sid in near:
            again = _later(rng, when)
            copy = [dict(m) for m in messages]
            copy[-1]["content"] = _near_copy(copy[-1]["content"], rng)
            add(again, _line(again, _request(s, copy, model), _response(rng, model, again, copy, text)))

    first_agent = len(events)
    agent_rng = random.Random(f"{SEED}-agent-traffic")
    for s in samples:
        if "request" in s:
            when = datetime.fromisoformat(s["metadata"]["received_at"])
            model = "gpt-5" if agent_rng.random() < 0.15 else "claude-sonnet-4-5"
            add(when, _line(when, _agent_request(s, model), _agent_response(agent_rng, model, when, s)))

    ordered = sorted(events, key=lambda e: (e[0], e[1]))
    lines = [json.dumps(line, ensure_ascii=False) for _, _, line in ordered]
    # A line cut short when the gateway restarted, and a stray message from its log rotation,
    # placed by the count of the other traffic's lines (as before agent traffic was logged too).
    others = [i for i, e in enumerate(ordered) if e[1] < first_agent]
    cut_at = others[len(others) // 3]
    rotated_before = others[2 * (len(others) + 1) // 3 - 1]
    lines.insert(rotated_before, "# gateway restarted: log rotated at 2026-10-08T03:00:00Z")
    lines.insert(cut_at, lines[cut_at][: len(lines[cut_at]) // 2])
    return lines


def _agent_request(sample: dict[str, Any], model: str) -> dict[str, Any]:
    """An agent or structured-output request as the SDK sent it: tools and tool_choice, or response_format."""
    return {"model": model, "messages": sample["input"], **sample["request"], "metadata": {"category": sample["category"], "task_id": sample["id"]}}


def _agent_response(rng: random.Random, model: str, when: datetime, sample: dict[str, Any]) -> dict[str, Any]:
    """The logged answer: the reference tool calls (finish_reason tool_calls), or the reference JSON."""
    calls = sample["reference"] if sample["category"] == "agent" else None
    text = "" if calls else json.dumps(sample["reference"], ensure_ascii=False)
    response = _response(rng, model, when, sample["input"], text or json.dumps(calls), finish="tool_calls" if calls else "stop")
    if calls:
        response["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": calls}
    return response


def render_traffic(lines: list[str]) -> bytes:
    """Gzipped JSON lines, byte for byte the same on every run (no timestamp or name in the gzip header)."""
    return gzip.compress("".join(line + "\n" for line in lines).encode("utf-8"), compresslevel=9, mtime=0)


def summary(samples: list[dict[str, Any]], lines: list[str]) -> str:
    counts: dict[str, int] = {}
    for s in samples:
        counts[s["category"]] = counts.get(s["category"], 0) + 1
    return (f"{len(lines)} log lines for {len(samples)} tasks: "
            + ", ".join(f"{c} {n}" for c, n in counts.items()))


def run_import(workspace: Path) -> int:
    """The README's rebuild command, run from the repository root into `workspace`."""
    args = shlex.split(IMPORT_COMMAND)[1:]
    if (REPO / "tasks").resolve() != (workspace / "tasks").resolve():  # the repository root is the example workspace
        args += ["--workspace", os.path.relpath(workspace, REPO)]
    proc = subprocess.run([sys.executable, "-m", "evals.cli", *args], cwd=REPO)
    return proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traffic", type=Path, default=TRAFFIC, help=f"where to write the traffic log (default: {TRAFFIC})")
    ap.add_argument("--workspace", type=Path, default=WORKSPACE, help=f"workspace to import the suite into (default: {WORKSPACE})")
    ap.add_argument("--no-import", action="store_true", help="write the traffic log only")
    args = ap.parse_args(argv)
    samples = build()
    problems = self_check(samples)
    if problems:
        print("self-check failed, nothing written:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    lines = traffic_log(samples)
    args.traffic.parent.mkdir(parents=True, exist_ok=True)
    args.traffic.write_bytes(render_traffic(lines))
    print(f"wrote {args.traffic}: {summary(samples, lines)}")
    if args.no_import or args.traffic.resolve() != TRAFFIC:
        print(f"to build the suite from it, run from {REPO}:\n  {IMPORT_COMMAND}")
        return 0
    return run_import(args.workspace.resolve())


if __name__ == "__main__":
    sys.exit(main())
