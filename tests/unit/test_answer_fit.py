"""Fitting a remembered answer to the new input's own words, alone and in the learned agent."""

import itertools

import numpy as np
import pytest

from tuneloop.agent.features import N_FEATURES
from tuneloop.agent.fit import AS_IS, SUBSTITUTED, UNFIT, Fit, answer_vocabulary, fit_answer
from tuneloop.agent.learned import LearnedAgent, clarifying_answer
from tuneloop.agent.softmax import Softmax

TOKYO_IN = "Find hotels in Tokyo"
TOKYO_OUT = "I'll look for hotels in Tokyo. What is your budget and preferred area?"
CANADA_IN = "What is the capital of Canada?"
CANADA_OUT = "The capital of Canada is Ottawa."

# --- the two examples ----------------------------------------------------------------


def test_a_hotel_in_rome_gets_rome_not_tokyo_nor_the_trailing_words():
    fit = fit_answer(TOKYO_IN, TOKYO_OUT, "I need a hotel in Rome for next week")
    assert fit == Fit(
        "I'll look for hotels in Rome. What is your budget and preferred area?",
        SUBSTITUTED,
        (("Tokyo", "Rome"),),
    )


@pytest.mark.parametrize(
    "question", ["What's the capital of France?", "What is the capital of France?"]
)
def test_the_capital_of_france_never_gets_the_canadian_answer(question):
    fit = fit_answer(CANADA_IN, CANADA_OUT, question)
    # "Canada" could become "France", but "Ottawa" came with Canada: the answer is unfit.
    assert fit == Fit(None, UNFIT)


def test_a_number_that_came_with_the_old_entity_makes_the_answer_unfit():
    # "iphone 12" could become "galaxy s21", but the price is the iphone's: ask instead.
    fit = fit_answer("price of iphone 12", "The iphone 12 costs $799.", "price of galaxy s21")
    assert fit == Fit(None, UNFIT)


def test_a_number_every_answer_of_the_task_holds_is_the_tasks_own():
    outputs = [f"For topic 3, here is what helps with {w}." for w in ("rain", "snow", "fog")]
    fit = fit_answer("help with rain", outputs[0], "help with hail", answer_vocabulary(outputs))
    assert fit == Fit(
        "For topic 3, here is what helps with hail.", SUBSTITUTED, (("rain", "hail"),)
    )


def test_a_number_only_the_new_input_holds_does_not_stop_the_fit():
    fit = fit_answer("hotel in Tokyo", "I'll look for hotels in Tokyo.", "hotel in Rome, ref 123")
    assert fit == Fit("I'll look for hotels in Rome.", SUBSTITUTED, (("Tokyo", "Rome"),))


def test_a_number_both_inputs_share_is_kept_in_a_substituted_answer():
    fit = fit_answer("2 tickets to Lima", "I booked 2 tickets to Lima.", "2 tickets to Quito")
    assert fit == Fit("I booked 2 tickets to Quito.", SUBSTITUTED, (("Lima", "Quito"),))


def test_a_capital_answer_without_a_dependent_name_is_substituted():
    fit = fit_answer(
        CANADA_IN, "Let me look up the capital of Canada for you.", "capital of France?"
    )
    assert fit.kind == SUBSTITUTED
    assert fit.text == "Let me look up the capital of France for you."


# --- as is -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "output", "new"),
    [
        ("Tell me a joke", "Why don't scientists trust atoms? They make up everything!", "a joke"),
        (CANADA_IN, CANADA_OUT, "what's the capital city of canada"),  # the same entity
        (TOKYO_IN, "Which dates?", "I need a hotel in Rome"),  # no word echoed
        ("How do I reset it?", "Go to Settings > Reset.", "how can I reset my phone"),
    ],
)
def test_an_answer_that_echoes_no_replaced_word_is_used_as_is(stored, output, new):
    assert fit_answer(stored, output, new) == Fit(output, AS_IS)


# --- substitution: what is kept and what is mapped -------------------------------------------


def test_the_new_inputs_casing_is_kept_and_everything_else_is_untouched():
    out = "Sure -- hotels in  Tokyo (central)!\nAnything else about Tokyo?"
    fit = fit_answer(TOKYO_IN, out, "find hotels in rome")
    assert fit.text == "Sure -- hotels in  rome (central)!\nAnything else about rome?"
    fit = fit_answer(TOKYO_IN, out, "FIND HOTELS IN ROME")
    assert fit.text == "Sure -- hotels in  ROME (central)!\nAnything else about ROME?"


def test_a_capitalised_name_of_several_words_replaces_one_word():
    fit = fit_answer(
        "Book a flight to Paris", "Flights to Paris: which dates?", "book a flight to New York City"
    )
    assert fit.text == "Flights to New York City: which dates?"
    assert fit.substitutions == (("Paris", "New York City"),)


def test_an_entity_before_the_shared_words_is_mapped_from_the_right():
    fit = fit_answer("Tokyo hotels please", "Hotels in Tokyo, sure.", "cheap Rome hotels please")
    assert fit.text == "Hotels in Rome, sure."


def test_every_echoed_word_is_replaced_by_its_aligned_word():
    fit = fit_answer(
        "Book a train from Berlin to Prague",
        "I can book a train from Berlin to Prague. Which date?",
        "book a flight from Paris to Rome",
    )
    assert fit.text == "I can book a flight from Paris to Rome. Which date?"
    assert fit.substitutions == (("train", "flight"), ("Berlin", "Paris"), ("Prague", "Rome"))


def test_a_name_between_shared_words_is_replaced_whole():
    fit = fit_answer(
        "open an account at Bank of America today",
        "Sure, I can open an account at Bank of America.",
        "open an account at Wells Fargo today",
    )
    assert fit.text == "Sure, I can open an account at Wells Fargo."


def test_plural_and_singular_count_as_the_same_word():
    fit = fit_answer(
        "I need a hotel in Rome", "A hotel in Rome: which dates?", "Find hotels in Tokyo"
    )
    assert fit.text == "A hotel in Tokyo: which dates?"  # "hotel" is not swapped for "hotels"


def test_words_most_of_the_tasks_answers_hold_are_never_slots():
    outputs = ["I can help with that: card arrival."] * 3 + ["Your card is on its way, Sam."]
    vocabulary = answer_vocabulary(outputs)
    assert {"card", "arrival", "help", "that"} <= vocabulary  # in 3 or 4 of the 4 answers
    assert "sam" not in vocabulary and "way" not in vocabulary  # in 1 of them
    stored, new = "My card has not arrived yet", "the thing I ordered has not arrived"
    assert fit_answer(stored, outputs[0], new).text != outputs[0]  # "card" is a slot
    assert fit_answer(stored, outputs[0], new, vocabulary) == Fit(outputs[0], AS_IS)


def test_a_vocabulary_needs_two_answers_and_half_of_them():
    assert answer_vocabulary(["Hotels in Tokyo."]) == frozenset()
    assert answer_vocabulary(["Tokyo", "Tokyo", "Rome", "Oslo", "Lima"]) == frozenset()
    assert answer_vocabulary(["Tokyo", "Tokyo", "Rome", "Oslo"]) == {"tokyo"}


# --- unfit -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "output", "new"),
    [
        (TOKYO_IN, TOKYO_OUT, "Find hotels"),  # Tokyo deleted: nothing replaces it
        (TOKYO_IN, TOKYO_OUT, "What's a good itinerary for Japan?"),  # no shared word
        ("Plan a vacation in Spain for two", "A trip to Spain for two?", "Plan a trip to Italy"),
        (
            "Who painted the Mona Lisa?",
            "Leonardo da Vinci painted the Mona Lisa.",
            "Who painted the Starry Night?",
        ),
        (TOKYO_IN, TOKYO_OUT, "Find hotels in the city"),  # only a stopword in Tokyo's place
        # "New York" is replaced, but "York" alone is left over
        ("a hotel in New York", "Hotels in New York. York is lovely.", "a hotel in Rome"),
        # Paris stands twice in the stored input, replaced by two different words
        ("Paris to Paris by train", "Trains from Paris: daily.", "Rome to Milan by train"),
    ],
)
def test_an_answer_whose_echoed_words_cannot_all_be_replaced_is_unfit(stored, output, new):
    assert fit_answer(stored, output, new) == Fit(None, UNFIT)


CITIES = ["Tokyo", "Rome", "Lisbon", "Oslo", "Cairo", "Lima", "Quito", "Seoul"]
ASKS = [
    "Find hotels in {}",
    "I need a hotel in {} for next week",
    "any hotels in {} please",
    "{} hotels please",
    "hotels in {}, cheap ones",
    "Find me a hotel",
]


@pytest.mark.parametrize(("old", "new"), list(itertools.permutations(CITIES[:5], 2)))
def test_a_fitted_answer_never_keeps_the_old_city(old, new):
    for stored, ask in itertools.product(ASKS[:5], ASKS):
        fit = fit_answer(stored.format(old), f"Hotels in {old}: which dates?", ask.format(new))
        assert fit.kind in (SUBSTITUTED, UNFIT)
        if fit.text is not None:
            assert old not in fit.text
            assert fit.text == f"Hotels in {new}: which dates?"


# --- in the learned agent --------------------------------------------------------------------


def fixed_router(classes: list[str], favourite: int) -> Softmax:
    """Return a router that sends every input to classes[favourite] with p = 0.5 or more."""
    bias = np.zeros(len(classes), dtype=np.float32)
    bias[favourite] = 5.0
    return Softmax(classes, np.zeros((N_FEATURES, len(classes)), dtype=np.float32), bias)


MEMORY = {
    "travel_booking": [
        {"input": TOKYO_IN, "output": TOKYO_OUT, "rating": 0.9},
        {"input": "Tell me a travel joke", "output": "Why did the suitcase sulk?", "rating": 0.8},
    ],
    "general": [{"input": CANADA_IN, "output": CANADA_OUT, "rating": 0.95}],
}


def test_the_learned_agent_answers_with_the_fitted_answer_through_respond_many():
    agent = LearnedAgent("ft-fit", fixed_router(["general", "travel_booking"], 1), MEMORY)
    texts = ["I need a hotel in Rome for next week", "Find hotels in Tokyo", "a travel joke"]
    rome, tokyo, joke = agent.respond_many(texts)
    assert rome.text == "I'll look for hotels in Rome. What is your budget and preferred area?"
    assert "fitted to the input ('Tokyo' -> 'Rome')" in rome.reasoning
    assert rome.task_type == "travel_booking"
    assert (tokyo.text, joke.text) == (TOKYO_OUT, "Why did the suitcase sulk?")
    assert "fitted" not in tokyo.reasoning + joke.reasoning
    assert agent.respond_many(texts) == [agent.respond(t) for t in texts]


def test_the_learned_agent_asks_for_more_when_the_answer_does_not_fit():
    agent = LearnedAgent("ft-fit", fixed_router(["general", "travel_booking"], 0), MEMORY)
    france = agent.respond("What's the capital of France?")
    assert france.text == clarifying_answer("general")
    assert "Ottawa" not in france.text and "Canada" not in france.text
    assert "could not be fitted" in france.reasoning
    assert france.confidence == agent.respond(CANADA_IN).confidence
    assert agent.respond(CANADA_IN).text == CANADA_OUT


def test_the_learned_agent_leaves_a_template_answer_naming_its_task_as_it_is():
    template = "I can help with that: card arrival."
    memory = {
        "card_arrival": [
            {"input": f"my card has not arrived {i}", "output": template, "rating": 0.9}
            for i in range(4)
        ]
    }
    agent = LearnedAgent("ft-b77", fixed_router(["card_arrival", "general"], 0), memory)
    response = agent.respond("the thing I ordered has not arrived")
    assert response.text == template
    assert "fitted" not in response.reasoning


def test_the_clarifying_answer_names_the_task_in_words():
    assert clarifying_answer("travel_booking") == (
        "I can help with travel booking. Could you tell me more about what you need?"
    )
