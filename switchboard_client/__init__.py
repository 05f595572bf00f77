"""The Python protocol client: a customer (the widget's side of `/ws/v1/widget/`) and an agent (the
console's side of `/ws/v1/agent/`) over real WebSockets, each surviving its socket dying as the widget and
the console do. The load benchmarks (bench/) and the fault tests (tests/faults/) drive the server with it.

It speaks only the public protocol (docs/protocol.md) and imports no Django app, so it runs without
Django settings, in any process.

    customer = Customer(base, await widget_session(http, base, "demo", "Ada"))
    await customer.open()
    await customer.send("hello")
"""

from switchboard_client.agent import Agent
from switchboard_client.customer import Customer
from switchboard_client.peer import Peer, close_all, settle
from switchboard_client.screen import Screen
from switchboard_client.sessions import agent_login, widget_session, widget_tokens

__all__ = [
    "Agent",
    "Customer",
    "Peer",
    "Screen",
    "agent_login",
    "close_all",
    "settle",
    "widget_session",
    "widget_tokens",
]
