"""Task and queue names: the only thing services share about Celery.

Ingest (and the feed service, for WebSub verification) sends by name (``send_task``); render
registers under the same names. Arguments are small JSON values (ids, versions, names,
URLs), never objects.
"""

QUEUE_IMAGES = "images"
QUEUE_RENDER = "render"
QUEUE_FEEDS = "feeds"
QUEUE_NOTIFY = "notify"

ALL_QUEUES = (QUEUE_IMAGES, QUEUE_RENDER, QUEUE_FEEDS, QUEUE_NOTIFY)

# (article_id, version): fetch and resize the article's images, then hand on to the page.
TASK_PROCESS_IMAGES = "newsflow.images.process_article"
# (article_id, version): render the article page, publish, then rebuild its feeds.
# (article_id, version): AVIF renditions after publication, then the page again.
TASK_IMAGES_AVIF = "newsflow.images.add_avif"
TASK_RENDER_PAGE = "newsflow.render.article_page"
# (feed_key,): regenerate every format of one feed and its channel page.
TASK_REBUILD_FEED = "newsflow.feeds.rebuild"
# (article_id, version): take a withdrawn article's artifacts down.
TASK_WITHDRAW = "newsflow.render.withdraw"
# (feed_key, [fmt, ...]): a feed's bytes changed in these formats; ping the configured WebSub
# hub, or, when the feed service is its own hub, send one delivery per subscriber.
TASK_NOTIFY_FEED = "newsflow.notify.feed_updated"
# (mode, feed_key, fmt, topic, callback, lease_seconds, secret): verify a subscriber's intent
# (a GET to the callback with a challenge), then store or remove the subscription.
TASK_WEBSUB_VERIFY = "newsflow.notify.websub_verify"
# (subscription_id,): POST the topic's current feed to one subscriber.
TASK_WEBSUB_DELIVER = "newsflow.notify.websub_deliver"
# (): turn the change log's new rows into webhook deliveries (shared.webhooks.dispatch), then
# send one TASK_WEBHOOK_DELIVER per delivery. Sent by the render tasks after a change commits.
TASK_WEBHOOKS_DISPATCH = "newsflow.webhooks.dispatch"
# (delivery_id,): one attempt of one webhook delivery (render.webhooks).
TASK_WEBHOOK_DELIVER = "newsflow.webhooks.deliver"

TASK_QUEUES = {
    TASK_PROCESS_IMAGES: QUEUE_IMAGES,
    TASK_IMAGES_AVIF: QUEUE_IMAGES,
    TASK_RENDER_PAGE: QUEUE_RENDER,
    TASK_WITHDRAW: QUEUE_RENDER,
    TASK_REBUILD_FEED: QUEUE_FEEDS,
    TASK_NOTIFY_FEED: QUEUE_NOTIFY,
    TASK_WEBSUB_VERIFY: QUEUE_NOTIFY,
    TASK_WEBSUB_DELIVER: QUEUE_NOTIFY,
    # Webhooks share the notify queue with WebSub: the same kind of work (short outbound
    # calls to partners, bounded by the same timeouts), and a queue of its own would need
    # its own line in every worker's -Q, in compose and in the queue report. The notify
    # queue has no backlog in a burst (feed rebuilds, which do, are on "feeds"), so a
    # dispatch is taken at once.
    TASK_WEBHOOKS_DISPATCH: QUEUE_NOTIFY,
    TASK_WEBHOOK_DELIVER: QUEUE_NOTIFY,
}

# Celery settings for a service that only *sends* tasks (ingest's request path and relay, the
# feed's hub): JSON only, routes by name, and a publish that gives up quickly on a broker that
# is down *or hung*. A hung Redis (SIGSTOP, a partition) accepts TCP connections into the
# kernel backlog and never answers, so only the read timeout ends a send; kombu's
# reconnect (``max_retries``) doubled it. Measured against a listener that never answers:
# socket_timeout 2 with max_retries 1 took 4 s per send; 1 s and 0 retries take 1 s. Callers
# also bound the wait themselves (shared.sending.BoundedSender). Plain data, so shared needs
# no Celery; each sender builds its own client from it.
SENDER_CONF = {
    "task_serializer": "json",
    "accept_content": ["json"],
    "broker_connection_retry": False,
    "broker_connection_retry_on_startup": False,
    "broker_connection_max_retries": 0,
    "broker_transport_options": {
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "max_retries": 0,
    },
    "task_routes": {name: {"queue": queue} for name, queue in TASK_QUEUES.items()},
}
