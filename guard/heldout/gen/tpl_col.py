"""Colleague templates: the only names are clinicians with a clinical title (Dr, Prof., Sister, Nurse, Matron...).

Each name is labelled kind titled_name; the product treats clinicians' names specially, so these live in
colleagues.jsonl, not in clean.jsonl. No other identifier appears.
"""
from core import Doc, Id, fmt_date, recent_date
from ctx import cap
from pools import STAFF_SURNAMES, STAFF_FIRST
from tpl_clean import topic, room, day

COL = []


def col(genre):
    def deco(f):
        COL.append((f.__name__, genre, f))
        return f
    return deco


def staff(c, kind=None):
    r = c.rng
    kind = kind or c.pick(["dr", "dr", "dr", "prof", "sister", "nurse", "matron", "charge", "staff"])
    s = r.choice(STAFF_SURNAMES)
    f = r.choice(STAFF_FIRST)
    if kind == "dr":
        t = c.pick([f"Dr {s}", f"Dr {s}", f"Dr {s}", f"Dr. {s}", f"Dr {f} {s}", f"Dr {f[0]}. {s}", f"dr {s.lower()}", f"Dr {s.upper()}"])
    elif kind == "prof":
        t = c.pick([f"Prof. {s}", f"Prof {s}", f"Professor {s}", f"Prof. {f} {s}"])
    elif kind == "sister":
        t = c.pick([f"Sister {s}", f"Sister {s}", f"Sr {s}", f"Sister {f} {s}"])
    elif kind == "nurse":
        t = c.pick([f"Nurse {s}", f"Nurse {f} {s}", f"nurse {s}"])
    elif kind == "matron":
        t = c.pick([f"Matron {s}", f"Matron {f} {s}"])
    elif kind == "charge":
        t = f"Charge Nurse {s}"
    else:
        t = f"Staff Nurse {s}"
    return Id("titled_name", t)


def D(*items):
    return Doc().add(*items)


@col("teaching_notice")
def sim_ran(c):
    return D(staff(c, "dr"), c.pick([" ran the simulation on ", " led the sim session on ", " is running the sim on "]),
             f"{c.dx()} {c.pick(['today', 'this morning', 'on ' + day(c)])}. ",
             c.pick([f"Key point: {c.lesson()}.", "Really useful debrief.", "Next one is in the sim suite at 14:00.",
                     f"Book via the education centre (ext {c.ext()})."]))


@col("handover_sbar")
def sister_handover(c):
    return D(staff(c, "sister"), c.pick([" led handover", " ran the safety huddle", " took the 08:00 handover"]), f" on {c.ward()} ",
             c.pick(["and flagged two patients with NEWS2 ≥ 5.", "– short and focused, great example of SBAR.",
                     "and reminded everyone about the falls bundle.", f"; bed {c.bedno()} needs a cannula before 10."]))


@col("teaching_notice")
def prof_teaching(c):
    n = staff(c, "prof")
    return D(n, "'s teaching on ", topic(c), c.pick([
        ". Slides on the shared drive.", f" has moved to {room(c)}.", f" starts at 12:30 in {room(c)}, lunch provided.",
        " was excellent – highly recommend.", " is the best session of the rotation.", f" is repeated on {day(c)}."]))


@col("feedback")
def thanks(c):
    return D(c.pick(["Thanks to ", "Huge thanks to ", "Shout-out to ", "Big thank you to "]), staff(c),
             c.pick([" for ", " – "]), c.pick(["staying late to teach us chest drains", "the brilliant ECG session",
                                               "supporting me through my first arrest call", "covering my bleep so I could go to teaching",
                                               "the calm way you handled resus last night", "the fluids teaching"]),
             c.pick(["!", ".", " 🙏", ". Legend."]))


@col("case_discussion")
def consultant_said(c):
    return D(c.pick(["On the ward round ", "Post-take, ", "At MDT "]), c.pick(["consultant ", "our consultant ", "the on-call consultant ", ""]),
             staff(c, "dr"), c.pick([" said ", " pointed out that ", " reminded us that "]), f"in {c.dx()} {c.lesson()}. ",
             c.pick(["Worth remembering.", "Good pearl.", f"This was a {c.agesex('long')}.", ""]))


@col("teaching_notice")
def rota_notice(c):
    d = recent_date(c.rng)
    return D(f"{c.pick(['Teaching', 'Grand round', 'Journal club', 'M&M'])} {d.strftime('%A')} {fmt_date(d, c.rng, c.pick(['d Month yyyy', 'dd/mm/yyyy']))}: ",
             staff(c), " on ", topic(c), ". ", c.pick([f"{cap(room(c))}, 12:30.", "Bleep-free.", "1 CPD hour.", f"Contact the education team on ext {c.ext()}."]))


@col("handover_sbar")
def bleep_reg(c):
    return D(c.pick(["Reg tonight is ", "Medical reg on call: ", "Surgical SpR: ", "Paeds reg: ", "Tonight's med reg – ", "On-call ortho reg: "]),
             staff(c, "dr"), *c.pick([(", bleep ", c.bleep(), ""), (" – bleep ", c.bleep(), ""), (" on ", c.bleep(), ""),
                                      (" (bleep ", c.bleep(), ")")]),
             c.pick([". Outreach bleep ", ". Site manager bleep ", "; night coordinator ", ". SHO covering wards: bleep "]), c.bleep(),
             c.pick([".", ". Arrest team 2222.", ". Please don't bleep for TTOs after 22:00.", " – handover at 20:30 in the mess."]))


@col("reflection")
def refl_supervisor(c):
    return D(c.pick(["Reflection signed off by ", "Discussed this case with my supervisor, ", "CBD with "]), staff(c, c.pick(["dr", "prof", "sister", "matron"])),
             c.pick([". ", ", who "]), c.pick(["suggested I read about ", "asked me to present on ", "shared their experience of "]),
             f"{c.dx()}. ", f"Learning: {c.lesson()}.")


@col("feedback")
def two_names(c):
    return D(staff(c, "dr"), " and ", staff(c, c.pick(["sister", "nurse", "charge", "staff", "matron"])),
             c.pick([" ran a brilliant joint session on ", " co-led the MDT sim on ", " taught the new F1s about "]), topic(c), ". ",
             c.pick(["5/5.", "Please do it again for the nurses.", "More like this!", ""]))


@col("notice")
def matron_notice(c):
    return D(staff(c, "matron"), c.pick([" has asked that ", " reminds everyone that ", ": "]),
             c.pick(["all IV lines are labelled with the date", "the resus trolley is checked daily and signed",
                     "visiting is 14:00-20:00 from Monday", "bare below the elbows applies at all times",
                     "the hypo boxes are checked on night shift"]), ". ",
             c.pick([f"Ward {c.rng.randint(1, 40)} audit on {day(c)}.", "Thanks all.", ""]))


@col("case_discussion")
def learning_opportunity(c):
    return D(c.pick(["Learning opportunity: ", "Anyone want to see ", "Come along: "]),
             c.pick(["an LP", "a chest drain insertion", "an ascitic tap", "a central line", "a TOE", "a bone marrow biopsy"]),
             f" on {c.ward()} at {c.time()}. ", staff(c, c.pick(["dr", "prof"])), " is happy to supervise",
             c.pick(["", f" – bleep {c.bleep()}", ", first come first served"]), ".")


@col("education")
def exam_prep(c):
    return D(staff(c, c.pick(["dr", "prof"])), c.pick(["'s PACES course", "'s MRCP revision group", "'s finals OSCE practice",
                                                         "'s ultrasound teaching"]),
             c.pick([" is on ", " runs every "]), day(c), c.pick([" evening", " 17:30", " lunchtime"]), ". ",
             c.pick(["Sign up on the sheet in the mess.", "Free for trust trainees.", f"{cap(room(c))}.", ""]))


@col("handover_sbar")
def nurse_escalation(c):
    return D(staff(c, c.pick(["nurse", "staff", "charge"])), c.pick([" escalated ", " flagged "]),
             f"{c.bed()} on {c.ward()} ({c.agesex('aM')}, NEWS2 {c.rng.randint(5, 9)}) ",
             c.pick(["at 03:00 – spot on.", "to outreach and the reg.", "early, which made all the difference."]),
             c.pick(["", f" {cap(c.lesson())}."]))
