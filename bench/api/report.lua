-- wrk script: optional random player per request, and a JSON summary at the end.
--   WRK_PATH  path to request; "{user}" is replaced by a random id from WRK_IDS
--   WRK_IDS   file with one user id per line
local template = os.getenv("WRK_PATH") or "/"
local ids = {}

function init(args)
  local file = os.getenv("WRK_IDS")
  if file and template:find("{user}", 1, true) then
    for line in io.lines(file) do ids[#ids + 1] = line end
  end
  math.randomseed(os.time() + (tonumber(tostring({}):sub(8), 16) or 0))
end

function request()
  local path = template
  if #ids > 0 then
    path = template:gsub("{user}", ids[math.random(#ids)])
  end
  return wrk.format("GET", path)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "errors": %d, "non_2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect + e.read + e.write + e.timeout, e.status))
end
