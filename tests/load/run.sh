#!/usr/bin/env bash
# Runs the Servicegraph load benchmarks against an already running server. Starts
# nothing, stops nothing, writes nothing but its output.
#
#   tests/load/run.sh BASE_URL TOKEN [BENCH...]
#
# BASE_URL  e.g. http://127.0.0.1:18080 (the GraphQL endpoint is BASE_URL/graphql)
# TOKEN     an owner/manager access token of the tenant (they live 15 minutes)
# BENCH     any of: slots public_slots bookings fixed_rate fixed_rate_bookings
#           (default: all five)
#
# Environment (all optional):
#   THREADS=2 CONNECTIONS=16 DURATION=20s   wrk settings
#   DAYS=30                                  length of the availability window
#   TENANT=demo                              slug for publicAvailableSlots
#   SG_SERVICE_ID / SG_STAFF_ID              default: first service / first staff member
#   RATE=200 RATE_DURATION=20s RATE_CONNECTIONS=16   fixed-rate run (needs oha on PATH
#                                            or OHA=/path/to/oha)
#   SG_ALLOW_NON_LOOPBACK=1                  allow a host other than 127.0.0.0/8, localhost, [::1]
# Needs: wrk, curl, jq, GNU date; oha for fixed_rate.
set -euo pipefail

if [ $# -lt 2 ]; then
  sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
BASE_URL=${1%/}
TOKEN=$2
shift 2
BENCHES=${*:-slots public_slots bookings fixed_rate fixed_rate_bookings}

HERE=$(cd "$(dirname "$0")" && pwd)
URL="$BASE_URL/graphql"
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-16}
DURATION=${DURATION:-20s}
DAYS=${DAYS:-30}
TENANT=${TENANT:-demo}
RATE=${RATE:-200}
RATE_DURATION=${RATE_DURATION:-20s}
RATE_CONNECTIONS=${RATE_CONNECTIONS:-16}
OHA=${OHA:-oha}

host=$(printf '%s' "$BASE_URL" | sed -E 's#^[a-z]+://##; s#/.*$##; s#:[0-9]+$##')
case "$host" in
  127.*|localhost|"[::1]") ;;
  *) if [ "${SG_ALLOW_NON_LOOPBACK:-}" != 1 ]; then
       echo "refusing to load $host: not a loopback address (set SG_ALLOW_NON_LOOPBACK=1)" >&2
       exit 2
     fi ;;
esac

gql() { # gql QUERY -> response JSON (with token)
  jq -n --arg q "$1" '{query:$q}' |
    curl -sS --max-time 30 "$URL" -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $TOKEN" --data-binary @-
}

ids=$(gql '{ staffMembers { edges { node { id } } } services { edges { node { id } } } tenant { timezone } }')
if [ "$(jq -r '.errors // empty' <<<"$ids")" != "" ]; then
  echo "cannot read ids (expired token?): $ids" >&2
  exit 1
fi
export SG_TOKEN=$TOKEN SG_TENANT=$TENANT SG_LOAD_DIR=$HERE
export SG_SERVICE_ID=${SG_SERVICE_ID:-$(jq -r '.data.services.edges[0].node.id' <<<"$ids")}
export SG_STAFF_ID=${SG_STAFF_ID:-$(jq -r '.data.staffMembers.edges[0].node.id' <<<"$ids")}
tz=$(jq -r '.data.tenant.timezone' <<<"$ids")
export SG_FROM=$(TZ=$tz date +%F)
export SG_TO=$(TZ=$tz date -d "+$((DAYS - 1)) days" +%F)
echo "# $URL service=$SG_SERVICE_ID staff=$SG_STAFF_ID window=$SG_FROM..$SG_TO ($tz)"
echo "# wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency; $(date -u +%FT%TZ); $(nproc) cores"

run_wrk() { # run_wrk NAME SCRIPT
  echo
  echo "## $1"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout 10s --latency \
    -s "$HERE/$2" "$URL"
}

fixed_rate() { # fixed_rate LABEL QUERY: oha at $RATE req/s (open model)
  echo
  echo "## $1 at a fixed $RATE req/s for $RATE_DURATION ($RATE_CONNECTIONS connections)"
  if ! command -v "$OHA" >/dev/null 2>&1; then
    echo "oha not found: skipped (cargo install oha, or set OHA=...)"
    return
  fi
  local body pre
  body=$(jq -cn --arg q "$2" '{query:$q}')
  # oha judges by HTTP status only; GraphQL errors come with 200, so check once first.
  pre=$(curl -sS --max-time 30 "$URL" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary "$body")
  if [ "$(jq -r '.errors // empty' <<<"$pre")" != "" ]; then
    echo "preflight returned errors, not measuring: $(head -c 300 <<<"$pre")"
    return
  fi
  echo "preflight: $(head -c 120 <<<"$pre")… no errors"
  "$OHA" --no-tui -q "$RATE" -z "$RATE_DURATION" -c "$RATE_CONNECTIONS" --latency-correction \
    -m POST -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" \
    -d "$body" "$URL"
}

for b in $BENCHES; do
  case "$b" in
    slots) run_wrk "availableSlots ($DAYS days, one staff member, bearer token)" available_slots.lua ;;
    public_slots) run_wrk "publicAvailableSlots ($DAYS days, one staff member, no token)" public_available_slots.lua ;;
    bookings) run_wrk "bookings(first: 50) with customer/service/staffMember" bookings.lua ;;
    fixed_rate)
      fixed_rate "availableSlots" "{ availableSlots(serviceId:\"$SG_SERVICE_ID\", staffMemberId:\"$SG_STAFF_ID\", from:\"$SG_FROM\", to:\"$SG_TO\") { startsAt endsAt staffMemberIds } }" ;;
    fixed_rate_bookings)
      fixed_rate "bookings(first: 50)" "{ bookings(first: 50) { edges { node { id startsAt customer { name } service { name } staffMember { name } } } } }" ;;
    *) echo "unknown bench: $b" >&2; exit 2 ;;
  esac
done
