"""WebSub (W3C PubSubHubbub): feeds pushed by their hubs, between polls.

    poll of a feed ──► discovery: hub + topic ──► subscriber.next_step ──► Subscriber
    (daemon)           (feed links, Link header)   subscribe / renew /      form POST to hub
                                                   unsubscribe / nothing    (fetch stage)
                                                                               │
    hub ── GET /websub/<id>?hub.mode=subscribe&hub.challenge=… ──► Callback ◄──┘
           (verification of intent: 200 + challenge, the subscription active)
    hub ── POST /websub/<id>, X-Hub-Signature: sha256=… ──► Callback ──► on_delivery
           (202; 403 unsigned or wrongly signed; 404 unknown id)                  │
                                                                                  ▼
                                     the daemon: Pipeline.take_delivery(feed, body, type)
                                     (the poll's pipeline, the feed's validators untouched)

    signature   X-Hub-Signature parsed within bounds, HMAC checked in constant time
    discovery   hub and topic of a feed: its links, else its Link header
    book        the store's subscription rows held in memory (read again every 30 s,
                and on a callback id it does not hold); which replica renews
    callback    the /websub/ prefix route of the ops server (which refuses a body over
                websub.max_delivery_bytes, 413, before the callback sees it)
    subscriber  when to (re)subscribe or renew; the requests to hubs

The package imports no other stage: the store and the HTTP client come in behind small
Protocols (`book.SubscriptionStore`, `subscriber.FormPoster`), the ops server's request
behind `callback.CallbackRequest`. The daemon wires it (`ingest.daemon.websub_jobs`).
Nothing here happens without ``server.public_url``.
"""
