#!/usr/bin/env bash
# Creates COUNT bookings (default 60) through the API so that bookings(first: 50) has a
# full page: takes free slots of one service/staff member from availableSlots, keeps
# non-overlapping ones, and books each with createBooking for a new customer
# "Load Customer NNNN" with phone +1415555NNNN. Starts nothing.
#
#   tests/load/seed_bookings.sh BASE_URL TOKEN [COUNT] [PHONE_START]
#
# PHONE_START (default 1000) is the first NNNN; use another range to seed again.
# Env: SG_SERVICE_ID / SG_STAFF_ID (default: first service / first staff member), DAYS=30.
set -euo pipefail
if [ $# -lt 2 ]; then sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 2; fi
URL="${1%/}/graphql"
TOKEN=$2
COUNT=${3:-60}
PHONE=${4:-1000}
DAYS=${DAYS:-30}

gql() { # gql QUERY [VARIABLES_JSON]
  jq -n --arg q "$1" --argjson v "${2:-null}" '{query:$q, variables:$v}' |
    curl -sS --max-time 30 "$URL" -H 'Content-Type: application/json' \
      -H "Authorization: Bearer $TOKEN" --data-binary @-
}

ids=$(gql '{ staffMembers { edges { node { id } } } services { edges { node { id } } } tenant { timezone } }')
svc=${SG_SERVICE_ID:-$(jq -r '.data.services.edges[0].node.id' <<<"$ids")}
staff=${SG_STAFF_ID:-$(jq -r '.data.staffMembers.edges[0].node.id' <<<"$ids")}
tz=$(jq -r '.data.tenant.timezone' <<<"$ids")
from=$(TZ=$tz date +%F)
to=$(TZ=$tz date -d "+$((DAYS - 1)) days" +%F)

slots=$(gql 'query($s:ID!,$m:ID!,$f:NaiveDate!,$t:NaiveDate!){ availableSlots(serviceId:$s, staffMemberId:$m, from:$f, to:$t) { startsAt endsAt } }' \
  "$(jq -cn --arg s "$svc" --arg m "$staff" --arg f "$from" --arg t "$to" '{s:$s,m:$m,f:$f,t:$t}')")
# Greedy: keep a slot when it starts at or after the end of the last kept one.
starts=$(jq -r '[.data.availableSlots[]] | reduce .[] as $x ({end:"", out:[]};
    if $x.startsAt >= .end then {end:$x.endsAt, out:(.out + [$x.startsAt])} else . end) | .out[]' <<<"$slots")

made=0 failed=0
for s in $starts; do
  [ "$made" -ge "$COUNT" ] && break
  n=$((PHONE + made + failed))
  vars=$(jq -cn --arg s "$svc" --arg m "$staff" --arg at "$s" --arg name "Load Customer $n" --arg ph "+1415555$n" \
    '{i:{serviceId:$s, staffMemberId:$m, startsAt:$at, customer:{name:$name, phone:$ph}}}')
  r=$(gql 'mutation($i:CreateBookingInput!){ createBooking(input:$i) { booking { id } userErrors { code message } } }' "$vars")
  if [ "$(jq -r '.data.createBooking.booking.id // empty' <<<"$r")" != "" ]; then
    made=$((made + 1))
  else
    failed=$((failed + 1))
    echo "createBooking $s refused: $r" >&2
    [ "$failed" -ge 10 ] && break
  fi
done
echo "created $made bookings ($failed refused) for service $svc, staff $staff"
