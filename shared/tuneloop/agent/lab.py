"""The teaching lab's fixed data: its synthetic examples and its five test cases."""

SYNTHETIC_EXAMPLES: tuple[dict, ...] = (
    {
        "input": "What's the weather like today?",
        "output": "I'd be happy to help with the weather. Which city are you in?",
        "rating": 0.9,
        "task_type": "weather",
    },
    {
        "input": "Book a flight to Paris",
        "output": "I can help you find flights to Paris. Which dates are you considering?",
        "rating": 0.85,
        "task_type": "travel",
    },
    {
        "input": "Tell me a joke",
        "output": "Why don't scientists trust atoms? Because they make up everything!",
        "rating": 0.7,
        "task_type": "general",
    },
    {
        "input": "Will it rain tomorrow?",
        "output": "To check tomorrow's rain forecast I need your location. Which city?",
        "rating": 0.95,
        "task_type": "weather",
    },
    {
        "input": "Find hotels in Tokyo",
        "output": "I'll look for hotels in Tokyo. What is your budget and preferred area?",
        "rating": 0.88,
        "task_type": "travel",
    },
)

TEST_CASES: tuple[dict, ...] = (
    {
        "input": "How's the weather in London?",
        "expected_type": "weather",
        "reference_output": "I'd be happy to help with the weather in London. "
        "Do you want today's conditions or the forecast?",
    },
    {
        "input": "I need to book a hotel",
        "expected_type": "travel",
        "reference_output": "I can help you book a hotel. Which city and dates?",
    },
    {
        "input": "What's the capital of France?",
        "expected_type": "general",
        "reference_output": "The capital of France is Paris.",
    },
    {
        "input": "Is it going to snow this weekend?",
        "expected_type": "weather",
        "reference_output": "To check the snow forecast for this weekend I need your location. "
        "Which city?",
    },
    {
        "input": "Plan a trip to Italy",
        "expected_type": "travel",
        "reference_output": "I can help you plan a trip to Italy. When are you going and "
        "what is your budget?",
    },
)
