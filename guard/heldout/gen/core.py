"""Identifiers, people and the document builder used by the templates."""
import datetime as dt
import re
import unicodedata

from pools import (NAMES, ORIGIN_WEIGHTS, TOWNS, TOWN_WEIGHTS, INWARD_LETTERS, STREET_NAMES, STREET_SUFFIX,
                   HOUSE_NAMES, CARE_HOMES, BLOCKS, TRUSTS, DOMAINS)

KINDS = ["nhs_number", "date_of_birth", "postcode", "phone", "email", "hospital_number", "titled_name", "address"]
REF = dt.date(2024, 11, 1)  # "today" for ages in the corpus
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


class Id:
    """An identifier span: its kind and its exact text."""
    __slots__ = ("kind", "text")

    def __init__(self, kind, text):
        assert kind in KINDS, kind
        self.kind, self.text = kind, text


class Doc:
    """Concatenates plain text and Id spans; render() returns (text, expect)."""

    def __init__(self):
        self.parts = []

    def add(self, *items):
        for it in items:
            if it is None or it == "":
                continue
            if isinstance(it, str):
                self.parts.append((it, None))
            elif isinstance(it, Id):
                self.parts.append((it.text, it.kind))
            elif isinstance(it, (list, tuple)):
                self.add(*it)
            else:
                raise TypeError(repr(it))
        return self

    def render(self, transform=None):
        text, exp = [], []
        for s, k in self.parts:
            if transform is not None:
                s = transform(s, k)
            text.append(s)
            if k:
                e = {"kind": k, "text": s}
                if e not in exp:
                    exp.append(e)
        return "".join(text), exp


def wchoice(rng, pairs):
    tot = sum(w for _, w in pairs)
    x = rng.random() * tot
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def fill(s, rng):
    """Replace {a-b} with a random integer in [a, b], keeping zero padding."""
    def rep(m):
        a, b = m.group(1), m.group(2)
        v = rng.randint(int(a), int(b))
        return str(v).zfill(len(a)) if a.startswith("0") and len(a) > 1 else str(v)
    return re.sub(r"\{(\d+)-(\d+)\}", rep, s)


# ------------------------------------------------------------------ NHS numbers

def nhs_check(d9):
    s = sum(int(c) * w for c, w in zip(d9, range(10, 1, -1)))
    r = 11 - s % 11
    if r == 11:
        return 0
    if r == 10:
        return None
    return r


def nhs_valid(d10):
    if len(d10) != 10 or not d10.isdigit():
        return False
    c = nhs_check(d10[:9])
    return c is not None and c == int(d10[9])


def gen_nhs(rng):
    while True:
        first = wchoice(rng, [("4", 8), ("6", 3), ("7", 2), ("9", 1)])
        d9 = first + "".join(rng.choice("0123456789") for _ in range(8))
        c = nhs_check(d9)
        if c is not None:
            return d9 + str(c)


def gen_invalid10(rng, first=None):
    while True:
        d = (first or rng.choice("123456789")) + "".join(rng.choice("0123456789") for _ in range(9))
        if not nhs_valid(d):
            return d


def fmt_nhs(n, rng, nl=True, style=None):
    a, b, c = n[:3], n[3:6], n[6:]
    styles = [("sp", 34), ("plain", 20), ("dash", 8), ("dsp", 6), ("dot", 4), ("3-7", 4), ("4-3-3", 4),
              ("5-5", 3), ("sp-trail", 2)]
    if nl:
        styles.append(("nl", 14))
    style = style or wchoice(rng, styles)
    if style == "sp":
        return f"{a} {b} {c}"
    if style == "plain":
        return n
    if style == "dash":
        return f"{a}-{b}-{c}"
    if style == "dsp":
        return rng.choice([f"{a}  {b} {c}", f"{a} {b}  {c}", f"{a}  {b}  {c}"])
    if style == "dot":
        return f"{a}.{b}.{c}"
    if style == "3-7":
        return f"{a} {b}{c}"
    if style == "4-3-3":
        return f"{n[:4]} {n[4:7]} {n[7:]}"
    if style == "5-5":
        return f"{n[:5]} {n[5:]}"
    if style == "sp-trail":
        return f"{a} {b} {c[:3]} {c[3]}" if rng.random() < 0.5 else f"{a}{b} {c}"
    if style == "nl":
        return rng.choice([f"{a} {b}\n{c}", f"{a}\n{b} {c}", f"{a}{b}\n{c}"])
    raise ValueError(style)


NHS_LABELS = [("NHS no:", 10), ("NHS No.", 10), ("NHS number:", 8), ("NHS Number", 8), ("NHS#", 3), ("NHS:", 6),
              ("nhs no", 5), ("NHS no.", 6), ("NHSNo:", 2), ("NHS Number -", 3), ("nhs number", 3), ("NHS", 6),
              ("nhs", 3), ("NHS No", 4), ("NHS num", 2)]


def nhs_items(n, rng, label=True, nl=True, style=None):
    v = Id("nhs_number", fmt_nhs(n, rng, nl=nl, style=style))
    if not label:
        return [v]
    lab = wchoice(rng, NHS_LABELS)
    sep = wchoice(rng, [(" ", 10), ("", 2 if lab[-1] in ":#." else 1), ("  ", 1), (" - ", 1 if lab[-1] not in "-:#." else 0)])
    if lab in ("NHS", "nhs") and sep == "":
        sep = rng.choice(["", " "])
    return [lab + sep, v]


# ------------------------------------------------------------------ dates

def ordinal(n):
    if 11 <= n % 100 <= 13:
        return f"{n}th"
    return f"{n}" + {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


DATE_STYLES = [("dd/mm/yyyy", 22), ("d/m/yyyy", 8), ("dd/mm/yy", 6), ("dd.mm.yyyy", 5), ("d.m.yy", 4),
               ("dd-mm-yyyy", 4), ("iso", 5), ("DD-MON-YYYY", 7), ("DD-Mon-YYYY", 4), ("d Mon yyyy", 7),
               ("d Month yyyy", 7), ("ord Month yyyy", 5), ("ord of Month yyyy", 2), ("DD MON YYYY", 4),
               ("Month d, yyyy", 1), ("d/m/yy", 3), ("ddmmyyyy", 1), ("d.m.yyyy", 3), ("dd Mon yy", 2)]


def fmt_date(d, rng, style=None, styles=None):
    style = style or wchoice(rng, styles or DATE_STYLES)
    mon, Mon = MONTHS[d.month - 1], MONTHS[d.month - 1][:3]
    yy = f"{d.year % 100:02d}"
    return {
        "dd/mm/yyyy": f"{d.day:02d}/{d.month:02d}/{d.year}",
        "d/m/yyyy": f"{d.day}/{d.month}/{d.year}",
        "dd/mm/yy": f"{d.day:02d}/{d.month:02d}/{yy}",
        "dd.mm.yyyy": f"{d.day:02d}.{d.month:02d}.{d.year}",
        "dd.mm.yy": f"{d.day:02d}.{d.month:02d}.{yy}",
        "d.m.yy": f"{d.day}.{d.month}.{yy}",
        "d.m.yyyy": f"{d.day}.{d.month}.{d.year}",
        "dd-mm-yyyy": f"{d.day:02d}-{d.month:02d}-{d.year}",
        "iso": d.isoformat(),
        "DD-MON-YYYY": f"{d.day:02d}-{Mon.upper()}-{d.year}",
        "DD-Mon-YYYY": f"{d.day:02d}-{Mon}-{d.year}",
        "d Mon yyyy": f"{d.day} {Mon} {d.year}",
        "d Month yyyy": f"{d.day} {mon} {d.year}",
        "ord Month yyyy": f"{ordinal(d.day)} {mon} {d.year}",
        "ord of Month yyyy": f"{ordinal(d.day)} of {mon} {d.year}",
        "DD MON YYYY": f"{d.day:02d} {Mon.upper()} {d.year}",
        "Month d, yyyy": f"{mon} {d.day}, {d.year}",
        "d/m/yy": f"{d.day}/{d.month}/{yy}",
        "ddmmyyyy": f"{d.day:02d}{d.month:02d}{d.year}",
        "dd Mon yy": f"{d.day:02d} {Mon} {yy}",
    }[style]


DOB_CUES = [("DOB", 14), ("DOB:", 14), ("D.O.B.:", 5), ("D.O.B.", 3), ("dob", 7), ("DoB", 5), ("Date of birth:", 7),
            ("Date of Birth", 3), ("born", 5), ("b.", 4), ("DOB -", 3), ("d.o.b.", 3), ("dob:", 4), ("DOB=", 1),
            ("Born", 2)]


def dob_items(dob, rng, cue=True, style=None):
    v = Id("date_of_birth", fmt_date(dob, rng, style=style))
    if not cue:
        return [v]
    c = cue if isinstance(cue, str) else wchoice(rng, DOB_CUES)
    sep = "" if c.endswith("=") else (" " if rng.random() < 0.9 else "  ")
    return [c + sep, v]


def recent_date(rng, start=dt.date(2024, 1, 2), days=540):
    return start + dt.timedelta(days=rng.randrange(days))


# ------------------------------------------------------------------ postcodes

def gen_inward(rng):
    return str(rng.randint(0, 9)) + rng.choice(INWARD_LETTERS) + rng.choice(INWARD_LETTERS)


def pc_format(outward):
    shape = re.sub(r"[A-Z]", "A", re.sub(r"\d", "9", outward))
    return shape + " 9AA"


def fmt_pc(pc, rng, style=None):
    out, inw = pc.split(" ")
    style = style or wchoice(rng, [("up", 62), ("lower", 10), ("nospace", 10), ("dsp", 7), ("lower-nospace", 4),
                                   ("title", 3), ("lower-dsp", 2)])
    return {"up": pc, "lower": pc.lower(), "nospace": out + inw, "dsp": out + "  " + inw,
            "lower-nospace": (out + inw).lower(), "title": out[0] + out[1:].lower() + " " + inw.lower(),
            "lower-dsp": (out + "  " + inw).lower()}[style]


# ------------------------------------------------------------------ phones

LANDLINE = {"Leeds": ("0113", "496"), "Sheffield": ("0114", "496"), "Nottingham": ("0115", "496"),
            "Leicester": ("0116", "496"), "Bristol": ("0117", "496"), "Birmingham": ("0121", "496"),
            "Edinburgh": ("0131", "496"), "Glasgow": ("0141", "496"), "Liverpool": ("0151", "496"),
            "Manchester": ("0161", "496"), "London": ("020", "7946"), "Cardiff": ("029", "2018"),
            "Belfast": ("028", "9018")}


def gen_mobile(rng):
    return ("07700", "900" + f"{rng.randint(0, 999):03d}")


def gen_landline(rng, town):
    if town in LANDLINE:
        area, pre = LANDLINE[town]
        return (area, pre + "0" + f"{rng.randint(0, 999):03d}")
    return ("01632", "960" + f"{rng.randint(0, 999):03d}")


def fmt_phone(ph, rng, style=None):
    area, local = ph
    intl = area[1:]
    if area == "07700":
        style = style or wchoice(rng, [("std", 30), ("plain", 15), ("dash3", 5), ("sp3", 8), ("intl", 10),
                                       ("intlplain", 6), ("intl0", 4), ("0044", 3), ("paren", 3), ("odd", 2),
                                       ("dsp", 2)])
        return {"std": f"{area} {local}", "plain": area + local, "dash3": f"{area}-{local[:3]}-{local[3:]}",
                "sp3": f"{area} {local[:3]} {local[3:]}", "intl": f"+44 {intl} {local}",
                "intlplain": f"+44{intl}{local}", "intl0": f"+44 (0){intl} {local}", "0044": f"0044 {intl} {local}",
                "paren": f"({area}) {local}", "odd": f"{(area + local)[:3]} {(area + local)[3:7]} {(area + local)[7:]}",
                "dsp": f"{area}  {local}"}[style]
    if len(area) == 4:  # 0113 496 0123
        style = style or wchoice(rng, [("paren", 12), ("std", 18), ("loc7", 8), ("plain", 6), ("dash", 4),
                                       ("intl", 5), ("intl0", 2), ("hy", 2)])
        return {"paren": f"({area}) {local[:3]} {local[3:]}", "std": f"{area} {local[:3]} {local[3:]}",
                "loc7": f"{area} {local}", "plain": area + local, "dash": f"{area}-{local[:3]}-{local[3:]}",
                "intl": f"+44 {intl} {local[:3]} {local[3:]}", "intl0": f"+44 (0){intl} {local[:3]} {local[3:]}",
                "hy": f"{area} {local[:3]}-{local[3:]}"}[style]
    if len(area) == 3:  # 020 7946 0018
        style = style or wchoice(rng, [("std", 20), ("paren", 8), ("wrong", 6), ("plain", 5), ("intl", 5),
                                       ("dash", 3)])
        return {"std": f"{area} {local[:4]} {local[4:]}", "paren": f"({area}) {local[:4]} {local[4:]}",
                "wrong": f"{area}{local[0]} {local[1:4]} {local[4:]}", "plain": area + local,
                "intl": f"+44 {intl} {local[:4]} {local[4:]}", "dash": f"{area}-{local[:4]}-{local[4:]}"}[style]
    style = style or wchoice(rng, [("std", 10), ("paren", 4), ("plain", 3), ("intl", 2)])
    return {"std": f"{area} {local}", "paren": f"({area}) {local}", "plain": area + local,
            "intl": f"+44 {intl} {local}"}[style]


PHONE_LABELS = [("Tel:", 10), ("tel:", 6), ("Tel", 4), ("Mob:", 8), ("mob", 6), ("Mobile:", 6), ("M:", 2), ("Ph:", 3),
                ("Phone:", 4), ("phone", 3), ("Contact no:", 3), ("Tel no.", 2), ("T:", 1), ("Home:", 2), ("📞", 1)]


def phone_items(ph, rng, label=True, style=None):
    v = Id("phone", fmt_phone(ph, rng, style))
    if not label:
        return [v]
    lab = label if isinstance(label, str) else wchoice(rng, PHONE_LABELS)
    return [lab + ("" if lab.endswith(":") and rng.random() < 0.15 else " "), v]


# ------------------------------------------------------------------ people

FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "ı": "i", "ß": "ss"})


def ascii_fold(s):
    s = s.translate(FOLD)
    s = unicodedata.normalize("NFKD", s)
    return "".join(ch for ch in s if not unicodedata.combining(ch))


def cap_surname_upper(s):
    return s.upper()


class Address:
    def __init__(self, rng, town=None, age=60):
        self.town = town or wchoice(rng, list(TOWN_WEIGHTS.items()))
        self.locality, self.outward = rng.choice(TOWNS[self.town])
        self.postcode = self.outward + " " + gen_inward(rng)
        self.num = str(rng.randint(1, 160)) + (rng.choice("abc") if rng.random() < 0.08 else "")
        self.street_name = rng.choice(STREET_NAMES)
        self.suffix = rng.choice(STREET_SUFFIX)
        self.kind = wchoice(rng, [("house", 55), ("flat", 16), ("apartment", 5), ("housename", 5), ("carehome", 12 if age >= 75 else 0),
                                  ("block", 6), ("glasgow", 4 if self.town in ("Glasgow", "Edinburgh") else 0),
                                  ("floor", 3)])
        self.flat = str(rng.randint(1, 40)) if rng.random() < 0.8 else rng.choice("ABCD")
        self.gflat = f"{rng.randint(0, 4)}/{rng.randint(1, 3)}"
        self.housename = rng.choice(HOUSE_NAMES)
        self.carehome = rng.choice(CARE_HOMES)
        self.block = rng.choice(BLOCKS)
        self.room = str(rng.randint(1, 40))

    def street(self, abbrev=False):
        return f"{self.street_name} {self.suffix[1] if abbrev else self.suffix[0]}"

    def line1(self, rng, abbrev=None):
        if abbrev is None:
            abbrev = rng.random() < 0.2
        st = self.street(abbrev)
        k = self.kind
        if k == "house":
            return f"{self.num} {st}"
        if k == "flat":
            return rng.choice([f"Flat {self.flat}, {self.num} {st}", f"Flat {self.flat} {self.num} {st}",
                               f"flat {self.flat}, {self.num} {st}"])
        if k == "apartment":
            return rng.choice([f"Apartment {self.flat}, {self.num} {st}", f"Apt {self.flat}, {self.block}, {st}",
                               f"Apt. {self.flat} {self.num} {st}"])
        if k == "housename":
            return f"{self.housename}, {st}"
        if k == "carehome":
            return rng.choice([f"{self.carehome}, {self.num} {st}", f"Room {self.room}, {self.carehome}, {self.num} {st}"])
        if k == "block":
            return f"{self.flat} {self.block}, {st}" if self.flat.isdigit() else f"Flat {self.flat}, {self.block}, {st}"
        if k == "glasgow":
            return f"Flat {self.gflat}, {self.num} {st}"
        if k == "floor":
            return rng.choice([f"First floor flat, {self.num} {st}", f"Ground floor, {self.num} {st}",
                               f"Basement flat, {self.num} {st}"])
        raise ValueError(k)


def addr_items(a, rng, town=None, locality=None, pc=None, multiline=False, lower=False, pc_style=None,
               abbrev=None):
    """Street address span (line1 [+ locality] [+ town]) as kind address, postcode separate."""
    if town is None:
        town = rng.random() < 0.65
    if locality is None:
        locality = bool(a.locality) and rng.random() < 0.3
    if pc is None:
        pc = rng.random() < 0.6
    sep = "\n" if multiline else rng.choice([", ", ", ", ", ", " ", ",  "]) if not multiline else "\n"
    if not multiline and sep == " ":
        sep = ", "
    parts = [a.line1(rng, abbrev)]
    if locality and a.locality:
        parts.append(a.locality)
    if town:
        parts.append(a.town.upper() if (multiline and rng.random() < 0.3) else a.town)
    s = sep.join(parts)
    if lower:
        s = s.lower()
    items = [Id("address", s)]
    if pc:
        psep = "\n" if multiline else (wchoice(rng, [(" ", 5), (", ", 4), ("  ", 1)]) if town else ", ")
        p = fmt_pc(a.postcode, rng, pc_style)
        items += [psep, Id("postcode", p.lower() if lower else p)]
    return items


TITLES_M = [("Mr", 88), ("Mr.", 3), ("Prof.", 2), ("Prof", 1), ("Rev", 1), ("Revd", 1), ("Mx", 2), ("Capt.", 0.5)]
TITLES_F = [("Mrs", 48), ("Ms", 22), ("Miss", 18), ("Mrs.", 2), ("Mx", 2), ("Prof.", 2), ("Professor", 1), ("Rev", 1)]
SENIOR_TITLES = ("Prof.", "Prof", "Professor", "Rev", "Revd", "Capt.")


class Person:
    def __init__(self, rng, age=None, sex=None, origin=None, surname_from=None, town=None, address=None):
        self.origin = origin or wchoice(rng, list(ORIGIN_WEIGHTS.items()))
        self.sex = sex or rng.choice("MF")
        ms, fs, ss = NAMES[self.origin]
        self.first = rng.choice(ms if self.sex == "M" else fs)
        self.first2 = rng.choice(ms if self.sex == "M" else fs) if rng.random() < 0.25 else None
        if self.first2 == self.first:
            self.first2 = None
        if surname_from is not None:
            self.surname_raw = surname_from.surname_raw
        else:
            self.surname_raw = rng.choice(ss)
        if isinstance(self.surname_raw, tuple):
            self.last = self.surname_raw[0] if self.sex == "M" else self.surname_raw[1]
        else:
            self.last = self.surname_raw
        if self.origin == "bangladeshi" and self.last == "Begum" and self.sex == "M":
            self.last = "Miah"
        self.age = age if age is not None else rng.randint(18, 95)
        days = rng.randint(0, 364)
        try:
            base = REF.replace(year=REF.year - self.age)
        except ValueError:
            base = REF.replace(year=REF.year - self.age, day=28)
        self.dob = base - dt.timedelta(days=days + 1)
        if self.age < 13:
            self.title = "Master" if self.sex == "M" else "Miss"
        elif self.age < 18:
            self.title = "Mr" if self.sex == "M" else "Miss"
        else:
            self.title = wchoice(rng, TITLES_M if self.sex == "M" else TITLES_F)
            if self.age < 45 and self.title in SENIOR_TITLES:
                self.title = "Mr" if self.sex == "M" else "Ms"
        self.nhs = gen_nhs(rng)
        self.address = address or Address(rng, town, self.age)
        self.mobile = gen_mobile(rng)
        self.landline = gen_landline(rng, self.address.town)
        self._email = None
        self.hosp = None

    # names ------------------------------------------------------------
    def tname(self, rng, style=None, title=None):
        t = title or self.title
        st = style or wchoice(rng, [("full", 38), ("last", 30), ("init", 8), ("initdot", 5), ("LAST", 5),
                                    ("fullLAST", 5), ("lower", 5), ("lowerfull", 4), ("UPPER", 2)])
        f, l = self.first, self.last
        s = {"full": f"{t} {f} {l}", "last": f"{t} {l}", "init": f"{t} {f[0]} {l}", "initdot": f"{t} {f[0]}. {l}",
             "LAST": f"{t} {l.upper()}", "fullLAST": f"{t} {f} {l.upper()}", "lower": f"{t} {l}".lower(),
             "lowerfull": f"{t} {f} {l}".lower(), "UPPER": f"{t} {f} {l}".upper()}[st]
        return Id("titled_name", s)

    def epr(self, rng, style=None):
        st = style or wchoice(rng, [("UP", 50), ("Title", 15), ("UPmid", 12), ("UPboth", 8), ("nospace", 5),
                                    ("UPtitle", 10)])
        f, l = self.first, self.last
        mid = f" {self.first2}" if self.first2 else ""
        if st == "UP":
            return [Id("titled_name", f"{l.upper()}, {f}")]
        if st == "Title":
            return [Id("titled_name", f"{l}, {f}")]
        if st == "UPmid":
            return [Id("titled_name", f"{l.upper()}, {f}{mid}")]
        if st == "UPboth":
            return [Id("titled_name", f"{l.upper()}, {f.upper()}")]
        if st == "nospace":
            return [Id("titled_name", f"{l.upper()},{f}")]
        return [Id("titled_name", f"{l.upper()}, {f}"), f" ({self.title.rstrip('.')})"]

    # contact ------------------------------------------------------------
    def email(self, rng):
        if self._email is None:
            f, l = ascii_fold(self.first), ascii_fold(self.last)
            lc = re.sub(r"[^A-Za-z-]", "", l)
            dom = wchoice(rng, DOMAINS)
            yy = f"{self.dob.year % 100:02d}"
            pat = wchoice(rng, [("f.l", 25), ("fl", 10), ("i.l", 10), ("f_l", 5), ("f.l+tag", 4), ("lfyy", 6),
                                ("Cap", 10), ("fl99", 8), ("f.l.yyyy", 4), ("UPPER", 2), ("nick", 5)])
            s = {"f.l": f"{f}.{lc}".lower(), "fl": f"{f}{lc}".lower(), "i.l": f"{f[0]}.{lc}".lower(),
                 "f_l": f"{f}_{lc}".lower(), "f.l+tag": f"{f}.{lc}+{rng.choice(['nhs', 'gp', 'hospital', 'mum', 'appts'])}".lower(),
                 "lfyy": f"{lc}{f[0]}{yy}".lower(), "Cap": f"{f[0]}.{lc}", "fl99": f"{f.lower()}{lc.lower()}{rng.randint(1, 99)}",
                 "f.l.yyyy": f"{f}.{lc}.{self.dob.year}".lower(), "UPPER": f"{f}.{lc}".upper(),
                 "nick": f"{rng.choice(['mum', 'nana', 'big', 'the', 'its', 'mrs', 'lil'])}{lc.lower()}{rng.randint(1, 999)}"}[pat]
            if dom == "nhs.net":
                s = f"{f}.{lc}".lower() + (str(rng.randint(1, 9)) if rng.random() < 0.3 else "")
            if pat == "Cap" and rng.random() < 0.5:
                dom = dom[0].upper() + dom[1:]
            if pat == "UPPER":
                dom = dom.upper()
            self._email = f"{s}@{dom}"
        return Id("email", self._email)


def relative(p, rng, rel=None):
    if rel is None and p.age < 18:
        rel = rng.choice(["mum", "mum", "dad"])
    rel = rel or wchoice(rng, [("daughter", 22), ("son", 18), ("wife", 14), ("husband", 10), ("partner", 6),
                               ("mum", 6), ("dad", 3), ("niece", 4), ("nephew", 3), ("brother", 3), ("granddaughter", 4),
                               ("neighbour", 2), ("carer", 2)])
    sex = {"daughter": "F", "son": "M", "wife": "F", "husband": "M", "mum": "F", "dad": "M", "niece": "F",
           "nephew": "M", "brother": "M", "granddaughter": "F"}.get(rel, rng.choice("MF"))
    if rel in ("daughter", "son", "niece", "nephew"):
        age = max(18, p.age - rng.randint(22, 38)) if p.age > 40 else rng.randint(18, 30)
    elif rel in ("granddaughter",):
        age = max(16, p.age - rng.randint(45, 60))
    elif rel in ("mum", "dad"):
        age = p.age + rng.randint(20, 38)
    else:
        age = max(18, p.age + rng.randint(-8, 8))
    same = rel in ("son", "wife", "husband", "mum", "dad", "brother") or (rel == "daughter" and rng.random() < 0.5)
    r = Person(rng, age=age, sex=sex, origin=p.origin, surname_from=p if same else None,
               address=p.address if rel in ("wife", "husband", "partner", "mum", "dad") else None)
    if r.age >= 18 and r.title in ("Master",):
        r.title = "Mr"
    if r.title == "Miss" and r.age >= 18 and rng.random() < 0.5:
        r.title = "Ms"
    r.rel = rel
    return r


# ------------------------------------------------------------------ hospital numbers

HOSP_SCHEMES = {
    "mrn": (["MRN", "MRN:", "MRN -", "mrn", "MRN no.", "MRN#", "MRN no"], 18),
    "hospno": (["Hospital no.", "Hospital No:", "Hosp no", "Hosp No.", "hosp no", "Hospital number", "Hosp#",
                "Hosp no:", "Hosp. No.", "hosp no."], 26),
    "crn": (["CRN", "CRN:", "CR No.", "crn", "CRN no."], 8),
    "rm": (["RM no.", "RM No:", "RM number", "RM no"], 5),
    "unit": (["Unit no.", "Unit No:", "Unit number", "unit no", "Unit No."], 7),
    "hospid": (["Hosp ID", "Hosp ID:", "Hospital ID", "Hospital ID:", "Hosp Id"], 6),
    "casenote": (["Case note no.", "Casenote no:", "Case notes no.", "Case note number", "CN no."], 5),
    "knum": (["K number", "K no.", "K no:", "K#"], 6),
    "trustno": (["{T} no.", "{T} no:", "{T} number", "{T} No"], 6),
}


def gen_hosp(rng, trust_code):
    scheme = wchoice(rng, [(k, v[1]) for k, v in HOSP_SCHEMES.items()])
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))
    if scheme == "mrn":
        v = str(rng.randint(1, 9)) + digits(rng.choice([6, 7, 7]))
    elif scheme == "hospno":
        sub = wchoice(rng, [("prefix", 5), ("letter", 3), ("spaced", 2), ("digits", 2)])
        if sub == "prefix":
            v = trust_code + digits(7)
        elif sub == "letter":
            v = rng.choice("MDAHSPRTW") + digits(rng.choice([6, 7]))
        elif sub == "spaced":
            v = f"{rng.choice('HMD')} {digits(3)} {digits(3)}"
        else:
            v = digits(rng.choice([6, 7]))
    elif scheme == "crn":
        v = rng.choice([str(rng.randint(1, 9)) + digits(7), "C" + digits(7)])
    elif scheme == "rm":
        v = rng.choice(["0" + digits(6), digits(6)])
    elif scheme == "unit":
        v = rng.choice([digits(7), "U" + digits(6), digits(6)])
    elif scheme == "hospid":
        v = rng.choice("SABJ") + digits(7)
    elif scheme == "casenote":
        v = rng.choice([rng.choice("ABCDW") + digits(6), digits(7) + rng.choice("XAB"), f"{digits(4)}/{digits(4)}"])
    elif scheme == "knum":
        v = "K" + digits(6)
    else:
        v = rng.choice([trust_code + digits(7), digits(7)])
    return {"scheme": scheme, "value": v, "trust": trust_code}


def bare_ok(h):
    """Whether a hospital number is recognisable without its label."""
    v = h["value"]
    return bool(re.match(r"^[A-Z]{2,3}\d?\d{7}$", v)) or bool(re.match(r"^[A-Z] \d{3} \d{3}$", v)) or v.startswith("K")


def hosp_items(h, rng, label=True):
    v = Id("hospital_number", h["value"])
    if not label:
        return [v]
    lab = label if isinstance(label, str) else rng.choice(HOSP_SCHEMES[h["scheme"]][0]).replace("{T}", h["trust"])
    sep = " " if not lab.endswith(":") or rng.random() < 0.85 else ""
    if rng.random() < 0.04:
        sep = "  "
    return [lab + sep, v]
