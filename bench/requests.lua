-- wrk script for bench.http. Arguments: a run nonce (hex), the method, the JSON body with
-- "%UUID%" where each request's UUID goes ("" for none), then one Cookie header per person.
-- Each request goes as the next person (32 staff at 32 devices, not one session shared by
-- all), and each POST carries a fresh, never-repeated UUID.
local counter = 0
local nonce, method, template
local cookies = {}
-- thread_id is a global, set in each thread by setup()
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

function init(args)
  nonce = tonumber(args[1], 16)
  method = args[2]
  template = args[3]
  for i = 4, #args do
    cookies[#cookies + 1] = args[i]
  end
end

function request()
  counter = counter + 1
  local headers = {}
  for name, value in pairs(wrk.headers) do
    headers[name] = value
  end
  if #cookies > 0 then
    headers["Cookie"] = cookies[(counter * 2 + thread_id) % #cookies + 1]
  end
  local body = nil
  if template ~= "" then
    local uuid = string.format("%08x-%04x-4000-8000-%012x", nonce, thread_id, counter)
    body = template:gsub("%%UUID%%", uuid)
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, nil, headers, body)
end
