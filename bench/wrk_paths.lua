-- wrk script: cycle through the request paths listed (one per line) in the file given after
-- "--" on wrk's command line, starting each connection's thread at a random place.
local paths = {}
local index = 1

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  math.randomseed(os.time())
  index = math.random(#paths)
end

function request()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
