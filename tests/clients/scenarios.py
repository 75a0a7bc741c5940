"""Client scenarios against a running XMPP server, with slixmpp (a client library nobody here wrote).

Usage: scenarios.py --port P --domain D --password PW [--muc HOST] [--upload] [--registration open|closed]
                    [--only NAME,…] [--expect SERVICE-JID (disco)] [--hold FILE (stay-connected)]
Users alice, bob and carol must exist with password PW. Prints one JSON object per scenario:
{"scenario": NAME, "ok": true|false, "detail": "..."}. Exits 0 when every scenario ran (pass or fail).
"""

import argparse
import asyncio
import json
import logging
import os
import socket
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import slixmpp

TIMEOUT = 20
ARGS = None


def tls_context():
    """What a client trusts: the test CA (--ca), names checked; without one (or when another script
    uses Client, as traffic.py and userdata.py do), anything."""
    ca = getattr(ARGS, "ca", None)
    if ca:
        return ssl.create_default_context(cafile=ca)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def resolve_domain_to_host():
    """The domain and its services (upload.DOMAIN, …) resolve to --host, as DNS would make them: the
    names in the URLs a server hands out are then reached, and checked against the certificate."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *rest, **kw):
        if isinstance(host, str) and (host == ARGS.domain or host.endswith("." + ARGS.domain)):
            host = ARGS.host
        return real(host, *rest, **kw)

    socket.getaddrinfo = getaddrinfo


class Client(slixmpp.ClientXMPP):
    def __init__(self, jid, password, tls=True):
        super().__init__(jid, password)
        self.ssl_context = tls_context()
        self.enable_direct_tls = False
        self.enable_starttls = tls
        self.enable_plaintext = not tls
        self.received = []
        self.carbons = []
        self.add_event_handler("message", lambda m: self.received.append(m))
        self.add_event_handler("carbon_received", lambda m: self.carbons.append(m))


async def login(user, resource="test", plugins=(), tls=True, tls12=False, at=None, password=None):
    """A connected client with a session, or an exception. `tls12`: TLS 1.2 at most, where a client
    can bind SCRAM to the channel (tls-unique; Python has no tls-exporter for TLS 1.3). `at`: the
    (domain, host, port) of another server than the one under test."""
    domain, host, port = at or (ARGS.domain, ARGS.host, ARGS.port)
    c = Client(f"{user}@{domain}/{resource}", password or ARGS.password, tls=tls)
    if tls12:
        c.ssl_context.maximum_version = ssl.TLSVersion.TLSv1_2
    for p in plugins:
        c.register_plugin(p)
    started = asyncio.get_running_loop().create_future()

    def done(value):
        if not started.done():
            started.set_result(value)

    c.add_event_handler("session_start", lambda _: done("session"))
    c.add_event_handler("failed_all_auth", lambda _: done("auth failed"))
    c.add_event_handler("disconnected", lambda _: done("disconnected"))
    c.connect(host, port)
    result = await asyncio.wait_for(started, TIMEOUT)
    if result != "session":
        raise RuntimeError(result)
    c.send_presence()
    await c.get_roster()
    return c


async def until(predicate, what, timeout=TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


def bodies(client):
    return [str(m["body"]) for m in client.received if m["body"]]


async def scenario_login_starttls():
    c = await login("alice")
    secure = c.socket is not None and hasattr(c.socket, "version")
    mech = c.plugin["feature_mechanisms"].mech.name
    c.disconnect()
    assert secure, "the session is not over TLS"
    assert mech.startswith("SCRAM-"), f"logged in with {mech}"
    return f"{mech.split('-PLUS')[0]} login over STARTTLS"


async def scenario_sasl():
    """The mechanism the server's offer leads a client to is the one expected (--sasl): the SCRAM
    hash the DSL chose, with `-PLUS` (channel binding), or PLAIN where a directory checks passwords."""
    c = await login("alice", "sasl", tls12=True)
    mech = c.plugin["feature_mechanisms"].mech.name
    version = c.socket.version() if hasattr(c.socket, "version") else None
    c.disconnect()
    assert mech == ARGS.sasl, f"logged in with {mech}, expected {ARGS.sasl}"
    return f"{mech} over {version}"


async def scenario_password_refused():
    """A wrong password opens no session."""
    try:
        c = await login("alice", "wrong", password=ARGS.password + "-wrong")
    except (RuntimeError, asyncio.TimeoutError) as e:
        return f"wrong password: {e}"
    c.disconnect()
    raise AssertionError("a session was opened with a wrong password")


async def scenario_plaintext_refused():
    try:
        c = await login("alice", tls=False)
    except (RuntimeError, asyncio.TimeoutError) as e:
        return "no session without TLS"
    c.disconnect()
    raise AssertionError("a session was opened without TLS")


async def scenario_message():
    a, b = await login("alice"), await login("bob")
    a.send_message(mto=f"bob@{ARGS.domain}", mbody="hello bob", mtype="chat")
    await until(lambda: "hello bob" in bodies(b), "the message")
    a.disconnect(), b.disconnect()
    return "alice → bob delivered"


async def scenario_federation():
    """alice on this server and bob on the peer (--peer DOMAIN:HOST:PORT) each send the other a
    message: it crosses the federation link both ways."""
    domain, host, port = ARGS.peer.split(":")
    a = await login("alice")
    b = await login("bob", at=(domain, host, int(port)))
    try:
        a.send_message(mto=f"bob@{domain}", mbody="from alice across", mtype="chat")
        await until(lambda: "from alice across" in bodies(b), f"alice's message at bob@{domain}")
        b.send_message(mto=f"alice@{ARGS.domain}", mbody="from bob across", mtype="chat")
        await until(lambda: "from bob across" in bodies(a), f"bob's message at alice@{ARGS.domain}")
    finally:
        a.disconnect(), b.disconnect()
    return f"{ARGS.domain} ⇄ {domain}: a message each way"


async def scenario_offline():
    a = await login("alice")
    a.send_message(mto=f"carol@{ARGS.domain}", mbody="while you were away", mtype="chat")
    await asyncio.sleep(1)
    a.disconnect()
    c = await login("carol")
    await until(lambda: "while you were away" in bodies(c), "the offline message")
    c.disconnect()
    return "stored and delivered at login"


async def scenario_carbons():
    a1 = await login("alice", "one", plugins=["xep_0280"])
    a2 = await login("alice", "two", plugins=["xep_0280"])
    await a1.plugin["xep_0280"].enable()
    await a2.plugin["xep_0280"].enable()
    b = await login("bob")
    b.send_message(mto=f"alice@{ARGS.domain}/one", mbody="for one", mtype="chat")
    await until(lambda: a2.carbons, "a carbon copy on the second resource")
    for c in (a1, a2, b):
        c.disconnect()
    return "copy received by the second resource"


async def scenario_groupchat():
    room = f"team@{ARGS.muc}"
    a = await login("alice", plugins=["xep_0045"])
    b = await login("bob", plugins=["xep_0045"])
    await a.plugin["xep_0045"].join_muc_wait(room, "alice", timeout=TIMEOUT)
    # A new room may be locked until configured (XEP-0045 §10.1): accept the default configuration.
    try:
        form = await a.plugin["xep_0045"].get_room_config(room)
        await a.plugin["xep_0045"].set_room_config(room, form)
    except Exception:  # noqa: BLE001 — the room was already unlocked
        pass
    await b.plugin["xep_0045"].join_muc_wait(room, "bob", timeout=TIMEOUT)
    a.send_message(mto=room, mbody="hello room", mtype="groupchat")
    await until(lambda: "hello room" in bodies(b), "the group message")
    a.disconnect(), b.disconnect()
    return f"joined {room}, message relayed"


async def scenario_archive():
    """bob writes to alice, neither in the other's roster: the message is in both archives (what
    `profile modern` promises users with several devices)."""
    a = await login("alice", plugins=["xep_0313"])
    b = await login("bob", plugins=["xep_0313"])
    for me, other in ((a, "bob"), (b, "alice")):
        roster = await me.get_roster()
        items = roster["roster"]["items"] if roster else {}
        assert slixmpp.JID(f"{other}@{ARGS.domain}") not in items, f"{other} is in {me.boundjid.user}'s roster"
    marker = f"archived {time.time()}"
    b.send_message(mto=f"alice@{ARGS.domain}", mbody=marker, mtype="chat")
    await until(lambda: marker in bodies(a), "the live message")
    await asyncio.sleep(1)
    missing = []
    for me, other in ((a, "bob"), (b, "alice")):
        found = []
        async for msg in me.plugin["xep_0313"].iterate(with_jid=slixmpp.JID(f"{other}@{ARGS.domain}"), total=50):
            found.append(str(msg["mam_result"]["forwarded"]["stanza"]["body"]))
        if marker not in found:
            missing.append(f"{me.boundjid.user}'s archive has {found[-3:]}")
    a.disconnect(), b.disconnect()
    assert not missing, "; ".join(missing)
    return "a message between strangers is in both archives"


async def scenario_upload():
    a = await login("alice", plugins=["xep_0363"])
    data = b"helm-xmpp upload test\n"
    slot = await a.plugin["xep_0363"].request_slot(
        jid=slixmpp.JID(ARGS.upload), filename="test.txt", size=len(data), content_type="text/plain"
    )
    put = slot["http_upload_slot"]["put"]["url"]
    get = slot["http_upload_slot"]["get"]["url"]
    headers = {h["name"]: h["value"] for h in slot["http_upload_slot"]["put"]["headers"]}
    headers["Content-Type"] = "text/plain"
    a.disconnect()
    # XEP-0363: the slot's URLs are HTTPS, and the server proves it is the upload service's name.
    assert put.startswith("https://") and get.startswith("https://"), f"slot URLs {put} {get}"
    ctx = tls_context()
    req = urllib.request.Request(put, data=data, method="PUT", headers=headers)
    with urllib.request.urlopen(req, timeout=TIMEOUT, context=ctx) as r:
        assert r.status in (200, 201), r.status
    with urllib.request.urlopen(get, timeout=TIMEOUT, context=ctx) as r:
        got = r.read()
    assert got == data, got
    return f"slot, PUT, GET over HTTPS ({urllib.parse.urlsplit(put).hostname}, test CA), bytes equal"


async def scenario_signed_upload():
    """`upload … { signed env(…) }`: the slot's PUT URL carries ejabberd's signature; the server takes
    no PUT itself; the upload service (--put-port, where an edge routes the upload path) refuses a
    forged signature, takes the signed PUT and serves the file, as the server does too."""
    a = await login("alice", plugins=["xep_0363"])
    data = b"helm-xmpp signed upload\n"
    try:
        slot = await a.plugin["xep_0363"].request_slot(
            jid=slixmpp.JID(ARGS.upload), filename="signed.txt", size=len(data), content_type="text/plain"
        )
    finally:
        a.disconnect()
    put, get = slot["http_upload_slot"]["put"]["url"], slot["http_upload_slot"]["get"]["url"]
    parts = urllib.parse.urlsplit(put)
    assert "v=" in parts.query, f"the PUT URL carries no signature: {put}"

    def via_service(url):
        p = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit(("http", f"127.0.0.1:{ARGS.put_port}", p.path, p.query, ""))

    forged = via_service(put)[:-1] + ("0" if put[-1] != "0" else "1")
    ctx = tls_context()

    def status(url):
        req = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": "text/plain"})
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT, context=ctx) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code

    assert status(put) == 403, f"the server itself did not refuse the PUT: {put}"
    assert status(forged) == 403, f"a forged signature was not refused: {forged}"
    assert status(via_service(put)) == 201, f"the upload service refused the signed PUT: {via_service(put)}"
    for url in (via_service(get), get):
        with urllib.request.urlopen(url, timeout=TIMEOUT, context=ctx) as r:
            got = r.read()
        assert got == data, f"GET {url}: {got[:80]!r}"
    return f"PUT refused by the server and with a forged signature, taken by the upload service; GET {get} from both, bytes equal"


async def scenario_proxy():
    """XEP-0065: alice finds the server's bytestream proxy, and sends bob bytes through it."""
    a = await login("alice", "sender", plugins=["xep_0065"])
    b = await login("bob", "receiver", plugins=["xep_0065"])
    b.plugin["xep_0065"].auto_accept = True
    got = bytearray()
    b.add_event_handler("socks5_data", got.extend)
    try:
        proxies = await a.plugin["xep_0065"].discover_proxies(timeout=TIMEOUT)
        assert slixmpp.JID(ARGS.proxy) in proxies, f"{ARGS.proxy} not among the proxies found: {proxies}"
        host, port = proxies[slixmpp.JID(ARGS.proxy)]
        data = os.urandom(64 * 1024)
        sock = await a.plugin["xep_0065"].handshake(b.boundjid, timeout=TIMEOUT)
        assert sock is not None, "no bytestream was opened"
        await sock.write(data)
        # As a file transfer ends: the sender closes the stream, the receiver reads to its end.
        sock.transport.close()
        await until(lambda: len(got) >= len(data), f"{len(data)} bytes at bob")
    finally:
        a.disconnect(), b.disconnect()
    assert bytes(got) == data, "the bytes differ"
    return f"{len(data)} bytes through {ARGS.proxy} (streamhost {host}), equal"


def turn_allocates(host, port, username, password):
    """Whether coturn grants an allocation to these credentials and relays through it (Debian's
    turnutils_uclient, client to client through the relay: it exits non-zero when no allocation is
    granted, and its last tally says how many packets went through)."""
    import re
    import subprocess
    ip = socket.getaddrinfo(host, port, socket.AF_INET)[0][4][0]
    out = subprocess.run(
        ["turnutils_uclient", "-y", "-n", "3", "-m", "1", "-u", username, "-w", password, "-p", str(port), ip],
        capture_output=True, text=True, timeout=TIMEOUT,
    )
    tallies = re.findall(r"tot_send_msgs=(\d+), tot_recv_msgs=(\d+)", out.stdout)
    relayed = bool(tallies) and int(tallies[-1][1]) > 0
    return out.returncode == 0 and relayed


async def scenario_turn():
    """XEP-0215: the server hands out time-limited TURN credentials that coturn accepts; a wrong or an
    expired one is refused."""
    import base64
    import hashlib
    import hmac
    from slixmpp.xmlstream import ET
    a = await login("alice", "turn")
    iq = a.Iq()
    iq["type"], iq["to"] = "get", ARGS.domain
    iq.append(ET.Element("{urn:xmpp:extdisco:2}services"))
    reply = await iq.send(timeout=TIMEOUT)
    a.disconnect()
    services = [s.attrib for s in reply.xml.iter("{urn:xmpp:extdisco:2}service")]
    turn = [s for s in services if s.get("type") == "turn" and s.get("transport", "udp") == "udp"]
    assert turn, f"no udp turn service among {services}"
    s = turn[0]
    user, password, port = s.get("username"), s.get("password"), int(s.get("port"))
    assert user and password, f"the turn service has no credentials: {s}"
    expiry = int(user.split(":")[0])
    left = expiry - time.time()
    assert 60 < left <= 2 * 86400, f"the credential expires in {left:.0f} s"
    assert turn_allocates(s["host"], port, user, password), "coturn refused the server's credentials"
    assert not turn_allocates(s["host"], port, user, password + "x"), "coturn accepted a wrong password"
    old = str(int(time.time()) - 60) + (":" + user.split(":", 1)[1] if ":" in user else "")
    old_password = base64.b64encode(hmac.new(ARGS.turn_secret.encode(), old.encode(), hashlib.sha1).digest()).decode()
    assert not turn_allocates(s["host"], port, old, old_password), "coturn accepted an expired credential"
    return f"coturn allocated with the server's credential (valid {left / 3600:.0f} h); wrong and expired refused"


async def scenario_registration():
    user = f"new{int(time.time() * 1000) % 1000000}"
    c = Client(f"{ARGS.domain}", "", tls=True)
    c.register_plugin("xep_0077")
    c["xep_0077"].force_registration = False
    outcome = asyncio.get_running_loop().create_future()

    async def on_connect(_):
        try:
            resp = c.Iq(stype="set")
            resp["to"] = ARGS.domain
            resp["register"]["username"] = user
            resp["register"]["password"] = ARGS.password
            await resp.send(timeout=TIMEOUT)
            outcome.set_result("registered")
        except slixmpp.exceptions.IqError as e:
            outcome.set_result(f"refused: {e.iq['error']['condition']}")
        except Exception as e:  # noqa: BLE001
            outcome.set_result(f"error: {e}")

    # In-band registration happens before authentication, on the encrypted stream.
    c.add_event_handler("register", on_connect)
    c.add_event_handler("disconnected", lambda _: outcome.done() or outcome.set_result("not offered"))
    c.connect(ARGS.host, ARGS.port)
    result = await asyncio.wait_for(outcome, TIMEOUT)
    c.disconnect()
    expected_open = ARGS.registration == "open"
    if expected_open:
        assert result == "registered", result
    else:
        assert result != "registered", "registration succeeded on a closed server"
    return f"{ARGS.registration}: {result}"


async def scenario_stream_resumption():
    a = await login("alice", "sm", plugins=["xep_0198"])
    await until(lambda: a.plugin["xep_0198"].sm_id, "stream management to be enabled")
    sm_id = a.plugin["xep_0198"].sm_id
    resumed = asyncio.get_running_loop().create_future()
    a.add_event_handler("session_resumed", lambda _: resumed.done() or resumed.set_result(True))
    # Drop the TCP connection without closing the stream, then reconnect: the session resumes.
    a.transport.abort()
    await asyncio.sleep(1)
    a.connect(ARGS.host, ARGS.port)
    await asyncio.wait_for(resumed, TIMEOUT)
    a.disconnect()
    assert sm_id
    return "resumed after the connection dropped"


async def _framed_login(send, recv, restart):
    """SASL PLAIN and resource binding over an HTTP transport; returns the bound JID."""
    import base64
    import re
    features = await recv(lambda t: "mechanisms" in t)
    assert "PLAIN" in features, f"no PLAIN mechanism offered: {features[:300]}"
    cred = base64.b64encode(f"\0alice\0{ARGS.password}".encode()).decode()
    reply = await send(f'<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{cred}</auth>',
                       lambda t: "success" in t or "failure" in t)
    assert "success" in reply, f"authentication: {reply[:300]}"
    await restart(lambda t: "bind" in t)
    reply = await send('<iq type="set" id="bind1" xmlns="jabber:client"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind">'
                       '<resource>http</resource></bind></iq>', lambda t: "<jid>" in t)
    return re.search(r"<jid>([^<]+)</jid>", reply).group(1)


async def websocket_login(ws):
    """An RFC 7395 stream opened and logged in (SASL PLAIN, binding) on an aiohttp WebSocket; the JID."""
    import aiohttp
    open_ = f'<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{ARGS.domain}" version="1.0"/>'

    async def recv(pred):
        while True:
            msg = await asyncio.wait_for(ws.receive(), TIMEOUT)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"websocket closed: {msg.type}")
            if pred(msg.data):
                return msg.data

    async def send(data, pred):
        await ws.send_str(data)
        return await recv(pred)

    await ws.send_str(open_)
    return await _framed_login(send, recv, lambda pred: send(open_, pred))


async def scenario_websocket():
    import aiohttp
    url = f"ws://{ARGS.host}:{ARGS.http}{ARGS.websocket}"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, protocols=["xmpp"]) as ws:
        jid = await websocket_login(ws)
    return f"bound {jid} over RFC 7395 WebSocket"


async def bosh_login(http, url, rid=4000, ssl=None):
    """A BOSH session (XEP-0206) created and logged in (SASL PLAIN, binding) with an aiohttp session:
    the JID, the requests it took, and `post(inner, attrs)` for what the caller sends on it next."""
    import re
    ns = 'xmlns="http://jabber.org/protocol/httpbind" xmlns:xmpp="urn:xmpp:xbosh"'
    state = {"rid": rid, "sid": None, "requests": 0}
    tls = {"ssl": ssl} if ssl else {}

    async def post(inner="", attrs=""):
        state["rid"] += 1
        state["requests"] += 1
        sid = f' sid="{state["sid"]}"' if state["sid"] else ""
        body = f'<body rid="{state["rid"]}"{sid} {ns} {attrs}>{inner}</body>'
        async with http.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, **tls) as r:
            assert r.status == 200, f"BOSH request {state['requests']}: HTTP {r.status}"
            return await r.text()

    async def until_reply(first, pred):
        text = first
        for _ in range(10):
            if pred(text):
                return text
            text = await post()
        raise RuntimeError(f"no reply: {text[:300]}")

    created = await post(attrs=f'to="{ARGS.domain}" xml:lang="en" wait="10" hold="1" ver="1.6" xmpp:version="1.0"')
    state["sid"] = re.search(r'sid=["\']([^"\']+)', created).group(1)

    async def send(data, pred):
        return await until_reply(await post(data), pred)

    async def restart(pred):
        return await until_reply(await post(attrs=f'to="{ARGS.domain}" xml:lang="en" xmpp:restart="true"'), pred)

    jid = await _framed_login(send, lambda pred: until_reply(created, pred), restart)
    return jid, state["requests"], post


async def scenario_bosh():
    import aiohttp
    async with aiohttp.ClientSession() as http:
        jid, _, _ = await bosh_login(http, f"http://{ARGS.host}:{ARGS.http}{ARGS.bosh}")
    return f"bound {jid} over BOSH"


async def scenario_disco():
    a = await login("alice", "disco", plugins=["xep_0030"])
    items = await a.plugin["xep_0030"].get_items(jid=ARGS.domain, timeout=TIMEOUT)
    jids = sorted(i[0] for i in items["disco_items"]["items"])
    a.disconnect()
    assert ARGS.expect in jids, f"{ARGS.expect} not among the services {jids}"
    return f"services: {', '.join(jids)}"


async def scenario_stay_connected():
    """Logged in until the file --hold names exists (the scenario changes something meanwhile), then
    still the same stream: an IQ round trip on it, and no disconnect seen."""
    c = await login("alice", "stay")
    dropped = []
    c.add_event_handler("disconnected", lambda _: dropped.append(time.monotonic()))
    start = time.monotonic()
    while not os.path.exists(ARGS.hold):
        if dropped:
            raise RuntimeError(f"disconnected after {dropped[0] - start:.1f} s")
        await asyncio.sleep(0.5)
    await c.get_roster()
    held = time.monotonic() - start
    c.disconnect()
    if dropped:
        raise RuntimeError("disconnected")
    return f"one stream held for {held:.0f} s, still answering"


SCENARIOS = {
    "login-starttls": scenario_login_starttls,
    "sasl": scenario_sasl,
    "plaintext-refused": scenario_plaintext_refused,
    "password-refused": scenario_password_refused,
    "message": scenario_message,
    "offline": scenario_offline,
    "federation": scenario_federation,
    "carbons": scenario_carbons,
    "groupchat": scenario_groupchat,
    "archive": scenario_archive,
    "upload": scenario_upload,
    "signed-upload": scenario_signed_upload,
    "proxy": scenario_proxy,
    "turn": scenario_turn,
    "registration": scenario_registration,
    "stream-resumption": scenario_stream_resumption,
    "websocket": scenario_websocket,
    "bosh": scenario_bosh,
    "disco": scenario_disco,
    "stay-connected": scenario_stay_connected,
}
# Scenarios that wait on the caller run longer than the others.
LONG = {"stay-connected": 300}


async def main():
    for name in ARGS.only.split(","):
        try:
            detail = await asyncio.wait_for(SCENARIOS[name](), LONG.get(name, TIMEOUT * 2))
            print(json.dumps({"scenario": name, "ok": True, "detail": detail}), flush=True)
        except Exception as e:  # noqa: BLE001 — every failure is reported, none stops the run
            print(json.dumps({"scenario": name, "ok": False, "detail": f"{type(e).__name__}: {e}"}), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--muc")
    p.add_argument("--upload")
    p.add_argument("--proxy", help="proxy: the file-transfer proxy's JID")
    p.add_argument("--peer", help="federation: the other server, DOMAIN:HOST:PORT (its client port)")
    p.add_argument("--turn-secret", help="turn: the secret shared with coturn, to forge an expired credential")
    p.add_argument("--registration", default="closed")
    p.add_argument("--sasl", default="SCRAM-SHA-1", help="sasl: the mechanism the client must end up with")
    p.add_argument("--http", type=int)
    p.add_argument("--put-port", type=int, help="signed-upload: the upload receiver's port")
    p.add_argument("--ca", help="the CA that signed the server's certificates: TLS is verified against it")
    p.add_argument("--websocket", default="/xmpp-websocket")
    p.add_argument("--bosh", default="/http-bind")
    p.add_argument("--expect", help="disco: a service JID the domain must list")
    p.add_argument("--hold", help="stay-connected: the file whose appearance ends the wait")
    p.add_argument("--only", default=",".join(s for s in SCENARIOS if s not in ("disco", "stay-connected", "federation", "signed-upload")))
    ARGS = p.parse_args()
    resolve_domain_to_host()
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    asyncio.run(main())
