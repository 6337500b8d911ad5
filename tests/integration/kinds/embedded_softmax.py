"""For the embed tests until the encoder kind's own trainer lands: `tuneloop-e5-small` trains
the stand-in softmax agent, and embeds its inputs ahead through the "embed" hook.

A worker and a gateway started with TUNELOOP_MODEL_KINDS=embedded_softmax import this module:
a job naming tuneloop-e5-small then runs the embed stage's parts on real workers (real E5
encodings into the shared cache) and goes on to a whole job that succeeds.
"""

from tuneloop.agent import registry
from tuneloop.encoder.spec import BASE_MODEL

FORMAT = "tests.embedded-softmax/1"

registry.register(
    FORMAT,
    "tuneloop.agent.learned:LearnedAgent",
    trainer="tuneloop.trainers.softmax:train",
    base_models=(BASE_MODEL,),
    hooks={"embed": "tuneloop.encoder.embedding:embed"},
)
