#!/usr/bin/env python3
"""One anonymous client floods costly slot searches; another asks for a booking page.

Measures what issue 15 asks: while an attacker sends 100 aliased two-month
`publicAvailableSlots` searches (and, in a second phase, 20 aliased ones, inside the
root-field cap) on a tenant with 40 staff members around the clock and a 5-minute
service, how fast is another client's `publicTenant` answered, and what does the
attacker get back?

Usage: tests/load/dos_slots.py BASE_URL [SECONDS]

Run the server with TRUSTED_PROXY_HOPS=1 so the two clients have their own addresses
(they send X-Forwarded-For). Python 3 standard library only.
"""

import json
import statistics
import sys
import threading
import time
import urllib.request
import uuid
from datetime import date, timedelta

BASE = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else "http://127.0.0.1:18080"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
URL = BASE + "/graphql"


def post(query, variables=None, token=None, client="198.51.100.1", timeout=60):
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(URL, data=body, method="POST")
    req.add_header("content-type", "application/json")
    req.add_header("x-forwarded-for", client)
    if token:
        req.add_header("authorization", "Bearer " + token)
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            status = resp.status
    except urllib.error.HTTPError as e:
        raw = e.read()
        status = e.code
    elapsed = time.perf_counter() - started
    return status, raw, elapsed


def gql(query, variables=None, token=None):
    status, raw, _ = post(query, variables, token, client="192.0.2.200")
    body = json.loads(raw)
    if status != 200 or body.get("errors"):
        raise SystemExit(f"setup failed ({status}): {raw[:300]!r}")
    return body["data"]


def setup():
    slug = "dos-" + uuid.uuid4().hex[:8]
    data = gql(
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        {"i": {"businessName": "Dos Test", "slug": slug, "timezone": "America/New_York",
               "email": f"owner@{slug}.example.com", "password": "a long password here"}},
    )
    token = data["signUp"]["accessToken"]
    svc = gql(
        "mutation($i: CreateServiceInput!) { createService(input: $i) { service { id } } }",
        {"i": {"name": "Quick look", "durationMinutes": 5, "priceCents": 500}}, token,
    )["createService"]["service"]["id"]
    gql("mutation { updateBookingPolicy(input: {slotIntervalMinutes: 5}) { userErrors { code } } }", None, token)
    days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    for i in range(40):
        gql(
            "mutation($i: CreateStaffMemberInput!) { createStaffMember(input: $i) { staffMember { id } } }",
            {"i": {"name": f"Staff {i}", "weeklyHours": [
                {"weekday": d, "startTime": "00:00", "endTime": "23:59"} for d in days]}},
            token,
        )
    return slug, svc


def attack_query(n):
    start = date.today() + timedelta(days=2)
    end = start + timedelta(days=61)
    fields = " ".join(
        f's{i}: publicAvailableSlots(tenantSlug: $slug, serviceId: $svc, from: "{start}", to: "{end}") {{ startsAt endsAt }}'
        for i in range(n))
    return f"query($slug: String!, $svc: ID!) {{ {fields} }}"


def pct(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def phase(name, aliases, slug, svc):
    stop = time.monotonic() + SECONDS
    victim, attacker, outcomes, sizes = [], [], {}, []
    query = attack_query(aliases)

    def attack():
        while time.monotonic() < stop:
            status, raw, t = post(query, {"slug": slug, "svc": svc}, client="203.0.113.66")
            attacker.append(t)
            sizes.append(len(raw))
            try:
                body = json.loads(raw)
                errors = body.get("errors") or []
                code = (errors[0].get("extensions") or {}).get("code", "GRAPHQL_ERROR") if errors else "ok"
            except ValueError:
                code = "not json"
            key = f"{status} {code}"
            outcomes[key] = outcomes.get(key, 0) + 1

    def visit():
        while time.monotonic() < stop:
            status, _, t = post("query($s: String!) { publicTenant(slug: $s) { name } }",
                                {"s": slug}, client="198.51.100.10")
            victim.append(t)
            time.sleep(0.05)

    threads = [threading.Thread(target=attack) for _ in range(2)] + [threading.Thread(target=visit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ms = lambda v: f"{v * 1000:.1f} ms"
    print(f"[{name}] attacker: {len(attacker)} requests, p50 {ms(pct(attacker, 50))}, "
          f"max {ms(max(attacker))}, largest answer {max(sizes)} bytes, outcomes {outcomes}")
    print(f"[{name}] other client publicTenant: {len(victim)} requests, p50 {ms(pct(victim, 50))}, "
          f"p99 {ms(pct(victim, 99))}, max {ms(max(victim))}, mean {ms(statistics.mean(victim))}")


def main():
    slug, svc = setup()
    phase("100 aliases", 100, slug, svc)
    phase("20 aliases", 20, slug, svc)
    phase("1 search", 1, slug, svc)


if __name__ == "__main__":
    main()
