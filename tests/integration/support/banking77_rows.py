"""Banking77 rows (the four-intent subset in tests/fixtures/banking77-4) as varied interactions.

Each row gets a rating, a source and, for some, a named score that differ from row to row, so
every list filter keeps some rows and drops others.
"""

import csv
from pathlib import Path

from .api import ApiClient

BANKING77 = Path(__file__).resolve().parents[2] / "fixtures" / "banking77-4"
INTENTS = ("card_arrival", "exchange_rate", "pin_blocked", "top_up_failed")
RATINGS = (0.1, 0.3, 0.5, 0.7, 0.9, 1.0, 0.0, 0.6)
SOURCES = ("human", "synthetic", "import")
SCORE = "helpfulness"
SCORES = (0.2, None, 0.8, 0.5, None, 1.0)  # None: the row gets no such score


def varied_rows(per_intent: int, model: str | None = None) -> list[dict]:
    """per_intent rows of each intent, interleaved, with varied ratings and sources."""
    by_intent: dict[str, list[str]] = {intent: [] for intent in INTENTS}
    with (BANKING77 / "train.csv").open(newline="") as f:
        for row in csv.DictReader(f):
            if len(by_intent[row["category"]]) < per_intent:
                by_intent[row["category"]].append(row["text"])
    texts = [(intent, by_intent[intent][i]) for i in range(per_intent) for intent in INTENTS]
    return [
        {
            "input": text,
            "output": f"Intent: {intent.replace('_', ' ').title()}",
            "rating": RATINGS[i % len(RATINGS)],
            "task_type": intent,
            "source": SOURCES[i % len(SOURCES)],
            **({"model": model} if model else {}),
        }
        for i, (intent, text) in enumerate(texts)
    ]


def post_rows(client: ApiClient, items: list[dict]) -> list[dict]:
    """Post items as one batch, give some a named score; return them as stored."""
    batch = client.post("/v1/interactions/batch", json={"items": items})
    assert batch.status_code == 201, batch.text
    stored = []
    for i, iid in enumerate(batch.json()["ids"]):
        value = SCORES[i % len(SCORES)]
        if value is not None:
            body = {"name": SCORE, "value": value, "source": "app"}
            scored = client.post(f"/v1/interactions/{iid}/scores", json=body)
            assert scored.status_code == 201, scored.text
        record = client.get(f"/v1/interactions/{iid}")
        assert record.status_code == 200, record.text
        stored.append(record.json())
    return stored
