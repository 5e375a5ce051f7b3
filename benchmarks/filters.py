"""Measure the annotation filters and decontamination against datatrove's web filters.

Run: .venv/bin/python benchmarks/filters.py  (needs `pip install -e '.[bench]'` and ../shared)
Writes the "## Filters and decontamination" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SECTION = "## Filters and decontamination"


def extracted(folder: str, fmt: str = "html") -> list[dict]:
    from mimo_data.document import documents_from_rows
    from mimo_data.io import list_inputs, read_file
    from mimo_data.steps import extract_text

    pages = []
    for path in list_inputs(fmt, str(SHARED / "corpus" / folder)):
        table = extract_text(documents_from_rows(list(read_file(fmt, path, source=folder))))
        pages += [row for row in table.select(["text", "url", "path", "drop_reason"]).to_pylist() if row["drop_reason"] is None]
    return pages


def retention(pages: list[dict]) -> tuple[float, float]:
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    from mimo_data.annotate.heuristics import HeuristicFilter, compute_signals

    ours = HeuristicFilter()
    peers = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    kept_ours = sum(ours.drop_reason(p["text"], compute_signals(p["text"])) is None for p in pages)
    kept_peer = 0
    for i, page in enumerate(pages):
        document = Document(text=page["text"], id=str(i))
        kept_peer += all(_keeps(peer.filter(document)) for peer in peers)
    return kept_ours / len(pages), kept_peer / len(pages)


def _keeps(result) -> bool:
    return result[0] if isinstance(result, tuple) else bool(result)


# Pages whose <html lang> attribute is missing or contradicts their text, labelled by
# reading the annotated main text. Other pages take the attribute's primary subtag, and pages
# without one the language of their collection.
LANGUAGE_BY_READING = {
    "57b4dafd18cfd0531b69f81e87158648227c673ef159f8d8c87d34e34bdb21f2": "de",  # German blog post declared "en"
    "f81c6c05d9cbc93316992fa23ef74ec405194e292611f2e94f6a814868903665": "en",  # English article declared "de"
    "fde930b01859de8311c6a14f8aa8c72be0659b551367803deb6736cf3526cf2e": "en",  # English article declared "de"
    "cc03ddb5ef7d5f1fdb8a87f5e6dfd058a2a70acedf2551655a898dc5c18eb79e": "pt",  # no attribute, Portuguese text
    "f6ac15a4d98511396da23e4428deb5605422b1c8bbc8284e771f6896bdccf57f": "pt",  # no attribute, Portuguese text
    "feuerwehrtaucher-oldenburg.de.ausbildung": "de",  # German page declared "en"
    "spontis.de.jahrzehnt": "de",  # German page declared "en"
    "vergleich.de.leasen": "de",  # German page declared "en-US"
    "villagevoice.com-Party": "en",  # no attribute, English text
}
_HTML_LANG = re.compile(rb"<html[^>]*\blang=[\"']?([A-Za-z]+)", re.IGNORECASE)


def language_label(path: str, default: str) -> str:
    """Return the language of one corpus page: read by hand, else its <html lang>, else ``default``."""
    import gzip

    stem = Path(path).name.split(".html")[0]
    if stem in LANGUAGE_BY_READING:
        return LANGUAGE_BY_READING[stem]
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as page:
        match = _HTML_LANG.search(page.read())
    return match.group(1).decode("ascii").lower() if match else default


def lid_accuracy(samples: list[tuple[str, str]]) -> tuple[float, float]:
    import fasttext

    from mimo_data.annotate.language import LanguageTagger, lid_model_path

    tagger = LanguageTagger()
    raw = fasttext.load_model(lid_model_path())
    ours = sum(tagger.tag(text)["lang"] == label for label, text in samples)
    peer = sum(raw.predict(" ".join(text.split()), k=1)[0][0].removeprefix("__label__") == label for label, text in samples)
    return ours / len(samples), peer / len(samples)


def decontam_measures() -> dict:
    from mimo_data.decontam import BenchmarkIndex, BenchmarkSpec

    folder = SHARED / "benchmarks"
    names = {"gsm8k": "gsm8k_test.jsonl", "math": "math_test_5000.jsonl", "math500": "math500_test.jsonl",
             "aime": "aime_2024_2025.derived.jsonl", "humaneval": "HumanEval.jsonl.gz", "mbpp": "mbpp.jsonl",
             "leetcode": "leetcode_contest_2023-07_2024-01.jsonl"}
    index = BenchmarkIndex([BenchmarkSpec(name=n, path=str(folder / f)) for n, f in names.items()])
    truth = json.loads((SHARED / "corpus/html_general/scrapinghub_aeb/ground-truth.json").read_text("utf-8"))
    clean = [e["articleBody"] for e in truth.values() if e["articleBody"]]
    questions = [json.loads(line)["question"] for line in open(folder / "gsm8k_test.jsonl", encoding="utf-8")][: len(clean)]
    planted = [c[:400] + "\n" + q + "\n" + c[400:] for c, q in zip(clean, questions)]
    renumbered = [c[:400] + "\n" + re.sub(r"\d+", lambda m: str(int(m.group()) + 7), q) + "\n" + c[400:] for c, q in zip(clean, questions)]
    result = {
        "clean dropped": f"{sum(bool(index.matches(t)) for t in clean)}/{len(clean)}",
        "verbatim plants dropped": f"{sum(bool(index.matches(t)) for t in planted)}/{len(planted)}",
        "plants with numbers changed dropped": f"{sum(bool(index.matches(t)) for t in renumbered)}/{len(renumbered)}",
    }
    reasoning = {}
    for path in sorted((SHARED / "reasoning").glob("*.jsonl")):
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        hits: dict[str, int] = {}
        for row in rows:
            for name in {key.partition("/")[0] for key in index.matches(row.get("question", ""))}:
                hits[name] = hits.get(name, 0) + 1
        reasoning[path.name] = (len(rows), hits)
    result["reasoning"] = reasoning
    return result


def throughput(pages: list[dict]) -> tuple[float, float]:
    """Return documents per CPU second of our annotate step and of the peer's filters on ``pages``.

    The peer is lid.176 on the raw text plus datatrove's Gopher repetition, Gopher quality, C4
    and FineWeb filters; ours adds the quality and domain scores. CPU time of this one process
    is counted, so the rates are per core whatever else runs on the machine.
    """
    import fasttext
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    from mimo_data.annotate.language import lid_model_path
    from mimo_data.document import documents_from_rows
    from mimo_data.steps import AnnotateStep

    step = AnnotateStep(language={"keep": [], "min_score": 0.0}, heuristics={}, quality={"model_path": None, "min_score": 0.0})
    table = documents_from_rows([{"id": str(i), "source": "s", "format": "html", "text": p["text"], "url": p["url"]} for i, p in enumerate(pages)])
    started = time.process_time()
    step(table)
    ours = len(pages) / (time.process_time() - started)

    lid = fasttext.load_model(lid_model_path())
    peers = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    started = time.process_time()
    for i, page in enumerate(pages):
        lid.predict(" ".join(page["text"].split()), k=1)
        document = Document(text=page["text"], id=str(i))
        for peer in peers:
            peer.filter(document)
    return ours, len(pages) / (time.process_time() - started)


def domain_corpus(math_code: list[dict]) -> tuple[list, list]:
    """Split documents whose source fixes their domain into rule-labelled training and held-out sets.

    Two documents in five, chosen by a hash of their key, are held out, stripped of markup
    and of their URL, so the rules keep only their keywords. The same split is pinned by
    the ``domain_corpus`` fixture of the annotate tests, where a floor on it is asserted.
    """
    import zlib

    from mimo_data.annotate.markup import split_markup

    documents = []  # (key, true tag, group, text, url)
    for index, page in enumerate(math_code):
        tag = "math" if "/html_math/" in page["path"] else "code"
        documents.append((f"html_{tag}/{index}", tag, f"{tag} pages", page["text"], page["url"]))
    for path in sorted((SHARED / "reasoning").glob("*.jsonl")):
        for number, line in enumerate(path.read_text("utf-8").splitlines()):
            row = json.loads(line)
            answer = row.get("model_prediction") or row.get("solution") or ""
            answer = answer.get("proof", "") if isinstance(answer, dict) else str(answer)
            documents.append((f"{path.name}:{number}", "math", "reasoning", row["question"] + "\n\n" + answer, None))
    for path in sorted((SHARED / "text" / "peps").glob("*.rst")):
        documents.append((path.name, "code", "peps", path.read_text("utf-8"), None))
    truth = json.loads((SHARED / "corpus/html_general/scrapinghub_aeb/ground-truth.json").read_text("utf-8"))
    for key, entry in sorted(truth.items()):
        if entry["articleBody"]:
            documents.append((key, "news", "news articles", entry["articleBody"], entry["url"]))

    is_held = [zlib.crc32(key.encode("utf-8")) % 5 < 2 for key, *_ in documents]
    train = [(text, url) for (_, _, _, text, url), out in zip(documents, is_held) if not out]
    held_out = [(tag, group, split_markup(text).prose) for (_, tag, group, text, _), out in zip(documents, is_held) if out]
    return train, held_out


def domain_heldout(math_code: list[dict]) -> dict:
    """Return macro accuracy over source groups on held-out documents: rules, previous model, ours."""
    import tempfile

    import fasttext

    from mimo_data.annotate.domain import model_text, rule_label, train_domain_model
    from mimo_data.annotate.fasttext_train import fasttext_line, train_classifier

    train, held_out = domain_corpus(math_code)
    with tempfile.TemporaryDirectory() as folder:
        train_domain_model(train, f"{folder}/ours.bin")
        ours = fasttext.load_model(f"{folder}/ours.bin")
        # The previous recipe: one example per whole document, raw text with its markup.
        labelled = [(rule_label(text, url), text) for text, url in train]
        train_classifier([pair for pair in labelled if pair[0]], f"{folder}/previous.bin")
        previous = fasttext.load_model(f"{folder}/previous.bin")

    def macro(predict) -> tuple[float, dict[str, str]]:
        hits: dict[str, list[bool]] = {}
        for tag, group, text in held_out:
            hits.setdefault(group, []).append(predict(text) == tag)
        shares = [sum(h) / len(h) for h in hits.values()]
        return sum(shares) / len(shares), {group: f"{sum(h)}/{len(h)}" for group, h in hits.items()}

    return {
        "rules": macro(lambda text: rule_label(text, None)),
        "previous model": macro(lambda text: previous.predict(fasttext_line(text))[0][0].removeprefix("__label__")),
        "ours": macro(lambda text: ours.predict(model_text(text))[0][0].removeprefix("__label__")),
        "documents": (len(train), len(held_out)),
    }


def main() -> int:
    math_code = extracted("html_math") + extracted("html_code")
    zh = extracted("html_zh")
    en = extracted("html_general/scrapinghub_aeb/html")
    multilingual = extracted("html_general/trafilatura_eval")
    ours_kept, peer_kept = retention(math_code)

    # Language labels: the page's own declaration, corrected by reading (see LANGUAGE_BY_READING).
    samples = ([(language_label(p["path"], "zh"), p["text"]) for p in zh]
               + [(language_label(p["path"], "en"), p["text"]) for p in en]
               + [(language_label(p["path"], "de"), p["text"]) for p in multilingual])
    languages = Counter(label for label, _ in samples)
    lid_ours, lid_peer = lid_accuracy(samples)
    domain = domain_heldout(math_code)
    decontam = decontam_measures()
    rate_ours, rate_peer = throughput(math_code + en + multilingual)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    train_count, held_count = domain["documents"]
    lines = [SECTION, "",
             f"Machine: {cpu}, {os.cpu_count()} cores visible, one process. Date: {datetime.date.today()}.",
             "Command: `.venv/bin/python benchmarks/filters.py`", "",
             "| measure | ours | peer |", "|---|---|---|",
             f"| retention of real math + code pages ({len(math_code)}) | {ours_kept:.3f} | {peer_kept:.3f} (datatrove 0.10.1 Gopher repetition + Gopher quality + C4 + FineWeb, defaults) |",
             f"| language ID accuracy, {len(samples)} pages ({', '.join(f'{k} {v}' for k, v in languages.most_common())}) | {lid_ours:.3f} | {lid_peer:.3f} (lid.176 on the raw text) |",
             f"| domain tag accuracy on {held_count} held-out documents without markup or URL, mean over 5 source groups | {domain['ours'][0]:.3f} | rules {domain['rules'][0]:.3f}, previous model {domain['previous model'][0]:.3f} |",
             f"| documents per CPU second, {len(math_code) + len(en) + len(multilingual)} pages | {rate_ours:.1f} (language, heuristics, quality, domain) | {rate_peer:.1f} (lid.176 + datatrove Gopher, C4, FineWeb); ratio ours/peer {rate_ours / rate_peer:.2f} |", "",
             f"Domain model: trained on the rule labels of {train_count} documents (math and code pages, reasoning traces, "
             "PEPs, news articles), read as 300-word chunks of prose with markup and URLs removed. Held-out right per group, "
             + "; ".join(f"{name}: {domain[name][1]}" for name in ("ours", "rules", "previous model")) + ".", "",
             "Decontamination (13-grams, 7 benchmarks, GSM8K questions planted into real news articles): "
             + ", ".join(f"{k}: {v}" for k, v in decontam.items() if k != "reasoning") + ".", "",
             "| reasoning file | questions | matched per benchmark |", "|---|---|---|"]
    lines += [f"| {name} | {n} | {hits or 'none'} |" for name, (n, hits) in decontam["reasoning"].items()]
    _write_section("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


def _write_section(text: str) -> None:
    path = ROOT / "benchmarks" / "RESULTS.md"
    current = path.read_text("utf-8") if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _: text + "\n", current)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current, "utf-8")


if __name__ == "__main__":
    sys.exit(main())
