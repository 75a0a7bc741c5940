"""What a user would lose, written before and read back after an operation (backup and restore).

Usage: userdata.py write|read --port P --http H --domain D --password PW --muc HOST --upload HOST --state FILE

write, as alice (bob must exist too): bob in her roster, a chat message to bob (archived, XEP-0313),
a persistent room (XEP-0045), a file uploaded (XEP-0363); what to look for is written to FILE.
read, in fresh sessions: the roster entry, the message in alice's archive, the room, the file's bytes
over HTTP. Uploads are fetched from the forwarded HTTP port H whatever host their URL names.
Prints one JSON object {"ok": …, "found": {…}, "missing": […]}.
"""

import argparse
import asyncio
import json
import logging
import sys
import time
import urllib.parse
import urllib.request

import slixmpp

from scenarios import Client

TIMEOUT = 20


def local(url, method="GET", data=None, headers=()):
    """A request for the URL sent to the forwarded HTTP port, with the URL's host as its Host header
    (both servers pick the upload service by it)."""
    u = urllib.parse.urlsplit(url)
    target = urllib.parse.urlunsplit(("http", f"127.0.0.1:{ARGS.http}", u.path, u.query, ""))
    return urllib.request.Request(target, data=data, method=method, headers={**dict(headers), "Host": u.netloc})


async def login(user, plugins):
    c = Client(f"{user}@{ARGS.domain}/userdata", ARGS.password)
    for p in plugins:
        c.register_plugin(p)
    started = asyncio.get_running_loop().create_future()
    c.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
    c.add_event_handler("failed_all_auth", lambda _: started.done() or started.set_result(False))
    c.connect("127.0.0.1", ARGS.port)
    if not await asyncio.wait_for(started, TIMEOUT):
        raise RuntimeError(f"{user} cannot log in")
    c.send_presence()
    await c.get_roster()
    return c


async def write():
    marker = f"kept across the restore {time.time()}"
    room = f"kept{int(time.time())}@{ARGS.muc}"
    bob = f"bob@{ARGS.domain}"
    a = await login("alice", ["xep_0045", "xep_0363", "xep_0313"])
    await a.update_roster(bob, name="Bob", subscription="both", groups=["Friends"])
    a.send_message(mto=bob, mbody=marker, mtype="chat")
    await a.plugin["xep_0045"].join_muc_wait(room, "alice", timeout=TIMEOUT)
    form = await a.plugin["xep_0045"].get_room_config(room)
    for field in ("muc#roomconfig_persistentroom",):
        if field in form["fields"]:
            form["fields"][field]["value"] = True
    await a.plugin["xep_0045"].set_room_config(room, form)
    data = f"uploaded before the backup {time.time()}\n".encode()
    slot = await a.plugin["xep_0363"].request_slot(
        jid=slixmpp.JID(ARGS.upload), filename="kept.txt", size=len(data), content_type="text/plain"
    )
    put = slot["http_upload_slot"]["put"]["url"]
    headers = {h["name"]: h["value"] for h in slot["http_upload_slot"]["put"]["headers"]}
    headers["Content-Type"] = "text/plain"
    with urllib.request.urlopen(local(put, "PUT", data, headers), timeout=TIMEOUT) as r:
        assert r.status in (200, 201), r.status
    await asyncio.sleep(1)  # the archive and the room are written
    a.disconnect()
    state = {"marker": marker, "room": room, "get": slot["http_upload_slot"]["get"]["url"], "data": data.decode()}
    with open(ARGS.state, "w") as f:
        json.dump(state, f)
    return state


async def read():
    with open(ARGS.state) as f:
        state = json.load(f)
    a = await login("alice", ["xep_0030", "xep_0313"])
    found, missing = {}, []

    item = a.client_roster[f"bob@{ARGS.domain}"]
    found["roster"] = item["name"] == "Bob" and "Friends" in item["groups"]
    archived = []
    async for msg in a.plugin["xep_0313"].iterate(with_jid=slixmpp.JID(f"bob@{ARGS.domain}"), total=1000):
        archived.append(str(msg["mam_result"]["forwarded"]["stanza"]["body"]))
    found["archive"] = state["marker"] in archived
    try:
        info = await a.plugin["xep_0030"].get_info(jid=state["room"], timeout=TIMEOUT)
        found["room"] = "conference" in [i[0] for i in info["disco_info"]["identities"]]
    except slixmpp.exceptions.IqError:
        found["room"] = False
    try:
        with urllib.request.urlopen(local(state["get"]), timeout=TIMEOUT) as r:
            found["upload"] = r.read().decode() == state["data"]
    except OSError:
        found["upload"] = False
    a.disconnect()
    missing = [k for k, v in found.items() if not v]
    return {"ok": not missing, "found": found, "missing": missing}


async def main():
    try:
        result = await asyncio.wait_for(write() if ARGS.mode == "write" else read(), TIMEOUT * 4)
        if ARGS.mode == "write":
            result = {"ok": True, "wrote": result}
    except Exception as e:  # noqa: BLE001 — reported, not raised
        result = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["write", "read"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--http", type=int, required=True)
    p.add_argument("--domain", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--muc", required=True)
    p.add_argument("--upload", required=True)
    p.add_argument("--state", required=True)
    ARGS = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    asyncio.run(main())
