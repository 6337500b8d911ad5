"""Run the sweeper in one worker at a time: orphaned jobs are sent again or end timed out (a
pausing one is settled paused), and files whose check never finished are checked again or
settled as error."""

import logging
import threading

from celery import bootsteps

from tuneloop.agent import registry
from tuneloop.canvas import job_canvas
from tuneloop.celery_config import PIPELINE_QUEUE
from tuneloop.contracts import CHECK_FILE
from tuneloop.pipeline.sweep import sweep
from tuneloop.store.leases import holder_id
from tuneloop.store.outage import TRANSIENT
from tuneloop.store.sweeps import SweepStore
from tuneloop_worker.runtime import limits, store

log = logging.getLogger(__name__)


class Sweeper(bootsteps.StartStopStep):
    """Every sweep_interval s, the worker elected through Redis sweeps for orphaned jobs."""

    requires = ("celery.worker.consumer.connection:Connection",)

    def __init__(self, parent: object, **kwargs: object) -> None:
        super().__init__(parent, **kwargs)
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, c: object) -> None:
        """Start the sweeping thread, unless sweeping is off."""
        interval = c.app.conf.tuneloop_settings.sweep_interval
        if interval <= 0 or self.thread is not None:
            return
        self.stop_event.clear()
        self.thread = threading.Thread(
            target=self.loop, args=(c.app, interval), name="sweeper", daemon=True
        )
        self.thread.start()

    def loop(self, app: object, interval: float) -> None:
        """Sweep every interval while elected; a Redis fault waits for the next turn."""
        settings, me = app.conf.tuneloop_settings, holder_id()
        sweeps = SweepStore(store().redis)

        def send(jid: str, kind: str) -> None:
            job = store().jobs.get(jid)
            model = (job or {}).get("request", {}).get("model")
            job_canvas(app, jid, kind, registry.stage_queues(model) if model else {}).apply_async()

        def send_check(fid: str) -> None:
            app.send_task(CHECK_FILE, args=(fid,), ignore_result=True)  # as the gateway sends it

        while not self.stop_event.wait(interval):
            try:
                if not sweeps.elect(me, int(interval * 3000)):
                    continue
                outcome = sweep(
                    store(),
                    sweeps,
                    send,
                    [PIPELINE_QUEUE, *sorted(set(registry.QUEUES.values()))],
                    confirm=interval,
                    max_redrives=settings.max_redrives,
                    limits=limits(),
                    send_check=send_check,
                )
                if outcome.redriven or outcome.timed_out or outcome.paused:
                    log.warning(
                        "sweep: sent again %s; timed out %s; settled paused %s",
                        outcome.redriven,
                        outcome.timed_out,
                        outcome.paused,
                    )
            except TRANSIENT as exc:
                log.warning("sweep skipped, Redis cannot take it now: %s", exc)
            except Exception:
                log.exception("sweep failed")

    def stop(self, c: object) -> None:
        """Stop sweeping."""
        self.stop_event.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
            self.thread = None
