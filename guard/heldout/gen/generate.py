#!/usr/bin/env python3
"""Generate the held-out corpus (positives.jsonl, clean.jsonl, colleagues.jsonl) with a fixed seed.

Usage: python3 guard/heldout/gen/generate.py [--out DIR] [--sample N]
"""
import argparse
import collections
import json
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from core import KINDS, Doc  # noqa: E402
from ctx import C  # noqa: E402
import tpl_pos  # noqa: E402

SEED = 20241101
POS_TARGET = 400          # minimum positive texts per kind
POS_TEMPLATE_CAP = 90     # phase 2 prefers templates below this
PER_TEMPLATE = 14         # phase 1: texts per positive template
CLEAN_TARGET = 1150
COLLEAGUE_TARGET = 200


def render(res):
    if isinstance(res, tuple):
        doc, tr = res
    else:
        doc, tr = res, None
    return doc.render(tr)


def gen_positives(rng):
    """Phase 1: every template writes PER_TEMPLATE texts (cycling through the kinds it can carry).
    Phase 2: top up whichever kind is furthest below POS_TARGET."""
    out, seen = [], set()
    counts = collections.Counter()
    per_tpl = collections.Counter()

    def attempt(tpl, want):
        name, genre, kinds, fn = tpl
        c = C(rng, want)
        text, exp = render(fn(c))
        if want not in {e["kind"] for e in exp} or text in seen:
            return False
        seen.add(text)
        per_tpl[name] += 1
        for k in {e["kind"] for e in exp}:
            counts[k] += 1
        out.append({"id": f"pos-{len(out) + 1:04d}-{name}", "genre": genre, "text": text, "expect": exp})
        return True

    for tpl in tpl_pos.POS:
        i = tries = 0
        while per_tpl[tpl[0]] < PER_TEMPLATE:
            tries += 1
            assert tries < 2000, tpl[0]
            if attempt(tpl, tpl[2][i % len(tpl[2])]):
                i += 1
    by_kind = {k: [t for t in tpl_pos.POS if k in t[2]] for k in KINDS}
    tries = 0
    while min(counts[k] for k in KINDS) < POS_TARGET:
        tries += 1
        assert tries < 200000, counts
        want = min(KINDS, key=lambda k: (counts[k], KINDS.index(k)))
        cands = [t for t in by_kind[want] if per_tpl[t[0]] < POS_TEMPLATE_CAP] or by_kind[want]
        attempt(rng.choice(cands), want)
    rng.shuffle(out)
    for i, r in enumerate(out):
        r["id"] = f"pos-{i + 1:04d}-{r['id'].split('-', 2)[2]}"
    return out, counts, per_tpl


def gen_plain(rng, templates, target, prefix):
    out, seen = [], set()
    per_tpl = collections.Counter()
    i = 0
    while len(out) < target:
        i += 1
        assert i < 100000
        name, genre, fn = templates[(i - 1) % len(templates)] if i <= len(templates) * 3 else rng.choice(templates)
        c = C(rng, None)
        text, exp = render(fn(c))
        if text in seen:
            continue
        seen.add(text)
        per_tpl[name] += 1
        out.append({"id": f"{prefix}-{len(out) + 1:04d}-{name}", "genre": genre, "text": text, "expect": exp})
    rng.shuffle(out)
    for j, r in enumerate(out):
        r["id"] = f"{prefix}-{j + 1:04d}-{r['id'].split('-', 2)[2]}"
    return out, per_tpl


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    ap.add_argument("--sample", type=int, default=0, help="print N random positives and exit")
    a = ap.parse_args()
    rng = random.Random(SEED)
    pos, counts, per_tpl = gen_positives(rng)
    if a.sample:
        for r in random.Random(1).sample(pos, a.sample):
            print("=" * 70, r["id"], r["genre"])
            print(r["text"])
            print("  ->", [(e["kind"], e["text"]) for e in r["expect"]])
        return
    import tpl_clean
    import tpl_col
    clean, per_clean = gen_plain(rng, tpl_clean.CLEAN, CLEAN_TARGET, "cln")
    col, per_col = gen_plain(rng, tpl_col.COL, COLLEAGUE_TARGET, "col")
    write(os.path.join(a.out, "positives.jsonl"), pos)
    write(os.path.join(a.out, "clean.jsonl"), clean)
    write(os.path.join(a.out, "colleagues.jsonl"), col)
    print(f"positives {len(pos)}  clean {len(clean)}  colleagues {len(col)}")
    print("templates: positive", len(tpl_pos.POS), "clean", len(tpl_clean.CLEAN), "colleague", len(tpl_col.COL))


if __name__ == "__main__":
    main()
