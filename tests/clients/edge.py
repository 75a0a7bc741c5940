"""The HTTP edge (an Ingress, or a Gateway's routes) as web clients meet it: WebSocket, BOSH, upload
and the admin API through https://DOMAIN and https://upload.DOMAIN, the names resolved to --host (where
the controller listens, port 443), TLS checked against --ca.

Usage: edge.py --host H --domain D --password PW --ca CA --port C2S_PORT [--only websocket,bosh,upload,api]
               [--websocket PATH] [--bosh PATH] [--api PATH] [--upload-service JID] [--sessions N]
               [--uploads N] [--hold FILE]

Users alice and bob must exist with password PW; bob (and alice, for an upload slot) log in over
XMPP at --host:--port. Prints one JSON object per check: {"check": NAME, "ok": …, "detail": …}; the
bosh check adds "sessions": for each BOSH session, its affinity cookie (or null) and its requests.
"""

import argparse
import asyncio
import json
import logging
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request

import aiohttp
import slixmpp

import scenarios
from scenarios import TIMEOUT, bodies, bosh_login, login, until, websocket_login

COOKIE = "xmpp-route"


def connector():
    """Names resolved by the system's resolver, which resolve_domain_to_host() redirects (aiodns would not)."""
    return aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())


async def check_websocket():
    """alice logs in over WebSocket through the edge and sends bob (on XMPP) a message."""
    bob = await login("bob", "edge")
    url = f"wss://{ARGS.domain}{ARGS.websocket}"
    try:
        ctx = scenarios.tls_context()
        async with aiohttp.ClientSession(connector=connector()) as http, http.ws_connect(url, protocols=["xmpp"], ssl=ctx) as ws:
            jid = await websocket_login(ws)
            await ws.send_str(f'<message xmlns="jabber:client" to="bob@{ARGS.domain}" type="chat">'
                              "<body>over the edge</body></message>")
            await until(lambda: "over the edge" in bodies(bob), "the message at bob")
    finally:
        bob.disconnect()
    return {"detail": f"{jid} logged in over {url}, its message reached bob"}


async def bosh_session(n):
    """One BOSH login through the edge with a cookie jar of its own; its affinity cookie and requests."""
    url = f"https://{ARGS.domain}{ARGS.bosh}"
    async with aiohttp.ClientSession(connector=connector(), cookie_jar=aiohttp.CookieJar()) as http:
        jid, requests, post = await bosh_login(http, url, rid=1000 * n, ssl=scenarios.tls_context())
        cookie = next((c.value for c in http.cookie_jar if c.key == COOKIE), None)
        await post(attrs='type="terminate"')  # as a client leaving does: the session ends now
    return {"jid": jid, "cookie": cookie, "requests": requests + 1}


async def check_bosh():
    """--sessions BOSH logins, one after another, each a client of its own."""
    sessions = [await bosh_session(n + 1) for n in range(ARGS.sessions)]
    return {"detail": f"{len(sessions)} BOSH logins over https://{ARGS.domain}{ARGS.bosh}", "sessions": sessions}


async def check_upload():
    """--uploads files, each with a slot alice asks for over XMPP (the slots all issued by the node of
    her session), PUT and fetched through the edge, which spreads the PUTs over the pods; then a PUT
    with a forged signature, refused. Needs the DSL's `upload … { signed env(…) }` (ejabberd keeps an
    unsigned slot in the memory of the node that issued it: processone/ejabberd#3359)."""
    a = await login("alice", "upload", plugins=["xep_0363"])
    files = [(f"edge-{n}.txt", f"helm-xmpp through the edge, file {n}\n".encode()) for n in range(ARGS.uploads)]
    try:
        slots = [await a.plugin["xep_0363"].request_slot(
            jid=slixmpp.JID(ARGS.upload_service), filename=name, size=len(data), content_type="text/plain")
            for name, data in files]
    finally:
        a.disconnect()
    ctx = scenarios.tls_context()
    urls = []
    for (name, data), slot in zip(files, slots):
        put, get = slot["http_upload_slot"]["put"]["url"], slot["http_upload_slot"]["get"]["url"]
        req = urllib.request.Request(put, data=data, method="PUT", headers={"Content-Type": "text/plain"})
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=ctx) as r:
            assert r.status in (200, 201), f"PUT {put}: HTTP {r.status}"
        with urllib.request.urlopen(get, timeout=TIMEOUT, context=ctx) as r:
            got = r.read()
        assert got == data, f"GET {get}: {got[:100]!r}"
        urls.append(get)
    forged = put[:-1] + ("0" if put[-1] != "0" else "1")
    forged = forged.replace(name, "forged.txt")
    req = urllib.request.Request(forged, data=data, method="PUT", headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=ctx) as r:
            raise AssertionError(f"PUT {forged} with a forged signature: HTTP {r.status}")
    except urllib.error.HTTPError as e:
        assert e.code == 403, f"PUT {forged} with a forged signature: HTTP {e.code}, not 403"
    return {"detail": f"{len(urls)} files PUT and fetched through the edge, bytes equal; a forged signature: 403",
            "urls": urls}


async def check_api():
    """The admin API through the edge: refused, the edge being outside the networks the DSL allows."""
    url = f"https://{ARGS.domain}{ARGS.api}/status"
    req = urllib.request.Request(url, data=b"{}", method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT, context=scenarios.tls_context()) as r:
            raise AssertionError(f"POST {url} answered HTTP {r.status}: {r.read()[:200]!r}")
    except urllib.error.HTTPError as e:
        assert e.code in (401, 403), f"POST {url}: HTTP {e.code}, not a refusal"
        return {"detail": f"POST {url}: HTTP {e.code}"}


async def check_hold():
    """alice and bob logged in over XMPP until the file --hold names exists (metrics are read meanwhile)."""
    import os
    clients = [await login(user, "hold") for user in ("alice", "bob")]
    print(json.dumps({"check": "hold", "logged_in": 2}), flush=True)
    for _ in range(int(TIMEOUT * 30)):
        if os.path.exists(ARGS.hold):
            break
        await asyncio.sleep(0.2)
    for c in clients:
        c.disconnect()
    return {"detail": "two sessions held"}


CHECKS = {"websocket": check_websocket, "bosh": check_bosh, "upload": check_upload, "api": check_api, "hold": check_hold}


async def main():
    for name in ARGS.only.split(","):
        try:
            out = {"check": name, "ok": True, **await CHECKS[name]()}
        except Exception as e:  # a failed check is a result, not a crash
            out = {"check": name, "ok": False, "detail": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--ca", required=True)
    p.add_argument("--websocket", default="/xmpp-websocket")
    p.add_argument("--bosh", default="/http-bind")
    p.add_argument("--api", default="/api")
    p.add_argument("--upload-service", help="the upload service's JID (default upload.DOMAIN)")
    p.add_argument("--sessions", type=int, default=6)
    p.add_argument("--uploads", type=int, default=6, help="upload: how many files")
    p.add_argument("--hold", help="hold: the file whose appearance ends the sessions")
    p.add_argument("--only", default="websocket,bosh,upload,api")
    ARGS = p.parse_args()
    ARGS.upload_service = ARGS.upload_service or f"upload.{ARGS.domain}"
    scenarios.ARGS = ARGS
    scenarios.resolve_domain_to_host()
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    asyncio.run(main())
