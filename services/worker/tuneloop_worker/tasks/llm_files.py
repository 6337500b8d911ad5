"""Files of what was deleted: a language model's adapter (in the artifact store and the local
copy), a language-model job's checkpoints (jobs/{id}: no local copy)."""

import shutil
from pathlib import Path

from celery import shared_task

from tuneloop import contracts
from tuneloop.llm import kind


@shared_task(name=contracts.LLM_DELETE_FILES, acks_late=True, ignore_result=True)
def delete_files(owner_id: str, adapter_key: str) -> int:
    """Delete a model's adapter (or a job's files) from the artifact store and this worker's
    cache; count the files removed."""
    removed = kind.artifact_store(kind.artifacts_url()).delete(adapter_key)
    shutil.rmtree(Path(kind.adapter_cache_dir()) / adapter_key, ignore_errors=True)
    return removed
