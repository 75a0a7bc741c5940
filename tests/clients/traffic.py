"""Message delivery while the cluster changes under the clients: a rollout, a scale-in.

Usage: traffic.py --domain D --password PW --sender HOST:PORT --recipient HOST:PORT --service HOST:PORT
                  --stop FILE [--interval 0.1] [--settle 60]

alice sends a numbered chat message to bob every --interval seconds, with stream management
(XEP-0198), asking for an acknowledgement after each. Both first connect to the addresses given (two
different pods) and, whenever their stream ends, reconnect through --service (what a client does: a
new session, its unacknowledged messages sent again). bob takes what arrives live and, at each login,
from offline storage. When FILE appears alice stops; bob waits up to --settle seconds for every
acknowledged message, then reads the archive (XEP-0313), as a modern client does after a reconnect.

Prints one JSON object: sent, acked (by the server), received (live and from offline storage),
at_relogin (of those, what only one more login brought from offline storage: a message routed again
while bob's new session was starting can land there after that session took its offline messages),
from_archive (found only in the archive), lost (acked, never received nor archived), duplicated,
longest_gap_s (the longest wait between two messages reaching bob while alice sent), reconnects,
archive_only (those found only in the archive, with the time each was first sent, to find it in the
servers' logs), and "ok": no acknowledged message lost: each was received, live or from offline
storage, or is in bob's archive, where a client catching up after a reconnect (XEP-0313, as
Conversations, Dino, Gajim and Monal do) finds it. ejabberd can leave a message only there: its
offline storage drops a message stored while the user's new session takes its offline messages
(mod_offline_mnesia's `dirty_write` lands between the `wread` and the `delete` of `pop_messages`;
the SQL backend selects, then deletes the user's rows). Exit status 0 when it ran (pass or fail), 2
when it could not start.
"""

import argparse
import asyncio
import datetime
import json
import logging
import os
import sys
import time
import uuid

import slixmpp

from scenarios import Client

LOGIN_TIMEOUT = 10


def address(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


class Role:
    """One user's sessions, one after another: the first at `first`, the others through the Service."""

    def __init__(self, user, first, plugins):
        self.user, self.first, self.plugins = user, first, plugins
        self.client = None
        self.reconnects = -1

    async def session(self, addr, on_start):
        c = Client(f"{self.user}@{ARGS.domain}/traffic", ARGS.password)
        c.register_plugin("xep_0198", {"window": 1, "allow_resume": False})
        for p in self.plugins:
            c.register_plugin(p)
        started, ended = asyncio.get_running_loop().create_future(), asyncio.get_running_loop().create_future()
        c.add_event_handler("session_start", lambda _: started.done() or started.set_result(True))
        c.add_event_handler("failed_all_auth", lambda _: started.done() or started.set_result(False))
        for event in ("disconnected", "connection_failed"):
            c.add_event_handler(event, lambda _: ended.done() or ended.set_result(True))
        on_start(c)
        c.connect(*addr)
        done, _ = await asyncio.wait([started, ended], timeout=LOGIN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if started not in done or not started.result():
            c.abort()
            return None
        c.send_presence()  # bob's offline messages come after his initial presence
        self.client, self.reconnects = c, self.reconnects + 1
        return ended

    async def keep(self, until, on_start, on_session=None):
        addr = self.first
        while not until():
            ended = await self.session(addr, on_start)
            addr = ARGS.service
            if ended is None:
                await asyncio.sleep(0.2)
                continue
            if on_session:
                on_session(self.client)
            while not ended.done() and not until():
                await asyncio.sleep(0.05)
            self.client = None if ended.done() else self.client
            await asyncio.sleep(0.1)


async def run():
    tag = uuid.uuid4().hex[:8]
    started_at = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    sent_at = {}  # n -> wall-clock time of the first send, to find a message in the servers' logs
    sent, acked, unacked = {}, set(), {}  # n -> first send time; acknowledged n; n -> stanza awaiting ack
    received, arrivals, duplicated = set(), [], 0
    stopped = []
    alice = Role("alice", ARGS.sender, [])
    bob = Role("bob", ARGS.recipient, ["xep_0030", "xep_0313"])

    def on_alice(c):
        def acked_one(stanza):
            body = str(stanza["body"]) if stanza.name == "message" else ""
            if body.startswith(tag + " "):
                n = int(body.split()[1])
                acked.add(n)
                unacked.pop(n, None)

        c.add_event_handler("stanza_acked", acked_one)

    def on_bob(c):
        def got(msg):
            nonlocal duplicated
            body = str(msg["body"])
            if not body.startswith(tag + " "):
                return
            n = int(body.split()[1])
            if n in received:
                duplicated += 1
            received.add(n)
            arrivals.append(time.monotonic())

        c.add_event_handler("message", got)

    def on_alice_session(c):
        # what was sent on an ended stream and never acknowledged is sent again on the new one
        for n in sorted(unacked):
            c.send_message(mto=f"bob@{ARGS.domain}", mbody=f"{tag} {n}", mtype="chat")

    async def send():
        n = 0
        while not os.path.exists(ARGS.stop):
            c = alice.client
            if c is not None and c.is_connected():
                n += 1
                unacked[n] = True
                sent[n] = time.monotonic()
                sent_at[n] = datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
                c.send_message(mto=f"bob@{ARGS.domain}", mbody=f"{tag} {n}", mtype="chat")
            await asyncio.sleep(ARGS.interval)
        stopped.append(time.monotonic())

    bob_task = asyncio.create_task(bob.keep(lambda: bool(stopped) and acked <= received, on_bob))
    await asyncio.sleep(1)
    alice_task = asyncio.create_task(alice.keep(lambda: bool(stopped), on_alice, on_alice_session))
    await send()
    # a last look for acknowledgements of what was sent just before the end
    await asyncio.sleep(2)
    await alice_task
    deadline = time.monotonic() + ARGS.settle
    while not acked <= received and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
    bob_task.cancel()

    # What a closing session routed again while bob's next session was starting may have gone to
    # offline storage after that session had taken its offline messages: it comes at the next login.
    at_relogin = 0
    if not acked <= received:
        if bob.client is not None:
            bob.client.disconnect()
            await asyncio.sleep(0.5)
        before = len(received)
        if await _login(bob, on_bob) is not None:
            await asyncio.sleep(3)
        at_relogin = len(received) - before
    missing = acked - received
    from_archive = set()
    if missing:
        c = bob.client or await _login(bob, lambda _: None)
        if c is not None:
            async for msg in c.plugin["xep_0313"].iterate(
                with_jid=slixmpp.JID(f"alice@{ARGS.domain}"), start=started_at, total=100000
            ):
                body = str(msg["mam_result"]["forwarded"]["stanza"]["body"])
                if body.startswith(tag + " "):
                    from_archive.add(int(body.split()[1]))
            from_archive &= missing
    for role in (alice, bob):
        if role.client is not None:
            role.client.disconnect()
    lost = sorted(missing - from_archive)
    live = [t for t in arrivals if t <= stopped[0]]
    gap = max((b - a for a, b in zip(live, live[1:])), default=0.0)
    print(
        json.dumps(
            {
                "ok": not lost and bool(acked),
                "sent": len(sent),
                "acked": len(acked),
                "received": len(received & set(sent)),
                "at_relogin": at_relogin,
                "from_archive": len(from_archive),
                "lost": len(lost),
                "lost_numbers": lost[:20],
                "archive_only": {f"{tag} {n}": sent_at[n] for n in sorted(from_archive)[:20]},
                "duplicated": duplicated,
                "longest_gap_s": round(gap, 2),
                "reconnects": {"alice": alice.reconnects, "bob": bob.reconnects},
            }
        ),
        flush=True,
    )


async def _login(role, on_start):
    for _ in range(20):
        ended = await role.session(ARGS.service, on_start)
        if ended is not None:
            return role.client
        await asyncio.sleep(0.5)
    return None


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--domain", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--sender", type=address, required=True)
    p.add_argument("--recipient", type=address, required=True)
    p.add_argument("--service", type=address, required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--interval", type=float, default=0.1)
    p.add_argument("--settle", type=float, default=60)
    ARGS = p.parse_args()
    logging.basicConfig(level=logging.CRITICAL, stream=sys.stderr)
    asyncio.run(run())
