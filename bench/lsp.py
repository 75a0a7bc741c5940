#!/usr/bin/env python3
"""The language server's response times, as an editor sees them: `python3 bench/lsp.py BIN FILE [RUNS]`.

Starts `BIN lsp`, opens FILE, then times RUNS keystrokes (a change of one character, then the
diagnostics published for it) and RUNS completion requests at the start of an empty line inside the
file's first block. Prints the median and the slowest in milliseconds. Not a test: nothing passes or
fails on a figure (bench/measure prints it into docs/performance.md)."""
import json, statistics, subprocess, sys, time

bin_, path = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 50
server = subprocess.Popen([bin_, "lsp"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
uri = "file://" + path


def send(message):
    body = json.dumps(message).encode()
    server.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    server.stdin.flush()


def receive():
    length = 0
    while (line := server.stdout.readline().strip()):
        if line.startswith(b"Content-Length:"):
            length = int(line.split(b":")[1])
    return json.loads(server.stdout.read(length))


def until(pred):
    while not pred(m := receive()):
        pass
    return m


send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
until(lambda m: m.get("id") == 0)
send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
text = open(path).read()
send({"jsonrpc": "2.0", "method": "textDocument/didOpen",
      "params": {"textDocument": {"uri": uri, "languageId": "xmpp", "version": 1, "text": text}}})
until(lambda m: m.get("method") == "textDocument/publishDiagnostics")

# An empty line inside the first block, for completion: inserted after the first line ending in `{`.
lines = text.split("\n")
at = next(i for i, l in enumerate(lines) if l.rstrip().endswith("{")) + 1
lines.insert(at, "  ")
base = "\n".join(lines)

keystroke, completion = [], []
for n in range(runs):
    changed = base + ("#" if n % 2 else "")
    t = time.perf_counter()
    send({"jsonrpc": "2.0", "method": "textDocument/didChange",
          "params": {"textDocument": {"uri": uri, "version": n + 2}, "contentChanges": [{"text": changed}]}})
    until(lambda m: m.get("method") == "textDocument/publishDiagnostics")
    keystroke.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    send({"jsonrpc": "2.0", "id": n + 1, "method": "textDocument/completion",
          "params": {"textDocument": {"uri": uri}, "position": {"line": at, "character": 2}}})
    items = until(lambda m: m.get("id") == n + 1)["result"]["items"]
    completion.append((time.perf_counter() - t) * 1000)
    assert items, "no completion items"

send({"jsonrpc": "2.0", "id": -1, "method": "shutdown", "params": None})
until(lambda m: m.get("id") == -1)
send({"jsonrpc": "2.0", "method": "exit", "params": None})
server.wait()
for name, times in (("diagnostics after a keystroke", keystroke), ("completion", completion)):
    print(f"| {name} | {statistics.median(times):.1f} ms | {max(times):.1f} ms |")
