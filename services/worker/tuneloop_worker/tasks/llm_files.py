"""A deleted language model's files: its adapter in the artifact store and the local copy."""

import shutil
from pathlib import Path

from celery import shared_task

from tuneloop import contracts
from tuneloop.llm import kind


@shared_task(name=contracts.LLM_DELETE_FILES, acks_late=True, ignore_result=True)
def delete_files(model_id: str, adapter_key: str) -> int:
    """Delete the model's adapter from the artifact store and this worker's cache; count files."""
    removed = kind.artifact_store(kind.artifacts_url()).delete(adapter_key)
    shutil.rmtree(Path(kind.adapter_cache_dir()) / adapter_key, ignore_errors=True)
    return removed
