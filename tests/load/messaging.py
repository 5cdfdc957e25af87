#!/usr/bin/env python3
"""Messaging benchmarks against two running release servers that share one PostgreSQL
database and one Redis (started by hand, RATE_LIMITS=off, WS_MAX_PER_CLIENT and
WS_MAX_PER_TENANT raised for the fan-out; see README.md in this folder).

  python3 tests/load/messaging.py A_BASE B_BASE [--fanout 10000] [--events 200]
      [--duration 10] [--workers 16] [--pid-b PID]

1. latency: a subscriber on B (`conversationEvents`); signed inbound texts are posted to
   A one after another; for each, the time from sending the webhook to the event on B.
   Prints p50/p99/max over --events texts.
2. fan-out: --fanout subscriptions on B; one inbound text on A; the time until every
   subscription has the event. With --pid-b, B's RSS before and after opening them gives
   the memory per idle subscription.
3. inbound rate: --workers threads post unique signed inbound texts to A for --duration
   seconds; prints accepted webhooks per second and latency percentiles.

Needs `pip install websockets`. The tenant gets a fake Twilio configuration (only
inbound webhooks are exercised; nothing is sent to Twilio).
"""
import argparse, asyncio, base64, hashlib, hmac, json, statistics, threading, time
import urllib.parse, urllib.request, uuid

import websockets

TOKEN = "bench-auth-token"
SID = "AC" + "0" * 32


def post_json(base, query, variables=None, token=None):
    req = urllib.request.Request(base + "/graphql", data=json.dumps(
        {"query": query, "variables": variables or {}}).encode(),
        headers={"content-type": "application/json",
                 **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
    if body.get("errors"):
        raise SystemExit(f"GraphQL errors: {body['errors']}")
    return body["data"]


def sign(url, params):
    s = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(TOKEN.encode(), s.encode(), hashlib.sha1).digest()).decode()


def inbound(base, public_base, slug, body):
    path = f"/webhooks/{slug}/twilio/sms"
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": SID,
              "From": "+1415555" + str(1000 + int(uuid.uuid4().int % 8999)),
              "To": "+14155550100", "Body": body, "NumMedia": "0"}
    req = urllib.request.Request(base + path, data=urllib.parse.urlencode(params).encode(),
                                 headers={"X-Twilio-Signature": sign(public_base + path, params),
                                          "content-type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def subscriber(b_base, token, ready, seen=None):
    ws = await websockets.connect(b_base.replace("http", "ws") + "/graphql/ws",
                                  subprotocols=["graphql-transport-ws"], max_size=None)
    await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer " + token}}))
    ack = json.loads(await ws.recv())
    assert ack["type"] == "connection_ack", ack
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription { conversationEvents { kind message { body } } }"}}))
    ready()
    return ws


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a"); ap.add_argument("b")
    ap.add_argument("--public-base", default=None, help="PUBLIC_BASE_URL of A (default: A)")
    ap.add_argument("--fanout", type=int, default=10000)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--workers", type=int, default=16)
    ap.add_argument("--pid-b", type=int, default=None)
    o = ap.parse_args()
    public = o.public_base or o.a
    slug = "bench-" + uuid.uuid4().hex[:8]
    d = post_json(o.a, "mutation($i: SignUpInput!) { signUp(input: $i) { accessToken userErrors { message } } }",
                  {"i": {"businessName": "Bench", "slug": slug, "timezone": "America/New_York",
                         "email": f"o@{slug}.example.com", "password": "correct horse battery"}})
    token = d["signUp"]["accessToken"]
    d = post_json(o.a, "mutation($i: ConfigurePluginInput!) { configurePlugin(input: $i) { userErrors { message } } }",
                  {"i": {"pluginId": "twilio", "enabled": True, "config": {
                      "accountSid": SID, "authToken": TOKEN, "fromNumber": "+1415555" + str(uuid.uuid4().int % 9000 + 1000)}}}, token)
    assert d["configurePlugin"]["userErrors"] == [], d

    # 1. latency A -> B
    ws = await subscriber(o.b, token, lambda: None)
    await asyncio.sleep(0.5)
    lat = []
    for i in range(o.events):
        t0 = time.perf_counter()
        await asyncio.to_thread(inbound, o.a, public, slug, f"lat {i}")
        while True:
            m = json.loads(await ws.recv())
            if m.get("type") == "next" and m["payload"]["data"]["conversationEvents"]["message"]["body"] == f"lat {i}":
                break
        lat.append((time.perf_counter() - t0) * 1000)
    await ws.close()
    print(f"latency webhook(A) -> subscriber(B), {len(lat)} events: p50 {pct(lat,50):.1f} ms, "
          f"p99 {pct(lat,99):.1f} ms, max {max(lat):.1f} ms (includes the webhook's own request)")

    # 2. fan-out
    before = rss_kb(o.pid_b) if o.pid_b else None
    socks = []
    n = 0
    def inc():
        nonlocal n
        n += 1
    for chunk in range(0, o.fanout, 500):
        socks += await asyncio.gather(*[subscriber(o.b, token, inc) for _ in range(min(500, o.fanout - chunk))])
    await asyncio.sleep(2)
    after = rss_kb(o.pid_b) if o.pid_b else None
    if before is not None:
        print(f"{len(socks)} idle subscriptions: B RSS {before/1024:.0f} MB -> {after/1024:.0f} MB, "
              f"{(after-before)/len(socks):.1f} KB per subscription")
    async def wait_one(ws):
        while True:
            m = json.loads(await ws.recv())
            if m.get("type") == "next":
                return time.perf_counter()
    waiters = [asyncio.create_task(wait_one(w)) for w in socks]
    await asyncio.sleep(0.5)
    t0 = time.perf_counter()
    await asyncio.to_thread(inbound, o.a, public, slug, "fan-out")
    done = await asyncio.gather(*waiters)
    times = [(t - t0) * 1000 for t in done]
    print(f"one event to {len(socks)} subscriptions on B: first {min(times):.0f} ms, "
          f"p50 {pct(times,50):.0f} ms, all {max(times):.0f} ms (client-side, one Python process)")
    for w in socks:
        await w.close()

    # 3. inbound webhooks per second on A
    stop = time.time() + o.duration
    res = []
    lock = threading.Lock()
    def work():
        local = []
        while time.time() < stop:
            t = time.perf_counter()
            s = inbound(o.a, public, slug, "rate")
            local.append(((time.perf_counter() - t) * 1000, s))
        with lock:
            res.extend(local)
    ths = [threading.Thread(target=work) for _ in range(o.workers)]
    [t.start() for t in ths]; [t.join() for t in ths]
    ok = [l for l, s in res if s == 200]
    print(f"inbound SMS webhooks on A: {len(ok)/o.duration:.0f}/s accepted ({len(res)-len(ok)} not 200), "
          f"p50 {pct(ok,50):.1f} ms, p99 {pct(ok,99):.1f} ms, {o.workers} client threads")

asyncio.run(main())
