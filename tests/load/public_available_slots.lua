-- Public (no token) availability for one service and one staff member over a date range.
-- Env: SG_TENANT (default demo), SG_SERVICE_ID, SG_STAFF_ID, SG_FROM, SG_TO, SG_LOAD_DIR.
dofile((os.getenv("SG_LOAD_DIR") or "tests/load") .. "/common.lua")
gql_request(string.format(
  '{ publicAvailableSlots(tenantSlug:"%s", serviceId:"%s", staffMemberId:"%s", from:"%s", to:"%s") { startsAt endsAt } }',
  os.getenv("SG_TENANT") or "demo", need("SG_SERVICE_ID"), need("SG_STAFF_ID"),
  need("SG_FROM"), need("SG_TO")), false)
