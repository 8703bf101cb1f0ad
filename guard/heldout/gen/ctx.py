"""Per-text context: the random source, the patient, the clinical scenario and fragment helpers."""
import re

from core import (Id, Person, gen_hosp, bare_ok, hosp_items, nhs_items, dob_items, addr_items, fmt_pc, phone_items,
                  relative, fmt_date, recent_date, fill, wchoice)
from pools import TRUSTS, WARDS, GP_PRACTICES, HOSPITALS, GRADES, TOWNS
from core import gen_inward, gen_landline
from scenarios import S


def L(*lines):
    return "\n".join(lines)


def cap(s):
    return s[:1].upper() + s[1:]


class C:
    def __init__(self, rng, want=None, scen=None):
        self.rng = rng
        self.want = want
        self.s = scen or rng.choice(S)
        self.trust = rng.choice(TRUSTS)
        lo, hi = self.s["age"]
        age = rng.randint(lo, hi)
        sex = self.s["sex"] or rng.choice("MF")
        self.p = Person(rng, age=age, sex=sex)
        self.p.hosp = gen_hosp(rng, self.trust[1])
        if want == "postcode" and rng.random() < 0.12:
            # give the rarer central-London shapes (A9A 9AA, AA9A 9AA) a fair share
            a = self.p.address
            a.town = "London"
            a.locality, a.outward = rng.choice([x for x in TOWNS["London"] if x[1][-1].isalpha()])
            a.postcode = a.outward + " " + gen_inward(rng)
            self.p.landline = gen_landline(rng, "London")
        self._rel = None
        self._ward = rng.choice(self.s["wards"] + WARDS[:6])

    # --- control
    def inc(self, kind, prob):
        return kind == self.want or self.rng.random() < prob

    def pick(self, seq):
        return self.rng.choice(seq)

    def chance(self, p):
        return self.rng.random() < p

    def F(self, s):
        return fill(s, self.rng)

    # --- identifiers of the patient
    def nhs(self, label=None, nl=True, style=None, p=None):
        p = p or self.p
        if label is None:
            label = self.chance(0.8)
        return nhs_items(p.nhs, self.rng, label=label, nl=nl, style=style)

    def dob(self, cue=None, style=None, p=None):
        p = p or self.p
        if cue is None:
            cue = True
        return dob_items(p.dob, self.rng, cue=cue, style=style)

    def hosp(self, label=None, p=None):
        p = p or self.p
        if p.hosp is None:
            p.hosp = gen_hosp(self.rng, self.trust[1])
        if label is None:
            label = self.chance(0.75)
        if not label and not bare_ok(p.hosp):
            label = True
        return hosp_items(p.hosp, self.rng, label=label)

    def tn(self, style=None, p=None, title=None):
        return (p or self.p).tname(self.rng, style, title)

    def epr(self, style=None, p=None):
        return (p or self.p).epr(self.rng, style)

    def addr(self, p=None, **kw):
        return addr_items((p or self.p).address, self.rng, **kw)

    def pc(self, style=None, p=None):
        return Id("postcode", fmt_pc((p or self.p).address.postcode, self.rng, style))

    def mob(self, label=None, style=None, p=None):
        if label is None:
            label = self.chance(0.6)
        return phone_items((p or self.p).mobile, self.rng, label=label, style=style)

    def land(self, label=None, style=None, p=None):
        if label is None:
            label = self.chance(0.6)
        return phone_items((p or self.p).landline, self.rng, label=label, style=style)

    def phone(self, label=None, p=None):
        return self.mob(label, p=p) if self.chance(0.7) else self.land(label, p=p)

    def email(self, p=None):
        return (p or self.p).email(self.rng)

    def rel(self, kind=None):
        if self._rel is None:
            self._rel = relative(self.p, self.rng, kind)
        return self._rel

    # --- plain fragments
    @property
    def he(self):
        return "he" if self.p.sex == "M" else "she"

    @property
    def his(self):
        return "his" if self.p.sex == "M" else "her"

    @property
    def him(self):
        return "him" if self.p.sex == "M" else "her"

    def noun(self):
        a = self.p.age
        if a < 2:
            return "baby boy" if self.p.sex == "M" else "baby girl"
        if a < 13:
            return "boy" if self.p.sex == "M" else "girl"
        if a < 18:
            return "young man" if self.p.sex == "M" else "young woman"
        return self.pick(["man", "gentleman"]) if self.p.sex == "M" else self.pick(["woman", "lady"])

    def agesex(self, style=None):
        a, s = self.p.age, self.p.sex
        if a < 2:
            m = self.rng.randint(2, 11)
            return self.pick([f"{m}-month-old {self.noun()}", f"{m}/12 old {'boy' if s == 'M' else 'girl'}", f"{m}mo {s}"])
        st = style or wchoice(self.rng, [("aM", 20), ("a M", 6), ("yo", 8), ("long", 25), ("y/o", 8), ("Ma", 3),
                                         ("yr", 5)])
        full = "male" if s == "M" else "female"
        return {"aM": f"{a}{s}", "a M": f"{a} {s}", "yo": f"{a}yo {s}", "long": f"{a}-year-old {self.noun()}",
                "y/o": f"{a} y/o {full}", "Ma": f"{s} {a}", "yr": f"{a} yr old {full}"}[st]

    def ward(self):
        return self._ward

    def bed(self):
        r = self.rng
        return self.pick([f"bed {r.randint(1, 28)}", f"Bay {r.choice('ABCDEF')} bed {r.randint(1, 6)}",
                          f"side room {r.randint(1, 8)}", f"bed {r.randint(1, 28)}", f"cubicle {r.randint(1, 14)}",
                          f"B{r.randint(1, 6)}{r.choice(['', '.'])}{r.randint(1, 6)}"])

    def bedno(self):
        return str(self.rng.randint(1, 28))

    def when(self, styles=None):
        return fmt_date(recent_date(self.rng), self.rng,
                        styles=styles or [("dd/mm/yyyy", 5), ("d/m/yy", 3), ("d Mon yyyy", 3), ("d.m.yy", 2),
                                          ("DD-MON-YYYY", 1), ("d Month yyyy", 1)])

    def short_date(self):
        d = recent_date(self.rng)
        return self.pick([f"{d.day}/{d.month}", f"{d.day:02d}/{d.month:02d}", f"{d.day} {['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'][d.month-1]}"])

    def time(self):
        r = self.rng
        h, m = r.randint(0, 23), r.choice([0, 5, 10, 15, 20, 30, 40, 45, 50, 55])
        return self.pick([f"{h:02d}:{m:02d}", f"{h:02d}{m:02d}", f"{h:02d}.{m:02d}"])

    def grade(self):
        return self.pick(GRADES)

    def gp(self):
        return self.pick(GP_PRACTICES)

    def hospital(self):
        return self.pick(HOSPITALS)

    def bleep(self):
        return str(self.rng.randint(1000, 9999))

    def ext(self):
        return str(self.rng.randint(2000, 8999))

    # scenario fragments
    def dx(self):
        return self.s["dx"]

    def pcx(self):
        return self.F(self.pick(self.s["pc"]))

    def hx(self, n=1):
        return ", ".join(self.F(x) for x in self.rng.sample(self.s["hx"], min(n, len(self.s["hx"]))))

    def find(self):
        return self.F(self.pick(self.s["find"]))

    def ix(self, n=2):
        return ", ".join(self.F(x) for x in self.rng.sample(self.s["ix"], min(n, len(self.s["ix"]))))

    def mx(self, n=1, sep="; "):
        return sep.join(self.F(x) for x in self.rng.sample(self.s["mx"], min(n, len(self.s["mx"]))))

    def lesson(self):
        return self.pick(self.s["lesson"])

    def obs(self):
        r = self.rng
        lo, hi = self.s["news"]
        news = r.randint(lo, hi)
        sev = news / 10
        hr = r.randint(68, 92) + int(sev * 45)
        rr = 14 + int(sev * 14) + r.randint(0, 3)
        sats = max(84, 98 - int(sev * 8) - r.randint(0, 2))
        sbp = 132 - int(sev * 40) + r.randint(-10, 15)
        dbp = max(38, sbp - r.randint(35, 60))
        temp = round(36.6 + sev * 1.8 + r.uniform(-0.4, 0.6), 1)
        o2 = "RA" if sats > 94 and news < 6 else r.choice(["2L NC", "4L NC", "28% venturi", "35% venturi", "15L NRB", "RA"])
        avpu = "A" if news < 7 else r.choice(["A", "C", "V"])
        if self.p.age < 16:
            hr += 30
            rr += 12
        return dict(news=news, hr=hr, rr=rr, sats=sats, sbp=sbp, dbp=dbp, temp=temp, o2=o2, avpu=avpu)

    def obs_line(self, o=None):
        o = o or self.obs()
        return self.pick([
            f"HR {o['hr']}, BP {o['sbp']}/{o['dbp']}, RR {o['rr']}, sats {o['sats']}% {o['o2']}, T {o['temp']}, NEWS2 {o['news']}",
            f"NEWS2 {o['news']} (RR {o['rr']}, sats {o['sats']}% on {o['o2']}, HR {o['hr']}, BP {o['sbp']}/{o['dbp']}, temp {o['temp']})",
            f"obs: {o['hr']} / {o['sbp']}/{o['dbp']} / {o['rr']} / {o['sats']}% / {o['temp']}C, NEWS {o['news']}",
            f"P {o['hr']} BP {o['sbp']}/{o['dbp']} RR {o['rr']} SpO2 {o['sats']}% T {o['temp']} {o['avpu']}",
        ])

    def question(self):
        d = self.dx()
        return self.pick([
            f"Would you have escalated sooner?", f"Is this how your teams manage {d}?",
            f"What would you have done differently?", f"Anyone know the local guideline for {d}?",
            f"Thoughts on the {self.mx()} part?", "Was a senior review needed before the scan?",
            f"Should we have started {self.mx()} earlier?", "What's the threshold for calling outreach here?",
            "Any tips for explaining this to families?", "Would the reg have wanted a call at that point?",
        ])
