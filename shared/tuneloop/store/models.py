"""Models: a public description plus the agent's saved bytes (chunked), loadable by any worker."""

import json
from collections.abc import Iterable

from redis import Redis

from tuneloop.agent import registry
from tuneloop.agent.protocol import Agent
from tuneloop.store import budget as budgets
from tuneloop.store import keys, prefixes, scripts
from tuneloop.store.blobs import BlobStore, chunk_names
from tuneloop.store.budget import NO_BUDGET, Budget

PUBLISH = scripts.source("model_publish")
DELETE = scripts.source("model_delete")
TRIES = 20  # reads before giving up on a model republished under the delete again and again


class ModelInUseError(Exception):
    """The model cannot be deleted yet: an alias names it, or the job that made it still runs."""

    def __init__(self, alias: str = "", job_status: str = "") -> None:
        super().__init__(alias or job_status)
        self.alias, self.job_status = alias, job_status


class ModelStore:
    """Models saved under their id, each listed in its project's list.

    Given a project, it is that project's view: its aliases, its list, and another project's
    model reads as no model. Without one (the workers), every model is seen and the aliases
    are the default project's.
    """

    def __init__(
        self, redis: Redis, blobs: BlobStore, project: str | None = None, budget: Budget = NO_BUDGET
    ) -> None:
        self.redis, self.budget = redis, budget
        self.blobs = blobs
        self.project = project
        self.space = keys.Space(project or keys.DEFAULT_PROJECT)
        self._publish = redis.register_script(PUBLISH)
        self._delete = redis.register_script(DELETE)

    def publish(self, meta: dict, payload: bytes, jid: str, lease_key: str, holder: str) -> int:
        """Publish a job's model (meta names its project) in one atomic step, fenced by the job
        and the lease.

        Returns 1 when published, 0 when the job has ended (cancelled, failed), -1 when the
        lease is held by another runner; in both refusals nothing is left behind. Raises
        BudgetExceeded (nothing left behind) when it would take the project past its budget.
        """
        mid = meta["id"]
        manifest = self.blobs.write_chunks(keys.model(mid), payload)
        space = keys.Space(keys.project_of(meta))
        outcome = self._publish(
            keys=[
                keys.job(jid),
                lease_key,
                keys.model_meta(mid),
                keys.MODELS,
                keys.model(mid),
                space.models,
                space.usage,
            ],
            args=[
                holder,
                json.dumps(meta),
                mid,
                meta["created_at"],
                manifest,
                len(payload),
                self.budget.max_bytes,
            ],
        )
        if budgets.is_refusal(outcome):
            self.blobs.discard(manifest)
            budgets.raise_if_over(outcome)
        code, old = outcome
        if int(code) == 1:
            self.blobs.drop_replaced(old)
        else:
            self.blobs.discard(manifest)
        return int(code)

    def delete(self, mid: str, aliases: Iterable[str]) -> dict | None:
        """Delete a model (description, listings, bytes, its bytes in its project's usage) in
        one step; return its description as it was, None when there is none (or it is another
        project's).

        ModelInUseError while one of the aliases names it or the job that made it has not ended.
        """
        names = list(aliases)
        for _ in range(TRIES):
            meta = self.meta(mid)
            if meta is None:
                return None
            manifest = self.blobs.raw.get(keys.model(mid))  # bytes: the script compares them
            space = keys.Space(keys.project_of(meta))
            found = self._delete(
                keys=[
                    keys.model_meta(mid),
                    keys.MODELS,
                    keys.model(mid),
                    keys.job(meta.get("job_id") or ""),
                    space.models,
                    space.usage,
                    *(space.model_alias(name) for name in names),
                    *chunk_names(manifest),
                ],
                args=[mid, manifest or "", len(names), *names],
            )
            match found[0]:
                case "deleted":
                    return meta
                case "missing":
                    return None
                case "aliased":
                    raise ModelInUseError(alias=found[1])
                case "active":
                    raise ModelInUseError(job_status=found[1])
        raise RuntimeError(f"model {mid} kept being published again while it was deleted")

    def annotate(self, mid: str, **fields: object) -> None:
        """Add fields to a model's description (a no-op for an unknown model)."""
        meta = self.meta(mid)
        if meta is not None:
            self.redis.set(keys.model_meta(mid), json.dumps({**meta, **fields}))

    def meta(self, mid: str) -> dict | None:
        """Return a model's description, or None (also for another project's model)."""
        raw = self.redis.get(keys.model_meta(mid))
        meta = json.loads(raw) if raw else None
        if meta is None or self.project is None or keys.project_of(meta) == self.project:
            return meta
        return None

    def load(self, mid: str) -> tuple[Agent, int] | None:
        """Return a stored model as an agent with its payload size, or None.

        None also for a model saved in a format this version has no agent for.
        """
        meta, payload = self.meta(mid), self.payload(mid)
        if meta is None or payload is None or meta.get("format") not in registry.FORMATS:
            return None
        return registry.load(meta["format"], mid, payload), len(payload)

    def alias(self, name: str) -> dict | None:
        """Return an alias's target {model_id, job_id, promoted_at}, or None when unset.

        The target may name a model withdrawn since: read its meta to know.
        """
        raw = self.redis.get(self.space.model_alias(name))
        return json.loads(raw) if raw else None

    def aliases(self, names: Iterable[str]) -> dict[str, dict]:
        """Return the target of each of the named aliases that is set, by name (one read)."""
        names = list(names)
        raw = self.redis.mget([self.space.model_alias(n) for n in names]) if names else []
        return {name: json.loads(r) for name, r in zip(names, raw, strict=True) if r}

    def resolve(self, model_id_or_alias: str) -> str | None:
        """Return the id of the model (built-in or stored) an id or alias names; None if none."""
        if model_id_or_alias in registry.BUILTIN:
            return model_id_or_alias
        target = self.alias(model_id_or_alias)
        mid = target["model_id"] if target is not None else model_id_or_alias
        return mid if self.meta(mid) is not None else None

    def with_prefix(self, prefix: str, cap: int = 10) -> prefixes.Matches:
        """Return this view's fine-tuned models starting with prefix (newest first, up to cap)."""
        return prefixes.with_prefix(
            self.redis, self.space.models if self.project else keys.MODELS, prefix, cap
        )

    def payload(self, mid: str) -> bytes | None:
        """Return a model's saved bytes, or None."""
        return self.blobs.get(keys.model(mid))

    def list(self) -> list[dict]:
        """Return every fine-tuned model's description this view sees, oldest first."""
        ids = self.redis.zrange(self.space.models if self.project else keys.MODELS, 0, -1)
        raw = self.redis.mget([keys.model_meta(i) for i in ids]) if ids else []
        return [json.loads(r) for r in raw if r]
