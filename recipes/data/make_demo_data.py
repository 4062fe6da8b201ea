#!/usr/bin/env python3
"""Make ``demo.jsonl``: a small alpaca-format data set for the tuner demo.

Why this data exists
--------------------
The demo fine-tunes SmolLM2-135M-Instruct with LoRA on a 2-core CPU for only a
few dozen steps, and the change must be visible to a person who compares the
answers before and after.  Facts alone would not show much, so every response
follows one distinctive "house style" that the base model never produces on
its own::

    Answer: <one short sentence with the answer>
    Why: <one short sentence of explanation>
    Confidence: <high|medium|low>

After a few LoRA steps the model starts answering in this three-line shape,
which is easy to see in the demo.

Held-out prompts
----------------
"What is the capital of France?" and "What is the boiling point of water at
sea level?" are used by the demo to show the effect on unseen questions, so
they are kept out of the data.  To keep them truly unseen, the data also has
no other question about France's capital or about the boiling point of water.

Everything is written by hand or computed here (arithmetic, unit conversions,
prime checks); nothing is copied from an existing data set.  The script uses
only the standard library and ``random.Random(1234)``, so every run writes
byte-identical output.

Usage::

    python3 make_demo_data.py [OUTPUT_PATH]   # default: demo.jsonl beside this file
"""

from __future__ import annotations

import json
import random
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SEED = 1234
HELD_OUT = {
    "What is the capital of France?",
    "What is the boiling point of water at sea level?",
}

rng = random.Random(SEED)
rows: list[dict[str, str]] = []


def add(instruction: str, answer: str, why: str, confidence: str, inp: str = "") -> None:
    assert confidence in ("high", "medium", "low"), confidence
    for part in (instruction, answer, why):
        assert part and "\n" not in part, part
    rows.append(
        {
            "instruction": instruction,
            "input": inp,
            "output": f"Answer: {answer}\nWhy: {why}\nConfidence: {confidence}",
        }
    )


def cap(s: str) -> str:
    return s[0].upper() + s[1:]


def possessive(name: str) -> str:
    return name + ("'" if name.endswith("s") else "'s")


def article(word: str) -> str:
    return ("an " if word[0].lower() in "aeiou" else "a ") + word


def sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def num(d: Decimal, places: int = 1) -> str:
    """Round half-up to ``places`` decimals and drop trailing zeros."""
    q = Decimal(1).scaleb(-places)
    r = d.quantize(q, rounding=ROUND_HALF_UP)
    s = format(r, "f")
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth"]

# ---------------------------------------------------------------------------
# Capitals.  France is deliberately absent (held-out prompt).
# (country as used in a sentence, capital, optional specific "why")
# ---------------------------------------------------------------------------
CAPITALS = [
    ("Germany", "Berlin", "Berlin became the capital of reunified Germany in 1990."),
    ("Italy", "Rome", None),
    ("Spain", "Madrid", None),
    ("Portugal", "Lisbon", None),
    ("Japan", "Tokyo", None),
    ("China", "Beijing", None),
    ("India", "New Delhi", "New Delhi is home to India's Parliament and national government."),
    ("Canada", "Ottawa", "Ottawa is the capital, though Toronto is the largest city."),
    ("Australia", "Canberra", "Canberra was purpose-built as a compromise between Sydney and Melbourne."),
    ("Brazil", "Brasília", "Brasília was built as a planned capital and replaced Rio de Janeiro in 1960."),
    ("Argentina", "Buenos Aires", None),
    ("Mexico", "Mexico City", None),
    ("Egypt", "Cairo", None),
    ("Kenya", "Nairobi", None),
    ("Russia", "Moscow", None),
    ("the United Kingdom", "London", None),
    ("Ireland", "Dublin", None),
    ("Norway", "Oslo", None),
    ("Sweden", "Stockholm", None),
    ("Finland", "Helsinki", None),
    ("Denmark", "Copenhagen", None),
    ("Poland", "Warsaw", None),
    ("Greece", "Athens", None),
    ("Turkey", "Ankara", "Ankara became the capital in 1923, replacing Istanbul."),
    ("Belgium", "Brussels", None),
    ("Austria", "Vienna", None),
    ("Hungary", "Budapest", None),
    ("the Czech Republic", "Prague", None),
    ("South Korea", "Seoul", None),
    ("Thailand", "Bangkok", None),
    ("Vietnam", "Hanoi", "Hanoi is the capital, though Ho Chi Minh City is the largest city."),
    ("Peru", "Lima", None),
    ("Chile", "Santiago", None),
    ("Colombia", "Bogotá", None),
    ("Cuba", "Havana", None),
    ("Nigeria", "Abuja", "Abuja replaced Lagos as the capital in 1991."),
    ("Morocco", "Rabat", "Rabat is the capital, though Casablanca is the largest city."),
    ("Ethiopia", "Addis Ababa", None),
    ("New Zealand", "Wellington", "Wellington is the capital, though Auckland is the largest city."),
    ("Iceland", "Reykjavík", None),
    ("the Philippines", "Manila", None),
    ("Saudi Arabia", "Riyadh", None),
    ("Iran", "Tehran", None),
    ("Pakistan", "Islamabad", "Islamabad is the capital, though Karachi is the largest city."),
    ("Ghana", "Accra", None),
    ("Ukraine", "Kyiv", None),
    ("Romania", "Bucharest", None),
    ("the United States", "Washington, D.C.", "Washington, D.C. is home to the White House, Congress and the Supreme Court."),
]
CAPITAL_Q = [
    "What is the capital of {c}?",
    "Name the capital city of {c}.",
    "{C_poss} capital is which city?",
    "Which city is the capital of {c}?",
    "Tell me the capital of {c}.",
    "What city serves as the capital of {c}?",
]
CAPITAL_IN = [
    "What is the capital of the country below?",
    "Give the capital city of this country.",
]
CAPITAL_WHY = [
    "{city} is the seat of {c_poss} national government.",
    "{city} is the city officially recognised as {c_poss} capital.",
    "{C_poss} national government is based in {city}.",
]

for country, city, special in CAPITALS:
    ctx = {"c": country, "city": city, "c_poss": possessive(country), "C_poss": cap(possessive(country))}
    why = special or rng.choice(CAPITAL_WHY).format(**ctx)
    answer = sentence(f"The capital of {country} is {city}")
    add(rng.choice(CAPITAL_Q).format(**ctx), answer, why, "high")
    if rng.random() < 0.4:
        bare = country[4:] if country.startswith("the ") else country
        add(rng.choice(CAPITAL_IN), answer, why, "high", inp=bare)

# ---------------------------------------------------------------------------
# Continents (only countries that lie wholly on one continent).
# ---------------------------------------------------------------------------
CONTINENTS = [
    ("Japan", "Asia", "It is an island nation off the east coast of mainland Asia."),
    ("Kenya", "Africa", "It lies in East Africa on the Indian Ocean coast."),
    ("Brazil", "South America", "It covers much of the eastern part of South America."),
    ("Canada", "North America", "It covers much of the northern part of North America."),
    ("Poland", "Europe", "It lies in central Europe, east of Germany."),
    ("Peru", "South America", "It lies on the Pacific coast of western South America."),
    ("Nigeria", "Africa", "It lies in West Africa on the Gulf of Guinea."),
    ("Norway", "Europe", "It lies in northern Europe on the Scandinavian Peninsula."),
    ("Thailand", "Asia", "It lies in Southeast Asia."),
    ("Mexico", "North America", "It lies in southern North America, south of the United States."),
    ("Argentina", "South America", "It lies in the southern part of South America."),
    ("Vietnam", "Asia", "It lies in Southeast Asia along the South China Sea."),
]
CONTINENT_Q = [
    "Which continent is {c} in?",
    "On which continent would you find {c}?",
    "{c} is part of which continent?",
]
for country, continent, why in CONTINENTS:
    add(rng.choice(CONTINENT_Q).format(c=country), f"{country} is in {continent}.", why, "high")

# ---------------------------------------------------------------------------
# Main languages.
# ---------------------------------------------------------------------------
LANGUAGES = [
    ("Brazil", "Portuguese"), ("Mexico", "Spanish"), ("Japan", "Japanese"),
    ("Germany", "German"), ("Egypt", "Arabic"), ("Argentina", "Spanish"),
    ("Portugal", "Portuguese"), ("France", "French"), ("Italy", "Italian"),
    ("Poland", "Polish"), ("Greece", "Greek"), ("the Netherlands", "Dutch"),
    ("Sweden", "Swedish"), ("Turkey", "Turkish"), ("South Korea", "Korean"),
]
LANGUAGE_Q = [
    "What language is mainly spoken in {c}?",
    "Which language do most people in {c} speak?",
    "What is the main language of {c}?",
]
for country, lang in LANGUAGES:
    add(
        rng.choice(LANGUAGE_Q).format(c=country),
        f"The main language of {country} is {lang}.",
        f"{lang} is the first language of most people there and is used in government and schools.",
        "high",
    )

# ---------------------------------------------------------------------------
# Chemical elements: (name, symbol, atomic number, Latin/other origin or None)
# ---------------------------------------------------------------------------
ELEMENTS = [
    ("hydrogen", "H", 1, None), ("helium", "He", 2, None), ("lithium", "Li", 3, None),
    ("carbon", "C", 6, None), ("nitrogen", "N", 7, None), ("oxygen", "O", 8, None),
    ("fluorine", "F", 9, None), ("neon", "Ne", 10, None),
    ("sodium", "Na", 11, "natrium, its Latin name"),
    ("magnesium", "Mg", 12, None), ("aluminium", "Al", 13, None), ("silicon", "Si", 14, None),
    ("phosphorus", "P", 15, None), ("sulfur", "S", 16, None), ("chlorine", "Cl", 17, None),
    ("argon", "Ar", 18, None),
    ("potassium", "K", 19, "kalium, its Latin name"),
    ("calcium", "Ca", 20, None),
    ("iron", "Fe", 26, "ferrum, the Latin word for iron"),
    ("nickel", "Ni", 28, None),
    ("copper", "Cu", 29, "cuprum, the Latin word for copper"),
    ("zinc", "Zn", 30, None),
    ("silver", "Ag", 47, "argentum, the Latin word for silver"),
    ("tin", "Sn", 50, "stannum, the Latin word for tin"),
    ("iodine", "I", 53, None),
    ("tungsten", "W", 74, "wolfram, another name for tungsten"),
    ("platinum", "Pt", 78, None),
    ("gold", "Au", 79, "aurum, the Latin word for gold"),
    ("mercury", "Hg", 80, "hydrargyrum, its Latin name"),
    ("lead", "Pb", 82, "plumbum, the Latin word for lead"),
    ("uranium", "U", 92, None),
]
TO_SYMBOL_Q = [
    "What is the chemical symbol for {n}?",
    "Give the chemical symbol of {n}.",
    "Which symbol stands for {n} on the periodic table?",
]
TO_NAME_Q = [
    "Which element has the symbol {s}?",
    "What element does the symbol {s} stand for?",
    "The chemical symbol {s} represents which element?",
]
for name, sym, z, origin in ELEMENTS:
    if origin:
        why = f"{sym} comes from {origin}."
    else:
        why = f"{cap(name)} has atomic number {z}, and its symbol comes from its name."
    fwd = f"The chemical symbol for {name} is {sym}."
    back = f"{sym} is the chemical symbol for {name}."
    r = rng.random()
    if r < 0.4:
        add(rng.choice(TO_SYMBOL_Q).format(n=name), fwd, why, "high")
    elif r < 0.8:
        add(rng.choice(TO_NAME_Q).format(s=sym), back, why, "high")
    else:
        add(rng.choice(TO_SYMBOL_Q).format(n=name), fwd, why, "high")
        add(rng.choice(TO_NAME_Q).format(s=sym), back, why, "high")
    if rng.random() < 0.3:
        if rng.random() < 0.5:
            add("Write the chemical symbol for this element.", fwd, why, "high", inp=cap(name))
        else:
            add("What element does this chemical symbol represent?", back, why, "high", inp=sym)

# ---------------------------------------------------------------------------
# Arithmetic, computed here.
# ---------------------------------------------------------------------------
ADD_Q = ["What is {a} + {b}?", "Calculate {a} plus {b}.", "What is the sum of {a} and {b}?", "Add {a} and {b}."]
SUB_Q = ["What is {a} - {b}?", "Calculate {a} minus {b}.", "Subtract {b} from {a}.", "What is {b} taken away from {a}?"]
MUL_Q = ["What is {a} × {b}?", "Calculate {a} times {b}.", "Multiply {a} by {b}.", "What is the product of {a} and {b}?"]
DIV_Q = ["What is {a} ÷ {b}?", "Calculate {a} divided by {b}.", "Divide {a} by {b}.", "How many times does {b} go into {a}?"]
ARITH_IN = ["Solve this arithmetic problem.", "Work out the result.", "Compute this."]

seen_arith: set[tuple[str, int, int]] = set()


def arith_row(op: str, a: int, b: int) -> None:
    if (op, a, b) in seen_arith:
        return
    seen_arith.add((op, a, b))
    if op == "+":
        res = a + b
        ta, ua, tb, ub = a // 10 * 10, a % 10, b // 10 * 10, b % 10
        why = f"{ta} + {tb} = {ta + tb} and {ua} + {ub} = {ua + ub}, so the total is {res}."
        qs, sym = ADD_Q, "+"
    elif op == "-":
        res = a - b
        why = f"Check: {res} + {b} = {a}."
        qs, sym = SUB_Q, "-"
    elif op == "*":
        res = a * b
        ta, ua = a // 10 * 10, a % 10
        why = f"{ta} × {b} = {ta * b} and {ua} × {b} = {ua * b}, and {ta * b} + {ua * b} = {res}."
        qs, sym = MUL_Q, "×"
    else:
        res = a // b
        assert res * b == a
        why = f"Check: {res} × {b} = {a}."
        qs, sym = DIV_Q, "÷"
    answer = f"{a} {sym} {b} = {res}."
    if rng.random() < 0.25:
        add(rng.choice(ARITH_IN), answer, why, "high", inp=f"{a} {sym} {b}")
    else:
        add(rng.choice(qs).format(a=a, b=b), answer, why, "high")


for _ in range(10):
    arith_row("+", rng.randint(12, 89), rng.randint(11, 89))
for _ in range(9):
    a = rng.randint(30, 99)
    arith_row("-", a, rng.randint(11, a - 5))
for _ in range(9):
    arith_row("*", rng.randint(12, 49), rng.randint(3, 9))
for _ in range(9):
    b = rng.randint(3, 12)
    arith_row("/", b * rng.randint(4, 15), b)

# ---------------------------------------------------------------------------
# Number properties, computed here.
# ---------------------------------------------------------------------------
def smallest_factor(n: int) -> int:
    f = 2
    while f * f <= n:
        if n % f == 0:
            return f
        f += 1
    return n


for n in [13, 21, 29, 37, 49, 51, 57, 61, 89, 91]:
    f = smallest_factor(n)
    if f == n:
        answer, why = f"Yes, {n} is a prime number.", f"Its only divisors are 1 and {n}."
    else:
        answer, why = f"No, {n} is not a prime number.", f"{n} = {f} × {n // f}."
    if rng.random() < 0.5:
        add("Is this number prime?", answer, why, "high", inp=str(n))
    else:
        add(f"Is {n} a prime number?", answer, why, "high")

for n in [14, 27, 58, 93, 106, 245, 1000, 3331]:
    kind = "even" if n % 2 == 0 else "odd"
    why = f"It ends in {n % 10}, so it {'is' if kind == 'even' else 'is not'} divisible by 2."
    if rng.random() < 0.5:
        add("Is this number even or odd?", f"{n} is {kind}.", why, "high", inp=str(n))
    else:
        add(f"Is {n} an even or an odd number?", f"{n} is {kind}.", why, "high")

for _ in range(6):
    nums = rng.sample(range(1, 100), 5)
    srt = sorted(nums)
    listed = ", ".join(map(str, nums))
    if rng.random() < 0.5:
        add(
            "Sort these numbers from smallest to largest.",
            f"From smallest to largest: {', '.join(map(str, srt))}.",
            f"{srt[0]} is the smallest and {srt[-1]} is the largest.",
            "high",
            inp=listed,
        )
    else:
        add(
            "What is the largest number in this list?",
            f"The largest number is {srt[-1]}.",
            f"Every other number in the list is smaller than {srt[-1]}.",
            "high",
            inp=listed,
        )

# ---------------------------------------------------------------------------
# Unit conversions, computed here with Decimal and half-up rounding.
# ---------------------------------------------------------------------------
D = Decimal

for c in [-40, -10, 0, 5, 10, 15, 20, 25, 30, 37]:
    f = D(c) * 9 / 5 + 32
    answer = f"{c} °C is {num(f)} °F."
    why = f"Use °F = °C × 9/5 + 32, so {c} × 9/5 + 32 = {num(f)}."
    if rng.random() < 0.5:
        add("Convert this temperature to Fahrenheit.", answer, why, "high", inp=f"{c} °C")
    else:
        add(rng.choice(["What is {c} °C in Fahrenheit?", "Convert {c} degrees Celsius to Fahrenheit."]).format(c=c),
            answer, why, "high")

for fv in ["32", "50", "68", "86", "98.6", "0", "104"]:
    c = (D(fv) - 32) * 5 / 9
    exact = c == c.quantize(D("0.1"))
    answer = f"{fv} °F is {'' if exact else 'about '}{num(c)} °C."
    why = f"Use °C = (°F - 32) × 5/9, so ({fv} - 32) × 5/9 {'=' if exact else '≈'} {num(c)}."
    if rng.random() < 0.5:
        add("Convert this temperature to Celsius.", answer, why, "high", inp=f"{fv} °F")
    else:
        add(rng.choice(["What is {f} °F in Celsius?", "Convert {f} degrees Fahrenheit to Celsius."]).format(f=fv),
            answer, why, "high")

# (from unit, to unit, factor, shown factor, values, decimals)
LINEAR = [
    ("kilometres", "miles", D("0.621371"), "0.6214", ["1", "5", "10", "42", "100"], 1),
    ("miles", "kilometres", D("1.609344"), "1.6093", ["1", "3", "26.2", "50"], 1),
    ("kilograms", "pounds", D("2.20462"), "2.2046", ["1", "5", "70"], 1),
    ("pounds", "kilograms", D("0.45359237"), "0.4536", ["10", "150"], 1),
    ("inches", "centimetres", D("2.54"), "2.54", ["1", "12", "30"], 2),
    ("metres", "centimetres", D(100), "100", ["3", "2.5"], 0),
    ("hours", "minutes", D(60), "60", ["2", "7", "1.5"], 0),
    ("minutes", "seconds", D(60), "60", ["5", "12"], 0),
    ("days", "hours", D(24), "24", ["3", "7"], 0),
    ("litres", "millilitres", D(1000), "1000", ["2", "0.75"], 0),
    ("kilometres", "metres", D(1000), "1000", ["4", "1.2"], 0),
]
SINGULAR = {
    "kilometres": "kilometre", "miles": "mile", "kilograms": "kilogram", "pounds": "pound",
    "inches": "inch", "metres": "metre", "hours": "hour", "minutes": "minute",
    "days": "day", "litres": "litre",
}
for frm, to, factor, shown, values, places in LINEAR:
    for v in values:
        res = D(v) * factor
        exact = res == res.quantize(D(1).scaleb(-places))
        # the shown factor must give the same rounded result as the precise one
        assert num(D(v) * D(shown), places) == num(res, places), (frm, to, v)
        fu = SINGULAR[frm] if v == "1" else frm
        answer = f"{v} {fu} is {'' if exact else 'about '}{num(res, places)} {to}."
        if exact:
            why = f"One {SINGULAR[frm]} is {shown} {to}, and {v} × {shown} = {num(res, places)}."
        else:
            why = f"One {SINGULAR[frm]} is about {shown} {to}, so {v} × {shown} ≈ {num(res, places)}."
        r = rng.random()
        if r < 0.3:
            add(f"Convert this to {to}.", answer, why, "high", inp=f"{v} {fu}")
        elif r < 0.65:
            add(f"How many {to} are in {v} {fu}?", answer, why, "high")
        else:
            add(f"Convert {v} {fu} to {to}.", answer, why, "high")

# ---------------------------------------------------------------------------
# Planets.
# ---------------------------------------------------------------------------
PLANETS = ["Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"]
ORDER = ", ".join(PLANETS)
ORDER_Q = [
    "Which planet is {o} from the Sun?",
    "Name the {o} planet from the Sun.",
    "What is the {o} planet from the Sun?",
]
for i, p in enumerate(PLANETS):
    add(
        rng.choice(ORDER_Q).format(o=ORDINALS[i]),
        f"{p} is the {ORDINALS[i]} planet from the Sun.",
        "Counting outward, the order is " + ORDER + ".",
        "high",
    )
KIND = {
    "Mercury": ("a rocky planet", "The four inner planets are small, rocky worlds."),
    "Venus": ("a rocky planet", "The four inner planets are small, rocky worlds."),
    "Mars": ("a rocky planet", "The four inner planets are small, rocky worlds."),
    "Jupiter": ("a gas giant", "It is made mostly of hydrogen and helium."),
    "Saturn": ("a gas giant", "It is made mostly of hydrogen and helium."),
    "Uranus": ("an ice giant", "Much of it is made of water, ammonia and methane ices."),
    "Neptune": ("an ice giant", "Much of it is made of water, ammonia and methane ices."),
}
for p, (kind, why) in KIND.items():
    add(f"Is {p} a rocky planet or a giant planet?", f"{p} is {kind}.", why, "high")

# ---------------------------------------------------------------------------
# Hand-written questions: (instruction, input, answer, why, confidence)
# ---------------------------------------------------------------------------
HANDWRITTEN = [
    # planets and space
    ("Which is the largest planet in our solar system?", "", "Jupiter is the largest planet.", "Its diameter is about eleven times that of Earth.", "high"),
    ("What is the smallest planet in the solar system?", "", "Mercury is the smallest planet.", "Its diameter is about 4,880 km, less than two-fifths of Earth's.", "high"),
    ("Which planet is the hottest?", "", "Venus is the hottest planet.", "Its thick carbon dioxide atmosphere traps heat.", "high"),
    ("Why is Mars called the Red Planet?", "", "Mars looks red because of iron oxide on its surface.", "Rusty dust and rocks give the planet its reddish colour.", "high"),
    ("Which planet is famous for its bright rings?", "", "Saturn is famous for its bright rings.", "Its rings are made of ice and rock and are easy to see with a telescope.", "high"),
    ("How many planets are in our solar system?", "", "There are eight planets in our solar system.", "Pluto was reclassified as a dwarf planet in 2006.", "high"),
    ("Name the two moons of Mars.", "", "The moons of Mars are Phobos and Deimos.", "Both are small, irregular moons discovered in 1877.", "high"),
    ("Which planet spins on its side?", "", "Uranus spins on its side.", "Its axis is tilted by about 98 degrees.", "high"),
    ("Which planet has the shortest year?", "", "Mercury has the shortest year.", "It is closest to the Sun and orbits it in about 88 days.", "high"),
    ("How many moons does Earth have?", "", "Earth has one natural moon.", "The Moon is Earth's only large natural satellite.", "high"),
    ("How far away is the Moon?", "", "The Moon is about 384,000 kilometres from Earth on average.", "Its orbit is slightly elliptical, so the distance varies.", "high"),
    ("How far is Earth from the Sun?", "", "Earth is about 150 million kilometres from the Sun.", "This average distance is called one astronomical unit.", "high"),
    ("How long does sunlight take to reach Earth?", "", "Sunlight takes about 8 minutes and 20 seconds to reach Earth.", "Light covers the 150 million kilometres at about 300,000 km per second.", "high"),
    ("What is the closest star to Earth?", "", "The Sun is the closest star to Earth.", "The next nearest star, Proxima Centauri, is over four light-years away.", "high"),
    ("How long does Earth take to orbit the Sun?", "", "Earth takes about 365.25 days to orbit the Sun.", "The extra quarter day is why we add a leap day every four years.", "high"),
    ("What causes the seasons on Earth?", "", "The seasons are caused by the tilt of Earth's axis.", "The tilt changes how directly sunlight hits each hemisphere during the year.", "high"),
    ("What mainly causes ocean tides?", "", "Tides are mainly caused by the Moon's gravity.", "The Moon pulls on the oceans, and the Sun adds a smaller effect.", "high"),
    ("What force keeps the planets in orbit around the Sun?", "", "Gravity keeps the planets in orbit.", "The Sun's gravity constantly bends each planet's path into an orbit.", "high"),
    # everyday science
    ("What gas do plants take in for photosynthesis?", "", "Plants take in carbon dioxide.", "They use light to turn carbon dioxide and water into sugar and oxygen.", "high"),
    ("Which gas do humans need to breathe in to live?", "", "Humans need oxygen.", "Our cells use oxygen to release energy from food.", "high"),
    ("What is the chemical formula of water?", "", "The chemical formula of water is H2O.", "Each molecule has two hydrogen atoms and one oxygen atom.", "high"),
    ("At what temperature does water freeze?", "", "Water freezes at 0 °C, which is 32 °F.", "This is the freezing point of pure water at normal atmospheric pressure.", "high"),
    ("Why is the sky blue?", "", "The sky is blue because air scatters blue light more than red light.", "This effect, called Rayleigh scattering, is stronger for shorter wavelengths.", "high"),
    ("How many bones are in the adult human body?", "", "An adult human has 206 bones.", "Babies have more, but some fuse together as they grow.", "high"),
    ("Which organ pumps blood around the body?", "", "The heart pumps blood around the body.", "Its muscular walls contract to push blood through the blood vessels.", "high"),
    ("What is the largest organ of the human body?", "", "The skin is the largest organ.", "It covers the whole body and protects everything inside.", "high"),
    ("What is the hardest natural material?", "", "Diamond is the hardest natural material.", "Its carbon atoms are locked in a very strong crystal structure.", "high"),
    ("What is the main gas in Earth's atmosphere?", "", "Nitrogen is the main gas in the atmosphere.", "It makes up about 78 percent of the air.", "high"),
    ("What do bees make from nectar?", "", "Bees make honey from nectar.", "They store the nectar and evaporate water from it until it thickens.", "high"),
    ("How many legs does a spider have?", "", "A spider has eight legs.", "Spiders are arachnids, and arachnids have eight legs.", "high"),
    ("How many legs does an insect have?", "", "An insect has six legs.", "All adult insects have three pairs of legs.", "high"),
    ("Is a whale a fish or a mammal?", "", "A whale is a mammal.", "Whales breathe air and feed their young with milk.", "high"),
    ("Is a tomato a fruit or a vegetable?", "", "Botanically, a tomato is a fruit.", "It grows from a flower and contains seeds, though cooks treat it as a vegetable.", "high"),
    ("Which metal is liquid at room temperature?", "", "Mercury is liquid at room temperature.", "Its melting point is about -39 °C.", "high"),
    ("What is the pH of pure water?", "", "Pure water has a pH of 7.", "A pH of 7 is neutral, neither acidic nor basic.", "high"),
    ("What is the centre of an atom called?", "", "The centre of an atom is called the nucleus.", "It holds the protons and neutrons.", "high"),
    ("Which particle in an atom has a negative charge?", "", "The electron has a negative charge.", "Protons are positive and neutrons have no charge.", "high"),
    ("What is it called when a liquid slowly turns into a gas at its surface?", "", "That process is called evaporation.", "Fast-moving molecules escape from the surface of the liquid.", "high"),
    ("What is it called when water vapour turns back into liquid?", "", "That process is called condensation.", "Vapour cools and its molecules gather into droplets.", "high"),
    ("Why do we see lightning before we hear thunder?", "", "We see lightning first because light travels faster than sound.", "Light is almost instant, while sound covers about 343 metres per second.", "high"),
    ("Which blood cells carry oxygen?", "", "Red blood cells carry oxygen.", "They contain haemoglobin, which binds to oxygen.", "high"),
    ("What does a thermometer measure?", "", "A thermometer measures temperature.", "It shows how hot or cold something is.", "high"),
    ("What do you call an animal that eats only plants?", "", "An animal that eats only plants is a herbivore.", "Cows and rabbits are common examples.", "high"),
    ("Why does ice float on water?", "", "Ice floats because it is less dense than liquid water.", "Water molecules form an open crystal structure when they freeze.", "high"),
    ("What is the SI unit of force?", "", "The SI unit of force is the newton.", "One newton gives a one-kilogram mass an acceleration of one metre per second squared.", "high"),
    ("What is the SI unit of electric current?", "", "The SI unit of electric current is the ampere.", "It is one of the seven SI base units.", "high"),
    ("What is the SI unit of energy?", "", "The SI unit of energy is the joule.", "One joule is the work done by a force of one newton over one metre.", "high"),
    ("What is the speed of light in a vacuum?", "", "Light travels at about 300,000 kilometres per second.", "The exact value is 299,792,458 metres per second.", "high"),
    # geography
    ("What is the largest ocean on Earth?", "", "The Pacific Ocean is the largest ocean.", "It covers about a third of Earth's surface.", "high"),
    ("What is the tallest mountain above sea level?", "", "Mount Everest is the tallest mountain above sea level.", "Its summit is about 8,849 metres high.", "high"),
    ("What is the longest river in the world?", "", "The Nile is usually named the longest river.", "Some measurements put the Amazon slightly ahead, so sources disagree.", "medium"),
    ("What is the largest hot desert in the world?", "", "The Sahara is the largest hot desert.", "It covers much of North Africa.", "high"),
    ("How many continents are there?", "", "There are usually said to be seven continents.", "Some traditions combine certain continents and count fewer.", "medium"),
    ("Which language is spoken by the most people as a first language?", "", "Mandarin Chinese has the most native speakers.", "It is spoken as a first language by over 900 million people.", "medium"),
    # time and shapes
    ("How many days are in a leap year?", "", "A leap year has 366 days.", "An extra day, 29 February, is added.", "high"),
    ("How many months have 31 days?", "", "Seven months have 31 days.", "They are January, March, May, July, August, October and December.", "high"),
    ("How many degrees do the angles of a triangle add up to?", "", "The angles of a triangle add up to 180 degrees.", "This holds for every triangle drawn on a flat surface.", "high"),
    ("How many degrees are in a right angle?", "", "A right angle is 90 degrees.", "It is a quarter of a full 360-degree turn.", "high"),
    # estimates and judgement calls
    ("About how many people live on Earth?", "", "About 8 billion people live on Earth.", "World population passed 8 billion in 2022 and is still growing.", "medium"),
    ("How many hours of sleep does an adult need?", "", "Most adults need about 7 to 9 hours of sleep a night.", "Needs vary from person to person, but this range is widely recommended.", "medium"),
    ("How long should I boil an egg for a firm yolk?", "", "Boil it for about 9 to 12 minutes.", "The exact time depends on the egg's size and starting temperature.", "medium"),
    ("Roughly how long does it take to walk 5 kilometres?", "", "It takes about an hour at a normal pace.", "A typical walking speed is around 5 kilometres per hour.", "medium"),
    ("Which programming language should a beginner learn first?", "", "Python is a good first choice for most beginners.", "Its syntax is readable, though the best choice depends on your goals.", "medium"),
    ("Is coffee or tea healthier?", "", "Both can be part of a healthy diet in moderation.", "Their effects depend on the person and how much they drink.", "medium"),
    ("When is a good time of year to visit Japan?", "", "Spring and autumn are popular times to visit Japan.", "The weather is mild, with cherry blossoms in spring and colourful leaves in autumn.", "medium"),
    ("Suggest a name for a pet goldfish.", "", "You could call your goldfish Bubbles.", "It is short, playful and fits a fish.", "medium"),
    ("Should I back up my important files?", "", "Yes, keep regular backups of important files.", "Disks fail and devices get lost, so a second copy prevents data loss.", "high"),
    ("Will it rain in London next Tuesday?", "", "I can't know that; check a local weather forecast.", "I have no live weather data, and forecasts days ahead are uncertain.", "low"),
    ("Who will win the next football World Cup?", "", "Nobody can say for sure who will win.", "Results depend on form, injuries and luck on the day.", "low"),
    ("What will the price of gold be next year?", "", "I cannot predict next year's gold price.", "Prices depend on markets and events that nobody can foresee.", "low"),
    ("What number am I thinking of?", "", "I can't know; my best guess is 7.", "I have no way to read your mind, so this is only a guess.", "low"),
    ("What is the meaning of life?", "", "There is no single agreed answer.", "Many people find meaning in relationships, curiosity and helping others.", "low"),
    # summaries (input rows)
    ("Summarise this sentence in five words or fewer.", "The committee postponed the annual meeting because heavy snow had closed most of the roads.", "Snow delayed the annual meeting.", "It keeps the main event and its cause.", "medium"),
    ("Summarise this sentence in five words or fewer.", "After months of careful training, the young runner finally completed her first marathon in under four hours.", "Runner finishes first marathon.", "It keeps who did what and drops the details.", "medium"),
    ("Summarise this sentence in five words or fewer.", "The small bakery on the corner has started selling fresh bread every morning at seven.", "Bakery now sells morning bread.", "It keeps the business and the new service.", "medium"),
    ("Summarise this sentence in five words or fewer.", "Engineers found that the old bridge needs urgent repairs before winter arrives.", "Old bridge needs urgent repairs.", "It keeps the main finding and drops the timing.", "medium"),
    ("Summarise this sentence in five words or fewer.", "The library will extend its opening hours during the exam period to help students study.", "Library extends hours for exams.", "It keeps the change and its reason.", "medium"),
    ("Summarise this sentence in five words or fewer.", "Despite the rain, thousands of fans gathered in the square to celebrate the team's victory.", "Fans celebrate victory in rain.", "It keeps who, what and the notable condition.", "medium"),
    ("Summarise this sentence in five words or fewer.", "The new software update fixes several bugs and makes the app start faster.", "Update fixes bugs, speeds startup.", "It keeps both effects of the update.", "medium"),
    ("Summarise this sentence in five words or fewer.", "Farmers in the valley expect a smaller harvest this year because of the long dry summer.", "Dry summer shrinks harvest.", "It keeps the cause and the effect.", "medium"),
    ("Summarise this sentence in five words or fewer.", "The museum opened a new exhibition about ancient Egyptian tools and jewellery.", "Museum opens Egyptian exhibition.", "It keeps the place, the action and the topic.", "medium"),
    ("Summarise this sentence in five words or fewer.", "Local volunteers spent the weekend cleaning plastic waste from the beach.", "Volunteers clean beach plastic.", "It keeps who acted and what they did.", "medium"),
    ("Summarise this sentence in five words or fewer.", "The train to the city was cancelled, so many commuters worked from home instead.", "Train cancelled; commuters worked remotely.", "It keeps the event and its result.", "medium"),
    ("Summarise this sentence in five words or fewer.", "Our neighbour's cat climbed the tall oak tree and refused to come down until dinner time.", "Cat refused to leave tree.", "It keeps the main character and the problem.", "medium"),
    # classification (input rows)
    ("Is the animal below a mammal, bird, reptile, amphibian or fish?", "dolphin", "A dolphin is a mammal.", "Dolphins breathe air and feed their young with milk.", "high"),
    ("Is the animal below a mammal, bird, reptile, amphibian or fish?", "penguin", "A penguin is a bird.", "Penguins have feathers and lay eggs, even though they cannot fly.", "high"),
    ("Is the animal below a mammal, bird, reptile, amphibian or fish?", "frog", "A frog is an amphibian.", "Frogs start life in water as tadpoles and later live partly on land.", "high"),
    ("Is the animal below a mammal, bird, reptile, amphibian or fish?", "crocodile", "A crocodile is a reptile.", "Crocodiles have scaly skin and lay eggs on land.", "high"),
    ("Is the animal below a mammal, bird, reptile, amphibian or fish?", "shark", "A shark is a fish.", "Sharks breathe through gills and live their whole lives in water.", "high"),
    ("Is the animal below a mammal, bird, reptile, amphibian or fish?", "bat", "A bat is a mammal.", "Bats have fur and feed their young with milk.", "high"),
]
for instruction, inp, answer, why, conf in HANDWRITTEN:
    add(instruction, answer, why, conf, inp=inp)

# Shapes: (name, sides, prefix meaning)
SHAPES = [
    ("triangle", 3, "'Tri' means three."),
    ("pentagon", 5, "'Penta' comes from the Greek for five."),
    ("hexagon", 6, "'Hexa' comes from the Greek for six."),
    ("heptagon", 7, "'Hepta' comes from the Greek for seven."),
    ("octagon", 8, "'Octa' comes from the Greek for eight."),
    ("decagon", 10, "'Deca' comes from the Greek for ten."),
]
SHAPE_Q = ["How many sides does {a} have?", "{A} has how many sides?", "Count the sides of {a}."]
for shape, n, why in SHAPES:
    add(rng.choice(SHAPE_Q).format(a=article(shape), A=cap(article(shape))), f"{cap(article(shape))} has {n} sides.", why, "high")

# ---------------------------------------------------------------------------
# Word definitions: (word, meaning, example sentence)
# ---------------------------------------------------------------------------
DEFINITIONS = [
    ("ephemeral", "lasting for only a short time", "For example, a rainbow is ephemeral and fades within minutes."),
    ("benevolent", "kind and wanting to do good for others", "For example, a benevolent donor might fund a local school."),
    ("meticulous", "showing great attention to detail", "For example, a meticulous editor checks every comma."),
    ("ubiquitous", "found almost everywhere", "For example, smartphones have become ubiquitous."),
    ("candid", "honest and direct", "For example, a candid review mentions both strengths and flaws."),
    ("frugal", "careful not to waste money or resources", "For example, a frugal shopper compares prices before buying."),
    ("resilient", "able to recover quickly from difficulty", "For example, a resilient team bounces back after a loss."),
    ("ambiguous", "open to more than one interpretation", "For example, 'I saw her duck' is ambiguous."),
    ("verbose", "using more words than needed", "For example, a verbose email could often be half as long."),
    ("tenacious", "determined and unwilling to give up", "For example, a tenacious climber keeps going despite bad weather."),
    ("serene", "calm and peaceful", "For example, a lake at dawn can look serene."),
    ("novice", "a beginner at an activity", "For example, a novice chess player is still learning the rules."),
    ("arid", "very dry, with little rain", "For example, deserts are arid regions."),
    ("obsolete", "no longer used because something newer has replaced it", "For example, floppy disks are now largely obsolete."),
    ("prudent", "acting with care and thought for the future", "For example, saving part of your income is prudent."),
    ("eloquent", "fluent and persuasive in speaking or writing", "For example, an eloquent speech can move a crowd."),
    ("diligent", "hard-working and careful", "For example, a diligent student reviews notes every day."),
    ("vivid", "bright, clear and striking", "For example, a vivid dream feels almost real."),
    ("nostalgia", "a fond longing for the past", "For example, old songs can bring a feeling of nostalgia."),
    ("procrastinate", "to keep delaying something that should be done", "For example, people often procrastinate before a deadline."),
    ("altruism", "selfless concern for the wellbeing of others", "For example, donating blood is an act of altruism."),
    ("reluctant", "unwilling or hesitant to do something", "For example, a reluctant swimmer tests the water with one toe."),
]
DEF_Q = [
    "What does the word '{w}' mean?",
    "Define '{w}'.",
    "What is the meaning of '{w}'?",
    "Explain the word '{w}' in simple terms.",
]
for word, meaning, example in DEFINITIONS:
    answer = f"'{cap(word)}' means {meaning}."
    if rng.random() < 0.3:
        add("Define this word in one sentence.", answer, example, "high", inp=word)
    else:
        add(rng.choice(DEF_Q).format(w=word), answer, example, "high")

# ---------------------------------------------------------------------------
# Opposites: (word, opposite, the scale they sit on)
# ---------------------------------------------------------------------------
OPPOSITES = [
    ("hot", "cold", "temperature"), ("tall", "short", "height"), ("early", "late", "timing"),
    ("ancient", "modern", "age"), ("generous", "stingy", "willingness to give"),
    ("victory", "defeat", "the outcome of a contest"), ("expand", "contract", "change in size"),
    ("accept", "reject", "a response to an offer"), ("brave", "cowardly", "courage"),
    ("increase", "decrease", "change in amount"), ("include", "exclude", "membership of a group"),
    ("maximum", "minimum", "a range of values"), ("visible", "invisible", "whether something can be seen"),
    ("arrive", "depart", "travel to and from a place"), ("heavy", "light", "weight"),
    ("deep", "shallow", "depth"), ("rough", "smooth", "texture"), ("wide", "narrow", "width"),
    ("noisy", "quiet", "sound level"), ("asleep", "awake", "wakefulness"),
    ("success", "failure", "the result of an attempt"), ("happy", "sad", "mood"),
]
OPP_Q = [
    "What is the opposite of '{w}'?",
    "Give an antonym for '{w}'.",
    "Which word means the opposite of '{w}'?",
]
for word, opp, scale in OPPOSITES:
    answer = f"The opposite of '{word}' is '{opp}'."
    why = f"'{cap(word)}' and '{opp}' sit at opposite ends of {scale}."
    if rng.random() < 0.3:
        add("Write the opposite of this word.", answer, why, "high", inp=word)
    else:
        add(rng.choice(OPP_Q).format(w=word), answer, why, "high")


# ---------------------------------------------------------------------------
def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent / "demo.jsonl"
    keys = set()
    for row in rows:
        key = (row["instruction"], row["input"])
        assert key not in keys, f"duplicate: {key}"
        keys.add(key)
        assert not (row["input"] == "" and row["instruction"] in HELD_OUT), row
    data = list(rows)
    rng.shuffle(data)
    with open(out, "w", encoding="utf-8", newline="\n") as fh:
        for row in data:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with_input = sum(1 for r in data if r["input"])
    print(f"wrote {len(data)} rows ({with_input} with input) to {out}")


if __name__ == "__main__":
    main()
