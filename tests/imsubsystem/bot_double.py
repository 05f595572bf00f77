"""A bot handler double for IM_BOT_HANDLERS: records what the switch hands to bots."""

received: list[dict] = []


def handler(event: dict) -> None:
    received.append(event)
