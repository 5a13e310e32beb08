"""The states an endpoint and a delivery can be in."""

ENABLED = "enabled"
DISABLED = "disabled"

PENDING = "pending"  # made, first attempt not yet done (or resent)
RETRYING = "retrying"  # an attempt failed in a way that may pass; next_attempt_at says when
DELIVERED = "delivered"  # a 2xx answer
FAILED = "failed"  # given up: a 4xx, 410, too many attempts, or the endpoint disabled
WAITING = (PENDING, RETRYING)
DELIVERY_STATES = (PENDING, RETRYING, DELIVERED, FAILED)
