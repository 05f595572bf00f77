"""The WebSockets of docs/protocol.md, one module each: `base` (what every socket shares, the one send
path), `widget` (/ws/v1/widget/), `staff` (the staff sockets' admission), `agent` (/ws/v1/agent/) and
`supervisor` (/ws/v1/supervisor/ and /ws/v1/supervisor/live/). config/websocket_urls.py routes to them.
"""
