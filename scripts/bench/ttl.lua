-- wrk script: PUT /v1/agent/check/pass/ttl-<i>?note=<n>, rotating over TTL_CHECKS checks,
-- each request after DELAY_MS (ms, fractional) so the total rate stays near the target.
local checks = tonumber(os.getenv("TTL_CHECKS") or "1000")
local delay_ms = tonumber(os.getenv("DELAY_MS") or "0")
local n = 0
local carry = 0

request = function()
  n = n + 1
  local path = string.format("/v1/agent/check/pass/ttl-%d?note=update-%d", n % checks, n)
  return wrk.format("PUT", path, nil, "")
end

delay = function()
  -- wrk delays in whole milliseconds; carry the fraction so the average is right.
  carry = carry + delay_ms
  local whole = math.floor(carry)
  carry = carry - whole
  return whole
end
