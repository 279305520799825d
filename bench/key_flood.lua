-- wrk script for bench/key_flood.sh: GET /v1/payments with a fresh, well-formed but
-- unknown API key per request. Each costs the server an argon2id verification (an unknown
-- key id costs what a wrong secret costs).
local counter = 0
local thread_no = 0
local threads = {}

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function request()
  counter = counter + 1
  local id = string.format("%06x%010x", tid, counter)
  return wrk.format("GET", "/v1/payments",
    {["Authorization"] = "Bearer pk_" .. id .. "_" .. string.rep("a", 64)})
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do io.write(string.format("flood status %s: %d\n", code, n)) end
  end
end
