-- wrk script for the disco / etcd benchmark (scripts/bench.sh).
--
-- Environment:
--   TARGET    disco | etcd
--   TEST      disco: put | get | stale | consistent | register | health
--             etcd:  put | get (linearizable range) | stale (serializable range)
--   PREFIX    key / service-ID prefix that makes this run's writes unique (default "r")
--   READ_KEYS number of seeded read keys bench/key-0 .. bench/key-(READ_KEYS-1) (default 1000)
--   VALSIZE   value size in bytes for puts (default 100)
--   LIMIT     max requests per wrk thread (default 1e9); the run is bounded by wrk -d as well
--   CONNS     connection count, only echoed in the RESULT line
--   TOKEN     ACL token sent as X-Consul-Token on every disco request (default none)
--
-- done() prints one parseable line:
--   RESULT target=.. test=.. conns=.. reqs=.. secs=.. rps=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=..
--          mean_ms=.. app_errs=.. sock_errs=.. non2xx=..
-- app_errs counts answers that were not 2xx or whose body reports a failure (disco KV put answering
-- "false", an etcd JSON error).

local target = os.getenv("TARGET") or "disco"
local test = os.getenv("TEST") or "get"
local prefix = os.getenv("PREFIX") or "r"
local read_keys = tonumber(os.getenv("READ_KEYS") or "1000")
local valsize = tonumber(os.getenv("VALSIZE") or "100")
local limit = tonumber(os.getenv("LIMIT") or "1000000000")
local conns = os.getenv("CONNS") or "?"

-- base64, three bytes at a time (etcd's JSON gateway wants base64 keys and values)
local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local b64tab = {}
for i = 1, 64 do b64tab[i - 1] = b64chars:sub(i, i) end
local function b64(s)
  local out, n = {}, #s
  for i = 1, n, 3 do
    local a, b, c = s:byte(i, i + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(v / 262144) % 64
    local c2 = math.floor(v / 4096) % 64
    local c3 = math.floor(v / 64) % 64
    local c4 = v % 64
    out[#out + 1] = b64tab[c1] .. b64tab[c2] .. (b and b64tab[c3] or "=") .. (c and b64tab[c4] or "=")
  end
  return table.concat(out)
end

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + (tid or 0))
  counter = 0
  done_n = 0
  errs = 0
  value = string.rep("v", valsize)
  json_headers = { ["Content-Type"] = "application/json" }
  auth_headers = nil
  local token = os.getenv("TOKEN")
  if token and token ~= "" and target == "disco" then
    auth_headers = { ["X-Consul-Token"] = token }
    json_headers["X-Consul-Token"] = token
  end
  if target == "etcd" then
    value64 = b64(value)
    -- request bodies for the seeded read keys, encoded once
    range_bodies = {}
    local extra = (test == "stale") and ',"serializable":true' or ""
    for n = 0, read_keys - 1 do
      range_bodies[n] = '{"key":"' .. b64("bench/key-" .. n) .. '"' .. extra .. "}"
    end
  end
end

-- unique per run, thread and request, in random order: PREFIX-<tid>-<8 hex random><8 hex counter>
local function put_key()
  return string.format("bench/%s-%d-%08x%08x", prefix, tid, math.random(0, 2147483646), counter)
end

function request()
  counter = counter + 1
  if target == "etcd" then
    if test == "put" then
      return wrk.format("POST", "/v3/kv/put", json_headers,
        '{"key":"' .. b64(put_key()) .. '","value":"' .. value64 .. '"}')
    end
    return wrk.format("POST", "/v3/kv/range", json_headers, range_bodies[math.random(0, read_keys - 1)])
  end
  if test == "put" then
    return wrk.format("PUT", "/v1/kv/" .. put_key(), auth_headers, value)
  elseif test == "get" then
    return wrk.format("GET", "/v1/kv/bench/key-" .. math.random(0, read_keys - 1), auth_headers)
  elseif test == "stale" then
    return wrk.format("GET", "/v1/kv/bench/key-" .. math.random(0, read_keys - 1) .. "?stale", auth_headers)
  elseif test == "consistent" then
    return wrk.format("GET", "/v1/kv/bench/key-" .. math.random(0, read_keys - 1) .. "?consistent", auth_headers)
  elseif test == "register" then
    local id = string.format("reg-%s-%d-%d", prefix, tid, counter)
    return wrk.format("PUT", "/v1/agent/service/register", json_headers,
      '{"ID":"' .. id .. '","Name":"bench-reg","Tags":["bench"],"Address":"127.0.0.1","Port":' ..
      (10000 + counter % 50000) .. ',"Meta":{"run":"' .. prefix .. '"}}')
  elseif test == "health" then
    return wrk.format("GET", "/v1/health/service/web?passing", auth_headers)
  end
  error("unknown TEST " .. test)
end

function response(status, headers, body)
  done_n = done_n + 1
  if status < 200 or status > 299 then
    errs = errs + 1
  elseif target == "etcd" then
    if body:find('"error"', 1, true) then errs = errs + 1 end
  elseif test == "put" then
    if body:sub(1, 4) ~= "true" then errs = errs + 1 end
  end
  if done_n >= limit then wrk.thread:stop() end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + (t:get("errs") or 0) end
  local secs = summary.duration / 1e6
  local s = summary.errors
  io.write(string.format(
    "RESULT target=%s test=%s conns=%s reqs=%d secs=%.2f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f mean_ms=%.3f app_errs=%d sock_errs=%d non2xx=%d\n",
    target, test, conns, summary.requests, secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, latency.mean / 1000, e,
    s.connect + s.read + s.write + s.timeout, s.status))
end
