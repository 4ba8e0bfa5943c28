-- wrk script: POSTs a real Telegram Bot API `message` update with the secret header, a UNIQUE
-- update_id per request (the connector dedupes replays by update_id, so a constant body would
-- measure the dedupe cache, not the pipeline), and counts answers by status.
--   wrk -t2 -c256 -d20s --latency -s tests/bench/telegram_update.lua http://127.0.0.1:PORT/hooks/telegram/bench
-- Environment: OMNI_BENCH_SECRET (the connector's secret_token; default bench-secret),
--              OMNI_BENCH_ID_BASE (first update_id; default 1e9).
-- done() prints one machine-readable line: "wrk-status: 200=N other=M".

local secret = os.getenv("OMNI_BENCH_SECRET") or "bench-secret"
local id_base = tonumber(os.getenv("OMNI_BENCH_ID_BASE") or "1000000000")

local threads = {}
local thread_count = 0

function setup(thread)
  thread:set("thread_index", thread_count)
  thread_count = thread_count + 1
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state); globals so done() can read them with get().
seq = 0
ok_200 = 0
other = 0

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-Telegram-Bot-Api-Secret-Token"] = secret
end

local body_fmt = '{"update_id":%d,"message":{"message_id":%d,'
  .. '"from":{"id":%d,"is_bot":false,"first_name":"Иван","last_name":"Петров","language_code":"ru"},'
  .. '"chat":{"id":%d,"first_name":"Иван","type":"private"},"date":1795405068,'
  .. '"text":"Здравствуйте! Мой заказ №%d так и не пришёл"}}'

function request()
  seq = seq + 1
  -- Threads get disjoint ranges of 10^8 ids each: unique across the whole run.
  local update_id = id_base + thread_index * 100000000 + seq
  local customer = 100000 + (seq % 5000)  -- 5,000 distinct customers/chats
  local body = string.format(body_fmt, update_id, seq, customer, customer, seq)
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status == 200 then ok_200 = ok_200 + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_other = 0, 0
  for _, t in ipairs(threads) do
    total_ok = total_ok + (t:get("ok_200") or 0)
    total_other = total_other + (t:get("other") or 0)
  end
  io.write(string.format("wrk-status: 200=%d other=%d\n", total_ok, total_other))
end
