#!/usr/bin/env bash
# Creates COUNT bookings (default 60) through the API so that bookings(first: 50) has a
# full page: reads the free slots of one service/staff member from availableSlots, takes
# the earliest one, books it with createBooking for a new customer "Load Customer NNNN"
# (phone +1415555NNNN), and repeats. Starts nothing.
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

slot_q='query($s:ID!,$m:ID!,$f:NaiveDate!,$t:NaiveDate!){ availableSlots(serviceId:$s, staffMemberId:$m, from:$f, to:$t) { startsAt } }'
slot_v=$(jq -cn --arg s "$svc" --arg m "$staff" --arg f "$from" --arg t "$to" '{s:$s,m:$m,f:$f,t:$t}')

# Books the earliest free slot, then asks again: the slot list is re-read after every
# booking because services may have buffers that a slot's endsAt does not show.
made=0 failed=0 skip=0
while [ "$made" -lt "$COUNT" ] && [ "$failed" -lt 10 ]; do
  s=$(gql "$slot_q" "$slot_v" | jq -r --argjson k "$skip" '.data.availableSlots[$k].startsAt // empty')
  if [ -z "$s" ]; then echo "no free slot left in $from..$to" >&2; break; fi
  n=$((PHONE + made + failed))
  vars=$(jq -cn --arg s "$svc" --arg m "$staff" --arg at "$s" --arg name "Load Customer $n" --arg ph "+1415555$n" \
    '{i:{serviceId:$s, staffMemberId:$m, startsAt:$at, customer:{name:$name, phone:$ph}}}')
  r=$(gql 'mutation($i:CreateBookingInput!){ createBooking(input:$i) { booking { id } userErrors { code message } } }' "$vars")
  if [ "$(jq -r '.data.createBooking.booking.id // empty' <<<"$r")" != "" ]; then
    made=$((made + 1))
  else
    failed=$((failed + 1)) skip=$((skip + 1))
    echo "createBooking $s refused: $r" >&2
  fi
done
echo "created $made bookings ($failed refused) for service $svc, staff $staff"
