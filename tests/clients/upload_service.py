"""The chart's upload service (charts/xmpp/files/ejabberd-upload.escript) against hostile requests,
signed as ejabberd signs them (HMAC-SHA256 of "USER/RANDOM/FILE SIZE" under the key).

Usage: upload_service.py --port P --docroot DIR --key KEY

The service must be listening on 127.0.0.1:P with prefix /upload, DOCROOT DIR and the key KEY. Prints
one JSON object per case, {"case": NAME, "ok": …, "detail": …}; nothing outside DIR may be written.
"""

import argparse
import hashlib
import hmac
import http.client
import json
import os
import socket
import urllib.parse


def sign(slot, size, key=None):
    return hmac.new((key or ARGS.key).encode(), f"{slot} {size}".encode(), hashlib.sha256).hexdigest()


def request(method, target, body=b"", headers=None, length=None):
    c = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=10)
    c.putrequest(method, target, skip_accept_encoding=True, skip_host=False)
    c.putheader("Content-Length", str(len(body) if length is None else length))
    for k, v in (headers or {}).items():
        c.putheader(k, v)
    c.endheaders()
    if body:
        c.send(body)
    r = c.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def put(slot, body, signature=None, **kw):
    quoted = "/".join(urllib.parse.quote(p, safe="") for p in slot.split("/"))
    sig = sign(slot, len(body)) if signature is None else signature
    return request("PUT", f"/upload/{quoted}?v={sig}", body, **kw)[0]


def raw(data, half_close=False):
    """Bytes straight onto the socket (then, with half_close, no more: the client is done sending);
    the status line of the answer (or what happened)."""
    with socket.create_connection(("127.0.0.1", ARGS.port), timeout=10) as s:
        s.sendall(data)
        if half_close:
            s.shutdown(socket.SHUT_WR)
        try:
            return s.recv(200).split(b"\r\n")[0].decode()
        except socket.timeout:
            return "no answer"


def files():
    return sorted(os.path.relpath(os.path.join(d, f), ARGS.docroot) for d, _, fs in os.walk(ARGS.docroot) for f in fs)


def cases():
    body = b"helm-xmpp upload service\n"
    yield "signed PUT taken", put("u/r/a.txt", body) == 201
    status, headers, got = request("GET", "/upload/u/r/a.txt")
    yield "GET serves the bytes, inline text, no sniffing", (
        status == 200 and got == body and headers.get("Content-Type") == "text/plain"
        and headers.get("X-Content-Type-Options") == "nosniff")
    yield "the same slot again: 409, file kept", put("u/r/a.txt", b"other bytes") == 409 and \
        request("GET", "/upload/u/r/a.txt")[2] == body
    yield "no signature: 403", request("PUT", "/upload/u/r/b.txt", body)[0] == 403
    yield "another key's signature: 403", put("u/r/b.txt", body, signature=sign("u/r/b.txt", len(body), "wrong")) == 403
    yield "a signature for another size: 403", put("u/r/b.txt", body, signature=sign("u/r/b.txt", 1)) == 403
    yield "a signature for another path: 403", put("u/r/b.txt", body, signature=sign("u/r/c.txt", len(body))) == 403
    yield "a signature of another length: 403", put("u/r/b.txt", body, signature="ab") == 403
    for slot in ("u/r/..", "u/../..", "./r/x", "u/r/a%2Fb", "u/r", "u/r/x/y", "u//x"):
        target = "/upload/" + slot
        yield f"not a slot ({slot}): refused", request("PUT", f"{target}?v={sign(slot, len(body))}", body)[0] in (403, 404)
    yield "a NUL in the name: refused", put("u/r/a\0b", body) in (403, 404)
    yield "a percent-encoded slash signed as such: refused", put("u/r/a/b", body) in (403, 404)
    yield "chunked body: 411", raw(
        b"PUT /upload/u/r/d.txt?v=" + sign("u/r/d.txt", 3).encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n").startswith("HTTP/1.1 411")
    yield "no Content-Length: 400", raw(
        b"PUT /upload/u/r/e.txt?v=" + sign("u/r/e.txt", 3).encode() + b" HTTP/1.1\r\nHost: x\r\n\r\nabc"
    ).startswith("HTTP/1.1 40")
    yield "a body shorter than its signed size: 400, nothing kept", raw(
        b"PUT /upload/u/r/f.txt?v=" + sign("u/r/f.txt", 100).encode() + b" HTTP/1.1\r\nHost: x\r\n"
        b"Content-Length: 100\r\n\r\nshort", half_close=True) == "HTTP/1.1 400 Bad Request" \
        and not any(f.startswith("u/r/f.txt") for f in files())
    yield "garbage: 400", raw(b"\x00\x01\x02 not http\r\n\r\n").startswith("HTTP/1.1 400")
    yield "65 header lines: 400", raw(b"GET / HTTP/1.1\r\n" + b"X-A: b\r\n" * 65 + b"\r\n").startswith("HTTP/1.1 400")
    yield "DELETE: 405", request("DELETE", "/upload/u/r/a.txt")[0] == 405
    yield "a file under the prefix that is not there: 404", request("GET", "/upload/u/r/none.txt")[0] == 404
    yield "outside the prefix: 200 (health)", request("GET", "/healthz")[0] == 200
    yield "CORS preflight", request("OPTIONS", "/upload/u/r/a.txt")[1].get("Access-Control-Allow-Origin") == "*"
    yield "a stored file outside the docroot: none", all(not f.startswith("..") for f in files())
    yield "only the signed files, no leftovers", files() == ["u/r/a.txt"]


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--docroot", required=True)
    p.add_argument("--key", required=True)
    ARGS = p.parse_args()
    for name, ok in cases():
        print(json.dumps({"case": name, "ok": bool(ok)}), flush=True)
