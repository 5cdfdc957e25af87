#!/usr/bin/env bash
# Starts two release servers on one PostgreSQL database (sg_bench, recreated) and one
# Redis channel, runs messaging.py against them, and stops them.
#   tests/load/messaging.sh BIN [messaging.py options]
# Needs PostgreSQL on 127.0.0.1:5432 (trust, user postgres), Redis on 127.0.0.1:6379,
# `pip install websockets`. Uses ports 18081/18082.
set -euo pipefail
BIN=${1:?usage: messaging.sh BIN [options]}
shift
here=$(cd "$(dirname "$0")" && pwd)
ulimit -n "$(ulimit -Hn)" || true
psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS sg_bench" -c "CREATE DATABASE sg_bench"
key=$(python3 -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')
jwt=$(python3 -c 'import secrets;print(secrets.token_hex(32))')
common=(DATABASE_URL=postgres://postgres@127.0.0.1:5432/sg_bench REDIS_URL=redis://127.0.0.1:6379
  REDIS_EVENTS_CHANNEL=sg-bench RATE_LIMITS=off SEED_DEMO=false RUST_LOG=warn
  JWT_SECRET=$jwt ENCRYPTION_KEY=$key
  WS_MAX_PER_CLIENT=20000 WS_MAX_PER_TENANT=20000)
work=$(mktemp -d)
env "${common[@]}" DATA_DIR="$work/a" BIND_ADDR=127.0.0.1:18081 PUBLIC_BASE_URL=http://127.0.0.1:18081 \
  "$BIN" > "$work/a.log" 2>&1 & A=$!
sleep 3
env "${common[@]}" DATA_DIR="$work/b" BIND_ADDR=127.0.0.1:18082 PUBLIC_BASE_URL=http://127.0.0.1:18082 \
  AUTO_MIGRATE=false "$BIN" > "$work/b.log" 2>&1 & B=$!
trap 'kill $A $B 2>/dev/null || true' EXIT
sleep 3
python3 "$here/messaging.py" http://127.0.0.1:18081 http://127.0.0.1:18082 --pid-b "$B" "$@"
