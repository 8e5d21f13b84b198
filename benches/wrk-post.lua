-- Creates a case with an inline contact and a first message; every tenth
-- request is a new contact, the rest find an existing one by phone number.
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.headers["Content-Type"] = "application/json"
local unit = os.getenv("UNIT")
local n = 0
request = function()
  n = n + 1
  local phone = string.format("+57310%07d", (n % 10 == 0) and (n + math.random(1, 9000000)) or (n % 50))
  local body = string.format(
    '{"subject":"Consulta %d","channel":"whatsapp","unit_id":"%s","contact":{"identities":[{"channel":"whatsapp","value":"%s"}]},"first_message":{"body":"Hola, quisiera saber sobre la matrícula"}}',
    n, unit, phone)
  return wrk.format(nil, nil, nil, body)
end
