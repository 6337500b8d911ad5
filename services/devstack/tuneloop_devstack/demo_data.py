"""Human-rated interactions the demo posts beside the lab's synthetic ones."""

# (input, output, rating, task_type): good answers rated high, poor ones low.
HUMAN_RATED: tuple[tuple[str, str, float, str], ...] = (
    (
        "What's the temperature in Berlin right now?",
        "I'd be happy to help with the weather in Berlin. Do you want the current temperature "
        "or the forecast?",
        0.92,
        "weather",
    ),
    (
        "Is it going to be windy in Chicago?",
        "I'd be happy to help with the weather in Chicago. "
        "Do you want today's wind or the forecast?",
        0.9,
        "weather",
    ),
    (
        "Will there be snow in the Alps this weekend?",
        "To check the snow forecast for this weekend I need the exact location. Which resort?",
        0.94,
        "weather",
    ),
    (
        "Do I need an umbrella in Seattle today?",
        "To check the rain forecast for today I need your location. Are you in Seattle itself?",
        0.88,
        "weather",
    ),
    ("How cold will it be tonight?", "It's cold.", 0.2, "weather"),
    (
        "Any storms expected near Miami?",
        "To check the storm forecast near Miami I need the dates. Today or this week?",
        0.86,
        "weather",
    ),
    (
        "I need a hotel in Rome for next week",
        "I can help you book a hotel in Rome. Which dates and what is your budget?",
        0.93,
        "travel",
    ),
    (
        "Book a train from Berlin to Prague",
        "I can help you book a train from Berlin to Prague. Which date and time?",
        0.9,
        "travel",
    ),
    (
        "Plan a vacation in Spain for two",
        "I can help you plan a trip to Spain for two. When are you going and what is your budget?",
        0.95,
        "travel",
    ),
    (
        "Find me a cheap flight to Lisbon",
        "I can help you find flights to Lisbon. Which dates are you considering?",
        0.9,
        "travel",
    ),
    ("Rent a car in Dublin", "Cars are vehicles with four wheels.", 0.1, "travel"),
    (
        "What's a good itinerary for Japan?",
        "I can help you plan a trip to Japan. How many days and which cities interest you?",
        0.87,
        "travel",
    ),
    ("What's the capital of Australia?", "The capital of Australia is Canberra.", 0.95, "general"),
    (
        "Who painted the Mona Lisa?",
        "The Mona Lisa was painted by Leonardo da Vinci.",
        0.93,
        "general",
    ),
    ("How many legs does a spider have?", "A spider has eight legs.", 0.9, "general"),
    ("What is the capital of Canada?", "The capital of Canada is Ottawa.", 0.94, "general"),
    (
        "Explain photosynthesis briefly",
        "Plants turn light, water and carbon dioxide into sugar and oxygen.",
        0.85,
        "general",
    ),
    ("Tell me something", "I understand your question. Let me help you with that.", 0.3, "general"),
    (
        "My invoice shows a double charge",
        "Sorry about the double charge. I've flagged the invoice; a refund follows in 3-5 days.",
        0.92,
        "billing",
    ),
    (
        "How do I update my credit card?",
        "Go to Settings > Billing > Payment method and choose Update card.",
        0.9,
        "billing",
    ),
    (
        "Why was I billed twice this month?",
        "Sorry about the double charge. I've flagged it; a refund follows in 3-5 days.",
        0.91,
        "billing",
    ),
    (
        "Can I get a refund on my subscription?",
        "Yes: refunds on a subscription are possible within 30 days. I've started one for you.",
        0.88,
        "billing",
    ),
    (
        "Where is my receipt for last month's payment?",
        "Your receipts are under Settings > Billing > Invoices; last month's is the top one.",
        0.89,
        "billing",
    ),
)
