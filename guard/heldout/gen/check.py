#!/usr/bin/env python3
"""Validate the held-out corpus and print statistics.

Checks: JSON schema; kinds; every expect.text occurs verbatim in text; clean texts expect nothing;
colleague texts expect only clinician titled names; ids and texts unique; NHS numbers pass Modulus 11;
postcodes have a valid UK shape; phones, emails and dates look right. Then masks every expected span and
scans what is left with independent patterns for anything that looks like an unlabelled identifier.
Exit status 1 on any hard error. Usage: python3 guard/heldout/gen/check.py [DIR]
"""
import collections
import datetime as dt
import json
import os
import re
import sys

KINDS = ["nhs_number", "date_of_birth", "postcode", "phone", "email", "hospital_number", "titled_name", "address"]
HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = [a for a in sys.argv[1:] if not a.startswith("-")]
DIR = ARGS[0] if ARGS else os.path.join(HERE, "..")

errors = []
warn = collections.defaultdict(list)


def err(msg):
    errors.append(msg)


def nhs_valid(d):
    if len(d) != 10 or not d.isdigit():
        return False
    s = sum(int(c) * w for c, w in zip(d[:9], range(10, 1, -1)))
    r = 11 - s % 11
    r = 0 if r == 11 else r
    return r != 10 and r == int(d[9])


PC_RE = re.compile(r"^(?:[A-Z]{1,2}\d{1,2}|[A-Z]{1,2}\d[A-Z])\s*\d[ABD-HJLNP-UW-Z]{2}$", re.I)
EMAIL_RE = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}$")
CLIN_TITLE = re.compile(r"^(Dr\.?|dr|Prof\.?|Professor|Sister|Sr|Nurse|nurse|Matron|Charge Nurse|Staff Nurse) ")
MONTHS = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"


def parse_date(s):
    s2 = s.strip()
    m = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})", s2)
    if m:
        d, mo, y = map(int, m.groups())
        y = y + (1900 if y > 24 else 2000) if y < 100 else y
        return dt.date(y, mo, d)
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", s2)
    if m:
        return dt.date(*map(int, m.groups()))
    m = re.fullmatch(r"(\d{2})(\d{2})(\d{4})", s2)
    if m:
        d, mo, y = map(int, m.groups())
        return dt.date(y, mo, d)
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?(?: of)?[ \-]([A-Za-z]+)[ \-,]+(\d{2}|\d{4})", s2)
    if m:
        d, mon, y = m.groups()
        mo = MONTHS.split("|").index(mon[:3].lower()) + 1
        y = int(y)
        y = y + (1900 if y > 24 else 2000) if y < 100 else y
        return dt.date(y, mo, int(d))
    m = re.fullmatch(r"([A-Za-z]+) (\d{1,2}), (\d{4})", s2)
    if m:
        mon, d, y = m.groups()
        return dt.date(int(y), MONTHS.split("|").index(mon[:3].lower()) + 1, int(d))
    raise ValueError(s)


def check_value(kind, v, where):
    if kind == "nhs_number":
        digits = re.sub(r"[\s.\-]", "", v)
        if not nhs_valid(digits):
            err(f"{where}: invalid NHS number {v!r}")
    elif kind == "postcode":
        if not PC_RE.match(v.strip()) or v != v.strip():
            err(f"{where}: bad postcode {v!r}")
    elif kind == "email":
        if not EMAIL_RE.match(v):
            err(f"{where}: bad email {v!r}")
    elif kind == "phone":
        digits = re.sub(r"\D", "", v.replace("(0)", ""))
        if digits.startswith("44"):
            digits = "0" + digits[2:]
        if digits.startswith("0440"):
            digits = digits[3:]
        if digits.startswith("00440") or digits.startswith("0044"):
            digits = "0" + digits[4:]
        digits = digits.replace("0(0)", "0")
        if not (len(digits) in (10, 11) and digits.startswith("0")):
            err(f"{where}: odd phone {v!r} -> {digits}")
        if not re.fullmatch(r"[+\d\s()\-]+", v):
            err(f"{where}: phone has stray characters {v!r}")
    elif kind == "date_of_birth":
        try:
            d = parse_date(v)
        except Exception:
            err(f"{where}: unparseable DOB {v!r}")
            return
        if not (dt.date(1900, 1, 1) <= d <= dt.date(2024, 11, 1)):
            err(f"{where}: implausible DOB {v!r}")
    elif kind == "titled_name":
        if not re.search(r"[A-Za-zÀ-ž]", v):
            err(f"{where}: empty name {v!r}")
    elif kind == "hospital_number":
        if not re.search(r"\d{3}", v):
            err(f"{where}: hospital number without digits {v!r}")
        if re.fullmatch(r"\d{10}", v):
            err(f"{where}: 10-digit hospital number is ambiguous with NHS numbers {v!r}")
    elif kind == "address":
        if not re.search(r"[A-Za-z]", v):
            err(f"{where}: empty address {v!r}")


# ---- residual scanners (independent of the generator)
R_NHS = re.compile(r"(?<![\w])(\d(?:[ .\-\n]{0,2}\d){9})(?!\w)")
R_PC = re.compile(r"\b(?:[A-Z]{1,2}\d{1,2}|[A-Z]{1,2}\d[A-Z])\s{0,2}\d[ABD-HJLNP-UW-Z]{2}\b", re.I)
R_PHONE = re.compile(r"(?:\+44\s?(?:\(0\))?\s?|\b0044\s?|\(?\b0)\d[\d\s\-()]{7,14}\d")
R_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
R_TITLE = re.compile(r"\b(Mr|Mrs|Miss|Ms|Mx|Master|Prof|Professor|Dr|Sister|Sr|Nurse|Matron|Rev|Revd|Capt|Dame|Sir|Lady)\.?\s+([A-Z][\w'’-]+)")
R_TITLE_LC = re.compile(r"\b(mr|mrs|ms|mx)\.?\s+([a-z][\w'-]+)")
R_DOBCUE = re.compile(r"\b(DOB|D\.O\.B\.?|date of birth|born|b\.)\W{0,4}\d", re.I)
R_ADDR = re.compile(r"\b\d+[a-z]?,?\s+(?:[A-Z][\w']+\s){1,2}(Street|Road|Lane|Avenue|Close|Court|Crescent|Drive|Grove|Terrace|Way|Gardens|Place|Mews|Walk|Rise|View|Row|Square|Hill|St|Rd|Ln|Ave)\b")
R_HOSP = re.compile(r"\b(MRN|Hosp(?:ital)?\.? ?(?:no|number|ID|#)|CRN|RM no|Unit no|Case ?notes? no|K number)\b\W{0,3}[A-Z]?\d", re.I)
R_CODE = re.compile(r"\b[A-Z]{2,3}\d{7,8}\b|\bK\d{6}\b")

BRANDS = ["Mr Kipling", "Dr Martens", "Dr. Martens", "Mr Bump", "Dr Pepper", "Mr Muscle", "Mr Sheen", "Dr Oetker",
          "Mr Whippy", "Miss Selfridge", "Dr. Beckmann", "Mr Men", "Mr Tom", "Mrs Crimble", "Mr Potato", "Dr Scholl",
          "Mr Freeze", "Miss Sunshine", "Miss Chatterbox"]
ROLE_OK = re.compile(r"\b(Nurse (Practitioner|Specialist|Consultant|Associate|in charge))\b")


def residual(text):
    hits = []
    for m in R_NHS.finditer(text):
        d = re.sub(r"\D", "", m.group(1))
        if nhs_valid(d):
            hits.append(("nhs_number?", m.group(1)))
    for m in R_PC.finditer(text):
        hits.append(("postcode?", m.group(0)))
    for m in R_PHONE.finditer(text):
        d = re.sub(r"\D", "", m.group(0))
        if len(d) >= 10:
            hits.append(("phone?", m.group(0)))
    for m in R_EMAIL.finditer(text):
        hits.append(("email?", m.group(0)))
    for m in R_TITLE.finditer(text):
        s = m.group(0)
        if any(text[m.start():].startswith(b) for b in BRANDS):
            continue
        if m.group(1) in ("Sister", "Nurse", "Master") and m.group(2) in ("Practitioner", "Specialist", "Associate", "Ward"):
            continue
        hits.append(("titled_name?", s))
    for m in R_TITLE_LC.finditer(text):
        if re.search(r"\d\s*$", text[:m.start()]):
            continue  # "540 ms on ..." is milliseconds
        hits.append(("titled_name(lc)?", m.group(0)))
    for m in R_DOBCUE.finditer(text):
        hits.append(("date_of_birth?", m.group(0)))
    for m in R_ADDR.finditer(text):
        hits.append(("address?", m.group(0)))
    for m in R_HOSP.finditer(text):
        hits.append(("hospital_number?", m.group(0)))
    for m in R_CODE.finditer(text):
        hits.append(("hospital_number(code)?", m.group(0)))
    return hits


def mask(text, exp):
    for e in sorted(exp, key=lambda e: -len(e["text"])):
        text = text.replace(e["text"], "§" * len(e["text"]))
    return text


def shape(v):
    v = re.sub(r"\d", "9", v)
    v = re.sub(r"[A-Z]", "A", v)
    v = re.sub(r"[a-z]", "a", v)
    return v.replace("\n", "⏎")


def fmt_stats(rows):
    st = collections.defaultdict(collections.Counter)
    for r in rows:
        ctx = r["text"]
        for e in r["expect"]:
            k, v = e["kind"], e["text"]
            if k == "nhs_number":
                i = ctx.find(v)
                before = ctx[max(0, i - 12):i]
                lab = "label" if re.search(r"nhs", before, re.I) else "no label"
                glued = "glued" if re.search(r"nhs\s*(no|number|num)?[:.#]?$", before, re.I) else ""
                st["nhs_number shape"][shape(v)] += 1
                st["nhs_number label"][lab + (" (glued)" if glued else "")] += 1
            elif k == "postcode":
                out = re.match(r"^[A-Za-z]{1,2}\d[A-Za-z\d]?", v).group(0)
                st["postcode outward shape"][re.sub(r"[A-Za-z]", "A", re.sub(r"\d", "9", out))] += 1
                sp = "no space" if " " not in v else ("double space" if "  " in v else "space")
                case = "upper" if v == v.upper() else ("lower" if v == v.lower() else "mixed")
                st["postcode spacing/case"][f"{sp}, {case}"] += 1
            elif k == "phone":
                d = re.sub(r"\D", "", v.replace("(0)", ""))
                typ = "mobile" if "7700900" in d else "landline"
                st["phone type/shape"][f"{typ}: {shape(v)}"] += 1
            elif k == "date_of_birth":
                st["date_of_birth shape"][re.sub(r"a+", "a", shape(v))] += 1
            elif k == "hospital_number":
                st["hospital_number shape"][shape(v)] += 1
            elif k == "titled_name":
                t = v.split()[0]
                if "," in v.split()[0] or (len(v.split()) > 1 and v.split()[0].endswith(",")):
                    t = "EPR SURNAME, Forename"
                st["titled_name title"][t] += 1
            elif k == "address":
                a = "flat/apartment" if re.search(r"flat|apartment|apt", v, re.I) else ("care home" if re.search(r"home|lodge|house|centre", v, re.I) else "house")
                st["address type"][a + (", multi-line" if "\n" in v else "") + (", with town" if "," in v or "\n" in v else "")] += 1
            elif k == "email":
                st["email domain"][v.split("@")[1].lower()] += 1
    return st


def load(name):
    rows = []
    path = os.path.join(DIR, name)
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as ex:
                err(f"{name}:{i}: bad JSON {ex}")
                continue
            if set(r) != {"id", "genre", "text", "expect"}:
                err(f"{name}:{i}: keys {sorted(r)}")
            rows.append(r)
    return rows


def main():
    files = {n: load(n) for n in ("positives.jsonl", "clean.jsonl", "colleagues.jsonl")}
    ids, texts = set(), set()
    kind_texts = collections.Counter()
    kind_spans = collections.Counter()
    genre = collections.defaultdict(collections.Counter)
    tpl = collections.defaultdict(collections.Counter)
    for name, rows in files.items():
        for r in rows:
            where = f"{name}:{r['id']}"
            if r["id"] in ids:
                err(f"{where}: duplicate id")
            ids.add(r["id"])
            if r["text"] in texts:
                err(f"{where}: duplicate text")
            texts.add(r["text"])
            genre[name][r["genre"]] += 1
            tpl[name][r["id"].split("-", 2)[2]] += 1
            seen = set()
            for e in r["expect"]:
                if set(e) != {"kind", "text"} or e["kind"] not in KINDS:
                    err(f"{where}: bad expect {e}")
                    continue
                if e["text"] not in r["text"]:
                    err(f"{where}: expect text not in text: {e['text']!r}")
                if not e["text"].strip() or e["text"] != e["text"].strip():
                    err(f"{where}: expect text has outer whitespace: {e['text']!r}")
                check_value(e["kind"], e["text"], where)
                if name == "positives.jsonl":
                    kind_spans[e["kind"]] += 1
                    seen.add(e["kind"])
            for k in seen:
                kind_texts[k] += 1
            if name == "positives.jsonl" and not r["expect"]:
                err(f"{where}: positive without expect")
            if name == "clean.jsonl" and r["expect"]:
                err(f"{where}: clean text with expect")
            if name == "colleagues.jsonl":
                if not r["expect"]:
                    err(f"{where}: colleague text without a name")
                for e in r["expect"]:
                    if e["kind"] != "titled_name" or not CLIN_TITLE.match(e["text"]):
                        err(f"{where}: colleague expect is not a clinician name: {e}")
            for h in residual(mask(r["text"], r["expect"])):
                warn[name].append((r["id"], h))
    brand_texts = sum(1 for r in files["clean.jsonl"] if any(b in r["text"] for b in BRANDS))

    print("== counts")
    for n, rows in files.items():
        print(f"{n}: {len(rows)} texts")
    print("\n== positive texts per kind (spans in brackets)")
    for k in KINDS:
        print(f"  {k:16s} {kind_texts[k]:5d}  ({kind_spans[k]})")
    print(f"\nclean texts mentioning a look-alike brand: {brand_texts}")
    for n in files:
        print(f"\n== genres in {n}")
        for g, v in sorted(genre[n].items(), key=lambda x: -x[1]):
            print(f"  {g:20s} {v}")
    print("\n== templates:", {n: len(tpl[n]) for n in files}, "total", sum(len(tpl[n]) for n in files))
    for n in files:
        print(f"  max per template in {n}: {max(tpl[n].values())}  min: {min(tpl[n].values())}")
    if "--formats" in sys.argv:
        for k, c in sorted(fmt_stats(files["positives.jsonl"]).items()):
            print(f"\n== {k} ({len(c)} distinct)")
            for v, n in c.most_common(40):
                print(f"  {n:5d}  {v}")
    print("\n== residual look-alikes after masking labelled spans")
    for n in files:
        c = collections.Counter(h[1][0] for h in warn[n])
        print(f"  {n}: {dict(c)}")
    if "-v" in sys.argv or os.environ.get("VERBOSE"):
        for n in files:
            for rid, h in warn[n]:
                print("   ", n, rid, h)
    if brand_texts < 50:
        err(f"only {brand_texts} brand texts in clean.jsonl")
    for k in KINDS:
        if kind_texts[k] < 300:
            err(f"only {kind_texts[k]} positive texts for {k}")
    if len(files["clean.jsonl"]) < 1000:
        err("fewer than 1000 clean texts")
    if len(files["colleagues.jsonl"]) < 150:
        err("fewer than 150 colleague texts")
    for n in ("clean.jsonl", "colleagues.jsonl"):
        if warn[n]:
            err(f"{n}: {len(warn[n])} residual identifier look-alikes (run with -v)")
    if errors:
        print(f"\n{len(errors)} ERRORS")
        for e in errors[:60]:
            print("  ", e)
        sys.exit(1)
    print("\nOK")


if __name__ == "__main__":
    main()
