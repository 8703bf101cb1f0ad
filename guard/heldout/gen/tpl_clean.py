"""Clean templates: realistic clinical teaching text with no patient identifier of any kind.

They contain the things a detector must NOT flag: ages, anonymised descriptions, drug doses, lab values,
obs, scores, ward and bed numbers, bleeps, extensions, times, admission/clinic/start dates, eponyms,
specimen accession codes, invalid 10-digit reference numbers, roles without names, and brand names
that look like titled names (Mr Kipling, Dr Martens ...).
"""
import datetime as dt

from core import Doc, fmt_date, recent_date, gen_invalid10, wchoice
from ctx import L, cap

CLEAN = []


def clean(genre):
    def deco(f):
        CLEAN.append((f.__name__, genre, f))
        return f
    return deco


def D(*items):
    return Doc().add(*items)


def adm(c):
    return fmt_date(recent_date(c.rng), c.rng, styles=[("dd/mm/yyyy", 5), ("d/m/yy", 3), ("d Mon yyyy", 3), ("d.m.yy", 2),
                                                       ("DD-MON-YYYY", 1), ("d Month yyyy", 1), ("dd/mm/yy", 2)])


def span(c, part=None):
    """A date range (start before end); part='from'/'to' returns one end of a range remembered on c."""
    if not hasattr(c, "_span"):
        a = recent_date(c.rng, days=480)
        b = a + dt.timedelta(days=c.rng.randint(3, 60))
        st = c.pick([("dd/mm/yyyy", 1), ("d Mon yyyy", 1), ("d.m.yy", 1)])
        c._span = (fmt_date(a, c.rng, st[0]), fmt_date(b, c.rng, st[0]))
    if part == "from":
        return c._span[0]
    if part == "to":
        return c._span[1]
    return f"{c._span[0]} to {c._span[1]}"


def day(c):
    return c.pick(["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"])


def room(c):
    return c.pick(["Seminar Room 2", "the Education Centre, Room 4", "Lecture Theatre 1", "the sim suite", "Teams",
                   "the doctors' mess", "Boardroom B", "the Clinical Skills Lab", "Level 5 seminar room",
                   "the library training room", "MS Teams (link in the calendar invite)"])


def topic(c):
    return c.pick(["ABG interpretation", "sepsis recognition", "acute kidney injury", "DKA and HHS", "ECGs for beginners",
                   "breaking bad news", "fluid prescribing", "the deteriorating patient", "anticoagulation reversal",
                   "delirium", "chest X-rays", "falls in older people", "hyperkalaemia", "safe insulin prescribing",
                   "paediatric sepsis", "capacity and consent", "end-of-life prescribing", "blood transfusion",
                   "head injury and anticoagulants", "acute asthma", "PE in pregnancy", "pain management",
                   "syringe drivers", "NIV basics", "chest drains", "trauma primary survey", "DNACPR conversations"])


# ------------------------------------------------------------------ case discussions

@clean("case_discussion")
def case_q(c):
    return D(c.pick(["Interesting one from ", "Case from ", "Learning from ", "Sharing a case from "]), c.ward(),
             c.pick([" last night: ", " this week: ", " on my on-call: ", ": "]),
             f"{c.agesex('long')} with {c.pcx()}. Background: {c.hx(2)}. {cap(c.obs_line())}. ",
             f"Bloods: {c.ix(3)}. {c.pick(['Plan', 'Management', 'What we did'])}: {c.mx()}. {c.question()}")


@clean("case_presentation")
def case_structured(c):
    return D(f"**Case** – {c.agesex()}\n\n**PC:** {c.pcx()}\n**PMH:** {c.hx(2)}\n**O/E:** {c.find()}; {c.obs_line()}\n",
             f"**Ix:** {c.ix(3)}\n**Dx:** {c.dx()}\n**Mx:** {c.mx(2)}\n\n**Learning points**\n- {cap(c.lesson())}\n",
             c.pick(["- Escalate early\n", "- Document your reasoning\n", f"- Re-read the trust guideline on {c.dx()}\n", ""]))


@clean("case_presentation")
def case_oneliner(c):
    return D(f"{c.agesex()}, {c.dx()}. {cap(c.pcx())}. {c.ix(2)}. {cap(c.mx())}. ",
             c.pick(["Nice example of why you check the basics.", "Classic.", "Wasn't what we expected.",
                     f"Reg said {c.lesson()}.", "Discussed at M&M."]))


@clean("case_discussion")
def case_teaching_point(c):
    age = c.p.age
    return D(c.pick(["Teaching point: ", "Pearl: ", "Today I learnt: ", "TIL: "]),
             f"in a {c.pick(['patient', 'person'])} like our {age}-year-old with {c.dx()}, {c.lesson()}. ",
             c.pick(["Worth remembering on nights.", "Would love other people's experience.",
                     "The NICE guidance is worth a read.", "Ask pharmacy if unsure (ext " + c.ext() + ")."]))


# ------------------------------------------------------------------ handover

@clean("handover_sbar")
def sbar_anon(c):
    o = c.obs()
    lab = c.pick([("S: ", "B: ", "A: ", "R: "), ("Situation: ", "Background: ", "Assessment: ", "Recommendation: ")])
    return D(lab[0], f"{c.bed()} on {c.ward()}, {c.agesex('aM')}, NEWS2 up to {o['news']}.\n",
             lab[1], f"Admitted {adm(c)} with {c.dx()}; {c.hx(1)}.\n",
             lab[2], f"{c.obs_line(o)}. {cap(c.find())}.\n",
             lab[3], c.pick([f"Please review within 30 min, bleep {c.bleep()}.", f"Repeat gas at {c.time()}.",
                             "Escalating to the reg.", f"Discuss ceiling of care in the morning."]))


@clean("handover_sbar")
def handover_list_anon(c):
    d = D(c.pick([f"{c.ward()} – night jobs\n", "Handover\n", f"Weekend jobs ({c.ward()})\n", "Bay B\n"]))
    bullet = c.pick(["- ", "• ", "num"])
    beds = sorted(c.rng.sample(range(1, 29), 6))
    for i in range(c.rng.randint(3, 6)):
        a = c.rng.randint(19, 99)
        d.add(f"{i + 1}. " if bullet == "num" else bullet, f"Bed {beds[i]}: {a}{c.pick('MF')} ",
              c.pick(["CAP day 2, chase CRP", "AKI, repeat U&Es at 22:00", "NOF post-op, check Hb", "for EOL, family aware",
                      "K 5.9 - recheck", "new AF, rate 110s", "DKA on FRIII, hourly CBG", "falls risk", "needs cannula",
                      "TTO to write", "delirium, 4AT 7", "UO < 0.5 mL/kg/h", "sats 91% on 2 L, known COPD",
                      "INR 5.2 on warfarin – omit and recheck", "syringe driver started 14:00"]), "\n")
    d.add(c.pick(["", f"Bleep {c.bleep()} if problems.", "Thanks all x", f"Reg on tonight: bleep {c.bleep()}"]))
    return d


@clean("handover_sbar")
def night_msg_anon(c):
    return D(c.pick(["pls review ", "can someone see ", "FYI: ", "heads up – "]), f"{c.bed()} {c.ward()} ",
             c.pick(["trop due at 2am", "K 6.1 on the gas", "spiked 38.9", "new confusion", "sats dropping", "fell at 0300",
                     "UO poor since 8pm", "chest pain, ECG done"]),
             c.pick([" thx", "", f" – bleep {c.bleep()}", f", I'm in ED till 3", " ta"])), None


@clean("handover_sbar")
def ward_board(c):
    return D(f"{c.ward()} today: {c.rng.randint(18, 32)} beds, {c.rng.randint(0, 4)} side rooms free, {c.rng.randint(0, 6)} discharges planned, ",
             f"{c.rng.randint(0, 3)} DoLS in place. {c.pick(['Norovirus bay closed.', 'No isolation issues.', 'Bay C cohorted for COVID.'])} ",
             f"Board round {c.pick(['0830', '08:30', '9am', '0900'])}, MDT {c.pick(['1300', '13:00', '1pm', '1400'])}. ",
             c.pick([f"Coordinator bleep {c.bleep()}.", f"Bed manager ext {c.ext()}.", "Staffing: 1 RN short on lates."]))


# ------------------------------------------------------------------ reflection

@clean("reflection")
def refl_anon(c):
    return D(c.pick([f"I was the {c.pick(['FY1', 'FY2', 'SHO', 'F1'])} on nights when ", "On my first on-call weekend, ",
                     "During a busy late shift, ", "As a student nurse on placement, "]),
             f"a {c.p.age}-year-old {c.noun()} on {c.ward()} became unwell with {c.pcx()}. {cap(c.obs_line())}. ",
             c.pick(["I felt out of my depth. ", "I hesitated before calling for help. ", "The HCA noticed first. ",
                     "I remembered the ABCDE approach. "]),
             f"{c.pick(['Management', 'What we did', 'Plan'])}: {c.mx(2)}. On reflection, {c.lesson()}. ",
             c.pick(["Next time I will escalate sooner.", "I've since read the guideline.", "I discussed this with my supervisor.",
                     "This is going in my portfolio as a learning event."]))


@clean("reflection")
def refl_gibbs_anon(c):
    return D("**What happened?**\n", f"I clerked a {c.agesex('long')} with {c.dx()}.\n\n",
             f"**How did I feel?**\n{c.pick(['Anxious', 'Overwhelmed', 'Reassured once the reg arrived', 'Frustrated by delays'])}.\n\n",
             f"**What went well / less well?**\n{cap(c.mx())} was given promptly; the handover was rushed.\n\n",
             f"**What did I learn?**\n{cap(c.lesson())}.\n\n**Action plan**\n",
             c.pick(["Book onto the sim session.", "Read the NICE guideline.", "Practise SBAR with my supervisor.",
                     f"Attend the {topic(c)} teaching on {day(c)}."]))


@clean("reflection")
def refl_team(c):
    return D(c.pick(["Reflection on a cardiac arrest call: ", "Reflection after a difficult conversation: ",
                     "Reflection on a medication error: ", "Reflection on a Datix I submitted: "]),
             c.pick([f"the team worked well but roles weren't clear at first. ", "I gave the wrong dose of enoxaparin (weight not checked). ",
                     f"a family member was upset about the delay in pain relief. ", "the escalation took 40 minutes because the bleep system was down. "]),
             c.pick(["The debrief helped.", "I have changed how I check weights.", "We now have a huddle at 20:00.",
                     "My educational supervisor signed this off."]))


# ------------------------------------------------------------------ tables

@clean("markdown_table")
def obs_table(c):
    d = D(c.pick([f"Obs for bed {c.bedno()} overnight:\n\n", "Trend below – worried?\n\n", f"{c.agesex()}, {c.dx()}\n\n",
                  "**Obs**\n\n"]), "| Time | HR | BP | RR | SpO2 | Temp | NEWS2 |\n|---|---|---|---|---|---|---|\n")
    for _ in range(c.rng.randint(3, 6)):
        o = c.obs()
        d.add(f"| {c.time()} | {o['hr']} | {o['sbp']}/{o['dbp']} | {o['rr']} | {o['sats']}% | {o['temp']} | {o['news']} |\n")
    d.add(c.pick(["", f"\n{c.question()}", "\nWhen would you call outreach?"]))
    return d


@clean("markdown_table")
def bloods_trend(c):
    d0 = recent_date(c.rng)
    days = [d0 + dt.timedelta(days=k) for k in sorted(c.rng.sample(range(0, 6), 3))]
    d = D(f"{c.agesex()} admitted {fmt_date(days[0], c.rng, 'dd/mm/yyyy')} with {c.dx()}:\n\n",
          "| | " + " | ".join(f"{x.day:02d}/{x.month:02d}" for x in days) + " |\n|---|---|---|---|\n")
    for row in c.rng.sample(["Hb", "WCC", "Plt", "Na", "K", "Urea", "Creat", "CRP", "Alb", "Bili", "ALT", "INR"], 6):
        lo, hi = {"Hb": (70, 150), "WCC": (3, 25), "Plt": (60, 480), "Na": (118, 146), "K": (3, 7), "Urea": (3, 30),
                  "Creat": (50, 500), "CRP": (2, 330), "Alb": (20, 42), "Bili": (4, 60), "ALT": (8, 400), "INR": (1, 5)}[row]
        d.add(f"| {row} | " + " | ".join(str(c.rng.randint(lo, hi)) for _ in days) + " |\n")
    d.add(c.pick(["", "\nIs the creatinine trend reassuring?", "\nAnyone know why the ALT would do that?"]))
    return d


@clean("markdown_table")
def drug_chart(c):
    meds = [("Co-amoxiclav", "1.2 g", "IV", "TDS"), ("Clarithromycin", "500 mg", "PO", "BD"), ("Enoxaparin", "40 mg", "SC", "OD"),
            ("Paracetamol", "1 g", "PO", "QDS"), ("Morphine sulfate", "2.5-5 mg", "SC", "PRN 2-hourly"), ("Furosemide", "40 mg", "IV", "BD"),
            ("Apixaban", "5 mg", "PO", "BD"), ("Insulin glargine", "18 units", "SC", "OD 22:00"), ("Gentamicin", "5 mg/kg", "IV", "OD"),
            ("Ondansetron", "4 mg", "IV", "TDS PRN"), ("Levetiracetam", "500 mg", "PO", "BD"), ("Salbutamol", "5 mg", "NEB", "QDS"),
            ("Prednisolone", "40 mg", "PO", "OM"), ("Pabrinex I+II", "2 pairs", "IV", "TDS"), ("Chlordiazepoxide", "20 mg", "PO", "QDS")]
    d = D(c.pick(["Drug chart check:\n\n", "Current meds (anonymised):\n\n", "Is this chart right?\n\n"]),
          "| Drug | Dose | Route | Frequency |\n|---|---|---|---|\n")
    for m in c.rng.sample(meds, c.rng.randint(3, 6)):
        d.add("| " + " | ".join(m) + " |\n")
    d.add(c.pick(["", f"\nWeight {c.rng.randint(45, 120)} kg, eGFR {c.rng.randint(18, 90)}.", "\nPharmacy ext " + c.ext() + " for queries."]))
    return d


@clean("markdown_table")
def news2_table(c):
    return D("NEWS2 quick reference\n\n| Parameter | 3 | 2 | 1 | 0 |\n|---|---|---|---|---|\n",
             "| RR | ≤8 or ≥25 | – | 9-11 | 12-20 |\n| SpO2 (scale 1) | ≤91 | 92-93 | 94-95 | ≥96 |\n",
             "| Systolic BP | ≤90 or ≥220 | 91-100 | 101-110 | 111-219 |\n| Pulse | ≤40 or ≥131 | 111-130 | 41-50 or 91-110 | 51-90 |\n",
             "| Temp | ≤35.0 | ≥39.1 | 35.1-36.0 or 38.1-39.0 | 36.1-38.0 |\n",
             c.pick(["\nNew confusion scores 3.", "\nScore of 5+ = urgent response.", "\nA single 3 needs a doctor review.", ""]))


# ------------------------------------------------------------------ notices, rota, admin

@clean("teaching_notice")
def teaching_notice(c):
    d = recent_date(c.rng)
    return D(c.pick(["Teaching this ", "Reminder: ", "F1 teaching ", "Core trainee teaching "]),
             f"{d.strftime('%A')} {fmt_date(d, c.rng, c.pick(['d Month yyyy', 'd Mon yyyy', 'dd/mm/yyyy']))}, ",
             c.pick(["12:30–13:30", "13:00-14:00", "1-2pm", "08:00", "17:30 - 19:00"]), f", {room(c)}. Topic: {topic(c)}. ",
             c.pick(["Lunch provided.", "Bleep-free time – please hand your bleep to the coordinator.", "Counts for 1 CPD hour.",
                     f"If lost, bleep {c.bleep()}.", f"Ring ext {c.ext()} if you can't make it.", "Feedback form at the end."]))


@clean("rota")
def rota_swap(c):
    return D(c.pick(["Can anyone swap ", "Looking to swap ", "Anyone free to cover "]),
             c.pick(["my long day", "a night", "my twilight", "the weekend on-call", "an AMU late"]),
             f" on {c.short_date()}? ", c.pick(["Can offer ", "Will give you "]),
             c.pick(["a night in March", "any weekday", f"the {c.short_date()} long day", "cake"]), ". ",
             c.pick(["Rota coordinator is ok with it.", f"Message me or ring ext {c.ext()}.", "Thanks!", ""]))


@clean("rota")
def times_numbers(c):
    return D(f"{c.ward()} routine: board round {c.pick(['0800', '08:00', '0830'])}, drug round {c.pick(['0900', '10:00'])}, ",
             f"MDT {c.pick(['1300', 'Tues 1300', '13:30'])}, family meetings after {c.pick(['1500', '15:00', '3pm'])}. ",
             f"Reg bleep {c.bleep()}, ward ext {c.ext()}, outreach {c.bleep()}. ",
             c.pick(["Cardiac arrest: 2222.", "Switchboard: 0.", "Security: ext " + c.ext() + ".", "Pharmacy closes at 17:30."]))


@clean("notice")
def infection_notice(c):
    return D(f"{c.pick(['Ward 7', 'Ward 23', 'Beech Ward', 'Ward 14', 'Rowan Ward'])} ",
             c.pick(["closed to admissions", "partially closed", "bay restricted"]), f" ({c.pick(['norovirus', 'COVID-19', 'C. diff cluster', 'flu A'])}) ",
             f"from {span(c, 'from')}. ", c.pick(["Hand hygiene with soap and water, not gel.", "FFP3 for AGPs.",
                                         "Stool samples to lab before 16:00.", "IPC team ext " + c.ext() + "."]),
             c.pick(["", " Review in 72 h.", " Review on " + span(c, 'to') + "."]))


@clean("lab_admin")
def lab_rejected(c):
    acc = c.pick([f"{c.rng.randint(23, 25)}L{c.rng.randint(1000000, 9999999)}", f"H{c.rng.randint(23, 25)}.{c.rng.randint(1000000, 9999999)}",
                  f"BX{c.rng.randint(10, 25)}-{c.rng.randint(10000, 99999)}", f"{c.rng.randint(24, 25)}M{c.rng.randint(100000, 999999)}",
                  f"CP{c.rng.randint(24, 25)}/{c.rng.randint(10000, 99999)}"])
    return D(c.pick(["Sample rejected – ", "Lab called: ", "FYI from biochem: "]), f"specimen {acc} ",
             c.pick(["was unlabelled", "was haemolysed", "had no request form", "arrived after 4 h unspun", "was in the wrong tube"]),
             f". Please repeat {c.pick(['U&E', 'FBC and clotting', 'LFT', 'blood cultures', 'group and save'])}",
             c.pick([f" and call the lab on ext {c.ext()}", f" before {c.time()}", " today", ""]), ".")


@clean("lab_admin")
def equipment_ref(c):
    n = gen_invalid10(c.rng, first=c.pick("2358"))
    return D(c.pick(["Pump asset no. ", "Order ref ", "Medical engineering job ", "Supplies PO "]), n,
             c.pick([" – alarm keeps sounding, taken out of use.", " for the new bladder scanner.", " logged, collection tomorrow.",
                     " (replacement syringe driver) arrived on " + c.ward() + "."]),
             c.pick(["", f" Ext {c.ext()} for updates.", f" Ring EBME on {c.ext()}."]))


@clean("lab_admin")
def blood_bank(c):
    return D(c.pick(["Blood bank: ", "Transfusion lab says "]), f"{c.rng.randint(1, 4)} units crossmatched for {c.bed()} on {c.ward()}. ",
             f"Donation ID {c.pick(['G', 'Z'])}{c.rng.randint(1000, 9999)} {c.rng.randint(23, 25)} {c.rng.randint(100000, 999999)} ",
             c.pick(["is ready for collection.", "expires at midnight.", "returned unused."]),
             c.pick(["", " Two-person check at the bedside as always.", f" Lab ext {c.ext()}."]))


# ------------------------------------------------------------------ guidelines, prescribing, teaching

GUIDES = [
    ("NICE NG51 (sepsis)", ["risk stratify with NEWS2 and the high-risk criteria", "give antibiotics within 1 hour if high risk",
                             "lactate over 2 = moderate-high risk", "review the need for IV antibiotics at 48 h"]),
    ("BTS oxygen guideline", ["target 94-98% for most patients", "88-92% if at risk of hypercapnic failure",
                              "oxygen is a drug and needs prescribing", "don't give oxygen to breathless but normoxic patients"]),
    ("NICE CG169 (AKI)", ["detect with the creatinine rise criteria", "stop nephrotoxics", "USS KUB within 24 h if no cause",
                          "refer if stage 3 or not improving"]),
    ("JBDS DKA guideline", ["FRIII at 0.1 units/kg/h", "continue long-acting insulin", "add 10% glucose when CBG < 14",
                            "resolution: ketones < 0.6 and pH > 7.3"]),
    ("Resus Council ALS algorithm", ["shockable: VF/pVT – shock, CPR 2 min", "adrenaline 1 mg after the 3rd shock",
                                     "amiodarone 300 mg after 3 shocks", "think 4 Hs and 4 Ts"]),
    ("NICE NG136 (hypertension)", ["ABPM to confirm", "step 1 ACE-i or ARB if under 55 and not Black African or African-Caribbean",
                                   "target clinic BP < 140/90 under 80", "CCB first-line for Black African or African-Caribbean family origin"]),
    ("BSG upper GI bleed guidance", ["Glasgow-Blatchford to risk stratify", "OGD within 24 h", "restrictive transfusion threshold 70 g/L",
                                     "terlipressin and antibiotics for suspected varices"]),
    ("trust VTE policy", ["assess on admission and at 24 h", "enoxaparin 40 mg SC OD unless eGFR < 30",
                          "mechanical prophylaxis if bleeding risk", "extended prophylaxis after hip/knee surgery"]),
    ("NICE NG89 (VTE)", ["Wells score then D-dimer or CTPA", "apixaban or rivaroxaban first-line",
                         "3 months for provoked PE", "consider cancer in unprovoked VTE"]),
    ("SIGN/BTS asthma guideline", ["PEFR < 33% = life-threatening", "magnesium 2 g IV for severe",
                                   "a normal pCO2 is worrying", "steroids for 5 days"]),
]


@clean("guideline")
def guideline_summary(c):
    g, pts = c.pick(GUIDES)
    pts = c.rng.sample(pts, c.rng.randint(2, 4))
    bullets = c.pick(["- ", "• ", "* "])
    return D(c.pick(["Quick summary of the ", "Key points from the ", "My notes on the ", "TL;DR of the "]), g,
             c.pick([":\n", " –\n", "\n\n"]), "\n".join(bullets + cap(x) for x in pts),
             c.pick(["", "\n\nCorrections welcome.", "\n\nLink on the intranet guideline page.", f"\n\nUpdated {adm(c)}."]))


@clean("prescribing")
def drug_tip(c):
    tips = ["gentamicin: 5 mg/kg (7 mg/kg in some trusts) using ideal or adjusted body weight; level 6-14 h after the first dose",
            "vancomycin: loading dose by weight, trough before the 4th dose",
            "enoxaparin treatment dose is 1.5 mg/kg OD; reduce if eGFR < 30",
            "IV potassium: max 10 mmol/h via a peripheral line on the ward",
            "paracetamol: 15 mg/kg if under 50 kg",
            "morphine to oxycodone: roughly 1.5-2 : 1 orally",
            "insulin is always written in 'units', never 'u' or 'iu'",
            "methotrexate is weekly – check the day",
            "levothyroxine: take 30-60 min before breakfast",
            "metformin: hold if eGFR < 30 or contrast + AKI",
            "digoxin loading: 500 micrograms then 250-500 micrograms after 6 h",
            "naloxone: 400 micrograms IV titrated in 100 microgram aliquots in opioid toxicity",
            "adrenaline for anaphylaxis is 500 micrograms IM (0.5 mL of 1 mg/mL)",
            "clarithromycin interacts with statins – hold simvastatin",
            "trimethoprim raises creatinine and potassium"]
    return D(c.pick(["Prescribing tip: ", "Reminder from pharmacy – ", "Drug pearl: ", "Safety alert: "]), c.pick(tips), ". ",
             c.pick([f"Pharmacy ext {c.ext()}.", f"On-call pharmacist bleep {c.bleep()}.", "See the BNF.", "Check the trust antimicrobial app.", ""]))


@clean("prescribing")
def fluids(c):
    w = c.rng.randint(45, 110)
    return D(f"Fluids question: {c.agesex()}, {w} kg, NBM. ",
             f"Maintenance 25-30 mL/kg/day = about {round(w * 27 / 100) * 100} mL, plus K 1 mmol/kg/day and 50-100 g glucose. ",
             c.pick([f"Na was {c.rng.randint(128, 146)} this morning.", "Would you use Hartmann's or 0.18% saline/4% glucose?",
                     "Don't forget to reassess daily.", "NICE CG174 has the algorithm."]))


@clean("teaching")
def eponyms(c):
    sets = [
        "Differentials for ascending weakness: Guillain-Barré, myasthenia (less likely), botulism, tick paralysis.",
        "Signs to know for finals: Murphy's, Rovsing's, Cullen's, Grey Turner's, Trousseau's, Chvostek's.",
        "Cushing's triad = hypertension, bradycardia and irregular breathing.",
        "Wernicke's is a clinical diagnosis – give Pabrinex. Korsakoff's follows if you don't.",
        "Parkinson's meds must be given on time; 30 minutes late matters.",
        "Hartmann's procedure vs Hartmann's solution – different Hartmann, same confusion on the ward.",
        "Addison's crisis: hydrocortisone 100 mg IV stat, then 50 mg QDS; don't wait for the cortisol.",
        "Crohn's vs UC: skip lesions, transmural inflammation, granulomas.",
        "Graves' disease: TSH receptor antibodies; eye signs are specific.",
        "Bell's palsy: forehead involved; prednisolone within 72 h.",
        "Virchow's triad: stasis, hypercoagulability, endothelial injury.",
        "Wells, Geneva and PERC – know which one applies in which setting.",
        "Kussmaul breathing in DKA; Cheyne-Stokes at end of life or in heart failure.",
        "Charcot's triad: fever, RUQ pain, jaundice. Add shock and confusion for Reynolds' pentad.",
        "Beck's triad: hypotension, raised JVP, muffled heart sounds.",
        "Glasgow Coma Scale vs Glasgow-Blatchford vs modified Glasgow – three different Glasgows.",
    ]
    return D(c.pick(["Revision: ", "Quick quiz answer – ", "", "From today's teaching: "]), " ".join(c.rng.sample(sets, c.rng.randint(1, 3))))


@clean("teaching")
def abg(c):
    ph = c.pick(["7.21", "7.31", "7.48", "7.12", "7.38", "7.29"])
    return D(f"ABG practice: pH {ph}, pO2 {c.rng.randint(6, 14)}.{c.rng.randint(0, 9)} kPa on {c.pick(['air', '28%', '2 L', '40%'])}, ",
             f"pCO2 {c.rng.randint(3, 9)}.{c.rng.randint(0, 9)}, HCO3 {c.rng.randint(10, 34)}, BE {c.rng.randint(-14, 8)}, lactate {c.rng.randint(0, 6)}.{c.rng.randint(0, 9)}. ",
             c.pick(["What's your interpretation?", "Compensated or not?", "Calculate the anion gap (Na 138, Cl 100).",
                     "Answer in the comments, no peeking."]))


@clean("teaching")
def ecg(c):
    return D(c.pick(["ECG of the week: ", "ECG quiz – ", "Spot diagnosis: "]),
             c.pick(["rate 150, regular narrow complex, no visible P waves", "ST elevation in II, III and aVF with reciprocal change in aVL",
                     "irregularly irregular at 130, no P waves", "PR 240 ms, every P conducted", "broad QRS, RSR' in V1",
                     "peaked T waves, broad QRS, K was 7.4", "saddle-shaped ST elevation across all leads with PR depression",
                     "S1Q3T3 and sinus tachycardia", "Brugada pattern in V1-V2", "QTc 540 ms on citalopram and ondansetron"]),
             f" in a {c.agesex('long')}. ", c.pick(["Diagnosis?", "What next?", "What would you give?", "Who do you call?"]))


CALCS = [
    ("CHA2DS2-VASc", "new AF, hypertension, type 2 diabetes, previous TIA"),
    ("ORBIT", "on apixaban, Hb 118, eGFR 48, previous GI bleed"),
    ("Wells (PE)", "HR 110, previous DVT, haemoptysis, no alternative diagnosis more likely"),
    ("CURB-65", "confused, urea 9, RR 32, BP 88/50"),
    ("Glasgow-Blatchford", "Hb 96, urea 14, melaena, HR 104"),
    ("4AT", "drowsy, AMT4 2 errors, months backwards < 7, acute change"),
    ("HAS-BLED", "labile INR, drinks 20 units a week, on aspirin, eGFR 40"),
    ("qSOFA", "RR 24, new confusion, systolic 96"),
    ("ABCD2", "BP 150/95, speech disturbance for 20 minutes, diabetic"),
    ("NEWS2", "RR 23, sats 93% on air, HR 112, BP 102/64, temp 38.4, alert"),
    ("Centor", "fever, tonsillar exudate, no cough, tender anterior nodes"),
]


@clean("teaching")
def calc(c):
    k, v = c.pick(CALCS)
    return D(f"{k} practice: {c.agesex('long')}, {v}. ",
             c.pick(["What is the score?", "Score and management?", "Does it change your plan?"]), " ",
             c.pick(["Answer below.", "", "MDCalc is fine, but know the components.", "Discuss at teaching."]))


@clean("simulation")
def sim_brief(c):
    return D(f"Sim scenario brief – {c.dx()}\n", f"Manikin: {c.agesex('long')} on {c.ward()}.\n",
             f"Start: {c.obs_line()}.\n", f"Deteriorates at 5 min: {c.pick(['BP falls', 'sats drop to 85%', 'GCS drops to 12', 'becomes tachycardic at 150'])}.\n",
             f"Expected actions: {c.mx(2, ', ')}.\n", f"Debrief focus: {c.lesson()}.")


@clean("quiz")
def mcq(c):
    opts = c.rng.sample(c.s["mx"], min(3, len(c.s["mx"]))) + c.rng.sample(["observe and repeat obs in 4 h", "discharge with safety-netting",
                                                                          "CT head", "urgent echo", "IV hydrocortisone"], 2)
    c.rng.shuffle(opts)
    d = D(f"Q{c.rng.randint(1, 40)}. A {c.agesex('long')} presents with {c.pcx()}. {c.ix(2)}. ",
          "What is the most appropriate next step?\n")
    for i, o in enumerate(opts):
        d.add(f"{'ABCDE'[i]}) {cap(c.F(o))}\n")
    d.add(c.pick(["", "Answer tomorrow!", "Vote below 👇"]))
    return d


@clean("guideline")
def sepsis_six(c):
    items = c.pick([["Oxygen to target sats", "Blood cultures", "IV antibiotics", "IV fluid challenge", "Lactate and FBC", "Hourly urine output"],
                    ["Give O2 (94-98%, or 88-92% if CO2 retainer)", "Take cultures before antibiotics if it won't delay them",
                     "Antibiotics per the trust microguide", "500 mL crystalloid bolus, reassess", "VBG lactate + Hb", "Catheter / fluid balance chart"],
                    ["O2", "cultures", "abx", "fluids", "lactate", "UO"]])
    style = c.pick(["num", "dash", "inline"])
    if style == "inline":
        body = ", ".join(items) + "."
    else:
        body = "\n".join((f"{i + 1}. " if style == "num" else "- ") + x for i, x in enumerate(items))
    return D(c.pick(["Sepsis six (within 1 hour):\n", "**Sepsis 6** – take 3, give 3\n", "Reminder – the sepsis six: ",
                     "Night team, sepsis six please:\n"]), body, "\n\n",
             c.pick(["NEWS2 ≥ 5 should trigger screening.", f"Outreach bleep {c.bleep()}.", "Audit results on the board next month.",
                     f"Our door-to-needle median was {c.rng.randint(48, 95)} minutes last quarter.", "Document the time of each step.",
                     "Red flag sepsis = senior review within 1 hour."]))


@clean("teaching")
def imaging(c):
    return D(c.pick(["CXR quiz: ", "CT head teaching – ", "Image of the week: "]),
             c.pick(["right lower lobe consolidation with an air bronchogram", "tension pneumothorax – clinical diagnosis, don't wait for the film",
                     "NG tube in the right main bronchus", "free air under the diaphragm", "bilateral hilar lymphadenopathy",
                     "crescent-shaped subdural on the left", "hyperdense MCA sign", "small bowel dilated to 4 cm with a transition point"]),
             f" ({c.agesex()}). ", c.pick(["What next?", "Would you have spotted it?", "Report in the comments.", ""]))


# ------------------------------------------------------------------ letters and summaries without identifiers

@clean("discharge_summary")
def discharge_anon(c):
    a = recent_date(c.rng)
    return D("Discharge summary (anonymised teaching example)\n", f"Admitted: {fmt_date(a, c.rng, 'dd/mm/yyyy')}\n",
             f"Diagnosis: {c.dx()}\n", f"Presentation: {c.agesex()} with {c.pcx()}\n", f"Key results: {c.ix(3)}\n",
             f"Treatment: {c.mx(2)}\n", f"GP actions: {c.pick(['repeat U&Es in 1 week', 'review BP in 2 weeks', 'none', 'check INR on Monday'])}\n",
             f"Follow-up: {c.pick(['clinic in 6 weeks', 'virtual ward 48 h', 'no follow-up', 'repeat CXR 6 weeks'])}")


@clean("referral_letter")
def referral_anon(c):
    return D(c.pick(["Dear colleague,\n\n", "Dear team,\n\n"]), f"I would be grateful if you could see this {c.agesex('long')} with {c.pcx()}. ",
             f"Background: {c.hx(2)}. {cap(c.ix(2))}. ", c.pick([f"I have started {c.mx()}.", "No treatment started yet.",
                                                                  f"Seen in clinic on {adm(c)}."]),
             "\n\n", c.pick(["Kind regards,\nGP registrar", "Many thanks,\nFY2, " + c.ward(), "With thanks,\nANP"]),
             c.pick(["", "\n\n(identifiers removed for teaching)"]))


@clean("safeguarding")
def safeguarding_teaching(c):
    return D(c.pick(["Safeguarding teaching case: ", "Learning from a safeguarding review: ", "Level 3 training scenario – "]),
             c.pick(["a 4-month-old with a bruise on the cheek – 'those who don't cruise rarely bruise'",
                     "a 15-year-old attending repeatedly with self-harm and an older 'boyfriend'",
                     "an 82-year-old whose son controls her money and visits",
                     "a 34-year-old who disclosed domestic abuse in the antenatal clinic",
                     "a care home resident with unexplained grade 3 pressure ulcers",
                     "a toddler whose parents delayed presentation of a burn by two days"]),
             ". ", c.pick(["Who do you tell?", "Discuss with the named nurse or the safeguarding lead.",
                           f"Safeguarding team ext {c.ext()}.", "Document facts, not opinions."]))


@clean("patient_message")
def patient_msg_anon(c):
    return D(c.pick(["Shared with consent (details removed): ", "A message a relative sent the ward today: ", "Text we got on the ward phone: "]),
             '"', c.pick(["hi can someone tell me when dad is going home", "is visiting still 2 till 8?",
                          "thank you all for looking after mum, you were amazing", "what time is the doctor coming round",
                          "can i bring her own nighties in", "he says he hasn't had his tablets today",
                          "can we have a meeting about the care plan", "is the car park free for relatives at end of life"]), '"',
             c.pick([" – how would you reply?", " Good reminder to update families proactively.", ""])), None


@clean("feedback")
def feedback(c):
    return D(c.pick(["Feedback: ", "Anonymous feedback – ", "", "Session feedback: "]),
             c.pick([f"great session on {topic(c)}, would like more cases", f"{topic(c)} was too fast, slides before would help",
                     "the sim was realistic and the debrief was kind", "room was too small and it started 15 minutes late",
                     "more on prescribing please", "excellent, best teaching this rotation", "good but clashed with the ward round",
                     f"please repeat {topic(c)} for the August starters"]),
             c.pick(["", ". 5/5", ". 4/5", " 👍", ". Thanks!"]))


@clean("audit")
def audit(c):
    return D(c.pick(["Audit results: ", "Re-audit: ", "QIP update – "]),
             c.pick(["VTE assessment within 24 h", "NEWS2 escalation documented", "antibiotic review at 48 h", "sepsis antibiotics < 1 h",
                     "hip fracture surgery < 36 h", "insulin prescribing errors", "delirium screening on admission"]),
             f" {c.rng.randint(40, 98)}% ({c.rng.randint(20, 120)} notes, {span(c)}). ",
             c.pick(["Target 95%.", "Big improvement since the stickers.", "Presenting at the audit meeting.", "PDSA cycle 2 next."]))


@clean("education")
def portfolio_q(c):
    return D(c.pick(["Portfolio question: ", "ARCP panic – ", "Quick question: "]),
             c.pick(["does a reflection on a teaching session count as a CBD?", "how many TABs do we need this year?",
                     "can a ward sister sign off a DOPS?", "is the MRCP part 1 in August or January?",
                     "how do I link a reflection to a curriculum capability?", "who signs the ES report if my supervisor is on leave?"]),
             c.pick(["", " Thanks!", " Deadline is " + adm(c) + "."]))


@clean("url")
def url_clean(c):
    t = c.trust[0]
    u = c.pick([f"https://intranet.{t}.nhs.uk/guidelines/sepsis?version=4", f"https://{t}.nhs.uk/teaching/calendar?month=3&year=2025",
                f"https://epr.{t}.nhs.uk/wardview?ward=23&view=board", f"https://intranet.{t}.nhs.uk/microguide/cap?page=2",
                f"https://{t}-ice.nhs.uk/help/ordering?topic=coag", "https://www.nice.org.uk/guidance/ng51",
                "https://www.resus.org.uk/library/2021-resuscitation-guidelines/adult-advanced-life-support-guidelines",
                "https://bnf.nice.org.uk/drugs/gentamicin/", f"https://intranet.{t}.nhs.uk/rota?grade=FY1&week=12",
                "https://www.rcplondon.ac.uk/projects/outputs/national-early-warning-score-news-2"])
    return D(c.pick(["Guideline is here: ", "Link: ", "", "Useful: ", "For tomorrow's teaching – "]), u,
             c.pick(["", " (needs VPN)", " – scroll to section 3", " – thanks pharmacy!"]))


@clean("case_discussion")
def peds_case(c):
    m = c.rng.randint(2, 11)
    return D(f"{m}-month-old {c.pick(['boy', 'girl', 'baby'])}, {c.pick(['ex-34/40', 'term', 'ex-prem 32 weeks'])}, ",
             c.pick(["poor feeding and apnoeas", "fever 39.2 and irritable", "bilious vomiting", "cough and increased work of breathing"]),
             f". Weight {round(3.4 + 0.62 * m + c.rng.uniform(-0.6, 0.6), 1)} kg, HR {c.rng.randint(140, 190)}, RR {c.rng.randint(40, 70)}, CRT {c.rng.randint(2, 4)} s. ",
             c.pick(["Full septic screen including LP?", "Would you give a fluid bolus (10 mL/kg)?", "Malrotation until proven otherwise.",
                     "High-flow at 2 L/kg/min started."]))


@clean("case_discussion")
def obstetric_case(c):
    return D(f"{c.rng.randint(19, 43)}-year-old G{c.rng.randint(1, 5)}P{c.rng.randint(0, 4)} at {c.rng.randint(24, 41)}+{c.rng.randint(0, 6)} weeks, ",
             c.pick(["BP 158/104, headache, 2+ protein", "reduced fetal movements for 24 h", "PV bleeding, painless",
                     "SROM, no contractions", "RUQ pain and vomiting", "itching of the palms, bile acids awaited"]),
             ". ", c.pick(["CTG normal.", "sFlt-1/PlGF sent.", "MgSO4 started.", "Steroids given at 10:00 and due again at 10:00 tomorrow."]),
             " ", c.pick(["What would you do next?", "Would you deliver?", "Obs reg bleep " + c.bleep() + "."]))


@clean("lab_admin")
def lab_values(c):
    return D(c.pick(["Lab reference ranges we keep forgetting: ", "Numbers to know: "]),
             ", ".join(c.rng.sample(["Na 133-146 mmol/L", "K 3.5-5.3 mmol/L", "Ca 2.2-2.6 mmol/L", "Mg 0.7-1.0 mmol/L",
                                     "Hb 130-180 g/L (men), 115-165 g/L (women)", "Plt 150-400 x10^9/L", "CRP < 5 mg/L",
                                     "eGFR > 90 mL/min/1.73m2", "HbA1c 48 mmol/mol = diabetes", "TSH 0.27-4.2 mU/L",
                                     "troponin 99th centile 14 ng/L", "INR target 2-3 for AF"], 4)), ".")


@clean("prescribing")
def pharmacy_call(c):
    return D(c.pick(["Rang pharmacy (ext ", "Spoke to medicines info (ext "]), c.ext(), ") about ",
             c.pick(["crushing apixaban for an NG tube", "gentamicin level of 2.1 at 8 h", "switching IV to oral co-amoxiclav",
                     "insulin dose in a patient who's NBM", "restarting DOAC after a bleed", "clozapine and a high CRP"]),
             ". ", c.pick(["Answer: yes, in water.", "Give the next dose.", "They'll call back by 16:00.", "Documented in the notes."]))


# ------------------------------------------------------------------ brands that look like titled names

BRAND_LINES = [
    "Someone left a box of Mr Kipling Bakewell tarts at the nurses' station on {ward} – thank you, whoever you are!",
    "Night shift fuel: Mr Kipling French Fancies and a very strong coffee.",
    "Mr Kipling exceedingly good cakes in the doctors' mess again, the F1s are spoiling us.",
    "New starters: wear comfortable shoes. Dr Martens are great until you've done a 13-hour shift in them.",
    "Found a pair of Dr Martens in the {ward} staff room, size 6, cherry red – claim them before lost property.",
    "My Dr. Martens have survived three rotations and a lot of theatre floor.",
    "The kids' ward playroom has a new stack of Mr Men books – Mr Bump is the favourite, obviously.",
    "We used Mr Bump to explain a head injury to a frightened 5-year-old. Worked a treat.",
    "Little Miss Sunshine sticker chart for the children who finish their nebs.",
    "Vending machine on level 2 has Dr Pepper again, the night team is delighted.",
    "Hypo box restock: no Dr Pepper please, it's the sugar-free one in that machine.",
    "Student asked if Dr Pepper counts as 'fast-acting glucose'. Only the full-sugar one, and only if you know the grams.",
    "Domestic team reminder: don't use Mr Muscle on the monitors, it strips the coating.",
    "Mr Muscle is not an approved wipe for clinical surfaces – Clinell only.",
    "Mr Sheen is banned from the drug room after someone polished the CD cupboard.",
    "Birthday cake for the charge nurse was a Dr Oetker kit and a lot of love.",
    "Mr Whippy van outside the main entrance, queue includes two consultants and the chaplain.",
    "Lost: Miss Selfridge scarf in the changing room near theatre 4.",
    "Dr. Beckmann stain remover got the iodine out of my scrubs, if anyone needs it.",
    "Gluten-free option for teaching lunch will be Mrs Crimble's macaroons.",
    "Someone has hidden the Mr Tom bars in the bleep drawer.",
    "The paeds team raffle prize is a Mr Potato Head and a box of Mr Kipling.",
    "Coeliac patients and the 'free from' snacks – Mrs Crimble's cakes are on the approved list from catering.",
    "Dr Scholl insoles are the only reason my feet survive nights.",
    "Mr Freeze ice pops in the paeds freezer are for post-tonsillectomy kids only!",
    "Tea trolley now stocks Mr Kipling mini rolls – no nuts.",
    "Dietitian's tip: a Mr Kipling slice is about 15 g of carbohydrate if you're counting for the insulin.",
]


@clean("brand_chat")
def brand_line(c):
    return D(c.pick(BRAND_LINES).replace("{ward}", c.ward()), c.pick(["", " 😂", " x", f" ({c.ward()})", " #nightshift"]))


@clean("brand_chat")
def brand_plus_clinical(c):
    b = c.pick(["Mr Kipling", "Dr Pepper", "Mr Muscle", "Dr Martens", "Mr Men", "Mr Sheen", "Dr Oetker", "Mr Whippy"])
    lines = {
        "Mr Kipling": f"Post-take ward round powered by Mr Kipling. Learning point from the {c.dx()} case: {c.lesson()}.",
        "Dr Pepper": f"Hypo treatment teaching: 150-200 mL of a full-sugar drink (Dr Pepper counts, diet doesn't), recheck CBG in 15 minutes.",
        "Mr Muscle": f"IPC audit on {c.ward()}: someone brought Mr Muscle from home. Use chlorine-based products for C. diff rooms.",
        "Dr Martens": f"Theatre footwear policy: closed, wipeable shoes. Dr Martens are allowed if you can clean them.",
        "Mr Men": f"Explaining {c.pick(['an MRI', 'a cannula', 'a nebuliser', 'a blood test'])} to children with the Mr Men books in the play room – ask the play specialist.",
        "Mr Sheen": "Please don't use Mr Sheen on the resus trolley; it makes the labels slide off.",
        "Dr Oetker": f"Bake sale for {c.ward()} raised £{c.rng.randint(80, 400)}. Dr Oetker sprinkles everywhere.",
        "Mr Whippy": "Heat plan: push oral fluids; the Mr Whippy van doesn't count as hydration.",
    }
    return D(lines[b], c.pick(["", f" Teaching {day(c)} 12:30.", f" Bleep {c.bleep()} for questions."]))


@clean("brand_chat")
def brand_ward_chat(c):
    return D(c.pick(["Ward chat: ", "Staff room noticeboard – ", "", "Mess committee: "]),
             c.pick(["whoever keeps buying Mr Kipling for the night team, you are a hero",
                     "we've run out of Dr Pepper in the mess fridge again",
                     "the Mr Muscle has gone from the kitchen, please don't take it to the sluice",
                     "Dr Martens vs Crocs debate continues on Ward 23",
                     "the Mr Men books in the play room need replacing, donations welcome",
                     "Mr Kipling cake sale for the staff charity on Friday",
                     "Little Miss Chatterbox mug found in the sink",
                     "Mr Whippy van is back on the car park this afternoon"]),
             c.pick(["", ". Thanks all!", " 🍰", f". Next mess meeting {adm(c)}."]))


@clean("brand_chat")
def brand_patient_ed(c):
    return D(c.pick(["Patient education: ", "Diabetes nurse tip: ", "Dietetics: "]),
             c.pick(["a Mr Kipling Bakewell tart is about 27 g of carbs",
                     "Dr Pepper (regular) has about 10 g of sugar per 100 mL – usable for hypos",
                     "Mr Kipling angel slices are handy for carb-counting practice",
                     "remind families that Mr Freeze ice pops are sugar, not hydration",
                     "Dr Oetker jelly pots are on the low-residue list"]),
             ". ", c.pick(["Check the label for exact grams.", "Document in the care plan.", "Ask the dietitian on ext " + c.ext() + "."]))


@clean("notice")
def roles_notice(c):
    """Clinical roles and titles with no name attached (not people's names)."""
    return D(c.pick(["From Monday the ", "Reminder: the ", "FYI – the ", "New this month: the "]),
             c.pick(["Advanced Nurse Practitioner", "Clinical Nurse Specialist for heart failure", "ward sister", "Nurse in Charge",
                     "Sister on duty", "Consultant Nurse for sepsis", "Matron for medicine", "Physician Associate", "Staff Nurse on the floor",
                     "Charge Nurse on nights", "Nurse Associate"]),
             c.pick([" on ", " for ", " covering "]), c.ward(), " ",
             c.pick(["can request CT heads under the new protocol.", "holds the controlled drug keys.", "leads the 08:30 safety huddle.",
                     f"is on bleep {c.bleep()}.", "signs off the daily resus trolley check.", "can now prescribe from the formulary."]),
             c.pick(["", f" Questions to ext {c.ext()}.", " Thanks all."]))
