"""Generated corpora for the DLP benchmark and evaluation (deterministic per seed).

- ``mixed_chunks``: prompt-sized chunks of code, prose and JSON chat payloads, with secrets
  and personal data planted at a known rate.
- ``clean_chunks``: the same kinds of text with nothing planted (false positives per MB).
- ``secrets_corpus``: labelled positives (a value for every secret detector, in code, prose
  and JSON contexts) and hard negatives (UUIDs, hashes, placeholders, base64 images,
  minified JS).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from dataclasses import dataclass
from pathlib import Path

from shadowlens.proxy.dlp.rules import RuleSet, load_rules
from tests.dlp.samples import example

ROOT = Path(__file__).resolve().parents[1]
PLANT_RATE = 0.04  # chance that a paragraph or code block carries a planted value
RULES_DIR = ROOT / "rules" / "dlp"

WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "was",
    "for",
    "on",
    "that",
    "with",
    "as",
    "by",
    "at",
    "from",
    "it",
    "this",
    "be",
    "are",
    "have",
    "not",
    "or",
    "we",
    "you",
    "they",
    "their",
    "our",
    "will",
    "can",
    "should",
    "would",
    "could",
    "about",
    "into",
    "over",
    "after",
    "before",
    "when",
    "where",
    "which",
    "while",
    "system",
    "service",
    "customer",
    "report",
    "meeting",
    "budget",
    "quarter",
    "release",
    "team",
    "design",
    "review",
    "deploy",
    "server",
    "client",
    "request",
    "response",
    "data",
    "model",
    "user",
    "account",
    "policy",
    "market",
    "product",
    "launch",
    "plan",
    "strategy",
    "revenue",
    "growth",
    "cost",
    "analysis",
    "summary",
    "question",
    "please",
    "help",
    "explain",
    "write",
    "rewrite",
    "improve",
    "translate",
    "draft",
    "email",
    "letter",
    "memo",
    "schedule",
    "monday",
    "tuesday",
    "march",
    "april",
    "version",
    "update",
    "issue",
    "ticket",
    "feature",
    "test",
    "build",
    "pipeline",
]

PY_LINES = [
    "def {n}(self, {a}, {b}=None):",
    "    if {a} is None:",
    "        return {b}",
    "    for item in {a}:",
    "        result.append(item.{n}())",
    "    {a} = {b}.get('{n}', {d})",
    "    return {{'{n}': {a}, 'count': len({b})}}",
    "import {n}",
    "from {n}.{a} import {b}",
    "class {N}({N}Base):",
    "    logger.info('processing %s', {a})",
    "    raise ValueError(f'bad {{{a}}}')",
]
JS_LINES = [
    "const {n} = async ({a}, {b}) => {{",
    "  const res = await fetch(`/api/{n}/${{{a}}}`);",
    "  if (!res.ok) throw new Error('{n} failed');",
    "  return res.json();",
    "}};",
    "export function {n}({a}) {{ return {a}.map(x => x * {d}); }}",
    "let {a} = document.querySelector('#{n}');",
    "for (let i = 0; i < {a}.length; i++) {{ {b}[i] = {a}[i] + {d}; }}",
]
GO_LINES = [
    "func ({a} *{N}) {N}({b} string) (int, error) {{",
    '\tif {b} == "" {{',
    '\t\treturn 0, fmt.Errorf("empty {n}")',
    "\t}}",
    "\treturn len({b}) + {d}, nil",
    "}}",
]


def _ident(rng: random.Random) -> str:
    return rng.choice(WORDS[20:]) + rng.choice(["", "_id", "_list", "Count", "_map", "2"])


def code_text(rng: random.Random, lines: int) -> str:
    template = rng.choice([PY_LINES, JS_LINES, GO_LINES])
    out = []
    for _ in range(lines):
        n = _ident(rng)
        out.append(
            rng.choice(template).format(
                n=n, N=n.capitalize(), a=_ident(rng), b=_ident(rng), d=rng.randint(0, 999)
            )
        )
    return "\n".join(out)


def prose_text(rng: random.Random, sentences: int) -> str:
    out = []
    for _ in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 22))]
        if rng.random() < 0.2:
            words.insert(rng.randint(0, len(words)), str(rng.randint(1, 2030)))
        if rng.random() < 0.1:
            words.insert(rng.randint(0, len(words)), f"v{rng.randint(1, 9)}.{rng.randint(0, 20)}")
        out.append(" ".join(words).capitalize() + rng.choice([".", ".", "?", "!"]))
    return " ".join(out)


def chat_json(rng: random.Random, content: str) -> str:
    shape = rng.randrange(3)
    if shape == 0:
        doc: dict[str, object] = {
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": content},
            ],
            "temperature": round(rng.random(), 2),
            "stream": True,
        }
    elif shape == 1:
        doc = {
            "model": "claude-sonnet-4",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": [{"type": "text", "text": content}]}],
        }
    else:
        doc = {"contents": [{"role": "user", "parts": [{"text": content}]}]}
    return json.dumps(doc)


@dataclass(frozen=True)
class Planted:
    detector: str
    category: str


def _plant(rng: random.Random, rules: RuleSet) -> tuple[str, Planted]:
    dets = [d for d in rules.detectors if d.category in ("secret", "pii")]
    det = rng.choice(dets)
    value = example(det, rng) or ""
    return value, Planted(det.id, det.category)


def _chunk(rng: random.Random, size: int, rules: RuleSet | None, kind: str) -> str:
    parts: list[str] = []
    length = 0
    while length < size:
        if kind == "code":
            piece = code_text(rng, rng.randint(3, 25))
        else:
            piece = prose_text(rng, rng.randint(1, 6))
        if rules is not None and rng.random() < PLANT_RATE:
            value, _ = _plant(rng, rules)
            piece += rng.choice([f' key="{value}"', f"\nvalue: {value}\n", f" {value} "])
        parts.append(piece)
        length += len(piece) + 1
    text = "\n".join(parts)[:size]
    return chat_json(rng, text) if kind == "json" else text


def chunk_sizes(rng: random.Random, total: int) -> list[int]:
    sizes = []
    while total > 0:
        size = min(total, int(rng.choice([1, 2, 4, 8, 16, 32]) * 1024 * rng.uniform(0.5, 1.0)))
        sizes.append(size)
        total -= size
    return sizes


def mixed_chunks(total_bytes: int = 10 * 1024 * 1024, seed: int = 1) -> list[str]:
    """Prompt-sized chunks (0.5-32 KiB): 40% prose, 30% code, 30% JSON chat payloads."""
    rng = random.Random(seed)
    rules = load_rules(RULES_DIR)
    out = []
    for size in chunk_sizes(rng, total_bytes):
        kind = rng.choices(["prose", "code", "json"], [4, 3, 3])[0]
        out.append(_chunk(rng, size, rules, kind))
    return out


def clean_chunks(kind: str, total_bytes: int = 2 * 1024 * 1024, seed: int = 2) -> list[str]:
    """Chunks of one kind (prose, code, json) with nothing planted."""
    rng = random.Random(seed)
    return [_chunk(rng, size, None, kind) for size in chunk_sizes(rng, total_bytes)]


# --- labelled secrets corpus -------------------------------------------------------------


def _placeholder(rng: random.Random) -> str:
    return rng.choice(
        [
            "AKIAXXXXXXXXXXXXXXXX",
            "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            "sk-proj-YOUR_OPENAI_API_KEY",
            "sk_live_" + "x" * 24,
            "${AWS_SECRET_ACCESS_KEY}",
            "{{ vault_token }}",
            "<your-api-key-here>",
            "xoxb-your-bot-token",
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            "AIza" + "X" * 35,
            "password = changeme",
            "api_key = 'REPLACE_ME_WITH_A_REAL_KEY'",
            "token: ********************",
            "secret = example-secret-value",
        ]
    )


def _minified_js(rng: random.Random) -> str:
    names = [
        "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(1, 3)))
        for _ in range(30)
    ]
    parts = []
    for _ in range(40):
        a, b, c = rng.sample(names, 3)
        parts.append(
            rng.choice(
                [
                    f"function {a}({b},{c}){{return {b}[{c}]||{a}.{b}({c})}}",
                    f"var {a}={b}.{c}||{{}};",
                    f"{a}.prototype.{b}=function({c}){{this.{c}={c}}};",
                    f"if(!{a}){{{b}={c}({a},{rng.randint(0, 99)})}}",
                ]
            )
        )
    return "".join(parts)


HARD_NEGATIVE_KINDS = (
    "uuid",
    "sha1",
    "sha256",
    "md5",
    "placeholder",
    "base64-image",
    "minified-js",
    "version",
    "random-words",
    "hex-color",
    "url",
)


def hard_negative(kind: str, rng: random.Random) -> str:
    if kind == "uuid":
        return f"request_id: {uuid.UUID(int=rng.getrandbits(128), version=4)}"
    if kind == "sha1":
        return f"commit {hashlib.sha1(rng.randbytes(16)).hexdigest()}"  # noqa: S324
    if kind == "sha256":
        return f"sha256:{hashlib.sha256(rng.randbytes(16)).hexdigest()}"
    if kind == "md5":
        return f'etag "{hashlib.md5(rng.randbytes(16)).hexdigest()}"'  # noqa: S324
    if kind == "placeholder":
        return _placeholder(rng)
    if kind == "base64-image":
        raw = b"\x89PNG\r\n\x1a\n" + rng.randbytes(rng.randint(100, 600))
        return '{"image_url": "data:image/png;base64,' + base64.b64encode(raw).decode() + '"}'
    if kind == "minified-js":
        return _minified_js(rng)
    if kind == "version":
        return f"pip install pkg=={rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
    if kind == "hex-color":
        return "color: #" + "".join(rng.choice("0123456789abcdef") for _ in range(6)) + ";"
    if kind == "url":
        return f"https://example.com/{rng.choice(WORDS)}/{rng.randint(1000, 99999)}?page=2"
    return prose_text(rng, 2)


@dataclass(frozen=True)
class Sample:
    text: str
    start: int  # -1 for a negative
    end: int
    detector: str  # expected detector, "" for a negative
    kind: str


def secrets_corpus(per_detector: int = 5, negatives: int = 2000, seed: int = 3) -> list[Sample]:
    rng = random.Random(seed)
    rules = load_rules(RULES_DIR)
    out: list[Sample] = []
    contexts = [
        "{v}",
        'export TOKEN="{v}"',
        "here is the key {v} can you check why it fails?",
        '{{"config": {{"credential": "{v}"}}}}',
        "    client = Client(api_key='{v}')",
    ]
    for det in rules.detectors:
        if det.category != "secret":
            continue
        for _ in range(per_detector):
            value = example(det, rng)
            if not value:
                continue
            ctx = rng.choice(contexts)
            prefix = ctx.split("{v}")[0].replace("{{", "{").replace("}}", "}")
            text = ctx.format(v=value)
            out.append(Sample(text, len(prefix), len(prefix) + len(value), det.id, "positive"))
    for i in range(negatives):
        kind = HARD_NEGATIVE_KINDS[i % len(HARD_NEGATIVE_KINDS)]
        out.append(Sample(hard_negative(kind, rng), -1, -1, "", kind))
    return out
