-- Shared helpers for the wrk scripts in this folder (loaded with dofile by each script).
-- Each thread counts responses that are not HTTP 200 or whose JSON body carries a
-- top-level "errors" member; done() prints the totals so a run that "succeeds" fast
-- by returning errors is visible.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad_status = 0
  gql_errors = 0
  checked = 0
  first_bad = ""
end

function response(status, headers, body)
  checked = checked + 1
  if status ~= 200 then
    bad_status = bad_status + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  elseif body and string.find(body, '"errors"', 1, true) then
    gql_errors = gql_errors + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 300) end
  end
end

function done(summary, latency, requests)
  local c, s, g, fb = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("checked")
    s = s + t:get("bad_status")
    g = g + t:get("gql_errors")
    local f = t:get("first_bad")
    if fb == "" and f and f ~= "" then fb = f end
  end
  io.write(string.format("checked=%d non200=%d graphql_errors=%d\n", c, s, g))
  if fb ~= "" then io.write("first bad response: " .. fb .. "\n") end
end

-- Builds a POST to /graphql with a JSON body {"query": q}; adds the bearer token when
-- SG_TOKEN is set and `auth` is true.
function gql_request(q, auth)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  local token = os.getenv("SG_TOKEN")
  if auth then
    if not token or token == "" then error("SG_TOKEN is not set") end
    wrk.headers["Authorization"] = "Bearer " .. token
  end
  q = string.gsub(q, '\\', '\\\\')
  q = string.gsub(q, '"', '\\"')
  q = string.gsub(q, '\n', ' ')
  wrk.body = '{"query":"' .. q .. '"}'
end

function need(name)
  local v = os.getenv(name)
  if not v or v == "" then error(name .. " is not set") end
  return v
end
