-- POST /api/v1/inspections, /api/v1/inspections/batch or /api/v1/redemptions, every
-- request distinct and valid.
--
-- wrk -t T ... -s writes.lua http://127.0.0.1:PORT -- MODE TOKEN FIRST COUNT OFFSET RUN GOODS T B
--   MODE    inspections | redemptions | batch (B inspections a request, request n holding
--           the credits n*B .. n*B+B-1, each item keyed RUN-n-i; an error unless all are 201)
--           | healthz (GET /healthz, the floor every request pays; an error unless 200)
--   TOKEN   bearer token of an inspector (inspections) or a storekeeper (redemptions)
--   FIRST   id of the first of COUNT households with consecutive ids
--   OFFSET  the first request number of this run (above every number sent before)
--   RUN     a label that starts every Idempotency-Key of the run
--   GOODS   comma-separated good ids (redemptions)
-- Thread t sends request numbers OFFSET + t, OFFSET + t + T, ... (T threads): request n
-- goes to household FIRST + n % COUNT (round robin, so none is over the daily limit)
-- with Idempotency-Key RUN-n. Any answer but 201 is an error; done() prints one line
-- "BENCH {json}" with the throughput, latency percentiles, errors, and "next": the next
-- run's OFFSET is this OFFSET + next.

local threads = {}
local next_id = 0

function setup(thread)
   thread:set("id", next_id)
   next_id = next_id + 1
   table.insert(threads, thread)
end

function init(args)
   mode = args[1]
   first = tonumber(args[3])
   count = tonumber(args[4])
   offset = tonumber(args[5])
   run = args[6]
   goods = {}
   for good in string.gmatch(args[7] or "", "%d+") do
      table.insert(goods, tonumber(good))
   end
   step = tonumber(args[8])
   size = tonumber(args[9] or "1")
   n = id
   errors = 0
   sample = ""
   path = "/api/v1/" .. mode
   if mode == "batch" then
      path = "/api/v1/inspections/batch"
   end
   headers = {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. args[2],
   }
end

function request()
   if mode == "healthz" then
      return wrk.format("GET", "/healthz")
   end
   local number = offset + n
   n = n + step
   local household = first + number % count
   local body
   if mode == "batch" then
      local items = {}
      for i = 0, size - 1 do
         local credit = number * size + i
         table.insert(items, string.format(
            '{"key": "%s-%d-%d", "household_id": %d, "grade": "A"}',
            run, number, i, first + credit % count))
      end
      headers["Idempotency-Key"] = nil
      return wrk.format("POST", path, headers, '{"items": [' .. table.concat(items, ",") .. ']}')
   elseif mode == "inspections" then
      body = string.format('{"household_id": %d, "grade": "A"}', household)
   else
      local good = goods[number % #goods + 1]
      body = string.format(
         '{"household_id": %d, "lines": [{"good_id": %d, "quantity": 1}]}', household, good)
   end
   headers["Idempotency-Key"] = run .. "-" .. number
   return wrk.format("POST", path, headers, body)
end

function response(status, headers, body)
   local ok = status == 201
   if mode == "healthz" then
      ok = status == 200
   elseif mode == "batch" then
      local _, credited = string.gsub(body or "", '"status":201', "")
      ok = status == 200 and credited == size
   end
   if not ok then
      errors = errors + 1
      if sample == "" then
         sample = status .. " " .. string.sub(body or "", 1, 300)
      end
   end
end

function done(summary, latency, requests)
   local non2xx, used = 0, 0
   local samples = {}
   for _, thread in ipairs(threads) do
      non2xx = non2xx + thread:get("errors")
      used = math.max(used, thread:get("n"))
      local sample = thread:get("sample")
      if sample ~= "" then
         table.insert(samples, sample)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, '
         .. '"max_us": %d, "mean_us": %.1f, "non2xx": %d, "connect": %d, "read": %d, '
         .. '"write": %d, "timeout": %d, "next": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, non2xx, e.connect, e.read, e.write,
      e.timeout, used))
   for _, sample in ipairs(samples) do
      io.write("BENCH-ERROR " .. string.gsub(sample, "\n", " ") .. "\n")
   end
end
