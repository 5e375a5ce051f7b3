"""The toolkit's default quality model, trained on first use from text it generates.

Nothing is shipped as a binary: :func:`default_quality_model_path` generates a labelled set
with a fixed seed, trains a small fastText model on it with one thread and caches the file
under ``$MIMO_DATA_CACHE`` (default ``~/.cache/mimo_data``). The file name carries
:data:`DEFAULT_MODEL_VERSION`, so a change of the generator trains a new file.

Positives are reasoning-dense texts: worked derivations with LaTeX formulas and connectives,
code with explanations, and expository science prose. Negatives are what the MiMo report
down-samples: advertising, job postings, navigation and sign-up furniture, and keyword spam.

NOTE: the generated texts come from a small vocabulary, so the model mostly learns the style
words of each class (connectives, formulas, calls to action); it is a starting point to be
replaced by a model trained with ``mimo-data quality train`` on labelled real pages.
"""

from __future__ import annotations

import logging
import os
import random
from pathlib import Path

from mimo_data.annotate.fasttext_train import FastTextTrainConfig, train_classifier

logger = logging.getLogger(__name__)

DEFAULT_MODEL_VERSION = 1
EXAMPLES_PER_CLASS = 600
POSITIVE_LABEL = "__label__hq"
NEGATIVE_LABEL = "__label__lq"

_SYMBOLS = ["x", "y", "n", "k", "a", "b", "t", "z"]
_OBJECTS = ["the sequence", "the polynomial", "the integral", "the matrix", "the function",
            "the series", "the triangle", "the graph", "the sum", "the probability"]
_CONNECTIVES = ["Therefore", "Hence", "Thus", "It follows that", "Consequently", "Substituting this back,",
                "Solving for the unknown,", "By the previous lemma,", "Since both sides are positive,"]
_CLAIMS = ["is bounded above", "converges", "is divisible by 3", "has exactly two real roots",
           "is symmetric", "is increasing on the interval", "equals the area under the curve"]
_SCIENCE = ["The experiment measured how the reaction rate depends on temperature",
            "Each cell copies its genome before it divides",
            "The energy of the photon is proportional to its frequency",
            "The sample was cooled slowly so that the crystal could form",
            "The hypothesis predicts a linear relation between pressure and volume"]
_CODE_LINES = ["def {f}(values):", "    total = 0", "    for value in values:",
               "        total += value * {k}", "    return total", "result = {f}([1, 2, 3])"]
_PRODUCTS = ["sneakers", "headphones", "vitamins", "phone cases", "sofas", "watches", "handbags"]
_ADS = ["BUY NOW and save {p}% on all {x}!", "Free shipping on {x} today only, order now!",
        "Best price guaranteed, cheap {x} deals, limited offer!", "Click here to claim your {x} coupon.",
        "Hot sale: {x} from $9.99, add to cart before it ends!"]
_JOBS = ["We are hiring a full-time {x} specialist.", "Salary: competitive, apply now!",
         "Responsibilities: manage {x} accounts and attend meetings.",
         "Qualifications: 3+ years of experience, send your resume today."]
_FURNITURE = ["Home | About | Contact | Login | Sign up", "Subscribe to our newsletter",
              "Accept cookies to continue", "Privacy policy | Terms of use", "Share this on social media",
              "All rights reserved", "Follow us for more {x}"]


def _derivation(rng: random.Random) -> str:
    symbol = rng.choice(_SYMBOLS)
    lines = [f"Let ${symbol}$ be a positive integer and consider {rng.choice(_OBJECTS)}."]
    for step in range(rng.randint(3, 6)):
        k = rng.randint(2, 9)
        lines.append(f"{rng.choice(_CONNECTIVES)} ${symbol}^{k} + {k}{symbol} = {k * k}$, "
                     f"so {rng.choice(_OBJECTS)} {rng.choice(_CLAIMS)}.")
    lines.append(f"This proves that {rng.choice(_OBJECTS)} {rng.choice(_CLAIMS)}.")
    return " ".join(lines)


def _code_explanation(rng: random.Random) -> str:
    name = rng.choice(["weighted_sum", "scale", "accumulate", "score"])
    code = "\n".join(line.format(f=name, k=rng.randint(2, 9)) for line in _CODE_LINES)
    return (f"The function `{name}` walks over the input once, so it runs in linear time. "
            f"```python\n{code}\n```\nBecause the loop keeps a running total, memory stays constant. "
            f"{rng.choice(_CONNECTIVES)} the result grows with the length of the list.")


def _science(rng: random.Random) -> str:
    sentences = rng.sample(_SCIENCE, 3)
    return f"{'. '.join(sentences)}. {rng.choice(_CONNECTIVES)} the measured values agree with the model."


def _low_quality(rng: random.Random) -> str:
    product = rng.choice(_PRODUCTS)
    pools = [_ADS, _JOBS, _FURNITURE]
    lines = []
    for _ in range(rng.randint(4, 9)):
        template = rng.choice(rng.choice(pools))
        lines.append(template.format(x=product, p=rng.choice([10, 20, 50, 70])))
    if rng.random() < 0.3:
        lines.append(" ".join(rng.choice(["cheap", "best", product, "discount", "free"]) for _ in range(40)))
    return "\n".join(lines)


def generate_examples(seed: int = 0, per_class: int = EXAMPLES_PER_CLASS) -> list[tuple[str, str]]:
    """Generate ``per_class`` positive and negative ``(label, text)`` pairs, reproducibly."""
    rng = random.Random(f"quality-default:{seed}")
    makers = [_derivation, _code_explanation, _science]
    examples = [(POSITIVE_LABEL, makers[i % len(makers)](rng)) for i in range(per_class)]
    examples += [(NEGATIVE_LABEL, _low_quality(rng)) for _ in range(per_class)]
    return examples


def cache_dir() -> Path:
    """Return the folder of cached models: ``$MIMO_DATA_CACHE`` or ``~/.cache/mimo_data``."""
    return Path(os.environ.get("MIMO_DATA_CACHE") or Path.home() / ".cache" / "mimo_data")


def default_quality_model_path() -> str:
    """Return the path of the default quality model, training it first when it is missing."""
    path = cache_dir() / f"quality-default-v{DEFAULT_MODEL_VERSION}.bin"
    if not path.is_file():
        logger.info("training the default quality model into %s", path)
        train_classifier(generate_examples(), path, config=FastTextTrainConfig(epoch=10))
    return str(path)
