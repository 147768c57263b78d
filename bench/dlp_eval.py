"""Precision and recall of the DLP detectors.

1. PII on presidio-research's synthetic set (``../shared/eval/pii/synth_dataset_v2.json``
   beside the repository; never copied into it). A predicted span counts when it overlaps a
   gold span of the same entity type.
2. Secrets on a generated corpus: a value for every secret detector in code, prose and JSON
   contexts, plus hard negatives (UUIDs, hashes, placeholders, base64 images, minified JS).
3. Secrets by family (``bench/secret_families.py``): values built from each token format in
   .env, YAML, JSON, TOML, curl, shell history, code and prose, with hard negatives per family.

Usage: .venv/bin/python bench/dlp_eval.py [--engine hyperscan|python] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dlp_corpus import RULES_DIR, secrets_corpus
from secret_families import corpus as family_corpus

from shadowlens.proxy.dlp import load_scanner

DATASET = Path(__file__).resolve().parents[2] / "shared" / "eval" / "pii" / "synth_dataset_v2.json"
ENTITY = {
    "credit-card-number": "CREDIT_CARD",
    "phone-number": "PHONE_NUMBER",
    "email-address": "EMAIL_ADDRESS",
    "iban": "IBAN_CODE",
    "us-ssn": "US_SSN",
    "us-ssn-context": "US_SSN",
    "ipv4-address": "IP_ADDRESS",
    "ipv6-address": "IP_ADDRESS",
}
PRESIDIO = {  # pattern recognizers only, from ../shared/eval/pii/README.md
    "CREDIT_CARD": (1.00, 0.77),
    "PHONE_NUMBER": (0.73, 0.59),
    "EMAIL_ADDRESS": (1.00, 1.00),
    "US_SSN": (1.00, 1.00),
    "IBAN_CODE": (1.00, 1.00),
    "IP_ADDRESS": (1.00, 1.00),
}


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def eval_pii(engine: str) -> dict[str, dict[str, float]]:
    data = json.loads(DATASET.read_text())
    scanner = load_scanner(RULES_DIR, fingerprint_key=b"eval", engine=engine)
    tp_pred: Counter[str] = Counter()
    n_pred: Counter[str] = Counter()
    tp_gold: Counter[str] = Counter()
    n_gold: Counter[str] = Counter()
    for item in data:
        text = item["full_text"]
        gold: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for span in item["spans"]:
            if span["entity_type"] in PRESIDIO:
                gold[span["entity_type"]].append((span["start_position"], span["end_position"]))
        preds: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for f in scanner.scan(text):
            if f.detector in ENTITY:
                preds[ENTITY[f.detector]].append((f.start, f.end))
        for entity in PRESIDIO:
            n_gold[entity] += len(gold[entity])
            n_pred[entity] += len(preds[entity])
            tp_gold[entity] += sum(
                any(_overlaps(g, p) for p in preds[entity]) for g in gold[entity]
            )
            tp_pred[entity] += sum(
                any(_overlaps(p, g) for g in gold[entity]) for p in preds[entity]
            )
    out = {}
    for entity in PRESIDIO:
        out[entity] = {
            "gold": n_gold[entity],
            "predicted": n_pred[entity],
            "precision": tp_pred[entity] / n_pred[entity] if n_pred[entity] else 1.0,
            "recall": tp_gold[entity] / n_gold[entity] if n_gold[entity] else 1.0,
        }
    return out


def eval_secrets(engine: str) -> dict[str, float]:
    scanner = load_scanner(RULES_DIR, fingerprint_key=b"eval", engine=engine)
    samples = secrets_corpus()
    positives = [s for s in samples if s.detector]
    negatives = [s for s in samples if not s.detector]
    found = exact = fp = tp_findings = 0
    fp_kinds: Counter[str] = Counter()
    for s in positives:
        hits = [f for f in scanner.scan(s.text) if f.category == "secret"]
        covering = [f for f in hits if _overlaps((f.start, f.end), (s.start, s.end))]
        found += bool(covering)
        exact += any(f.detector == s.detector for f in covering)
        tp_findings += len(covering)
        fp += len(hits) - len(covering)
    for s in negatives:
        hits = [f for f in scanner.scan(s.text) if f.category == "secret"]
        fp += len(hits)
        fp_kinds.update(s.kind for _ in hits)
    return {
        "positives": len(positives),
        "negatives": len(negatives),
        "recall": found / len(positives),
        "detector_accuracy": exact / len(positives),
        "precision": tp_findings / (tp_findings + fp) if tp_findings + fp else 1.0,
        "negative_false_positives": sum(fp_kinds.values()),
        "fp_by_kind": dict(fp_kinds),  # type: ignore[dict-item]
    }


def eval_families(engine: str) -> dict[str, dict[str, float]]:
    """Per family: recall on positives, precision of secret findings, negatives flagged."""
    scanner = load_scanner(RULES_DIR, fingerprint_key=b"eval", engine=engine)
    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for s in family_corpus():
        row = rows[s.family]
        hits = [f for f in scanner.scan(s.text) if f.category == "secret"]
        if s.positive:
            good = [f for f in hits if _overlaps((f.start, f.end), (s.start, s.end))]
            row["positives"] += 1
            row["found"] += bool(good)
            row["tp"] += len(good)
            row["fp"] += len(hits) - len(good)
        else:
            row["negatives"] += 1
            row["flagged"] += bool(hits)
            row["fp"] += len(hits)
    rows["all"] = sum(rows.values(), Counter())
    return {name: _family_row(row) for name, row in rows.items()}


def _family_row(row: Counter[str]) -> dict[str, float]:
    found = row["tp"] + row["fp"]
    return {
        "positives": row["positives"],
        "negatives": row["negatives"],
        "recall": row["found"] / row["positives"] if row["positives"] else 1.0,
        "precision": row["tp"] / found if found else 1.0,
        "negatives_flagged": row["flagged"] / row["negatives"] if row["negatives"] else 0.0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pii = eval_pii(args.engine)
    secrets = eval_secrets(args.engine)
    families = eval_families(args.engine)
    if args.json:
        print(json.dumps({"pii": pii, "secrets": secrets, "families": families}, indent=2))
        return 0
    print("| Entity | Gold | shadowlens P / R | Presidio (pattern) P / R |")
    print("|---|---:|---:|---:|")
    for entity, row in pii.items():
        pp, pr = PRESIDIO[entity]
        print(
            f"| {entity} | {row['gold']} | {row['precision']:.2f} / {row['recall']:.2f} "
            f"| {pp:.2f} / {pr:.2f} |"
        )
    print()
    print(
        f"Secrets: {secrets['positives']} positives, {secrets['negatives']} hard negatives: "
        f"precision {secrets['precision']:.3f}, recall {secrets['recall']:.3f}, "
        f"right detector {secrets['detector_accuracy']:.3f}, "
        f"false positives on hard negatives {secrets['negative_false_positives']} "
        f"{secrets['fp_by_kind']}"
    )
    print()
    print("| Family | Positives | Recall | Precision | Negatives | Negatives flagged |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, row in sorted(families.items(), key=lambda item: item[0] == "all"):
        print(
            f"| {name} | {row['positives']} | {row['recall']:.2f} | {row['precision']:.2f} "
            f"| {row['negatives']} | {row['negatives_flagged']:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
