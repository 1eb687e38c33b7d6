-- wrk script: POST /api/v1/payments with a unique request_id per request, users round-robin.
-- Reads tokens (one per line) from $QB_TOKENS and the merchant id from $QB_MERCHANT.
local counter, tokens = 0, {}
local threads = {}

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("QB_TOKENS")) do tokens[#tokens + 1] = line end
end

function request()
  counter = counter + 1
  local token = tokens[(counter + thread_no * 7) % #tokens + 1]
  local body = string.format(
    '{"merchant_id":"%s","amount_fen":100,"request_id":"wrk-%d-%d"}',
    os.getenv("QB_MERCHANT"), thread_no, counter)
  return wrk.format("POST", "/api/v1/payments",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "non2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
    summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
