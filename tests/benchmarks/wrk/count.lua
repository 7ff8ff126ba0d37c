-- wrk script for the mock benchmarks: a fixed request from the environment, and a stop after
-- WRK_STOP_AFTER responses per thread (it then prints WRKSTOP, and the caller ends wrk's sleep
-- with SIGINT), so a benchmark round is the time for a fixed number of requests.
-- done() prints one line "WRKJSON {...}" with the counts the test asserts on.
--   WRK_METHOD (GET), WRK_BODY (JSON, sets Content-Type), WRK_AUTHORIZATION, WRK_STOP_AFTER (0 = never),
--   WRK_REQUIRE_HEADERS (comma-separated lower-case header names every answer must carry; the
--   answers missing any are counted as "missing_headers")

wrk.method = os.getenv("WRK_METHOD") or "GET"
local body = os.getenv("WRK_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end
local auth = os.getenv("WRK_AUTHORIZATION")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  stop_after = tonumber(os.getenv("WRK_STOP_AFTER") or "0") or 0
  responses = 0
  non200 = 0
  missing_headers = 0
  required = {}
  for name in string.gmatch(os.getenv("WRK_REQUIRE_HEADERS") or "", "[^,]+") do
    table.insert(required, name)
  end
end

local function has_header(headers, name)
  for k, _ in pairs(headers) do
    if string.lower(k) == name then
      return true
    end
  end
  return false
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    non200 = non200 + 1
  end
  for _, name in ipairs(required) do
    if not has_header(headers, name) then
      missing_headers = missing_headers + 1
      break
    end
  end
  if stop_after > 0 and responses == stop_after then
    wrk.thread:stop()
    -- wrk's main thread sleeps out -d whatever the threads do: this line tells the caller
    -- (tests/benchmarks/conftest.py run_wrk) to end that sleep with SIGINT
    io.write("WRKSTOP\n")
    io.stdout:flush()
  end
end

function done(summary, latency, requests)
  local r, bad, missing = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("responses")
    bad = bad + t:get("non200")
    missing = missing + t:get("missing_headers")
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"responses": %d, "non200": %d, "missing_headers": %d, "requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"latency_p50_us": %d, "latency_p99_us": %d}\n',
    r, bad, missing, summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
