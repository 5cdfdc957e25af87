#!/usr/bin/env python3
"""A mock of the Stripe API calls Servicegraph makes, for load tests (stdlib only).

    python3 tests/load/mock_stripe.py [--port 12111] [--host 127.0.0.1] [--delay-ms 0]

Answers in Stripe's JSON shapes (https://docs.stripe.com/api):

    POST /v1/accounts          -> account acct_load1, charges/payouts disabled
    GET  /v1/accounts/{id}     -> the same account
    POST /v1/account_links     -> account_link
    POST /v1/checkout/sessions -> checkout.session, unique cs_..., expires_at echoed
    POST /v1/payment_intents   -> succeeded payment_intent
    POST /v1/refunds           -> succeeded refund
    GET  /v1/balance           -> balance
    anything else              -> 404 with a Stripe error body

Requests without `Authorization: Bearer sk_...` get Stripe's 401 answer.

Control endpoints (not Stripe's):

    GET  /_stats  -> {"requests": {"POST /v1/checkout/sessions": N, ...},
                      "idempotency": {"POST /v1/checkout/sessions":
                                      {"with_key": N, "unique": N, "repeats": N}},
                      "stripe_accounts": {"acct_load1": N}, "unauthorized": N}
    POST /_reset  -> clears the counters

The server keeps HTTP/1.1 connections alive (reqwest pools them), so one thread serves
each open connection.
"""

import argparse
import itertools
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT_ID = "acct_load1"

_lock = threading.Lock()
_counts = {}
_keys = {}  # "METHOD path" -> set of Idempotency-Key values
_key_repeats = {}
_with_key = {}
_accounts = {}
_unauthorized = 0
_seq = itertools.count(1)
DELAY = 0.0


def _reset():
    global _unauthorized
    with _lock:
        _counts.clear()
        _keys.clear()
        _key_repeats.clear()
        _with_key.clear()
        _accounts.clear()
        _unauthorized = 0


def _stats():
    with _lock:
        return {
            "requests": dict(sorted(_counts.items())),
            "idempotency": {
                k: {
                    "with_key": _with_key.get(k, 0),
                    "unique": len(_keys.get(k, ())),
                    "repeats": _key_repeats.get(k, 0),
                }
                for k in sorted(_with_key)
            },
            "stripe_accounts": dict(_accounts),
            "unauthorized": _unauthorized,
        }


def _uid(prefix):
    return "%s_load%012d" % (prefix, next(_seq))


def account():
    return {
        "id": ACCOUNT_ID,
        "object": "account",
        "type": "standard",
        "charges_enabled": False,
        "payouts_enabled": False,
        "details_submitted": False,
    }


def account_link(form):
    now = int(time.time())
    return {
        "object": "account_link",
        "url": "https://connect.stripe.com/setup/s/x",
        "created": now,
        "expires_at": now + 300,
    }


def checkout_session(form):
    sid = _uid("cs_test")
    now = int(time.time())
    expires = form.get("expires_at")
    amount = int(form.get("line_items[0][price_data][unit_amount]", "0") or 0)
    metadata = {
        k[len("metadata["):-1]: v
        for k, v in form.items()
        if k.startswith("metadata[") and k.endswith("]")
    }
    return {
        "id": sid,
        "object": "checkout.session",
        "mode": form.get("mode", "payment"),
        "url": "https://checkout.stripe.com/c/pay/" + sid,
        "status": "open",
        "payment_status": "unpaid",
        "payment_intent": None,
        "customer": None,
        "customer_email": form.get("customer_email"),
        "client_reference_id": form.get("client_reference_id"),
        "amount_total": amount,
        "currency": form.get("line_items[0][price_data][currency]", "usd"),
        "created": now,
        "expires_at": int(expires) if expires else now + 86400,
        "metadata": metadata,
        "livemode": False,
    }


def payment_intent(form):
    amount = int(form.get("amount", "0") or 0)
    return {
        "id": _uid("pi"),
        "object": "payment_intent",
        "status": "succeeded",
        "amount": amount,
        "amount_received": amount,
        "currency": form.get("currency", "usd"),
        "customer": form.get("customer"),
        "payment_method": form.get("payment_method") or _uid("pm"),
        "latest_charge": _uid("ch"),
        "last_payment_error": None,
        "livemode": False,
    }


def refund(form):
    return {
        "id": _uid("re"),
        "object": "refund",
        "status": "succeeded",
        "amount": int(form.get("amount", "0") or 0) or 1000,
        "currency": "usd",
        "payment_intent": form.get("payment_intent"),
    }


def balance():
    return {
        "object": "balance",
        "available": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        "pending": [{"amount": 0, "currency": "usd", "source_types": {"card": 0}}],
        "livemode": False,
    }


POST_ROUTES = {
    "/v1/accounts": lambda form: account(),
    "/v1/account_links": account_link,
    "/v1/checkout/sessions": checkout_session,
    "/v1/payment_intents": payment_intent,
    "/v1/refunds": refund,
}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-stripe"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", "req_" + str(next(_seq)))
        self.end_headers()
        self.wfile.write(body)

    def _count(self, method, path):
        global _unauthorized
        name = "%s %s" % (method, path)
        key = self.headers.get("Idempotency-Key")
        acct = self.headers.get("Stripe-Account")
        authorized = (self.headers.get("Authorization") or "").startswith("Bearer sk_")
        with _lock:
            _counts[name] = _counts.get(name, 0) + 1
            if acct:
                _accounts[acct] = _accounts.get(acct, 0) + 1
            if key:
                _with_key[name] = _with_key.get(name, 0) + 1
                seen = _keys.setdefault(name, set())
                if key in seen:
                    _key_repeats[name] = _key_repeats.get(name, 0) + 1
                seen.add(key)
            if not authorized:
                _unauthorized += 1
        return authorized

    def _unauth(self):
        self._send(401, {"error": {
            "type": "invalid_request_error",
            "message": "You did not provide an API key.",
        }})

    def do_GET(self):
        path = urllib.parse.urlsplit(self.path).path
        if path == "/_stats":
            return self._send(200, _stats())
        if not self._count("GET", path):
            return self._unauth()
        if DELAY:
            time.sleep(DELAY)
        if path == "/v1/balance":
            return self._send(200, balance())
        if path.startswith("/v1/accounts/"):
            return self._send(200, account())
        self._not_found(path)

    def do_POST(self):
        path = urllib.parse.urlsplit(self.path).path
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        if path == "/_reset":
            _reset()
            return self._send(200, {"reset": True})
        if not self._count("POST", path):
            return self._unauth()
        if DELAY:
            time.sleep(DELAY)
        route = POST_ROUTES.get(path)
        if route is None:
            return self._not_found(path)
        form = dict(urllib.parse.parse_qsl(raw.decode(), keep_blank_values=True))
        self._send(200, route(form))

    def _not_found(self, path):
        self._send(404, {"error": {
            "type": "invalid_request_error",
            "message": "Unrecognized request URL (%s)." % path,
        }})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    global DELAY
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=12111)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="added latency per call")
    a = ap.parse_args()
    if a.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("mock_stripe: loopback only")
    DELAY = a.delay_ms / 1000.0
    srv = Server((a.host, a.port), Handler)
    print("mock stripe listening on http://%s:%d" % (a.host, a.port), flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
