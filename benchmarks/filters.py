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
        pages += [row for row in table.select(["text", "url", "drop_reason"]).to_pylist() if row["drop_reason"] is None]
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


def lid_accuracy(samples: list[tuple[str, str]]) -> tuple[float, float, float]:
    import fasttext

    from mimo_data.annotate.language import LanguageTagger, lid_model_path

    tagger = LanguageTagger()
    raw = fasttext.load_model(lid_model_path())
    ours = sum(tagger.tag(text)["lang"] == label for label, text in samples)
    peer = sum(raw.predict(" ".join(text.split()), k=1)[0][0].removeprefix("__label__") == label for label, text in samples)
    started = time.perf_counter()
    for _, text in samples:
        tagger.tag(text)
    return ours / len(samples), peer / len(samples), len(samples) / (time.perf_counter() - started)


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


def throughput(pages: list[dict]) -> float:
    from mimo_data.document import documents_from_rows
    from mimo_data.steps import AnnotateStep

    step = AnnotateStep(language={"keep": [], "min_score": 0.0}, heuristics={}, quality={"model_path": None, "min_score": 0.0})
    table = documents_from_rows([{"id": str(i), "source": "s", "format": "html", "text": p["text"], "url": p["url"]} for i, p in enumerate(pages)])
    started = time.perf_counter()
    step(table)
    return len(pages) / (time.perf_counter() - started)


def main() -> int:
    math_code = extracted("html_math") + extracted("html_code")
    zh = extracted("html_zh")
    en = extracted("html_general/scrapinghub_aeb/html")
    ours_kept, peer_kept = retention(math_code)
    # Labels: html_zh pages are Chinese; scrapinghub pages are English news and blogs.
    lid_ours, lid_peer, lid_rate = lid_accuracy([("zh", p["text"]) for p in zh] + [("en", p["text"]) for p in en])
    decontam = decontam_measures()
    rate = throughput(math_code + en)

    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    lines = [SECTION, "",
             f"Machine: {cpu}, {os.cpu_count()} cores visible, one process. Date: {datetime.date.today()}.",
             "Command: `.venv/bin/python benchmarks/filters.py`", "",
             "| measure | ours | peer |", "|---|---|---|",
             f"| retention of real math + code pages ({len(math_code)}) | {ours_kept:.3f} | {peer_kept:.3f} (datatrove 0.10.1 Gopher repetition + Gopher quality + C4 + FineWeb, defaults) |",
             f"| language ID accuracy, {len(zh)} Chinese + {len(en)} English pages | {lid_ours:.3f} | {lid_peer:.3f} (lid.176 on the raw text) |",
             f"| annotate documents/s on one core (language, heuristics, quality, domain) | {rate:.1f} | |", "",
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
