#!/usr/bin/env bash
# tests/load/dashboard.sh BIN [LABEL]: a four-root "dashboard" query on the sg_peer
# database that ../shared/bench/postgraphile/peer.sh leaves behind (run it first);
# wrk 2 threads, 16 connections, 10 s x ROUNDS; statements and transactions per request
# from /metrics.
set -euo pipefail
BIN=$(realpath "$1"); LABEL=${2:-servicegraph}; ROUNDS=${ROUNDS:-2}; tmp=$(mktemp -d)
here=$(cd "$(dirname "$0")/../../../shared/bench/postgraphile" && pwd)  # its post.lua
(cd "$tmp" && RATE_LIMITS=off DATABASE_URL=postgres://servicegraph_app@127.0.0.1:5432/sg_peer \
  MIGRATION_DATABASE_URL=postgres://postgres@127.0.0.1:5432/sg_peer DATA_DIR="$tmp" \
  BIND_ADDR=127.0.0.1:18600 RUST_LOG=warn exec "$BIN" serve >"$tmp/sg.log" 2>&1) & PID=$!
trap 'kill $PID 2>/dev/null; rm -rf $tmp' EXIT
for _ in $(seq 100); do curl -fs http://127.0.0.1:18600/health >/dev/null 2>&1 && break; sleep 0.2; done
TOKEN=$(curl -s http://127.0.0.1:18600/graphql -H 'content-type: application/json' -d '{"query":"mutation { logIn(input: {email: \"owner@demo.servicegraph.dev\", password: \"demo-password\"}) { accessToken } }"}' | jq -r .data.logIn.accessToken)
SVC=$(curl -s http://127.0.0.1:18600/graphql -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" -d '{"query":"{ services(first: 1) { edges { node { id } } } }"}' | jq -r '.data.services.edges[0].node.id')
D=$(date -u -d '+3 days' +%F)
Q="{ bookings(first: 20) { edges { node { id startsAt customer { name } service { name } staffMember { name } } } } availableSlots(serviceId: \\\"$SVC\\\", from: \\\"$D\\\", to: \\\"$D\\\") { startsAt } me { user { email } tenant { slug } } services(first: 10) { edges { node { id name } } } }"
printf '{"query":"%s"}' "$Q" > "$tmp/dash.json"
curl -s http://127.0.0.1:18600/graphql -H 'content-type: application/json' -H "authorization: Bearer $TOKEN" --data-binary @"$tmp/dash.json" | jq -c '{errors, b: (.data.bookings.edges|length), s: (.data.availableSlots|length), v: (.data.services.edges|length)}'
m() { curl -s http://127.0.0.1:18600/metrics | awk -v k="$1" '$1==k {print $2}'; }
for r in $(seq 1 "$ROUNDS"); do
  s0=$(m db_statements_total); t0=$(m db_transactions_total)
  out=$(BODY_FILE=$tmp/dash.json TOKEN=$TOKEN wrk -t2 -c16 -d10s -s "$here/post.lua" http://127.0.0.1:18600/graphql)
  s1=$(m db_statements_total); t1=$(m db_transactions_total)
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  echo "$LABEL round $r: $(echo "$out" | grep RESULT) requests=$n statements/req=$(python3 -c "print(round(($s1-$s0)/$n,2))") transactions/req=$(python3 -c "print(round(($t1-$t0)/$n,2))")"
done
