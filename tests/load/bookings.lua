-- First page of 50 bookings with their customer, service and staff member.
-- Env: SG_TOKEN, SG_LOAD_DIR.
dofile((os.getenv("SG_LOAD_DIR") or "tests/load") .. "/common.lua")
gql_request('{ bookings(first: 50) { edges { node { id startsAt customer { name } service { name } staffMember { name } } } } }', true)
