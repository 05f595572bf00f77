"""The channel layer contract (realtime.SwitchLayer), one suite run against every backend the settings
can name: Channels' in-memory layer (the embedded default) and the recording layer over it, ours on
real Redis (`switchboard`) and channels-redis's pub/sub layer on real Redis (`channels_redis`). Where a
backend cannot keep a promise the test says so with an explicit skip or a strict xfail and its reason
(docs/realtime.md lists the differences). Last, what only ours has inside (its hubs), checked directly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import msgpack
import pytest
import redis
from channels.exceptions import ChannelFull
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from realtime import RESET, SwitchLayer, switch_layer
from realtime.fanout import FanoutChannelLayer
from realtime.memory import MemoryChannelLayer, RecordingChannelLayer
from realtime.metrics import LAYER_RESETS
from realtime.pubsub import PubSubChannelLayer

pytestmark = pytest.mark.django_db(transaction=False)

BACKENDS = ["memory", "recording", "switchboard", "channels_redis"]
ON_REDIS = {"switchboard": FanoutChannelLayer, "channels_redis": PubSubChannelLayer}

ONE_PROCESS = "an in-process layer: there is no other process to deliver to"
IN_MEMORY = {"memory": ONE_PROCESS, "recording": ONE_PROCESS}
NO_BOUND = "channels-redis's queues have no bound: a socket far behind grows the process's memory instead"
NO_RESET = (
    "channels-redis reconnects its subscription without telling anyone: what was published meanwhile is "
    "lost silently, found again only by the client's resume (seq gap or reconnect)"
)
DROPS_PAST_CAPACITY = "Channels' in-memory group_send drops a message past capacity silently (embedded default only)"


def make(name: str, *, capacity: int = 100, url: str | None = None):
    url = url or settings.REDIS_URL
    prefix = f"sbtest{os.getpid()}"
    if name == "memory":
        return MemoryChannelLayer(capacity=capacity)
    if name == "recording":
        return RecordingChannelLayer(MemoryChannelLayer(capacity=capacity))
    if name == "switchboard":
        return FanoutChannelLayer(hosts=[{"address": url}], prefix=prefix, capacity=capacity)
    return PubSubChannelLayer(hosts=[{"address": url}], prefix=prefix, capacity=capacity)


def backends(*, skip: dict[str, str] | None = None, xfail: dict[str, str] | None = None, raises=AssertionError):
    """Run the test on every backend; `skip` those it means nothing for, `xfail` those that differ (they
    must fail, and with `raises`: a failure of another kind is a real one)."""
    params = []
    for name in BACKENDS:
        marks = []
        if skip and name in skip:
            marks.append(pytest.mark.skip(reason=skip[name]))
        if xfail and name in xfail:
            marks.append(pytest.mark.xfail(reason=xfail[name], strict=True, raises=raises))
        params.append(pytest.param(name, marks=marks, id=name))
    return pytest.mark.parametrize("backend", params)


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def layer(backend):
    return make(backend)


async def receive(layer, channel, timeout=3.0):
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def nothing_for(layer, channel, wait=0.3) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), wait)
    except TimeoutError:
        return True
    return False


async def joined(layer, group: str, *channels: str) -> None:
    for channel in channels:
        await layer.group_add(group, channel)


# --- the contract every backend keeps -------------------------------------------------------------


def test_every_backend_keeps_the_protocol(layer):
    assert isinstance(layer, SwitchLayer)
    assert isinstance(layer.pipelined, bool)


def test_a_configured_layer_without_the_named_methods_is_refused(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    with pytest.raises(ImproperlyConfigured, match="channel_forget, group_send_blocking, pipelined"):
        switch_layer()


async def test_send_and_receive(layer):
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "hello", "n": 1})
    assert await receive(layer, channel) == {"type": "hello", "n": 1}


async def test_group_members_get_one_copy_each_in_order(layer):
    a, b, outsider = await layer.new_channel(), await layer.new_channel(), await layer.new_channel()
    await joined(layer, "conv.1", a, b)
    for n in range(50):
        await layer.group_send("conv.1", {"type": "sb.event", "n": n})
    assert [(await receive(layer, a))["n"] for _ in range(50)] == list(range(50))
    assert [(await receive(layer, b))["n"] for _ in range(50)] == list(range(50))
    assert await nothing_for(layer, a)
    assert await nothing_for(layer, outsider)


ECHO_DROPPED_BY_SOCKET = "this layer delivers the sender's own echo; the socket drops it (interface/sockets/base.py)"


@backends(
    skip={
        "memory": ECHO_DROPPED_BY_SOCKET,
        "recording": ECHO_DROPPED_BY_SOCKET,
        "channels_redis": ECHO_DROPPED_BY_SOCKET,
    }
)
async def test_the_member_a_message_names_as_its_origin_is_not_given_it(backend):
    """The sending socket has its message from its ack: our layer skips its echo before any copy or
    wake-up, in the sender's process and in the others."""
    one, two = make(backend), make(backend)
    sender, other, remote = await one.new_channel(), await one.new_channel(), await two.new_channel()
    await joined(one, "conv.31", sender, other)
    await joined(two, "conv.31", remote)
    for n in range(3):
        await one.group_send("conv.31", {"type": "sb.event", "n": n, "origin": sender})
    await one.group_send("conv.31", {"type": "sb.event", "n": 3, "origin": None})
    # From another process, naming a socket of this one.
    await two.group_send("conv.31", {"type": "sb.event", "n": 4, "origin": other})
    assert [(await receive(one, other))["n"] for _ in range(4)] == [0, 1, 2, 3]
    assert sorted([(await receive(two, remote))["n"] for _ in range(5)]) == [0, 1, 2, 3, 4]  # two publishers
    assert [(await receive(one, sender))["n"] for _ in range(2)] == [3, 4]
    assert await nothing_for(one, sender)  # (a receive given up forgets its channel: one check each, last)
    assert await nothing_for(one, other)


async def test_discarded_member_gets_nothing(layer):
    a, b = await layer.new_channel(), await layer.new_channel()
    await joined(layer, "conv.2", a, b)
    await layer.group_discard("conv.2", a)
    await layer.group_send("conv.2", {"type": "sb.event"})
    assert (await receive(layer, b))["type"] == "sb.event"
    assert await nothing_for(layer, a)


async def test_send_to_an_empty_group_is_fine(layer):
    await layer.group_send("nobody.here", {"type": "sb.event"})


@pytest.mark.parametrize("name", ["", "bad name", "x" * 200, "é"])
async def test_bad_group_names_are_refused(layer, name):
    channel = await layer.new_channel()
    with pytest.raises(TypeError):
        await layer.group_add(name, channel)
    with pytest.raises(TypeError):
        await layer.group_send(name, {"type": "sb.event"})
    with pytest.raises(TypeError):
        await asyncio.to_thread(layer.group_send_blocking, name, {"type": "sb.event"})


async def test_blocking_send_from_a_thread_without_a_loop(layer):
    channel = await layer.new_channel()
    await layer.group_add("conv.5", channel)
    await asyncio.to_thread(layer.group_send_blocking, "conv.5", {"type": "sb.event", "from": "worker"})
    assert (await receive(layer, channel))["from"] == "worker"


async def test_a_forgotten_channel_leaves_its_groups(layer):
    gone, stays = await layer.new_channel(), await layer.new_channel()
    await joined(layer, "conv.10", gone, stays)
    layer.channel_forget(gone)  # its consumer ended, however it ended
    await layer.group_send("conv.10", {"type": "sb.event", "n": 1})
    assert (await receive(layer, stays))["n"] == 1
    assert await nothing_for(layer, gone)


async def test_a_group_everyone_left_is_joined_again_by_a_new_channel(layer):
    first = await layer.new_channel()
    await layer.group_add("conv.12", first)
    layer.channel_forget(first)
    second = await layer.new_channel()
    await layer.group_add("conv.12", second)
    await layer.group_send("conv.12", {"type": "sb.event", "n": 2})
    assert (await receive(layer, second))["n"] == 2


@backends(
    xfail={"channels_redis": "channels-redis has no capacity: a direct send never raises ChannelFull"},
    raises=pytest.fail.Exception,
)
async def test_a_direct_send_past_capacity_raises(backend):
    layer = make(backend, capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "a"})
    await layer.send(channel, {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "c"})


@backends(xfail={"channels_redis": NO_BOUND, "memory": DROPS_PAST_CAPACITY, "recording": DROPS_PAST_CAPACITY})
async def test_a_socket_too_far_behind_is_reset_not_silently_dropped(backend):
    layer = make(backend, capacity=5)
    channel = await layer.new_channel()
    await layer.group_add("conv.7", channel)
    before = LAYER_RESETS.labels(reason="overflow")._value.get()
    for n in range(6):
        await layer.group_send("conv.7", {"type": "sb.event", "n": n})
    first = await receive(layer, channel)
    assert first["type"] == RESET and first["reason"] == "overflow"
    assert LAYER_RESETS.labels(reason="overflow")._value.get() == before + 1  # seen on /metrics
    assert await nothing_for(layer, channel)


def test_the_recording_layer_records_every_group_send_and_delivers(settings):
    heard = []
    layer = RecordingChannelLayer(on_send=lambda group, message: heard.append(group))

    async def scenario():
        channel = await layer.new_channel()
        await layer.group_add("conv.13", channel)
        await layer.group_send("conv.13", {"type": "sb.event", "n": 1})
        await asyncio.to_thread(layer.group_send_blocking, "conv.13", {"type": "sb.event", "n": 2})
        return [(await receive(layer, channel))["n"] for _ in range(2)]

    assert asyncio.run(scenario()) == [1, 2]
    assert layer.sent == [("conv.13", {"type": "sb.event", "n": 1}), ("conv.13", {"type": "sb.event", "n": 2})]
    assert heard == ["conv.13", "conv.13"]


# --- between processes (the Redis backends) -------------------------------------------------------


@backends(skip=IN_MEMORY)
async def test_two_processes_share_a_group_and_each_socket_gets_one_copy(backend):
    one, two = make(backend), make(backend)  # two layers: two processes' worth of state, one Redis
    local, remote = await one.new_channel(), await two.new_channel()
    await one.group_add("conv.3", local)
    await two.group_add("conv.3", remote)
    for n in range(20):
        await one.group_send("conv.3", {"type": "sb.event", "n": n})
    await two.group_send("conv.3", {"type": "sb.event", "n": 20})
    got_local = [(await receive(one, local))["n"] for _ in range(21)]
    got_remote = [(await receive(two, remote))["n"] for _ in range(21)]
    # One publisher's messages keep their order; between two processes there is no order to keep (a
    # local delivery may overtake what is still on its way through Redis): clients order by seq.
    for got in (got_local, got_remote):
        assert [n for n in got if n < 20] == list(range(20)) and sorted(got) == list(range(21))
    assert await nothing_for(one, local) and await nothing_for(two, remote)


@backends(skip=IN_MEMORY)
async def test_send_reaches_a_channel_of_another_process(backend):
    one, two = make(backend), make(backend)
    theirs = await two.new_channel()
    await one.send(theirs, {"type": "direct", "text": "x"})
    assert await receive(two, theirs) == {"type": "direct", "text": "x"}


@backends(skip=IN_MEMORY)
async def test_a_group_can_only_be_joined_by_its_own_process(backend):
    one, two = make(backend), make(backend)
    theirs = await two.new_channel()
    # Ours: ValueError; channels-redis: RuntimeError. Either way refused, nothing joined.
    with pytest.raises((ValueError, RuntimeError), match=r"another process|exist in-process"):
        await one.group_add("conv.4", theirs)


@backends(skip=IN_MEMORY)
async def test_a_real_other_process_publishes_to_this_one(backend):
    layer = make(backend)
    channel = await layer.new_channel()
    await layer.group_add("conv.6", channel)
    cls = ON_REDIS[backend]
    code = textwrap.dedent(
        f"""
        from {cls.__module__} import {cls.__name__}
        layer = {cls.__name__}(hosts=[{{"address": {settings.REDIS_URL!r}}}], prefix={f"sbtest{os.getpid()}"!r})
        layer.group_send_blocking("conv.6", {{"type": "sb.event", "pid": "child"}})
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert (await receive(layer, channel, timeout=10))["pid"] == "child"


@backends(skip=IN_MEMORY)
async def test_a_group_left_and_joined_again_at_once_keeps_hearing_other_processes(backend):
    layer, other = make(backend), make(backend)
    first = await layer.new_channel()
    await layer.group_add("conv.11", first)
    layer.channel_forget(first)  # its unsubscribe is on its way...
    second = await layer.new_channel()
    await layer.group_add("conv.11", second)  # ...and the group is joined again before it goes out
    await asyncio.sleep(0.2)
    await other.group_send("conv.11", {"type": "sb.event", "n": 1})
    assert (await receive(layer, second))["n"] == 1


@backends(skip=IN_MEMORY)
async def test_deployments_on_other_redis_databases_of_one_server_do_not_hear_each_other(backend):
    # Pub/sub ignores database numbers; both Redis backends' channel names carry the number instead.
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    here, there = make(backend, url=f"{base}/3"), make(backend, url=f"{base}/4")
    mine, theirs = await here.new_channel(), await there.new_channel()
    await here.group_add("conv.9", mine)
    await there.group_add("conv.9", theirs)
    await there.group_send("conv.9", {"type": "sb.event", "from": "there"})
    assert (await receive(there, theirs))["from"] == "there"
    assert await nothing_for(here, mine, wait=0.5)


def _subscriber_connection(backend: str, layer):
    """The redis-py connection a layer receives its subscriptions on, in this event loop."""
    if backend == "switchboard":
        return layer.hub().pubsub.connection
    return layer._get_layer()._shards[0]._pubsub.connection


def _kill_subscriber(backend: str, layer) -> None:
    host, port = _subscriber_connection(backend, layer)._writer.get_extra_info("sockname")[:2]
    client = redis.Redis.from_url(settings.REDIS_URL)
    killed = client.client_kill_filter(addr=f"{host}:{port}")
    client.close()
    assert killed == 1


@backends(skip=IN_MEMORY)
async def test_delivery_resumes_after_a_lost_subscription(backend):
    layer, other = make(backend), make(backend)
    channel = await layer.new_channel()
    await layer.group_add("conv.8", channel)
    _kill_subscriber(backend, layer)
    for _ in range(100):
        await other.group_send("conv.8", {"type": "sb.event", "after": True})
        try:
            message = await receive(layer, channel, timeout=0.2)
        except TimeoutError:
            continue
        if message["type"] == RESET:
            continue
        assert message["after"] is True
        break
    else:
        pytest.fail("no delivery after the subscription came back")


@backends(skip=IN_MEMORY, xfail={"channels_redis": NO_RESET}, raises=TimeoutError)
async def test_a_lost_subscription_resets_local_sockets(backend):
    layer = make(backend)
    channel = await layer.new_channel()
    await layer.group_add("conv.8", channel)
    _kill_subscriber(backend, layer)
    # channels-redis's receiver notices within a second; nothing reaches the socket.
    reset = await receive(layer, channel, timeout=5)
    assert reset["type"] == RESET


# --- inside ours: its hubs ------------------------------------------------------------------------


async def test_ours_forgets_a_socket_whose_receive_was_cancelled():
    layer = make("switchboard")
    channel = await layer.new_channel()
    await layer.group_add("conv.9", channel)
    task = asyncio.ensure_future(layer.receive(channel))
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    hub = layer.hub()
    assert "conv.9" not in hub.groups and channel not in hub.queues
    await asyncio.sleep(0.1)
    assert layer.key("grp", "conv.9") not in hub.confirmed


async def test_ours_drops_a_forgotten_socket_from_its_hub():
    layer = make("switchboard")
    channel = await layer.new_channel()
    await layer.group_add("conv.10", channel)
    layer.channel_forget(channel)
    hub = layer.hub()
    assert "conv.10" not in hub.groups and channel not in hub.queues


async def test_ours_keeps_no_queue_for_an_idle_socket():
    # An idle socket's channel holds no deque (600-odd bytes each, docs/performance.md): one is made
    # when a message waits for it and dropped once it is read.
    layer = make("switchboard")
    channel = await layer.new_channel()
    hub = layer.hub()
    assert channel in hub.channels and channel not in hub.queues
    await layer.group_add("conv.11", channel)
    await layer.group_send("conv.11", {"type": "sb.event", "n": 1})
    await layer.group_send("conv.11", {"type": "sb.event", "n": 2})
    assert len(hub.queues[channel]) == 2
    assert [(await receive(layer, channel))["n"] for _ in range(2)] == [1, 2]
    assert channel not in hub.queues
    # Still a live channel: a message arriving while nothing reads waits for the next receive.
    await layer.send(channel, {"type": "sb.event", "n": 3})
    assert (await receive(layer, channel))["n"] == 3
    layer.channel_forget(channel)
    assert channel not in hub.channels


def _published(layer, monkeypatch) -> list[str]:
    """The Redis channels `layer`'s hub publishes to from now on (awaited or not)."""
    hub, sent = layer.hub(), []
    publish, publish_nowait = hub.publish, hub.publish_nowait

    async def spy(rchan, payload):
        sent.append(rchan)
        await publish(rchan, payload)

    def spy_nowait(rchan, payload):
        sent.append(rchan)
        publish_nowait(rchan, payload)

    monkeypatch.setattr(hub, "publish", spy)
    monkeypatch.setattr(hub, "publish_nowait", spy_nowait)
    return sent


async def test_ours_publishes_nothing_for_a_group_no_other_process_listens_to(monkeypatch):
    """Both ends of a conversation in one process: its frames never go through Redis and back."""
    layer = make("switchboard")
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("conv.20", a)
    await layer.group_add("conv.20", b)
    sent = _published(layer, monkeypatch)
    await layer.group_send("conv.20", {"type": "sb.event", "n": 1})
    layer.group_send_nowait("conv.20", {"type": "sb.event", "n": 2})
    assert [(await receive(layer, a))["n"] for _ in range(2)] == [1, 2]
    assert [(await receive(layer, b))["n"] for _ in range(2)] == [1, 2]
    assert layer.key("grp", "conv.20") not in sent
    # A group with no local member is always published (another process may hold its sockets).
    await layer.group_send("conv.21", {"type": "sb.event", "n": 3})
    assert layer.key("grp", "conv.21") in sent


async def test_ours_a_process_that_joins_hears_everything_sent_after_its_join():
    """One process alone in a group sends without Redis; another joins while it sends: from the moment
    the join returns (when a socket reads its replay), every message reaches the joiner."""
    one, two = make("switchboard", capacity=100_000), make("switchboard", capacity=100_000)
    here = await one.new_channel()
    await one.group_add("conv.22", here)
    assert one.hub().others["conv.22"] is False
    stop, sent = asyncio.Event(), []

    async def sender():
        n = 0
        while not stop.is_set() and n < 20_000:
            one.group_send_nowait("conv.22", {"type": "sb.event", "n": n})
            sent.append(n)
            n += 1
            await asyncio.sleep(0)

    task = asyncio.ensure_future(sender())
    await asyncio.sleep(0.05)
    there = await two.new_channel()
    await two.group_add("conv.22", there)
    joined_at = len(sent)  # every n from here on was sent after the join returned
    await asyncio.sleep(0.05)
    stop.set()
    await task
    assert one.hub().others["conv.22"] is True and two.hub().others["conv.22"] is True
    got = set()
    while not await nothing_for(two, there, wait=0.3):
        while two.hub().queues.get(there):
            got.add((await receive(two, there))["n"])
    missing = [n for n in sent[joined_at:] if n not in got]
    assert sent[joined_at:] and not missing


async def test_ours_a_join_does_not_wait_forever_for_a_process_that_never_answers(monkeypatch):
    """A subscriber that never acknowledges (a hung process) delays a join by ANNOUNCE_TIMEOUT_S, after
    which the joiner publishes to the group as if others listen."""
    from realtime import fanout

    monkeypatch.setattr(fanout, "ANNOUNCE_TIMEOUT_S", 0.3)
    layer = make("switchboard")
    mute = redis.Redis.from_url(settings.REDIS_URL).pubsub()
    mute.subscribe(layer.key("grp", "conv.23"))
    mute.get_message(timeout=1)
    try:
        channel = await layer.new_channel()
        started = asyncio.get_running_loop().time()
        await layer.group_add("conv.23", channel)
        assert 0.25 < asyncio.get_running_loop().time() - started < 2
        assert layer.hub().others["conv.23"] is True
    finally:
        mute.close()


def test_which_layers_are_direct_is_decided_without_an_event_loop():
    """Ours is a DirectLayer, the others are not; asked from sync code (a fixture) without a running loop,
    where channels-redis's layer cannot answer for an attribute."""
    from realtime import direct_layer
    from realtime.memory import recording

    assert direct_layer(make("switchboard")) is not None
    assert direct_layer(recording(make("switchboard"))) is not None
    for name in ("memory", "recording", "channels_redis"):
        assert direct_layer(make(name)) is None
    assert direct_layer(recording(make("channels_redis"))) is None


async def test_ours_drops_a_malformed_publication_and_keeps_reading():
    """A publication on a group's channel that is not msgpack, or not of the layer's shape (an
    announcement without its token, a group message without its message), is dropped; the next one
    still arrives."""
    layer = make("switchboard")
    channel = await layer.new_channel()
    await layer.group_add("conv.24", channel)
    raw = redis.Redis.from_url(settings.REDIS_URL)
    rchan = layer.key("grp", "conv.24")
    for data in (
        b"\xc1not msgpack",
        msgpack.packb({"o": "x", "j": "conv.24"}),
        msgpack.packb({"o": "x", "g": "conv.24"}),
    ):
        raw.publish(rchan, data)
    raw.publish(rchan, msgpack.packb({"o": "x", "g": "conv.24", "m": {"type": "sb.event", "n": 1}}))
    assert (await receive(layer, channel))["n"] == 1
