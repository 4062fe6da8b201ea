#!/usr/bin/env python3
"""Make ``tools.json``: a small tool-calling data set in LLaMA-Factory's sharegpt layout (glaive-style).

Each row is a JSON object with ``conversations`` (turns ``human``, ``function_call``, ``observation``, ``gpt``),
a ``tools`` column (the function schemas, as a JSON string, as LLaMA-Factory's ``glaive_toolcall`` files have
it) and a ``system`` prompt. Most rows call one tool and answer from its result; some need no tool and are
answered directly, so the model learns when *not* to call.

Everything is written here from small tables (cities, currencies, time zones) with ``random.Random(2024)``;
nothing is copied from an existing data set, and every run writes byte-identical output.

Usage::

    python3 make_tools_data.py [OUTPUT_PATH]   # default: tools.json beside this file
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SYSTEM = "You are a helpful assistant with access to tools. Call a tool when it helps; otherwise answer directly."

TOOLS = [
    {"name": "get_weather", "description": "Current weather in a city.",
     "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                    "required": ["city"]}},
    {"name": "convert_currency", "description": "Convert an amount between two currencies at today's rate.",
     "parameters": {"type": "object", "properties": {"amount": {"type": "number"},
                                                     "from": {"type": "string", "description": "ISO code"},
                                                     "to": {"type": "string", "description": "ISO code"}},
                    "required": ["amount", "from", "to"]}},
    {"name": "get_time", "description": "The current local time in an IANA time zone.",
     "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}, "required": ["timezone"]}},
]

CITIES = ["Oslo", "Lima", "Nairobi", "Hanoi", "Quito", "Tallinn", "Porto", "Osaka", "Perth", "Accra",
          "Bergen", "Cusco", "Zagreb", "Dakar", "Hobart", "Tromso"]
SKIES = ["sunny", "cloudy", "light rain", "snow showers", "fog", "windy and clear"]
CURRENCIES = [("EUR", "USD", 1.08), ("USD", "JPY", 151.2), ("GBP", "EUR", 1.17), ("CHF", "USD", 1.13),
              ("AUD", "NZD", 1.09), ("CAD", "EUR", 0.68), ("SEK", "NOK", 1.01), ("INR", "USD", 0.012)]
ZONES = [("Europe/Lisbon", "Lisbon"), ("Asia/Tokyo", "Tokyo"), ("America/Lima", "Lima"),
         ("Africa/Nairobi", "Nairobi"), ("Australia/Perth", "Perth"), ("Europe/Oslo", "Oslo")]
DIRECT = [("What is 12 times 12?", "12 times 12 is 144."),
          ("Spell 'necessary' backwards.", "yrassecen"),
          ("Name a prime number between 20 and 30.", "23 is a prime number between 20 and 30."),
          ("What does CPU stand for?", "CPU stands for central processing unit."),
          ("How many minutes are in three hours?", "Three hours are 180 minutes."),
          ("Give me a synonym for 'quick'.", "A synonym for 'quick' is 'fast'."),
          ("Is 91 a prime number?", "No: 91 is 7 times 13."),
          ("What is the plural of 'mouse'?", "The plural of 'mouse' is 'mice'.")]


def call(name: str, **arguments) -> str:
    return json.dumps({"name": name, "arguments": arguments})


def weather(rng: random.Random) -> list[dict]:
    city, sky, temp = rng.choice(CITIES), rng.choice(SKIES), rng.randint(-8, 31)
    ask = rng.choice([f"What's the weather like in {city}?", f"Is it cold in {city} right now?",
                      f"Weather in {city}, please.", f"Should I take an umbrella in {city} today?"])
    return [{"from": "human", "value": ask}, {"from": "function_call", "value": call("get_weather", city=city)},
            {"from": "observation", "value": json.dumps({"city": city, "temp_c": temp, "sky": sky})},
            {"from": "gpt", "value": f"In {city} it is {temp} °C and {sky} right now."}]


def currency(rng: random.Random) -> list[dict]:
    src, dst, rate = rng.choice(CURRENCIES)
    amount = rng.choice([5, 20, 50, 100, 250, 1000])
    result = round(amount * rate, 2)
    return [{"from": "human", "value": rng.choice([f"How much is {amount} {src} in {dst}?",
                                                  f"Convert {amount} {src} to {dst}."])},
            {"from": "function_call", "value": call("convert_currency", amount=amount, **{"from": src, "to": dst})},
            {"from": "observation", "value": json.dumps({"result": result, "rate": rate})},
            {"from": "gpt", "value": f"{amount} {src} is about {result} {dst} at today's rate of {rate}."}]


def clock(rng: random.Random) -> list[dict]:
    zone, city = rng.choice(ZONES)
    hour, minute = rng.randint(0, 23), rng.choice([0, 5, 15, 30, 45, 50])
    return [{"from": "human", "value": rng.choice([f"What time is it in {city}?", f"Local time in {city}?"])},
            {"from": "function_call", "value": call("get_time", timezone=zone)},
            {"from": "observation", "value": json.dumps({"timezone": zone, "time": f"{hour:02d}:{minute:02d}"})},
            {"from": "gpt", "value": f"It is {hour:02d}:{minute:02d} in {city}."}]


def direct(rng: random.Random) -> list[dict]:
    """A question no tool helps with, answered directly: the model learns when not to call."""
    if rng.random() < 0.3:
        question, answer = rng.choice(DIRECT)
    else:
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        question, answer = rng.choice([(f"What is {a} times {b}?", f"{a} times {b} is {a * b}."),
                                       (f"What is {a} plus {b}?", f"{a} plus {b} is {a + b}.")])
    return [{"from": "human", "value": question}, {"from": "gpt", "value": answer}]


def rows(n: int = 240) -> list[dict]:
    """n distinct rows (a copy would only weigh an example twice, and could leak into the held-out rows)."""
    rng = random.Random(2024)
    makers = [weather, weather, currency, clock, direct]
    tools = json.dumps(TOOLS)
    out, seen = [], set()
    while len(out) < n:
        turns = rng.choice(makers)(rng)
        key = json.dumps(turns)
        if key not in seen:
            seen.add(key)
            out.append({"conversations": turns, "tools": tools, "system": SYSTEM})
    return out


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("tools.json")
    out.write_text(json.dumps(rows(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
