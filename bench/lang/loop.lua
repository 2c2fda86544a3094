-- Integer loop: sum of i for i in [0, n). n = first argument, default 30,000,000.
local function main(n)
  local i = 0
  local total = 0
  while i < n do
    total = total + i
    i = i + 1
  end
  print(total)
end

main(tonumber(arg[1]) or 30000000)
