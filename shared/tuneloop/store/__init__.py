"""Tuneloop's records in Redis: interactions, jobs, events, artifacts and models."""

import copy

from redis import ConnectionPool, Redis

from tuneloop import graph
from tuneloop.store import budget as budgets
from tuneloop.store import keys, paging
from tuneloop.store.artifacts import ArtifactStore
from tuneloop.store.autopilots import AutopilotStore
from tuneloop.store.blobs import BlobStore
from tuneloop.store.budget import NO_BUDGET, Budget
from tuneloop.store.cases import CaseStore
from tuneloop.store.deliveries import DeliveryStore
from tuneloop.store.embeddings import EmbeddingCache
from tuneloop.store.files import FileStore
from tuneloop.store.idempotency import IdempotencyStore
from tuneloop.store.interactions import InteractionStore
from tuneloop.store.jobs import ENDED_TTL, EXPIRING, JobStore
from tuneloop.store.leases import LeaseStore
from tuneloop.store.metrics import MetricsStore
from tuneloop.store.models import ModelStore
from tuneloop.store.parts import PartStore
from tuneloop.store.replies import ReplyStore
from tuneloop.store.webhook_deliveries import Sender
from tuneloop.store.webhooks import WebhookStore
from tuneloop.webhooks import emit


def _bytes_client(redis: Redis) -> Redis:
    """Return a client to the same server that hands back bytes (for binary values)."""
    pool = redis.connection_pool
    kwargs = {**pool.connection_kwargs, "decode_responses": False}
    return Redis(connection_pool=ConnectionPool(connection_class=pool.connection_class, **kwargs))


class Store:
    """All of Tuneloop's Redis records behind one connection pool.

    As built it sees every project's jobs, files and models, and the default project's
    interactions and aliases (the workers' view); :meth:`scoped` gives one project's view.
    """

    def __init__(
        self,
        redis: Redis,
        lease_ttl_ms: int = 30_000,
        raw: Redis | None = None,
        failed_job_ttl: int = ENDED_TTL,
        budget: Budget = NO_BUDGET,
    ) -> None:
        self.redis, self.budget, self.failed_job_ttl = redis, budget, failed_job_ttl
        self.project: str | None = None
        self._views: dict[str, Store] = {}
        self.raw = raw or _bytes_client(redis)
        self.blobs = BlobStore(self.raw)
        self.interactions = InteractionStore(redis, budget=budget)
        self.jobs = JobStore(redis, failed_job_ttl, budget=budget)
        self.deliveries = DeliveryStore(redis)
        self.artifacts = ArtifactStore(redis, self.blobs)
        self.models = ModelStore(redis, self.blobs, budget=budget)
        self.leases = LeaseStore(redis, lease_ttl_ms)
        self.replies = ReplyStore(redis)
        self.idempotency = IdempotencyStore(redis)
        self.cases = CaseStore(redis, budget=budget)
        self.metrics = MetricsStore(redis)
        self.files = FileStore(redis, self.raw, budget=budget)
        self.embeddings = EmbeddingCache(self.raw)
        self.parts = PartStore(redis)
        self.autopilots = AutopilotStore(redis)
        self.webhooks = WebhookStore(redis, budget=budget)

    @classmethod
    def from_url(
        cls,
        url: str,
        lease_ttl_ms: int = 30_000,
        failed_job_ttl: int = ENDED_TTL,
        budget: Budget = NO_BUDGET,
    ) -> "Store":
        """Connect lazily to the Redis at url."""
        redis = Redis.from_url(url, decode_responses=True, health_check_interval=30)
        return cls(redis, lease_ttl_ms, failed_job_ttl=failed_job_ttl, budget=budget)

    def scoped(self, project: str) -> "Store":
        """This store as one project sees it: its interactions, jobs, files, models, aliases."""
        view = self._views.get(project)
        if view is None:  # one view per project, built once (projects are configured)
            view = copy.copy(self)
            view.project, view._views = project, {}
            view.interactions = InteractionStore(self.redis, keys.Space(project), self.budget)
            view.jobs = JobStore(self.redis, self.failed_job_ttl, project, self.budget)
            view.models = ModelStore(self.redis, self.blobs, project, self.budget)
            view.files = FileStore(self.redis, self.raw, project=project, budget=self.budget)
            view.autopilots = AutopilotStore(self.redis, project)
            view.webhooks = WebhookStore(self.redis, project, self.budget, self.webhooks.sender)
            self._views[project] = view
        return view

    def send_webhooks_with(self, sender: Sender) -> None:
        """Have this store queue each webhook delivery's first attempt itself, with sender
        (delivery id, claim token), in every project's view."""
        self.webhooks.sender = sender
        for view in self._views.values():
            view.webhooks.sender = sender

    def for_job(self, job: dict) -> "Store":
        """This store as the job's project sees it (where its interactions and aliases are)."""
        return self.scoped(job.get("project") or keys.DEFAULT_PROJECT)

    def usage(self) -> dict:
        """Return this view's project's stored bytes and counts (store/budget.py)."""
        return budgets.usage(self.redis, keys.Space(self.project or keys.DEFAULT_PROJECT))

    def projects(self) -> list[str]:
        """Return the projects' names: the default one and every one recorded."""
        return sorted({keys.DEFAULT_PROJECT, *self.redis.smembers(keys.PROJECTS)})

    def cancel_job(self, jid: str) -> str | None:
        """Cancel a job for good: no model of it stays published, its webhooks are told; return
        the status it was cancelled from (None: it had ended already)."""
        was, withdrawn = self.jobs.cancel(jid)
        if withdrawn:
            self.blobs.delete(keys.model(withdrawn))
        if was:
            emit.announce_end(self, jid)
        return was

    def pin_paused_job(self, jid: str) -> None:
        """Keep a paused job's intermediates for as long as it is paused (they expire 7 days
        after their write while it runs): its artifacts and its fanned-out stages' parts."""
        self.artifacts.pin(jid)
        for key in self._part_keys(jid):
            self.redis.persist(key)

    def unpin_job(self, jid: str) -> None:
        """Give a resumed or cancelled paused job's intermediates their time to live again."""
        self.artifacts.unpin(jid)
        for key in self._part_keys(jid):
            self.redis.expire(key, self.parts.ttl)

    @staticmethod
    def _part_keys(jid: str) -> list[str]:
        """The keys of the done parts of every fanned-out stage of a job, and their reports."""
        return [
            key
            for stage in sorted(graph.FANNED)
            for key in (keys.job_parts_done(jid, stage), keys.job_part_runs(jid, stage))
        ]

    def release_ended_job(self, jid: str, keep_for: int = 0) -> list[str]:
        """Free an ended job's intermediates (at once, or after keep_for seconds); return them.

        A succeeded job keeps its mask and report for good; a failed or cancelled one's mask
        and bulk data expire when its end set them to (again here, for what a stage still
        running wrote after it).
        """
        until = self.jobs.expire_bulk(jid)
        return self.artifacts.release(jid, keep_for, kept_until=until)

    def expire_ended_jobs_once(self) -> int:
        """Once per Redis: give every failed or cancelled job stored before their bulk data
        expired the expiry its end sets (eval set, cases, mask); return how many there were."""
        if self.redis.exists(keys.JOBS_EXPIRY_APPLIED):
            return 0
        self.jobs.index_jobs_from_before_the_status_index()
        found = 0
        for status in sorted(EXPIRING):
            index = keys.job_status_index(status)
            for jids in paging.ids_from(self.redis, index, "-inf", "+inf"):
                for jid in jids:
                    self.artifacts.keep(jid, self.jobs.expire_bulk(jid))
                found += len(jids)
        self.redis.set(keys.JOBS_EXPIRY_APPLIED, 1)
        return found

    def reclaim_versions(self, limit: int = 1000) -> int:
        """Drop old interaction versions no queued or running job's snapshot holds (in this
        view's project, or in every project for the unscoped store)."""
        if self.project is None:
            return sum(self.scoped(p).reclaim_versions(limit) for p in self.projects())
        # The sequence is read before the jobs: a job created after this read gets a snapshot
        # at least as new (store/lua/job_create.lua), so nothing it needs can be below the floor.
        floor = min([self.interactions.last_seq(), *self.jobs.active_snapshots()])
        return self.interactions.reclaim(floor, limit)

    def ping(self) -> bool:
        """Return whether Redis answers."""
        return bool(self.redis.ping())
