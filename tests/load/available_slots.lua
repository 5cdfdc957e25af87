-- Operator availability for one service and one staff member over a date range.
-- Env: SG_TOKEN, SG_SERVICE_ID, SG_STAFF_ID, SG_FROM, SG_TO (YYYY-MM-DD), SG_LOAD_DIR
-- (folder of this script, for common.lua; default tests/load).
dofile((os.getenv("SG_LOAD_DIR") or "tests/load") .. "/common.lua")
gql_request(string.format(
  '{ availableSlots(serviceId:"%s", staffMemberId:"%s", from:"%s", to:"%s") { startsAt endsAt staffMemberIds } }',
  need("SG_SERVICE_ID"), need("SG_STAFF_ID"), need("SG_FROM"), need("SG_TO")), true)
