"""The channel layer contract, run against Channels' in-memory layer (the embedded default) and the
production FanoutChannelLayer on real Redis; then what only the production layer promises: delivery
between processes, one copy per socket, and a reset instead of a silent loss."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap

import pytest
import redis
from channels.layers import InMemoryChannelLayer
from django.conf import settings

from config.channel_layer import RESET, FanoutChannelLayer
from config.metrics import LAYER_RESETS

pytestmark = pytest.mark.django_db(transaction=False)


def fanout(**config) -> FanoutChannelLayer:
    return FanoutChannelLayer(
        hosts=[{"address": settings.REDIS_URL}], prefix=f"sbtest{os.getpid()}", capacity=config.pop("capacity", 100)
    )


@pytest.fixture(params=["memory", "fanout"])
def layer(request):
    if request.param == "memory":
        return InMemoryChannelLayer(capacity=100)
    return fanout()


async def receive(layer, channel, timeout=3.0):
    return await asyncio.wait_for(layer.receive(channel), timeout)


async def nothing_for(layer, channel, wait=0.3) -> bool:
    try:
        await asyncio.wait_for(layer.receive(channel), wait)
    except TimeoutError:
        return True
    return False


# --- the contract both layers keep ----------------------------------------------------------------


async def test_send_and_receive(layer):
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "hello", "n": 1})
    assert await receive(layer, channel) == {"type": "hello", "n": 1}


async def test_group_members_get_one_copy_each_in_order(layer):
    a, b, outsider = await layer.new_channel(), await layer.new_channel(), await layer.new_channel()
    await layer.group_add("conv.1", a)
    await layer.group_add("conv.1", b)
    for n in range(50):
        await layer.group_send("conv.1", {"type": "sb.event", "n": n})
    assert [(await receive(layer, a))["n"] for _ in range(50)] == list(range(50))
    assert [(await receive(layer, b))["n"] for _ in range(50)] == list(range(50))
    assert await nothing_for(layer, a)
    assert await nothing_for(layer, outsider)


async def test_discarded_member_gets_nothing(layer):
    a, b = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("conv.2", a)
    await layer.group_add("conv.2", b)
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


# --- what the production layer adds ---------------------------------------------------------------


async def test_two_processes_share_a_group_and_each_socket_gets_one_copy():
    one, two = fanout(), fanout()  # two layers: two processes' hubs, one Redis
    local, remote = await one.new_channel(), await two.new_channel()
    await one.group_add("conv.3", local)
    await two.group_add("conv.3", remote)
    for n in range(20):
        await one.group_send("conv.3", {"type": "sb.event", "n": n})
    await two.group_send("conv.3", {"type": "sb.event", "n": 20})
    assert [(await receive(one, local))["n"] for _ in range(21)] == list(range(21))
    got = [(await receive(two, remote))["n"] for _ in range(21)]
    # One publisher's messages keep their order; between two processes there is no order to keep (the
    # local one may overtake what is still on its way through Redis): clients order by seq.
    assert [n for n in got if n < 20] == list(range(20)) and sorted(got) == list(range(21))
    assert await nothing_for(one, local) and await nothing_for(two, remote)


async def test_send_reaches_a_channel_of_another_process():
    one, two = fanout(), fanout()
    theirs = await two.new_channel()
    await one.send(theirs, {"type": "direct", "text": "x"})
    assert await receive(two, theirs) == {"type": "direct", "text": "x"}


async def test_a_group_can_only_be_joined_by_its_own_process():
    one, two = fanout(), fanout()
    theirs = await two.new_channel()
    with pytest.raises(ValueError, match="another process"):
        await one.group_add("conv.4", theirs)


async def test_blocking_send_from_a_thread_without_a_loop():
    layer = fanout()
    channel = await layer.new_channel()
    await layer.group_add("conv.5", channel)
    await asyncio.to_thread(layer.group_send_blocking, "conv.5", {"type": "sb.event", "from": "worker"})
    assert (await receive(layer, channel))["from"] == "worker"


async def test_a_real_other_process_publishes_to_this_one():
    layer = fanout()
    channel = await layer.new_channel()
    await layer.group_add("conv.6", channel)
    code = textwrap.dedent(
        f"""
        from config.channel_layer import FanoutChannelLayer
        layer = FanoutChannelLayer(hosts=[{{"address": {settings.REDIS_URL!r}}}], prefix={layer.prefix!r})
        layer.group_send_blocking("conv.6", {{"type": "sb.event", "pid": "child"}})
        """
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    await asyncio.to_thread(subprocess.run, [sys.executable, "-c", code], check=True, env=env, timeout=60)
    assert (await receive(layer, channel, timeout=10))["pid"] == "child"


async def test_a_socket_too_far_behind_is_reset_not_silently_dropped():
    layer = fanout(capacity=5)
    channel = await layer.new_channel()
    await layer.group_add("conv.7", channel)
    before = LAYER_RESETS.labels(reason="overflow")._value.get()
    for n in range(6):
        await layer.group_send("conv.7", {"type": "sb.event", "n": n})
    first = await receive(layer, channel)
    assert first["type"] == RESET and first["reason"] == "overflow"
    assert LAYER_RESETS.labels(reason="overflow")._value.get() == before + 1  # seen on /metrics
    assert await nothing_for(layer, channel)


async def test_a_direct_send_past_capacity_raises():
    from channels.exceptions import ChannelFull

    layer = fanout(capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "a"})
    await layer.send(channel, {"type": "b"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "c"})


async def test_a_lost_subscription_resets_local_sockets_and_delivery_resumes():
    layer, other = fanout(), fanout()
    channel = await layer.new_channel()
    await layer.group_add("conv.8", channel)
    hub = layer.hub()
    client = redis.Redis.from_url(settings.REDIS_URL)
    # Kill only this hub's subscriber connection (its connections carry the hub's name).
    killed = 0
    for info in client.client_list():
        if info.get("name") == f"sb-layer-{hub.id}" and int(info.get("sub", 0)) > 0:
            client.client_kill_filter(_id=info["id"])
            killed += 1
    assert killed == 1
    reset = await receive(layer, channel, timeout=10)
    assert reset["type"] == RESET
    # Subscribed again: another process's message arrives.
    for _ in range(50):
        await other.group_send("conv.8", {"type": "sb.event", "after": True})
        try:
            message = await receive(layer, channel, timeout=0.2)
        except TimeoutError:
            continue
        assert message["after"] is True
        break
    else:
        pytest.fail("no delivery after the subscription came back")


async def test_a_finished_socket_leaves_its_groups():
    layer = fanout()
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


async def test_deployments_on_other_redis_databases_of_one_server_do_not_hear_each_other():
    # Pub/sub ignores database numbers; the layer's channel names carry the number instead.
    base = settings.REDIS_URL.rsplit("/", 1)[0]
    here = FanoutChannelLayer(hosts=[{"address": f"{base}/3"}], prefix=f"sbtest{os.getpid()}")
    there = FanoutChannelLayer(hosts=[{"address": f"{base}/4"}], prefix=f"sbtest{os.getpid()}")
    mine, theirs = await here.new_channel(), await there.new_channel()
    await here.group_add("conv.9", mine)
    await there.group_add("conv.9", theirs)
    await there.group_send("conv.9", {"type": "sb.event", "from": "there"})
    assert (await receive(there, theirs))["from"] == "there"
    assert await nothing_for(here, mine, wait=0.5)


async def test_a_consumer_that_ended_without_a_cancelled_receive_is_forgotten():
    layer = fanout()
    channel = await layer.new_channel()
    await layer.group_add("conv.10", channel)
    layer.channel_forget(channel)
    hub = layer.hub()
    assert "conv.10" not in hub.groups and channel not in hub.queues


async def test_a_group_left_and_joined_again_at_once_keeps_hearing_other_processes():
    layer, other = fanout(), fanout()
    first = await layer.new_channel()
    await layer.group_add("conv.11", first)
    layer.channel_forget(first)  # its unsubscribe is on its way...
    second = await layer.new_channel()
    await layer.group_add("conv.11", second)  # ...and the group is joined again before it goes out
    await asyncio.sleep(0.2)
    await other.group_send("conv.11", {"type": "sb.event", "n": 1})
    assert (await receive(layer, second))["n"] == 1
