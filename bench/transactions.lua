-- wrk script: one connection per thread, each thread one user sending transactions in t order,
-- so a user's requests never overtake each other. Env: BENCH_PATH, BENCH_FIRST_USER, BENCH_FIRST_T,
-- BENCH_METHOD (POST unless GET).
local next_user = tonumber(os.getenv("BENCH_FIRST_USER"))
local first_t = tonumber(os.getenv("BENCH_FIRST_T"))
local bench_path = os.getenv("BENCH_PATH")
-- GET sends no body (the liveness probe); anything else posts a transaction.
local bench_method = os.getenv("BENCH_METHOD") or "POST"

function setup(thread)
  thread:set("user_id", next_user)
  thread:set("t", first_t)
  thread:set("target", bench_path)
  next_user = next_user + 1
end

local n = 0
local headers = { ["Content-Type"] = "application/json" }

function request()
  if bench_method == "GET" then
    return wrk.format("GET", target)
  end
  n = n + 1
  t = t + 1
  -- A mix that raises every code now and then: rising deposits, runs of withdraws, big ones.
  local kind = (n % 4 == 0 or n % 4 == 1) and "withdraw" or "deposit"
  local amount = (n % 7) * 25 + 10
  local body = string.format('{"type":"%s","amount":"%d.00","user_id":%d,"t":%d}', kind, amount, user_id, t)
  return wrk.format("POST", target, headers, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"non_2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
