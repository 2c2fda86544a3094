-- Collections and strings. n = first argument, default 1,000,000.
-- Push n integers onto an array, sum them (the rco version: each), double them
-- (transform), keep the multiples of 3 (select), put n/10 keys "k" .. i into a
-- table and read each back, split a string of n characters ("a,b," repeated
-- n/4 times) on "," and join it again. Prints: sum, selected count, map sum,
-- pieces, length of the joined string. Lua has no split: a plain-text
-- string.find loop that keeps empty parts, like rco's split.
local function split(s, sep)
  local parts = {}
  local start = 1
  while true do
    local i, j = string.find(s, sep, start, true)
    if not i then
      parts[#parts + 1] = string.sub(s, start)
      return parts
    end
    parts[#parts + 1] = string.sub(s, start, i - 1)
    start = j + 1
  end
end

local function main(n)
  -- push 0 .. n-1
  local numbers = {}
  local i = 0
  while i < n do
    numbers[#numbers + 1] = i
    i = i + 1
  end

  -- sum (each)
  local total = 0
  for _, v in ipairs(numbers) do
    total = total + v
  end

  -- transform by 2, select the multiples of 3
  local doubled = {}
  for k, v in ipairs(numbers) do
    doubled[k] = v * 2
  end
  local selected = {}
  for _, v in ipairs(doubled) do
    if v % 3 == 0 then
      selected[#selected + 1] = v
    end
  end

  -- put n/10 keys into a table, read each back
  local keys_count = n // 10
  local map = {}
  i = 0
  while i < keys_count do
    map["k" .. i] = i
    i = i + 1
  end
  local map_total = 0
  i = 0
  while i < keys_count do
    map_total = map_total + map["k" .. i]
    i = i + 1
  end

  -- split a string of n characters on "," and join it again
  local text = string.rep("a,b,", n // 4)
  local pieces = split(text, ",")
  local joined = table.concat(pieces, ",")

  print(total .. " " .. #selected .. " " .. map_total .. " " .. #pieces .. " " .. #joined)
end

main(tonumber(arg[1]) or 1000000)
