-- One fixed, pre-signed webhook delivery sent over and over (wrk).
-- Env: SG_BODY_FILE (the raw event JSON), SG_SIG_FILE (its Stripe-Signature value),
-- SG_EXPECT (the expected HTTP status, default 200). The signature's timestamp must stay
-- within 300 s of the server's clock for the whole run (webhook.py `fixed` makes both).
-- done() prints checked=N expected=N other_status=N duplicate=N: with a 200 expected
-- every answer must be {"received":true,"duplicate":true}.
local function slurp(name)
  local path = os.getenv(name)
  if not path or path == "" then error(name .. " is not set") end
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

wrk.method = "POST"
wrk.body = slurp("SG_BODY_FILE")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Stripe-Signature"] = (string.gsub(slurp("SG_SIG_FILE"), "%s+$", ""))
local expect = tonumber(os.getenv("SG_EXPECT") or "200")

function init(args)
  checked, expected, other, dup, first_bad = 0, 0, 0, 0, ""
end

function response(status, headers, body)
  checked = checked + 1
  if status == expect then expected = expected + 1 else
    other = other + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
  if body and string.find(body, '"duplicate":true', 1, true) then dup = dup + 1 end
end

function done(summary, latency, requests)
  local c, e, o, d, fb = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("checked"); e = e + t:get("expected")
    o = o + t:get("other"); d = d + t:get("dup")
    local f = t:get("first_bad")
    if fb == "" and f and f ~= "" then fb = f end
  end
  io.write(string.format("checked=%d expected_%d=%d other_status=%d duplicate=%d\n", c, expect, e, o, d))
  if fb ~= "" then io.write("first unexpected response: " .. fb .. "\n") end
end
