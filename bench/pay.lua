-- wrk script: POST /api/v1/payments with a unique request_id per request, users round-robin.
-- Reads tokens (one per line) from $QB_TOKENS and the merchant id from $QB_MERCHANT; $QB_RUN
-- makes each run's request ids its own (a warm-up's ids again would be answered as replays).
-- Counts every answer by status and by error code, and keeps the first refusal's body, so a
-- run that gets refusals shows them ("payments" counts the 200s that say SUCCEEDED only).
local counter, tokens = 0, {}
local threads = {}
statuses, payments, first_refusal = {}, 0, ""

function setup(thread)
  thread:set("thread_no", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("QB_TOKENS")) do tokens[#tokens + 1] = line end
end

-- $QB_PACE_MS paces each connection: before each request it waits a random time (exponential,
-- that mean), so the offered rate is about connections / pace; unset, requests go back to back.
local pace_ms = tonumber(os.getenv("QB_PACE_MS") or "")
if pace_ms then
  function delay() return -math.log(1 - math.random()) * pace_ms end
end

function request()
  counter = counter + 1
  local token = tokens[(counter + thread_no * 7) % #tokens + 1]
  local body = string.format(
    '{"merchant_id":"%s","amount_fen":100,"request_id":"wrk-%s-%d-%d"}',
    os.getenv("QB_MERCHANT"), os.getenv("QB_RUN") or "", thread_no, counter)
  return wrk.format("POST", "/api/v1/payments",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, body)
end

function response(status, headers, body)
  local key = tostring(status)
  if status == 200 and string.find(body, '"SUCCEEDED"', 1, true) then
    payments = payments + 1
  else
    local code = string.match(body or "", '"code":%s*"([%w_]+)"')
    if code then key = key .. " " .. code end
    if first_refusal == "" then first_refusal = key .. ": " .. string.sub(body or "", 1, 300) end
  end
  statuses[key] = (statuses[key] or 0) + 1
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local e = summary.errors
  local total, all, refusal = 0, {}, ""
  for _, thread in ipairs(threads) do
    total = total + thread:get("payments")
    for k, n in pairs(thread:get("statuses")) do all[k] = (all[k] or 0) + n end
    if refusal == "" then refusal = thread:get("first_refusal") end
  end
  local parts = {}
  for k, n in pairs(all) do parts[#parts + 1] = string.format('%s: %d', quote(k), n) end
  io.write(string.format('{"requests": %d, "payments": %d, "non2xx": %d, "connect": %d, "read": %d, "write": %d, "timeout": %d, "seconds": %.3f, "mean_ms": %.2f, "p50_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f, "statuses": {%s}, "first_refusal": %s}\n',
    summary.requests, total, e.status, e.connect, e.read, e.write, e.timeout,
    summary.duration / 1e6, latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, table.concat(parts, ", "), quote(refusal)))
end
