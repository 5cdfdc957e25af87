#!/usr/bin/env bash
# Load tests of Stripe webhooks and deposit bookings against an already running server
# (with STRIPE_API_BASE pointing at tests/load/mock_stripe.py) and a tenant made by
# `webhooks.py setup`. Starts nothing, stops nothing.
#
#   tests/load/webhooks.sh STATE_FILE [BENCH...]
#
# STATE_FILE  written by `tests/load/webhooks.py setup BASE --mock URL --out STATE_FILE`
# BENCH       any of (default: dup fresh fresh_wrk badsig book):
#   dup        A: one signed checkout.session.completed (unknown session) repeated: 200, duplicate
#   fresh      B: unique signed payment_intent.succeeded events (Python, 16 workers in 2 processes)
#   fresh_wrk  B': the same from a file of pre-signed events, sent by wrk (no Python client)
#   badsig     C: one body with a wrong signature repeated: 400
#   book       D: publicCreateBooking on distinct slots with a deposit (Python, 16 workers)
#
# Environment (all optional):
#   THREADS=2 CONNECTIONS=16 DURATION=20 WARMUP=3   wrk and Python settings (seconds)
#   WORKERS=16 FRESH_PROCS=2 BOOK_PROCS=1           Python generator settings
#   MOCK=http://127.0.0.1:12111                     mock Stripe (for its counters around `book`)
#   SG_PID=<server pid>                             print the server's CPU time and VmHWM per run
#   QUIET_MAX=300 QUIET_CPU=0.5                     before each run wait up to QUIET_MAX s for a 5 s
#                                                   window where other processes use < QUIET_CPU CPU s
#   OTHERS_MAX=2 TRIES=3                            repeat a run (up to TRIES) in which other
#                                                   processes used OTHERS_MAX CPU s or more
# Needs: wrk, python3, curl.
set -euo pipefail

if [ $# -lt 1 ]; then
  sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
STATE=$1
shift
BENCHES=${*:-dup fresh fresh_wrk badsig book}
HERE=$(cd "$(dirname "$0")" && pwd)
PY="python3 $HERE/webhooks.py"
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
WORKERS=${WORKERS:-16}
FRESH_PROCS=${FRESH_PROCS:-2}
BOOK_PROCS=${BOOK_PROCS:-1}
MOCK=${MOCK:-http://127.0.0.1:12111}
TMP=$(mktemp -d)
SAMPLER=
trap '[ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null; rm -rf "$TMP"' EXIT
trap 'exit 143' TERM INT

field() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$STATE" "$1"; }
BASE=$(field base)
SLUG=$(field slug)
URL="$BASE/webhooks/$SLUG/stripe"
echo "# $BASE tenant=$SLUG; $(date -u +%FT%TZ); $(nproc) cores; loadavg $(cut -d' ' -f1-3 /proc/loadavg)"

server_cpu() { # utime+stime of SG_PID in clock ticks
  [ -n "${SG_PID:-}" ] && awk '{print $14 + $15}' "/proc/$SG_PID/stat" || echo 0
}

# Machine load during each run: busy CPU and CPU seconds per process name, this test's
# (server, client, PostgreSQL, Redis) apart from everyone else's (webhooks.py sample).
sampler_start() {
  $PY sample > "$TMP/sampler" &
  SAMPLER=$!
}
sampler_stop() {
  kill -TERM "$SAMPLER" 2>/dev/null || true
  wait "$SAMPLER" 2>/dev/null || true
  SAMPLER=
  echo "$(cat "$TMP/sampler") loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
  LAST_OTHERS=$(sed -E 's/.* others=([0-9.]+).*/\1/' "$TMP/sampler")
}

# Waits (at most QUIET_MAX seconds) until a 5-second sample finds other processes using
# under QUIET_CPU CPU seconds, so that runs start on an otherwise idle machine.
wait_quiet() {
  [ "${QUIET_MAX:-300}" -gt 0 ] || return 0
  local waited=0 line others
  while :; do
    $PY sample > "$TMP/quiet" & SAMPLER=$!
    sleep 5; kill -TERM "$SAMPLER"; wait "$SAMPLER" || true; SAMPLER=
    line=$(cat "$TMP/quiet")
    others=$(sed -E 's/.* others=([0-9.]+).*/\1/' <<<"$line")
    if awk -v o="$others" -v q="${QUIET_CPU:-0.5}" 'BEGIN{exit !(o < q)}'; then
      echo "quiet after ${waited}s"
      return 0
    fi
    waited=$((waited + 5))
    if [ "$waited" -ge "${QUIET_MAX:-300}" ]; then
      echo "not quiet after ${waited}s, running anyway: $line"
      return 0
    fi
  done
}

report_server() { # report_server CPU_BEFORE
  if [ -n "${SG_PID:-}" ]; then
    local after; after=$(server_cpu)
    echo "server: cpu_s=$(awk -v a="$after" -v b="$1" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.1f", (a-b)/hz}') $(grep VmHWM "/proc/$SG_PID/status" | tr -s ' \t' ' ') $(grep VmRSS "/proc/$SG_PID/status" | tr -s ' \t' ' ')"
  fi
}

wrk_fixed() { # wrk_fixed EXPECTED_STATUS
  SG_BODY_FILE=$TMP/body SG_SIG_FILE=$TMP/sig SG_EXPECT=$1 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" --timeout 10s -s "$HERE/webhook_fixed.lua" "$URL" >/dev/null
  local before; before=$(server_cpu); sampler_start
  SG_BODY_FILE=$TMP/body SG_SIG_FILE=$TMP/sig SG_EXPECT=$1 \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$HERE/webhook_fixed.lua" "$URL"
  sampler_stop; report_server "$before"
}

mock_stats() { curl -sS --max-time 5 "$MOCK/_stats" || echo '{}'; }

run_one() { # run_one BENCH
  case "$1" in
    dup)
      echo "## A: repeated signed checkout.session.completed (duplicate), wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
      $PY fixed --state "$STATE" --kind duplicate --out-body "$TMP/body" --out-header "$TMP/sig"
      wrk_fixed 200
      ;;
    badsig)
      echo "## C: wrong signature (400), wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s"
      $PY fixed --state "$STATE" --kind badsig --out-body "$TMP/body" --out-header "$TMP/sig"
      wrk_fixed 400
      ;;
    fresh)
      echo "## B: fresh payment_intent.succeeded events, Python $WORKERS workers / $FRESH_PROCS processes, ${DURATION}s after ${WARMUP}s warm-up"
      before=$(server_cpu); sampler_start
      $PY fresh --state "$STATE" --workers "$WORKERS" --procs "$FRESH_PROCS" --warmup "$WARMUP" --duration "$DURATION"
      sampler_stop; report_server "$before"
      ;;
    fresh_wrk)
      echo "## B': fresh events pre-signed, wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s (no warm-up: the file is single use)"
      $PY presign --state "$STATE" --count "${PRESIGN_COUNT:-150000}" --out "$TMP/events"
      before=$(server_cpu); sampler_start
      SG_EVENTS_FILE=$TMP/events SG_SLUG=$SLUG SG_THREADS=$THREADS \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$HERE/webhook_presigned.lua" "$URL"
      sampler_stop; report_server "$before"
      ;;
    book)
      echo "## D: publicCreateBooking with a deposit, Python $WORKERS workers / $BOOK_PROCS processes, ${DURATION}s after ${WARMUP}s warm-up"
      mock_stats > "$TMP/mock_before"
      before=$(server_cpu); sampler_start
      $PY book --state "$STATE" --workers "$WORKERS" --procs "$BOOK_PROCS" --warmup "$WARMUP" --duration "$DURATION" | tee "$TMP/book"
      sampler_stop; report_server "$before"
      mock_stats > "$TMP/mock_after"
      # One Checkout Session call per booking made (warm-up included), each with its own
      # Idempotency-Key (the outbox message id).
      python3 - "$TMP/mock_before" "$TMP/mock_after" "$TMP/book" <<'PY'
import json, sys
b, a, r = (json.load(open(p)) for p in sys.argv[1:4])
k = "POST /v1/checkout/sessions"
calls = a["requests"].get(k, 0) - b["requests"].get(k, 0)
idem = lambda s, f: s.get("idempotency", {}).get(k, {}).get(f, 0)
uniq = idem(a, "unique") - idem(b, "unique")
rep = idem(a, "repeats") - idem(b, "repeats")
made = r["bookings_made_incl_warmup"]
print("mock: checkout_calls=%d unique_idempotency_keys=%d repeated_keys=%d bookings_made=%d -> %s"
      % (calls, uniq, rep, made, "OK" if calls == uniq == made and rep == 0 else "MISMATCH"))
print("mock totals: %s" % json.dumps(a["requests"]))
PY
      ;;
    *) echo "unknown bench: $1" >&2; exit 2 ;;
  esac
}

# Each bench runs until a run finds other processes using under OTHERS_MAX CPU seconds
# (at most TRIES times); the discarded runs are printed too, marked as such.
for b in $BENCHES; do
  for try in $(seq 1 "${TRIES:-3}"); do
    echo
    wait_quiet
    run_one "$b"
    if awk -v o="$LAST_OTHERS" -v m="${OTHERS_MAX:-2}" 'BEGIN{exit !(o < m)}'; then
      echo "=> kept (other processes used ${LAST_OTHERS} CPU s)"
      break
    fi
    echo "=> DISCARDED: other processes used ${LAST_OTHERS} CPU s during the run (try $try of ${TRIES:-3})"
  done
done
