#!/usr/bin/env python3
"""Load tests of Stripe webhooks and deposit bookings (stdlib only).

Subcommands (BASE is the server, e.g. http://127.0.0.1:8099; loopback only unless
SG_ALLOW_NON_LOOPBACK=1):

  setup BASE --mock URL [--slug S] [--out state.json]
      Creates a tenant ready for deposits: signUp, startStripeOnboarding (creates the
      connected account on the mock), configurePlugin stripe with the tenant webhook
      secret, a signed `account.updated` (charges enabled) to /webhooks/platform/stripe,
      a 15-minute service at 5000 cents, a staff member working every day 00:00-23:59,
      and a 25 % deposit policy. Writes ids and secrets to --out (JSON).

  sign --secret S --body-file F [--t UNIX]
      Prints the Stripe-Signature header value for the body in F.

  fixed --state state.json --kind {duplicate,badsig} --out-body F --out-header F
      Writes one event body and its Stripe-Signature header for a fixed-body run
      (wrk/oha): `duplicate` is a checkout.session.completed for a session that does
      not exist, signed with the tenant secret and sent once here so that every repeat
      is a duplicate; `badsig` is the same body signed with a wrong secret.

  presign --state state.json --count N --out F
      Writes N freshly signed payment_intent.succeeded events, one per line as
      "<Stripe-Signature>\\t<body>", for webhook_presigned.lua (a wrk cross-check of
      `fresh` without Python in the client path). Use within 300 s.

  fresh --state state.json [--workers 16] [--procs 2] [--warmup 3] [--duration 20]
      Closed loop of unique, freshly signed payment_intent.succeeded events for an unknown
      PaymentIntent to /webhooks/{slug}/stripe; each is stored once and has no effect.

  book --state state.json [--workers 16] [--procs 1] [--warmup 3] [--duration 20]
      Closed loop of publicCreateBooking on distinct 15-minute slots (day after day,
      from tomorrow), each with a deposit due; a success must carry a checkoutUrl.
      The state file remembers the next unused slot index, so runs can follow each other.

  sample
      Until SIGTERM, then prints CPU seconds per process name over that time, this
      test's processes (server, client, PostgreSQL, Redis) apart from the rest.

`fresh` and `book` print one JSON line: requests, rps, p50/p90/p99/max in ms, status
counts, errors, and the client's own CPU seconds (the client shares the machine).
"""

import argparse
import hashlib
import hmac
import http.client
import json
import multiprocessing as mp
import os
import resource
import sys
import threading
import time
import urllib.parse
import uuid
from datetime import datetime, timedelta, timezone

TENANT_SECRET = "whsec_tenant_load"
PLATFORM_SECRET = "whsec_platform_load"
ACCOUNT_ID = "acct_load1"


# ---------------------------------------------------------------- helpers

def check_loopback(base):
    host = urllib.parse.urlsplit(base).hostname
    if host not in ("127.0.0.1", "localhost", "::1") and os.environ.get("SG_ALLOW_NON_LOOPBACK") != "1":
        sys.exit("refusing non-loopback host %s (set SG_ALLOW_NON_LOOPBACK=1)" % host)


def sign(body: bytes, secret: str, t=None) -> str:
    t = int(time.time()) if t is None else int(t)
    mac = hmac.new(secret.encode(), b"%d." % t + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (t, mac)


def event(evt_id, kind, obj, account=None):
    e = {
        "id": evt_id,
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": kind,
        "data": {"object": obj},
    }
    if account:
        e["account"] = account
    return json.dumps(e, separators=(",", ":")).encode()


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, base):
        u = urllib.parse.urlsplit(base)
        self.host, self.port = u.hostname, u.port or 80
        self.c = None

    def post(self, path, body, headers):
        for attempt in (0, 1):
            if self.c is None:
                self.c = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self.c.request("POST", path, body=body, headers=headers)
                r = self.c.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.c.close()
                    self.c = None
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.c.close()
                self.c = None
                if attempt:
                    raise


def gql(base, query, variables=None, token=None):
    c = Conn(base)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    st, data = c.post("/graphql", json.dumps({"query": query, "variables": variables or {}}), h)
    out = json.loads(data)
    if st != 200 or out.get("errors"):
        sys.exit("graphql failed (%s): %s" % (st, data[:2000]))
    return out["data"]


def need_no_user_errors(payload, what):
    errs = payload.get("userErrors") or []
    if errs:
        sys.exit("%s: userErrors %s" % (what, errs))


# ---------------------------------------------------------------- setup

def cmd_setup(a):
    base = a.base
    check_loopback(base)
    slug = a.slug or "load-%s" % uuid.uuid4().hex[:8]
    email = "owner@%s.load.test" % slug
    d = gql(base, """mutation($i: SignUpInput!) { signUp(input: $i) {
        accessToken tenant { id slug } userErrors { field code message } } }""",
            {"i": {"businessName": "Load " + slug, "slug": slug, "timezone": "UTC",
                   "email": email, "password": "load-password-1", "currency": "USD"}})
    need_no_user_errors(d["signUp"], "signUp")
    token = d["signUp"]["accessToken"]
    tenant_id = d["signUp"]["tenant"]["id"]

    d = gql(base, "mutation { startStripeOnboarding { url } }", token=token)
    onboarding_url = d["startStripeOnboarding"]["url"]

    d = gql(base, """mutation($c: JSON!) { configurePlugin(input: {pluginId: "stripe", config: $c}) {
        userErrors { field code message } } }""", {"c": {"webhookSigningSecret": TENANT_SECRET}}, token)
    need_no_user_errors(d["configurePlugin"], "configurePlugin")

    body = event("evt_load_account_%s" % uuid.uuid4().hex, "account.updated",
                 {"id": ACCOUNT_ID, "object": "account", "charges_enabled": True,
                  "payouts_enabled": True, "details_submitted": True}, account=ACCOUNT_ID)
    st, data = Conn(base).post("/webhooks/platform/stripe", body,
                               {"Content-Type": "application/json",
                                "Stripe-Signature": sign(body, PLATFORM_SECRET)})
    if st != 200:
        sys.exit("account.updated: %s %s" % (st, data))

    d = gql(base, """mutation($i: CreateServiceInput!) { createService(input: $i) {
        service { id } userErrors { field code message } } }""",
            {"i": {"name": "Load Wash", "durationMinutes": 15, "priceCents": 5000,
                   "bufferBeforeMinutes": 0, "bufferAfterMinutes": 0, "slotIntervalMinutes": 15,
                   "minNoticeMinutes": 0}}, token)
    need_no_user_errors(d["createService"], "createService")
    service_id = d["createService"]["service"]["id"]

    days = ["MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"]
    d = gql(base, """mutation($i: CreateStaffMemberInput!) { createStaffMember(input: $i) {
        staffMember { id } userErrors { field code message } } }""",
            {"i": {"name": "Load Staff",
                   "weeklyHours": [{"weekday": w, "startTime": "00:00", "endTime": "23:59"} for w in days]}},
            token)
    need_no_user_errors(d["createStaffMember"], "createStaffMember")
    staff_id = d["createStaffMember"]["staffMember"]["id"]

    d = gql(base, """mutation { setDepositPolicy(input: {policy: PERCENT, value: 2500}) {
        userErrors { field code message } } }""", token=token)
    need_no_user_errors(d["setDepositPolicy"], "setDepositPolicy")

    d = gql(base, "{ paymentSettings { chargesEnabled } }", token=token)
    if not d["paymentSettings"]["chargesEnabled"]:
        sys.exit("chargesEnabled is still false after account.updated")

    state = {"base": base, "slug": slug, "tenant_id": tenant_id, "email": email,
             "password": "load-password-1", "service_id": service_id, "staff_id": staff_id,
             "tenant_secret": TENANT_SECRET, "onboarding_url": onboarding_url, "next_slot": 0}
    with open(a.out, "w") as f:
        json.dump(state, f, indent=1)
    print(json.dumps(state))


# ---------------------------------------------------------------- fixed bodies

def cmd_sign(a):
    with open(a.body_file, "rb") as f:
        print(sign(f.read(), a.secret, a.t))


def cmd_fixed(a):
    s = json.load(open(a.state))
    body = event("evt_load_fixed_%s" % uuid.uuid4().hex, "checkout.session.completed",
                 {"id": "cs_test_does_not_exist_%s" % uuid.uuid4().hex[:8],
                  "object": "checkout.session", "mode": "payment", "status": "complete",
                  "payment_status": "paid", "payment_intent": "pi_load_nonexistent",
                  "customer": "cus_load_nonexistent", "metadata": {}})
    secret = s["tenant_secret"] if a.kind == "duplicate" else "whsec_wrong_secret"
    header = sign(body, secret)
    with open(a.out_body, "wb") as f:
        f.write(body)
    with open(a.out_header, "w") as f:
        f.write(header)
    if a.kind == "duplicate":  # store it once so every later delivery is a repeat
        st, data = Conn(s["base"]).post("/webhooks/%s/stripe" % s["slug"], body,
                                        {"Content-Type": "application/json",
                                         "Stripe-Signature": header})
        st2, data2 = Conn(s["base"]).post("/webhooks/%s/stripe" % s["slug"], body,
                                          {"Content-Type": "application/json",
                                           "Stripe-Signature": header})
        print("first: %s %s; repeat: %s %s" % (st, data.decode(), st2, data2.decode()))
        if st != 200 or b"duplicate" not in data2:
            sys.exit("unexpected answer")


def fresh_body(run, n):
    return event("evt_load_%s_%d" % (run, n), "payment_intent.succeeded",
                 {"id": "pi_load_unknown_%s_%d" % (run, n), "object": "payment_intent",
                  "status": "succeeded", "amount": 1250, "amount_received": 1250,
                  "currency": "usd", "customer": None, "payment_method": None,
                  "latest_charge": None, "metadata": {}})


def cmd_presign(a):
    s = json.load(open(a.state))
    run = uuid.uuid4().hex[:10]
    with open(a.out, "w") as f:
        for n in range(a.count):
            b = fresh_body(run, n)
            f.write(sign(b, s["tenant_secret"]) + "\t" + b.decode() + "\n")


# ---------------------------------------------------------------- closed-loop driver

def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = min(len(sorted_vals) - 1, max(0, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def _proc_main(kind, state, proc_idx, nprocs, workers, t_measure, t_end, q):
    """Runs `workers` threads until t_end; counts what finished after t_measure."""
    lat, statuses, errors, samples = [], {}, {}, []
    lock = threading.Lock()
    max_slot = [-1]
    total_ok = [0]
    run = uuid.uuid4().hex[:10]

    def worker(widx):
        conn = Conn(state["base"])
        my_lat, my_st, my_err = [], {}, {}
        ok_all = [0]
        n = 0
        slot = -1
        gidx = proc_idx * workers + widx
        gstride = nprocs * workers
        while True:
            now = time.time()
            if now >= t_end:
                break
            if kind == "fresh":
                body = fresh_body(run, widx * 10_000_000 + n)
                path = "/webhooks/%s/stripe" % state["slug"]
                headers = {"Content-Type": "application/json",
                           "Stripe-Signature": sign(body, state["tenant_secret"])}
            else:
                slot = state["next_slot"] + gidx + n * gstride
                body, headers = booking_request(state, slot, run)
                path = "/graphql"
            n += 1
            t0 = time.perf_counter()
            try:
                st, data = conn.post(path, body, headers)
            except Exception as e:  # timeouts, refused
                st, data = "exc:" + type(e).__name__, b""
                conn = Conn(state["base"])
            dt = time.perf_counter() - t0
            err = classify(kind, st, data)
            if not err:
                ok_all[0] += 1
            if now >= t_measure:
                my_lat.append(dt)
                my_st[st] = my_st.get(st, 0) + 1
                if err:
                    my_err[err] = my_err.get(err, 0) + 1
                    if len(samples) < 5:
                        samples.append("%s %s" % (st, data[:300]))
        with lock:
            max_slot[0] = max(max_slot[0], slot)
            total_ok[0] += ok_all[0]
            lat.extend(my_lat)
            for k, v in my_st.items():
                statuses[str(k)] = statuses.get(str(k), 0) + v
            for k, v in my_err.items():
                errors[k] = errors.get(k, 0) + v

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    q.put({"lat": lat, "statuses": statuses, "errors": errors, "samples": samples,
           "cpu": ru.ru_utime + ru.ru_stime, "max_slot": max_slot[0],
           "ok_all": total_ok[0]})


def classify(kind, st, data):
    if kind == "fresh":
        if st != 200:
            return "http_%s" % st
        if b"duplicate" in data:
            return "duplicate"
        return None
    if st != 200:
        return "http_%s" % st
    try:
        out = json.loads(data)
    except ValueError:
        return "bad_json"
    if out.get("errors"):
        return "graphql_error:" + str(out["errors"][0].get("extensions", {}).get("code"))
    p = out["data"]["publicCreateBooking"]
    if p["userErrors"]:
        return "user_error:" + p["userErrors"][0]["code"]
    if not (p["booking"] or {}).get("checkoutUrl"):
        return "no_checkout_url"
    return None


BOOK_Q = """mutation($i: PublicCreateBookingInput!) { publicCreateBooking(input: $i) {
 booking { id status startsAt depositCents checkoutUrl } userErrors { field code message } } }"""


def booking_request(state, slot, run):
    # 95 slots a day (00:00 .. 23:30 starts, ends by 23:45 inside 00:00-23:59), from tomorrow (UTC).
    day, k = divmod(slot, 95)
    start = state["day0"] + timedelta(days=day, minutes=15 * k)
    body = json.dumps({"query": BOOK_Q, "variables": {"i": {
        "tenantSlug": state["slug"], "serviceId": state["service_id"],
        "staffMemberId": state["staff_id"],
        "startsAt": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "customer": {"name": "Load Customer %d" % slot, "phone": "+1415%03d%04d" % (200 + slot // 10_000 % 800, slot % 10_000),
                     "email": "c%d@load.test" % slot},
        "idempotencyKey": "load-%s-%d" % (run, slot)}}})
    return body, {"Content-Type": "application/json"}


def run_closed_loop(kind, a):
    state = json.load(open(a.state))
    check_loopback(state["base"])
    if kind == "book":
        tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date()
        state["day0"] = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=timezone.utc)
    start = time.time() + 0.5
    t_measure = start + a.warmup
    t_end = t_measure + a.duration
    q = mp.Queue()
    procs = [mp.Process(target=_proc_main,
                        args=(kind, state, i, a.procs, a.workers // a.procs, t_measure, t_end, q))
             for i in range(a.procs)]
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    lat = sorted(x for r in results for x in r["lat"])
    statuses, errors, samples = {}, {}, []
    for r in results:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        for k, v in r["errors"].items():
            errors[k] = errors.get(k, 0) + v
        samples += r["samples"]
    ms = lambda v: None if v is None else round(v * 1000, 2)
    out = {"kind": kind, "workers": a.workers, "procs": a.procs, "warmup_s": a.warmup,
           "duration_s": a.duration, "requests": len(lat),
           "rps": round(len(lat) / a.duration, 1),
           "p50_ms": ms(percentile(lat, 50)), "p90_ms": ms(percentile(lat, 90)),
           "p99_ms": ms(percentile(lat, 99)), "max_ms": ms(lat[-1] if lat else None),
           "statuses": statuses, "errors": errors, "error_samples": samples[:5],
           "client_cpu_s": round(sum(r["cpu"] for r in results), 1)}
    if kind == "book":
        # Every slot index handed out (warm-up included) is spent; the next run starts after.
        state.pop("day0")
        state["next_slot"] = max(r["max_slot"] for r in results) + 1
        json.dump(state, open(a.state, "w"), indent=1)
        out["next_slot"] = state["next_slot"]
        out["bookings_made_incl_warmup"] = sum(r["ok_all"] for r in results)
    print(json.dumps(out))


# ---------------------------------------------------------------- machine sampler

OURS = {"servicegraph", "python3", "wrk", "oha", "postgres", "redis-server"}


def _cpu_by_pid():
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2:].split()
        # fields after comm: state ppid ... utime(14) stime(15) -> rest[11], rest[12]
        out[int(d)] = (comm, int(rest[1]), int(rest[11]) + int(rest[12]))
    return out


def cmd_sample(a):
    """Until SIGTERM: CPU seconds used per process name (delta over the run), split into
    this test's processes and everything else (someone else's cargo/rustc/tests)."""
    import signal
    hz = os.sysconf("SC_CLK_TCK")
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__(0, True))
    first = _cpu_by_pid()
    seen = dict(first)
    with open("/proc/stat") as f:
        c0 = [int(x) for x in f.readline().split()[1:9]]
    t0 = time.time()
    while not stop[0]:
        time.sleep(0.5)
        for pid, v in _cpu_by_pid().items():
            seen[pid] = v  # last value of every process seen (short-lived ones too)
    with open("/proc/stat") as f:
        c1 = [int(x) for x in f.readline().split()[1:9]]
    wall = time.time() - t0
    by = {}
    for pid, (comm, ppid, ticks) in seen.items():
        if ppid == 2 or pid == 2:
            comm = "[kernel]"
        base = first.get(pid)
        d = ticks - (base[2] if base and base[0] == seen[pid][0] else 0)
        if d > 0:
            by[comm] = by.get(comm, 0) + d
    kernel = by.pop("[kernel]", 0)
    mine = lambda k: k in OURS or k.startswith(("servicegraph", "tokio", "mock_stripe"))
    ours = sum(v for k, v in by.items() if mine(k))
    others = sorted(((v, k) for k, v in by.items() if not mine(k)), reverse=True)
    total = sum(c1) - sum(c0)
    idle = (c1[3] + c1[4]) - (c0[3] + c0[4])
    print("machine: wall=%.0fs busy=%.0f%% of %d cores; cpu_s ours=%.1f kernel_threads=%.1f others=%.1f (%s)" % (
        wall, 100.0 * (total - idle) / total if total else 0, os.cpu_count(),
        ours / hz, kernel / hz, sum(v for v, _ in others) / hz,
        ", ".join("%s %.1f" % (k, v / hz) for v, k in others[:6])))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sp = ap.add_subparsers(dest="cmd", required=True)
    p = sp.add_parser("setup")
    p.add_argument("base")
    p.add_argument("--mock", required=True)
    p.add_argument("--slug")
    p.add_argument("--out", default="state.json")
    p = sp.add_parser("sign")
    p.add_argument("--secret", required=True)
    p.add_argument("--body-file", required=True)
    p.add_argument("--t", type=int)
    p = sp.add_parser("fixed")
    p.add_argument("--state", required=True)
    p.add_argument("--kind", choices=["duplicate", "badsig"], required=True)
    p.add_argument("--out-body", required=True)
    p.add_argument("--out-header", required=True)
    sp.add_parser("sample")
    p = sp.add_parser("presign")
    p.add_argument("--state", required=True)
    p.add_argument("--count", type=int, default=100_000)
    p.add_argument("--out", required=True)
    for name in ("fresh", "book"):
        p = sp.add_parser(name)
        p.add_argument("--state", required=True)
        p.add_argument("--workers", type=int, default=16)
        p.add_argument("--procs", type=int, default=2 if name == "fresh" else 1)
        p.add_argument("--warmup", type=float, default=3)
        p.add_argument("--duration", type=float, default=20)
    a = ap.parse_args()
    if a.cmd == "setup":
        cmd_setup(a)
    elif a.cmd == "sign":
        cmd_sign(a)
    elif a.cmd == "fixed":
        cmd_fixed(a)
    elif a.cmd == "sample":
        cmd_sample(a)
    elif a.cmd == "presign":
        cmd_presign(a)
    else:
        if a.workers % a.procs:
            sys.exit("--workers must be a multiple of --procs")
        run_closed_loop(a.cmd, a)


if __name__ == "__main__":
    main()
