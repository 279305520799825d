-- wrk script for bench/api_load.sh: POST /v1/payments with a unique Idempotency-Key per
-- request (run id, thread number, counter). PAYORCH_KEY holds the API key; PAYORCH_CONFIRM=1
-- confirms each payment too (authorization through the mock gateway before the answer).
local counter = 0
local thread_no = 0
local threads = {}
local run_id = tostring(os.time()) .. "-" .. tostring(math.random(1, 1e9))

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
  thread:set("run_id", run_id)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  key = os.getenv("PAYORCH_KEY")
  confirm = os.getenv("PAYORCH_CONFIRM") == "1" and "true" or "false"
end

function request()
  counter = counter + 1
  local body = '{"amount":' .. (100 + counter % 5000) ..
               ',"currency":"USD","payment_method":"card","confirm":' .. confirm .. '}'
  return wrk.format("POST", "/v1/payments", {
    ["Authorization"] = "Bearer " .. key,
    ["Idempotency-Key"] = "bench-" .. run_id .. "-" .. tid .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("requests/s: %.0f\n", summary.requests / (summary.duration / 1e6)))
  io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, n in pairs(s) do io.write(string.format("status %s: %d\n", code, n)) end
  end
  io.write(string.format("non-2xx/3xx: %d, socket errors: %d\n", summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
