"""The shared package's layers: agents know nothing of stages or the pipeline."""

import json
import subprocess
import sys

AGENT_MODULES = [
    "tuneloop.agent.baseline",
    "tuneloop.agent.learned",
    "tuneloop.agent.memory",
    "tuneloop.agent.registry",
    "tuneloop.agent.softmax",
    "tuneloop.agent.features",
]
PROBE = """
import importlib, json, sys
for name in {modules!r}:
    importlib.import_module(name)
print(json.dumps(sorted(m for m in sys.modules if m.startswith("tuneloop"))))
"""


def test_agents_import_neither_stages_nor_the_pipeline_nor_the_store() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(modules=AGENT_MODULES)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(AGENT_MODULES) <= set(loaded)
    layers = {m.split(".")[1] for m in loaded if "." in m}
    assert not layers & {"stages", "pipeline", "store"}, sorted(loaded)
