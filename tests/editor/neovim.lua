-- Neovim (headless, Debian's) as a real editor client of `helm-xmpp lsp`, for tests/lsp.rs. It opens
-- $HX_FILE, attaches the server ($HX_BIN lsp), waits for its diagnostics, asks for hover, completion
-- and a quick fix through Neovim's own LSP client, applies the fix and formats the buffer, and
-- writes what it saw as JSON to $HX_OUT. Positions are given as HX_HOVER and HX_COMPLETE ("line,col").
local bin, file, out = os.getenv('HX_BIN'), os.getenv('HX_FILE'), os.getenv('HX_OUT')
local function pos(name)
  local l, c = os.getenv(name):match('(%d+),(%d+)')
  return { line = tonumber(l), character = tonumber(c) }
end

vim.cmd('edit ' .. vim.fn.fnameescape(file))
local buf = vim.api.nvim_get_current_buf()
local id = vim.lsp.start_client({ name = 'helm-xmpp', cmd = { bin, 'lsp' }, root_dir = vim.fn.fnamemodify(file, ':h') })
vim.lsp.buf_attach_client(buf, id)
local client = vim.lsp.get_client_by_id(id)
local result = { diagnostics = {} }
vim.wait(20000, function() return #vim.diagnostic.get(buf) > 0 end, 20)
for _, d in ipairs(vim.diagnostic.get(buf)) do
  table.insert(result.diagnostics, { line = d.lnum, col = d.col, code = d.code, message = d.message })
end

local doc = { uri = vim.uri_from_bufnr(buf) }
local hover = client.request_sync('textDocument/hover', { textDocument = doc, position = pos('HX_HOVER') }, 10000, buf)
result.hover = hover and hover.result and hover.result.contents.value or vim.NIL
local items = client.request_sync('textDocument/completion', { textDocument = doc, position = pos('HX_COMPLETE') }, 10000, buf)
result.completion = {}
for _, item in ipairs(items and items.result and items.result.items or {}) do
  table.insert(result.completion, item.label)
end

-- The first diagnostic's quick fix, applied as Neovim applies one.
local first = vim.diagnostic.get(buf)[1]
local range = { start = { line = first.lnum, character = first.col }, ['end'] = { line = first.end_lnum, character = first.end_col } }
local actions = client.request_sync('textDocument/codeAction', { textDocument = doc, range = range, context = { diagnostics = {} } }, 10000, buf)
local action = actions and actions.result and actions.result[1]
result.fix = action and action.title or vim.NIL
if action then
  vim.lsp.util.apply_workspace_edit(action.edit, client.offset_encoding or 'utf-16')
end
vim.wait(20000, function() return #vim.diagnostic.get(buf, { severity = vim.diagnostic.severity.ERROR }) < #result.diagnostics end, 20)
result.errors_after_fix = #vim.diagnostic.get(buf, { severity = vim.diagnostic.severity.ERROR })

vim.lsp.buf.formatting_sync(nil, 10000)
result.formatted = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') .. '\n'

local f = io.open(out, 'w')
f:write(vim.fn.json_encode(result))
f:close()
vim.lsp.stop_client(id)
vim.cmd('qa!')
