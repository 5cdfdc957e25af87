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

With T > 0 it then times the built-in phone assistant's turn loop: T calls, each a
signed Twilio voice webhook that starts the call (greeting) and one caller turn
("anything tomorrow at ten?") on which the model asks for `check_availability` and then
answers. The model is a local mock of OpenAI's chat completions on MOCK_PORT (started by
this script; it answers at once) and the time spent inside it is subtracted, so the
"turn" figure is our own time per turn (two model round trips over loopback included).
Start the server for this with `TWILIO_API_BASE=http://127.0.0.1:MOCK_PORT`,
`PUBLIC_BASE_URL` equal to BASE (the Twilio signature covers the URL) and
`VOICE_MAX_CALLS_PER_HOUR` above T (else calls past the cap are handed over and counted
as unexpected).

  python3 tests/load/agent_tools.py http://127.0.0.1:18080 [N=2000] [M=500] [T=0] [MOCK_PORT=18799]

Needs only the Python standard library.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import http.server
import json
import sys
import threading
import time
import urllib.parse
import uuid

TWILIO_SID = "AC" + "0" * 32
TWILIO_TOKEN = "bench-auth-token"
MOCK_SECONDS = []  # time spent answering inside the mock model, seconds


class MockModel(http.server.BaseHTTPRequestHandler):
    """OpenAI chat completions (tool call on a caller's turn, text after the tool) and a
    generic 201 for anything else (Twilio Messages)."""

    def log_message(self, *args):
        pass

    def do_POST(self):
        t0 = time.perf_counter()
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path.endswith("/chat/completions"):
            req = json.loads(body)
            last = req["messages"][-1]
            if last["role"] == "user" and req.get("tools"):
                date = (datetime.date.today() + datetime.timedelta(days=3)).isoformat()
                msg = {"role": "assistant", "content": None, "tool_calls": [{
                    "id": f"call_{uuid.uuid4().hex[:12]}", "type": "function",
                    "function": {"name": "check_availability", "arguments": json.dumps(
                        {"service": "Haircut", "date": date, "time": "10:00", "staff": None})}}]}
                finish = "tool_calls"
            else:
                msg = {"role": "assistant", "content": "Ten AM is free. Shall I book it?"}
                finish = "stop"
            out = {"id": "chatcmpl-bench", "object": "chat.completion", "created": int(time.time()),
                   "model": req.get("model", "gpt-4o-mini"),
                   "choices": [{"index": 0, "message": msg, "finish_reason": finish, "logprobs": None}],
                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            status = 200
        else:
            out = {"sid": "SM" + uuid.uuid4().hex, "status": "queued"}
            status = 201
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        MOCK_SECONDS.append(time.perf_counter() - t0)


def twilio_signature(url, params):
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each POST
    parameter's name and value, sorted by name (twilio.com/docs/usage/security)."""
    payload = url + "".join(k + v for k, v in sorted(params.items()))
    mac = hmac.new(TWILIO_TOKEN.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def main():
    base = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:18080"
    n_check = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    n_book = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    n_turns = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    mock_port = int(sys.argv[5]) if len(sys.argv) > 5 else 18799
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

    if n_turns <= 0:
        return
    mock = http.server.ThreadingHTTPServer(("127.0.0.1", mock_port), MockModel)
    threading.Thread(target=mock.serve_forever, daemon=True).start()
    gql("mutation($i: ConfigurePluginInput!) { configurePlugin(input: $i) { userErrors { message } } }",
        {"i": {"pluginId": "twilio", "enabled": True, "config": {
            "accountSid": TWILIO_SID, "authToken": TWILIO_TOKEN, "fromNumber": "+14155550100"}}}, token)
    gql("mutation($i: ConfigurePluginInput!) { configurePlugin(input: $i) { userErrors { message } } }",
        {"i": {"pluginId": "openai", "enabled": True, "config": {
            "apiKey": "sk-bench", "baseUrl": f"http://127.0.0.1:{mock_port}/v1"}}}, token)
    voice = f"/webhooks/{slug}/twilio/voice"

    def webhook(params):
        sig = twilio_signature(base.rstrip("/") + voice, params)
        t0 = time.perf_counter()
        conn.request("POST", voice, urllib.parse.urlencode(params),
                     {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": sig})
        r = conn.getresponse()
        data = r.read().decode()
        return r.status, data, (time.perf_counter() - t0) * 1000

    starts, turns, bad = [], [], 0
    for i in range(n_turns):
        sid = "CA" + uuid.uuid4().hex
        base_params = {"CallSid": sid, "AccountSid": TWILIO_SID, "From": f"+1415556{i % 10000:04d}",
                       "To": "+14155550100", "CallStatus": "in-progress"}
        status, twiml, dt = webhook(base_params)
        starts.append(dt)
        bad += status != 200 or "<Gather" not in twiml
        MOCK_SECONDS.clear()
        status, twiml, dt = webhook(dict(base_params, SpeechResult="Do you have anything at ten?",
                                         Confidence="0.9"))
        turns.append(dt - sum(MOCK_SECONDS) * 1000)
        bad += status != 200 or "Ten AM is free" not in twiml
    mock.shutdown()
    report("call start", starts, 0)
    report("turn (no model time)", turns, bad)


if __name__ == "__main__":
    main()
