-- Loads a prosody.cfg.lua the way Prosody's config loader does (core/configmanager.lua, 0.12 and
-- 13.0: sections by `VirtualHost`/`Host`/`Component`, options set in the current one, `ENV_` names)
-- and prints each option of each section on a line of its own, sorted, as
-- `section <TAB> option <TAB> value`, values in one canonical form (tables with their keys sorted).
-- `import`'s test compares an original's lines with those of what its import compiles to.
-- What the config reads from outside is printed as a marker, never read: `ENV_X` and
-- `os.getenv("X")` as `$ENV{X}`, `FileContents "p"` as `$FileContents{p}`, `Include "p"` as an option
-- `Include p` of the section it stands in. Option names ending in password, secret or _pass print
-- `<secret>` whatever their value, so that a literal and the reference that replaces it compare equal.
-- An option assigned twice in one section prints `duplicate <TAB> section <TAB> option` on standard
-- error, as Prosody warns of it at start-up.
-- Usage: lua5.4 dump-prosody-config.lua FILE
local file = assert(arg[1], "usage: lua5.4 dump-prosody-config.lua FILE")
local config, current, assigned = { ["*"] = {} }, "*", {}

local function set(section, k, v)
  config[section] = config[section] or {}
  config[section][k] = v
end

local function options(section)
  return function(t)
    current = "*"
    for k, v in pairs(t) do set(section, k, v) end
  end
end

local function marker(kind)
  return function(arg) return "$" .. kind .. "{" .. tostring(arg) .. "}" end
end

local env = {}
env.VirtualHost = function(name)
  current = name
  set(name, "defined", true)
  return options(name)
end
env.Host, env.host = env.VirtualHost, env.VirtualHost
env.Component = function(name)
  current = name
  set(name, "component_module", "component")
  set(name, "load_global_modules", false)
  return function(module)
    if type(module) == "string" then
      set(name, "component_module", module)
      return options(name)
    end
    return options(name)(module)
  end
end
env.component = env.Component
env.Include = function(path) set(current, "Include " .. path, true) end
env.include, env.RunScript = env.Include, env.Include
env.FileContents, env.FileLine, env.FileLines = marker("FileContents"), marker("FileLine"), marker("FileLines")
env.Credential = marker("Credential")
local getenv = { getenv = marker("ENV") }
setmetatable(env, {
  __index = function(_, k)
    if k:match("^ENV_") then return "$ENV{" .. k:sub(5) .. "}" end
    if k == "Lua" then return { os = getenv } end
    if k == "os" then return getenv end
    error("the config reads `" .. k .. "`", 2)
  end,
  __newindex = function(_, k, v)
    if assigned[current .. "\t" .. k] then io.stderr:write("duplicate\t", current, "\t", k, "\n") end
    assigned[current .. "\t" .. k] = true
    set(current, k, v)
  end,
})

local chunk = assert(loadfile(file, "t", env))
chunk()

local function secret(name)
  return type(name) == "string" and (name:match("password$") or name:match("secret$") or name:match("_pass$"))
end

local function show(v, name)
  if secret(name) then return "<secret>" end
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    if type(a) == type(b) then return a < b end
    return type(a) == "number"
  end)
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = "[" .. show(k) .. "]=" .. show(v[k], k) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local lines = {}
for section, opts in pairs(config) do
  for k, v in pairs(opts) do lines[#lines + 1] = section .. "\t" .. k .. "\t" .. show(v, k) end
end
table.sort(lines)
print(table.concat(lines, "\n"))
