"""Real math and code pages, and a domain-labelled training and held-out corpus, built once per session."""

from __future__ import annotations

import json
import zlib

import pytest

from mimo_data.annotate.markup import split_markup
from mimo_data.document import documents_from_rows
from mimo_data.io import list_inputs, read_file
from mimo_data.steps import extract_text


@pytest.fixture(scope="session")
def math_code_pages(shared_dir) -> list[dict]:
    """Extracted, kept documents of corpus/html_math and corpus/html_code (text, url, folder)."""
    pages = []
    for folder in ("html_math", "html_code"):
        for path in list_inputs("html", str(shared_dir / "corpus" / folder)):
            table = extract_text(documents_from_rows(list(read_file("html", path, source=folder))))
            for row in table.select(["text", "url", "drop_reason"]).to_pylist():
                if row["drop_reason"] is None:
                    pages.append({"folder": folder, "text": row["text"], "url": row["url"]})
    return pages


def _reasoning_text(row: dict) -> str:
    """Question and worked answer of one reasoning record: the model's proof, else the reference solution."""
    answer = row.get("model_prediction") or row.get("solution") or ""
    if isinstance(answer, dict):
        answer = answer.get("proof", "")
    return row["question"] + "\n\n" + str(answer)


def is_held_out(key: str) -> bool:
    """Put two documents in five, chosen by a hash of ``key``, in the held-out set."""
    return zlib.crc32(key.encode("utf-8")) % 5 < 2


@pytest.fixture(scope="session")
def domain_corpus(shared_dir, math_code_pages) -> dict:
    """Real documents whose domain their source fixes, split into training and held-out sets.

    Returns ``train``: ``(text, url)`` pairs for rule labelling, and ``held_out``:
    ``(true_tag, group, text)`` triples with the markup removed and no URL, so the rules have
    only keywords left. Groups: math and code web pages, reasoning traces (math), Python
    Enhancement Proposals (code), and news articles with their human-annotated body text.
    """
    documents = []  # (key, true tag, group, text, url)
    for index, page in enumerate(math_code_pages):
        tag = "math" if page["folder"] == "html_math" else "code"
        documents.append((f"{page['folder']}/{index}", tag, f"{tag} pages", page["text"], page["url"]))
    for path in sorted((shared_dir / "reasoning").glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines()):
            text = _reasoning_text(json.loads(line))
            documents.append((f"{path.name}:{number}", "math", "reasoning", text, None))
    for path in sorted((shared_dir / "text" / "peps").glob("*.rst")):
        documents.append((path.name, "code", "peps", path.read_text("utf-8"), None))
    truth = json.loads((shared_dir / "corpus/html_general/scrapinghub_aeb/ground-truth.json").read_text("utf-8"))
    for key, entry in sorted(truth.items()):
        if entry["articleBody"]:
            documents.append((key, "news", "news articles", entry["articleBody"], entry["url"]))

    train = [(text, url) for key, _, _, text, url in documents if not is_held_out(key)]
    held_out = [(tag, group, split_markup(text).prose) for key, tag, group, text, _ in documents if is_held_out(key)]
    return {"train": train, "held_out": held_out}
