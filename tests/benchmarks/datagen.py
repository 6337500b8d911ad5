"""Generate rated interactions over many task types with a seeded generator."""

import random

TOPICS: dict[str, tuple[str, ...]] = {
    "weather": ("rain", "forecast", "temperature", "snow", "humidity", "storm"),
    "travel": ("flight", "hotel", "itinerary", "passport", "luggage", "train"),
    "billing": ("invoice", "refund", "charge", "receipt", "payment", "subscription"),
    "cooking": ("recipe", "oven", "simmer", "marinade", "dough", "spices"),
    "fitness": ("workout", "squats", "cardio", "stretching", "treadmill", "dumbbells"),
    "legal": ("contract", "lawsuit", "attorney", "clause", "liability", "court"),
    "medical": ("symptoms", "fever", "prescription", "allergy", "dosage", "clinic"),
    "tech_support": ("router", "password", "laptop", "reboot", "firmware", "wifi"),
    "gardening": ("tomatoes", "compost", "pruning", "seedlings", "mulch", "soil"),
    "finance": ("stocks", "portfolio", "dividends", "mortgage", "savings", "budget"),
    "music": ("guitar", "chords", "melody", "piano", "rhythm", "playlist"),
    "movies": ("film", "director", "trailer", "sequel", "actor", "cinema"),
    "sports": ("football", "match", "league", "goalkeeper", "tournament", "score"),
    "pets": ("puppy", "kitten", "vet", "leash", "litter", "grooming"),
    "education": ("homework", "exam", "tutor", "syllabus", "semester", "lecture"),
    "shopping": ("discount", "cart", "checkout", "coupon", "delivery", "sizes"),
    "cars": ("engine", "tires", "brakes", "mileage", "dealership", "oil"),
    "real_estate": ("apartment", "lease", "landlord", "rent", "neighborhood", "deposit"),
    "parenting": ("toddler", "bedtime", "tantrum", "daycare", "diapers", "naps"),
    "astronomy": ("telescope", "planets", "galaxy", "eclipse", "orbit", "comet"),
    "history": ("empire", "revolution", "medieval", "dynasty", "archaeology", "treaty"),
    "programming": ("python", "compiler", "debugging", "function", "variable", "repository"),
}
TEMPLATES = (
    "Can you help me with my {a}?",
    "I have a question about {a} and {b}",
    "What should I know about {a}?",
    "Quick one: {a}, {b}, what do you suggest?",
    "Tell me more about the {a}",
    "My friend asked me about {a} today",
    "Any advice on {a} or maybe {b}?",
    "I keep thinking about {a} lately",
)
ANSWER = "For {task}, here is what helps with {a}: start simple, then {b}."


def generate(n_per_task: int, seed: int, n_tasks: int = 20) -> list[dict]:
    """Return n_per_task rated interactions for each of the first n_tasks task types."""
    rng = random.Random(seed)
    rows = []
    for task in list(TOPICS)[:n_tasks]:
        words = TOPICS[task]
        for _ in range(n_per_task):
            a, b = rng.sample(words, 2)
            rows.append(
                {
                    "input": rng.choice(TEMPLATES).format(a=a, b=b),
                    "output": ANSWER.format(task=task.replace("_", " "), a=a, b=b),
                    "rating": round(rng.uniform(0.5, 1.0), 2),
                    "task_type": task,
                }
            )
    return rows


_SYLLABLES = (
    "ka",
    "lo",
    "mi",
    "ne",
    "ru",
    "ta",
    "vo",
    "zi",
    "pe",
    "qua",
    "sho",
    "bri",
    "den",
    "fal",
    "gor",
    "hin",
    "jul",
    "kes",
    "lum",
    "mor",
    "nix",
    "pra",
    "ste",
    "tol",
    "umb",
    "vex",
    "wyn",
)


def _word(rng: random.Random, syllables: int) -> str:
    """Return a pronounceable made-up word."""
    return "".join(rng.choice(_SYLLABLES) for _ in range(syllables))


def varied(n_rows: int, n_tasks: int, seed: int) -> list[dict]:
    """Return n_rows rated interactions over n_tasks task types, nearly all inputs distinct.

    Each task has six topic words of its own; every input also carries shared filler words
    and a number, so rows differ as real traffic does and the filter keeps them.
    """
    rng = random.Random(seed)
    topics = [[_word(rng, 3) for _ in range(6)] for _ in range(n_tasks)]
    filler = [_word(rng, 2) for _ in range(2000)]
    rows = []
    for i in range(n_rows):
        task = i % n_tasks
        a, b = rng.sample(topics[task], 2)
        extra = " ".join(rng.sample(filler, rng.randint(1, 3)))
        text = rng.choice(TEMPLATES).format(a=a, b=b)
        rows.append(
            {
                "input": f"{text} ({extra}, ref {rng.randint(0, 99_999)})",
                "output": ANSWER.format(task=f"topic {task}", a=a, b=b),
                "rating": round(rng.uniform(0.75, 1.0), 2),
                "task_type": f"task_{task:03d}",
            }
        )
    return rows
