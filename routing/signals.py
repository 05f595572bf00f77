"""What routing tells the rest of the system. Every signal is sent after the transaction commits, with
plain ints, strs and aware datetimes (never ORM objects). The switch connects its receivers to these."""

from django.dispatch import Signal

# offer_id, ref, agent_id, queue_id, expires_at
offer_created = Signal()
# offer_id, ref, agent_id, reason (accepted | rejected | expired | cancelled)
offer_closed = Signal()
# ref, agent_id, queue_id, policy (least_busy | round_robin | longest_idle | preferred | manual | transfer)
work_assigned = Signal()
# ref, queue_id: waiting in a queue (first time, or again after a reject/expiry with no other agent,
# a transfer or an overflow)
work_queued = Signal()
# ref, queue_id, agent_id, reason (completed | cancelled | abandoned | transferred ...): an agent let go
work_released = Signal()
# queue_id: positions in the queue moved
queue_changed = Signal()
# agent_id, status (available | away | offline)
agent_status_changed = Signal()
