#!/usr/bin/env python3
"""Latency of one voice tool-call HTTP request (`POST /agent/{slug}/tool-calls`).

Against an already running server started with RATE_LIMITS=off (the agent-key quota is
600 tool calls a minute). Creates its own tenant (one 30-minute service, one staff
member working every day all day, an agent key), then sends, one request at a time
over one keep-alive connection (closed loop, so the figures are per-request latency,
client included):

  check_availability  N requests (a date and time, rotating over 30 days)
  book_appointment    M requests, each a new tool-call id on a distinct free slot

and prints p50 / p90 / p99 / max in milliseconds, and how many answers were not the
expected kind (must be 0).

  python3 tests/load/agent_tools.py http://127.0.0.1:18080 [N=2000] [M=500]

Needs only the Python standard library.
"""

import datetime
import http.client
import json
import sys
import time
import urllib.parse
import uuid


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080"
    n_check = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    n_book = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    u = urllib.parse.urlparse(base)
    if u.hostname not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("refusing a non-loopback server")
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=30)

    def post(path, body, headers=None):
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        t0 = time.perf_counter()
        conn.request("POST", path, json.dumps(body), h)
        r = conn.getresponse()
        data = r.read()
        dt = (time.perf_counter() - t0) * 1000
        return r.status, json.loads(data or b"null"), dt

    def gql(query, variables=None, token=None):
        h = {"Authorization": f"Bearer {token}"} if token else {}
        status, body, _ = post("/graphql", {"query": query, "variables": variables or {}}, h)
        if status != 200 or body.get("errors"):
            sys.exit(f"setup failed: {status} {body}")
        return body["data"]

    slug = f"bench-voice-{uuid.uuid4().hex[:8]}"
    tz = "America/New_York"
    token = gql(
        "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",
        {"i": {"businessName": "Bench Salon", "slug": slug, "timezone": tz,
               "email": f"owner@{slug}.example.com", "password": "a long bench password"}},
    )["signUp"]["accessToken"]
    gql("mutation($i: CreateServiceInput!) { createService(input: $i) { service { id } } }",
        {"i": {"name": "Haircut", "durationMinutes": 30, "priceCents": 4500}}, token)
    days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    gql("mutation($i: CreateStaffMemberInput!) { createStaffMember(input: $i) { staffMember { id } } }",
        {"i": {"name": "Ana", "weeklyHours": [
            {"weekday": d, "startTime": "00:00", "endTime": "23:59"} for d in days]}}, token)
    key = gql('mutation { createAgentKey(name: "bench") { key } }', None, token)["createAgentKey"]["key"]
    path = f"/agent/{slug}/tool-calls"
    auth = {"Authorization": f"Bearer {key}"}
    start = datetime.date.today() + datetime.timedelta(days=2)

    def tool(call_id, name, args):
        body = {"message": {"type": "tool-calls",
                            "toolCallList": [{"id": call_id, "name": name, "arguments": args}],
                            "call": {"customer": {"number": "+14155550199"}}}}
        status, resp, dt = post(path, body, auth)
        r = resp["results"][0] if status == 200 else {}
        return status, r, dt

    def report(name, lat, bad):
        lat.sort()
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
        print(f"{name:20s} n={len(lat):5d}  p50={pick(0.50):6.2f} ms  p90={pick(0.90):6.2f} ms  "
              f"p99={pick(0.99):6.2f} ms  max={lat[-1]:6.2f} ms  unexpected={bad}")

    # Warm-up (connections, caches).
    for i in range(50):
        tool(f"warm-{i}", "business_info", {"topic": None})

    lat, bad = [], 0
    for i in range(n_check):
        d = start + datetime.timedelta(days=i % 30)
        t = f"{9 + i % 8:02d}:{(i * 15) % 60:02d}"
        status, r, dt = tool(f"check-{i}", "check_availability",
                             {"service": "Haircut", "date": d.isoformat(), "time": t, "staff": None})
        lat.append(dt)
        bad += status != 200 or "is available" not in r.get("result", "")
    report("check_availability", lat, bad)

    lat, bad = [], 0
    for i in range(n_book):
        d = start + datetime.timedelta(days=i // 40)
        minutes = (i % 40) * 30
        t = f"{minutes // 60:02d}:{minutes % 60:02d}"
        status, r, dt = tool(f"book-{i}", "book_appointment",
                             {"service": "Haircut", "date": d.isoformat(), "time": t,
                              "customer_name": f"Bench {i}", "customer_phone": None,
                              "staff": None, "notes": None})
        lat.append(dt)
        bad += status != 200 or not r.get("result", "").startswith("Booked:")
    report("book_appointment", lat, bad)


if __name__ == "__main__":
    main()
