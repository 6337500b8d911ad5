"""Signed webhooks: a project's endpoints are told, Standard Webhooks style, what happened.

- ``events``: the event types (OpenAI's names) and their payloads, ``{id, object, type,
  created_at, data: {id, ...}}``.
- ``emit``: the events of a job's end (``job_ended``), called where a job ends.
- ``targets``: which URLs and addresses an endpoint may have (SSRF).
- ``schedule``: the retry delays and a delivery's state after an attempt (pure).
- ``send``: one attempt, signed with the standardwebhooks library (the worker only).
- ``delivery``: one attempt of a claimed delivery, and the dispatch of those due.

To emit an event, from any process with a store (the autopilot's, for instance)::

    from tuneloop.webhooks import events
    event = store.webhooks.emit(project, events.MODEL_ROLLED_BACK, {"id": model_id, ...},
                                key=f"{autopilot_id}:{run_id}:rolled_back")

``emit`` records the event and one delivery per endpoint of the project subscribed to its
type in one Redis step, and returns the event (None when no endpoint takes it, or when the
key was emitted already: the same key always gives the same event id, so a retried caller
emits once). It never sends HTTP on the caller's thread: when the store has a sender (the
worker's and the gateway's do) each delivery's first attempt is queued on the webhooks queue
at once; otherwise the periodic dispatch sends it within its interval.
"""
