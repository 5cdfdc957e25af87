-- Fresh webhook events from a file of pre-signed deliveries (wrk), each sent once:
-- a cross-check of `webhooks.py fresh` with no Python in the client path.
-- Env: SG_EVENTS_FILE (lines "<Stripe-Signature>\t<body>", from `webhooks.py presign`),
-- SG_SLUG (tenant slug). Thread i of n sends lines i, i+n, i+2n, ...; when its share runs
-- out it starts over and the repeats show up as duplicate=N (make the file big enough).
-- The file must be used within 300 s of `presign` (signature tolerance).
local threads = {}
local nthreads = 0
function setup(thread)
  thread:set("tid", nthreads)
  nthreads = nthreads + 1
  table.insert(threads, thread)
end

function init(args)
  local path = os.getenv("SG_EVENTS_FILE") or error("SG_EVENTS_FILE is not set")
  local slug = os.getenv("SG_SLUG") or error("SG_SLUG is not set")
  local n = tonumber(os.getenv("SG_THREADS") or "2")
  reqs, i, idx = {}, 0, 0
  for line in io.lines(path) do
    if idx % n == tid then
      local sig, body = string.match(line, "^([^\t]+)\t(.*)$")
      reqs[#reqs + 1] = wrk.format("POST", "/webhooks/" .. slug .. "/stripe",
        {["Content-Type"] = "application/json", ["Stripe-Signature"] = sig}, body)
    end
    idx = idx + 1
  end
  checked, ok, other, dup, first_bad = 0, 0, 0, 0, ""
end

function request()
  i = i + 1
  if i > #reqs then i = 1 end
  return reqs[i]
end

function response(status, headers, body)
  checked = checked + 1
  if status == 200 then ok = ok + 1 else
    other = other + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body or "", 1, 300) end
  end
  if body and string.find(body, '"duplicate":true', 1, true) then dup = dup + 1 end
end

function done(summary, latency, requests)
  local c, o, x, d, fb = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    c = c + t:get("checked"); o = o + t:get("ok")
    x = x + t:get("other"); d = d + t:get("dup")
    local f = t:get("first_bad")
    if fb == "" and f and f ~= "" then fb = f end
  end
  io.write(string.format("checked=%d ok_200=%d other_status=%d duplicate=%d\n", c, o, x, d))
  if fb ~= "" then io.write("first unexpected response: " .. fb .. "\n") end
end
