"""Positive templates: each returns a Doc (or (Doc, transform)) containing patient identifiers."""
from core import Doc, Id, Person, relative, fmt_date, recent_date, wchoice, phone_items, gen_hosp, addr_items
from ctx import C, L, cap
import core
import datetime as dt

POS = []
ALL = ["nhs_number", "date_of_birth", "postcode", "phone", "email", "hospital_number", "titled_name", "address"]


def pos(genre, kinds):
    def deco(f):
        POS.append((f.__name__, genre, kinds, f))
        return f
    return deco


def lower_all(s, k):
    return s.lower()


def typos(rng, rate=0.04):
    def t(s, k):
        if k:
            return s
        out = []
        for w in s.split(" "):
            if len(w) > 4 and w.isalpha() and rng.random() < rate:
                i = rng.randint(1, len(w) - 3)
                op = rng.random()
                if op < 0.5:
                    w = w[:i] + w[i + 1] + w[i] + w[i + 2:]
                elif op < 0.8:
                    w = w[:i] + w[i + 1:]
                else:
                    w = w[:i] + w[i] + w[i:]
            out.append(w)
        return " ".join(out)
    return t


# =============================================================== EPR headers

@pos("epr_header", ["titled_name", "date_of_birth", "nhs_number", "hospital_number"])
def epr_pipe(c):
    r, p = c.rng, c.p
    sep = c.pick([" | ", " | ", " | ", " / ", "  ", "\t", " · ", " - ", "|"])
    fields = [c.epr(), c.dob(cue=False), c.nhs(label=c.chance(0.25), nl=False)]
    if c.chance(0.3):
        fields.insert(1, p.sex if c.chance(0.5) else ("Male" if p.sex == "M" else "Female"))
    if c.chance(0.25):
        fields.insert(3, f"{p.age}y")
    if c.inc("hospital_number", 0.35):
        fields.append(c.hosp(label=c.chance(0.4)))
    d = Doc()
    d.add(c.pick(["", "", "From the banner: ", "pasted from EPR:\n", "Pt: ", "header below\n", "> "]))
    for i, f in enumerate(fields):
        if i:
            d.add(sep)
        d.add(f)
    d.add(c.pick(["", "", f"\n{c.question()}", f"\n{c.agesex()}, {c.dx()}. {c.question()}",
                  f"\n\nany ideas re {c.ix(1)}?", f"\nadmitted {c.when()} with {c.pcx()}"]))
    return d


@pos("epr_header", ["titled_name", "date_of_birth", "hospital_number", "nhs_number", "address", "postcode"])
def epr_labelled(c):
    p = c.p
    gap = c.pick(["  ", "  ", "   ", "\t", " | ", "\n"])
    items = [["Name: ", c.epr()], [c.pick(["DOB: ", "DOB ", "D.O.B: ", "Date of birth: "]), c.dob(cue=False)]]
    if c.inc("hospital_number", 0.75):
        items.append(c.hosp(label=True))
    if c.inc("nhs_number", 0.5):
        items.append(c.nhs(label=True, nl=False))
    if c.chance(0.3):
        items.insert(2, f"Sex: {p.sex}")
    if c.chance(0.2):
        items.append(f"Age: {p.age}")
    if c.inc("address", 0.15) or c.want == "postcode":
        items.append(["Address: ", c.addr(pc=True if c.want == "postcode" else None)])
    if c.chance(0.3):
        c.rng.shuffle(items)
    d = Doc()
    for i, it in enumerate(items):
        if i:
            d.add(gap)
        d.add(it)
    d.add(c.pick(["", "", f"\n\n{c.agesex()} with {c.pcx()}. {c.question()}", f"\nWard: {c.ward()}",
                  f"\nLocation: {c.ward()}, {c.bed()}"]))
    return d


@pos("epr_header", ["titled_name", "date_of_birth", "nhs_number", "hospital_number", "address", "postcode", "phone"])
def pas_banner(c):
    p = c.p
    d = Doc()
    d.add(c.tn(style=c.pick(["fullLAST", "fullLAST", "full", "LAST"])), f" ({p.sex})  ",
          c.pick(["Born ", "Born: ", "DOB "]), c.dob(cue=False, style=c.pick(["DD-Mon-YYYY", "DD-MON-YYYY", "dd/mm/yyyy", "d Mon yyyy"])),
          f" ({p.age}y)  ")
    d.add(c.pick(["Gender ", "Sex "]), "Male" if p.sex == "M" else "Female", "  ")
    d.add(c.pick(["NHS No. ", "NHS No: ", "NHS Number "]), c.nhs(label=False, nl=False, style=c.pick(["sp", "sp", "plain"])))
    if c.inc("hospital_number", 0.8):
        d.add("  ", c.hosp(label=True))
    if c.inc("address", 0.5) or c.want in ("postcode", "phone"):
        d.add("\nAddress: ", c.addr(pc=True, town=True))
    if c.inc("phone", 0.4):
        if c.chance(0.6):
            d.add("  ", c.pick(["Mobile: ", "Mob: ", "Tel: "]), c.mob(label=False))
        else:
            d.add("  ", c.pick(["Home tel: ", "Tel: ", "Tel "]), c.land(label=False))
    d.add(c.pick(["", "\n", f"\nAllergies: {c.pick(['NKDA', 'penicillin (rash)', 'codeine', 'latex'])}",
                  f"\nGP: {c.gp()}"]))
    if c.chance(0.5):
        d.add(f"\n\n{c.pick(['Can anyone help with this one?', 'Sharing this case:', 'Pasting so you get the picture -'])} {c.agesex()} {c.pcx()}.")
    return d


@pos("epr_header", ["titled_name", "date_of_birth", "nhs_number", "address", "postcode", "phone", "email"])
def gp_record(c):
    p = c.p
    d = Doc()
    d.add(c.epr(style=c.pick(["UPtitle", "UP", "Title"])), "\n")
    d.add(c.pick(["DOB: ", "Born: ", "D.O.B. "]), c.dob(cue=False), f" ({p.age} y)  Gender: {'Male' if p.sex == 'M' else 'Female'}\n")
    d.add("NHS Number: ", c.nhs(label=False, nl=False), "\n")
    d.add(f"Usual GP: {c.gp()}\n")
    d.add(c.addr(town=True, pc=True, locality=c.chance(0.5)), "\n")
    if c.inc("phone", 0.7):
        d.add(c.mob(label=c.pick(["Mobile: ", "Mob: "]).strip()), "\n")
    if c.inc("email", 0.4):
        d.add("Email: ", c.email(), "\n")
    d.add(c.pick(["", f"\nProblems: {c.hx(2)}", f"\nActive problems: {c.dx()}; {c.hx(1)}",
                  f"\nLast consultation {c.when()}: {c.pcx()}"]))
    return d


@pos("epr_header", ["titled_name", "date_of_birth", "hospital_number"])
def results_header(c):
    d = Doc()
    d.add(c.pick(["Patient: ", "Pt: ", "PATIENT: "]), c.epr(), "  ")
    if c.inc("hospital_number", 0.8):
        d.add(c.hosp(label=True), "  ")
    if c.inc("date_of_birth", 0.5):
        d.add(c.dob(cue=c.pick(["DOB:", "DOB", "D.O.B."])), "  ")
    d.add(f"Location: {c.ward()}\n")
    d.add(f"Specimen: {c.pick(['Blood', 'Venous blood', 'Serum', 'Urine MSU', 'Arterial blood'])}  Collected: {c.when()} {c.time()}\n")
    d.add("\n".join(c.F(x) for x in c.rng.sample(["Na 13{1-9} mmol/L", "K 4.{1-9} mmol/L", "Urea {5-19}.{1-9} mmol/L",
                                                  "Creat {60-240} umol/L", "CRP {5-300} mg/L", "Hb {80-150} g/L",
                                                  "WCC {4-22}.{1-9} x10^9/L", "Plt {120-450} x10^9/L",
                                                  "Bili {5-40} umol/L", "ALT {10-200} U/L", "Alb {25-42} g/L"], 4)))
    d.add(c.pick(["", f"\n\nwhy would the {c.pick(['CRP', 'K', 'creat', 'Hb'])} do that overnight?", "\n\nis this haemolysed??"]))
    return d


@pos("epr_header", ["titled_name", "date_of_birth"])
def ed_board(c):
    p = c.p
    d = Doc()
    d.add(f"{c.pick(['Cubicle', 'Majors', 'Resus', 'Bay', 'Chair'])} {c.rng.randint(1, 14)} – ", c.tn(style=c.pick(["full", "full", "fullLAST"])),
          f", {p.age}, ", c.dob(cue=False, style=c.pick(["dd/mm/yyyy", "d/m/yyyy", "dd.mm.yyyy"])), f", {c.pcx()} – ")
    d.add(c.pick(["awaiting trop", "for CT", "seen by medics", "waiting for a bed", "bloods sent", "needs a cannula",
                  f"referred to {c.pick(['surgeons', 'medics', 'ortho', 'gynae'])}"]))
    if c.chance(0.5):
        q = Person(c.rng, age=c.rng.randint(20, 90))
        d.add(f"\n{c.pick(['Cubicle', 'Majors', 'Bay'])} {c.rng.randint(1, 14)} – ", q.tname(c.rng, "full"), f", {q.age}, ",
              Id("date_of_birth", fmt_date(q.dob, c.rng, style="dd/mm/yyyy")), f", {c.pick(['fall', 'SOB', 'abdo pain', 'chest pain', 'collapse'])} – waiting")
    return d


@pos("epr_header", ["titled_name", "date_of_birth", "nhs_number", "hospital_number"])
def wristband(c):
    d = Doc()
    d.add(c.pick(["Wristband reads: ", "ID band: ", "Name band says ", "Checked the band - "]))
    sep = c.pick([" / ", " | ", ", ", "  "])
    d.add(c.epr(style=c.pick(["UPboth", "UP"])), sep, c.dob(cue=c.chance(0.5)))
    if c.inc("nhs_number", 0.6):
        d.add(sep, c.nhs(label=c.chance(0.5), nl=False))
    if c.inc("hospital_number", 0.6):
        d.add(sep, c.hosp(label=c.chance(0.4)))
    d.add(c.pick([" – matched the drug chart.", ". Didn't match the request form!", " — but the blood bottle had a different DOB.",
                  ". Positive patient ID done before transfusion.", ""]))
    return d


@pos("epr_header", ["titled_name", "date_of_birth", "nhs_number"])
def glued_header(c):
    p = c.p
    d = Doc()
    name = c.epr(style="nospace") if c.chance(0.5) else c.epr(style="UP")
    d.add(name, "|", c.dob(cue=False, style=c.pick(["ddmmyyyy", "dd/mm/yyyy", "iso"])), "|",
          c.nhs(label=False, nl=False, style="plain"))
    d.add(c.pick(["|M" if p.sex == "M" else "|F", "", f"|{c.ward()}"]))
    d.add(c.pick(["", "\n^ that's what the export looks like, sorry", f"\n{c.agesex()}, {c.dx()}"]))
    return d


# =============================================================== referral letters

@pos("referral_letter", ["titled_name", "date_of_birth", "nhs_number", "address", "postcode", "phone"])
def referral_formal(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Dear Colleague,", "Dear Cardiology team,", "Dear Respiratory team,", "Dear Medical Registrar,",
                  "Dear Sir/Madam,", "To the on-call surgical team,"]), "\n\n")
    d.add("Re: ", c.tn(style=c.pick(["full", "full", "init", "fullLAST"])), c.pick(["  ", ", ", "\n"]))
    d.add(c.dob(cue=c.pick(["DOB", "DOB:", "D.O.B."])), c.pick(["  ", ", ", "\n"]))
    if c.inc("nhs_number", 0.8):
        d.add(c.nhs(label=True), "\n")
    else:
        d.add("\n")
    if c.inc("address", 0.6) or c.want == "postcode":
        d.add(c.addr(multiline=c.chance(0.6), pc=True, town=True), "\n")
    if c.inc("phone", 0.3):
        d.add(c.phone(label=True), "\n")
    d.add(f"\nThank you for seeing this {p.age}-year-old {c.noun()} who presents with {c.pcx()}. ")
    d.add(f"Background: {c.hx(2)}. On examination {c.find()}. {cap(c.ix(2))}. ")
    d.add(c.pick([f"I have started {c.mx()} and would be grateful for your assessment.",
                  f"I would value your opinion on further management.",
                  f"{cap(c.he)} is aware of the referral and happy to be contacted."]))
    d.add("\n\nYours sincerely,\n\n", c.pick([f"GP Registrar, {c.gp()}", f"{c.grade()}, {c.ward()}", f"Salaried GP, {c.gp()}",
                                               f"ANP, {c.gp()}"]))
    return d


@pos("referral_letter", ["titled_name", "date_of_birth", "nhs_number", "address", "postcode", "phone", "email"])
def twoww_form(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["SUSPECTED CANCER REFERRAL (2WW)\n", "Urgent suspected cancer referral – ", "FDS pathway referral\n"]))
    d.add(c.pick(["Patient name: ", "Name: ", "Patient: "]), c.tn(style=c.pick(["full", "fullLAST", "UPPER"])), "\n")
    d.add(c.pick(["Date of birth: ", "DOB: "]), c.dob(cue=False), "\n")
    d.add("NHS number: ", c.nhs(label=False, nl=False), "\n")
    d.add("Address: ", c.addr(pc=False, town=True), "\n")
    d.add("Postcode: ", c.pc(), "\n")
    if c.inc("phone", 0.85):
        d.add(c.pick(["Telephone (mobile): ", "Mobile: ", "Contact number: "]), c.mob(label=False), "\n")
    if c.chance(0.4):
        d.add("Telephone (home): ", c.land(label=False), "\n")
    if c.inc("email", 0.5):
        d.add("Email: ", c.email(), "\n")
    d.add(f"Interpreter required: {c.pick(['No', 'Yes – Polish', 'Yes – Urdu', 'Yes – Tigrinya', 'No'])}\n")
    d.add(f"Suspected cancer: {c.pick(['lower GI', 'lung', 'breast', 'haematological', 'upper GI', 'urological', 'skin'])}\n")
    d.add(f"Reason: {c.pick(['weight loss of 6 kg and iron deficiency anaemia', 'haemoptysis in a smoker over 40', 'change in bowel habit > 6 weeks', 'painless visible haematuria', 'dysphagia'])}\n")
    return d


@pos("referral_letter", ["titled_name", "hospital_number", "date_of_birth"])
def referral_inter(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Referral to ", "Referring to ", "Ref to "]),
          c.pick(["vascular", "cardiology", "gastro", "renal", "haematology", "the stroke team", "orthogeriatrics"]), ": ")
    d.add(c.tn(), f" ({c.agesex('aM')}), ")
    d.add(c.hosp(label=c.chance(0.7)))
    if c.inc("date_of_birth", 0.4):
        d.add(", ", c.dob(cue=True))
    d.add(f". {cap(c.pcx())}; {c.ix(2)}. ")
    d.add(c.pick([f"Please call {c.ward()} on ext {c.ext()} when you're coming.", f"Bleep {c.bleep()} with any questions.",
                  f"Currently on {c.ward()}, {c.bed()}.", "Happy to discuss."]))
    return d


@pos("referral_letter", ["titled_name", "date_of_birth", "address", "postcode", "nhs_number"])
def ed_to_medics(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Hi, ", "Hiya - ", "Evening, ", ""]), c.pick(["referring ", "ED referral: ", "new referral "]), c.tn())
    o, cl = c.pick([(" ", " "), (", ", ", "), (" (", ") ")])
    d.add(o, c.dob(cue=True), cl)
    if c.inc("nhs_number", 0.3):
        d.add(c.nhs(label=True, nl=False), ", ")
    d.add(f"{c.pcx()}. {c.obs_line()}. ")
    if c.inc("address", 0.5) or c.want == "postcode":
        d.add(f"{cap(c.he)} lives {c.pick(['alone', 'with ' + c.his + ' partner', 'with family'])} at ", c.addr(pc=c.want == "postcode" or None), ". ")
    d.add(c.pick([f"In ED: {c.mx()}.", "Nothing given yet.", f"{cap(c.ix(1))}.", f"Cubicle {c.rng.randint(1, 14)}."]))
    return d, typos(c.rng, 0.02)


@pos("referral_letter", ["titled_name", "address", "postcode", "phone", "hospital_number", "nhs_number"])
def district_nurse(c):
    p = c.p
    r = c.rel()
    d = Doc()
    d.add(c.pick(["District nurse referral", "DN referral", "Community nursing request", "Referral to community team"]),
          c.pick([":\n", " - ", "\n"]))
    d.add("Please visit ", c.tn(), " at ", c.addr(pc=c.inc("postcode", 0.6), town=c.chance(0.6)), " ")
    d.add(c.pick(["for daily dressings to a leg ulcer", "for LMWH injections until 6 weeks post-op", "for catheter care",
                  "for insulin administration BD", "for wound care after discharge", "for pressure area care"]), ". ")
    if c.chance(0.4):
        d.add(f"Key safe code is with the ward. ")
    if c.inc("phone", 0.7):
        d.add(f"Contact {c.his} {r.rel} ", r.tname(c.rng, c.pick(["full", "last"])), " on ", c.phone(label=False, p=r), ". ")
    if c.inc("hospital_number", 0.3):
        d.add(c.hosp(label=True), ". ")
    if c.inc("nhs_number", 0.3):
        d.add(c.nhs(label=True), ". ")
    d.add(f"Discharged {c.when()}.")
    return d


@pos("referral_letter", ["titled_name", "address", "postcode", "phone", "email", "date_of_birth"])
def social_care(c):
    p = c.p
    r = c.rel()
    d = Doc()
    d.add(c.pick(["Referral to adult social care", "Care package request", "Social work referral", "Reablement referral"]), "\n\n")
    d.add("Client: ", c.tn(style=c.pick(["full", "fullLAST"])), "\n")
    if c.inc("date_of_birth", 0.6):
        d.add(c.dob(cue="DOB:"), "\n")
    d.add("Address: ", c.addr(pc=True, town=True), "\n")
    d.add(f"NOK: {cap(r.rel)}, ", r.tname(c.rng, "full"), ", ", c.phone(label=False, p=r), "\n")
    if c.inc("email", 0.6):
        d.add("NOK email: ", r.email(c.rng), "\n")
    d.add(f"\nCurrently on {c.ward()} following {c.dx()}. Needs {c.pick(['QDS calls with 2 carers', 'a BD package', 'a reablement package', 'a stand aid and 2 carers', 'a POC review'])}. ")
    d.add(c.pick(["Medically optimised from today.", "MFFD.", "Awaiting OT assessment.", "Family keen for home."]))
    return d


# =============================================================== discharge summaries

@pos("discharge_summary", ["titled_name", "date_of_birth", "nhs_number", "hospital_number", "address", "postcode"])
def discharge_full(c):
    p = c.p
    adm = recent_date(c.rng)
    dis = adm + dt.timedelta(days=c.rng.randint(1, 14))
    d = Doc()
    d.add(c.pick(["DISCHARGE SUMMARY", "Discharge Summary", "Inpatient Discharge Letter", "eDischarge"]), "\n")
    d.add("Patient: ", c.tn(style=c.pick(["full", "fullLAST"])), "\n")
    d.add(c.dob(cue=c.pick(["DOB:", "Date of birth:"])), "\n")
    d.add(c.nhs(label=True, nl=False), "\n")
    if c.inc("hospital_number", 0.6):
        d.add(c.hosp(label=True), "\n")
    if c.inc("address", 0.4) or c.want == "postcode":
        d.add("Address: ", c.addr(pc=True), "\n")
    d.add(f"Admitted: {fmt_date(adm, c.rng, 'dd/mm/yyyy')}   Discharged: {fmt_date(dis, c.rng, 'dd/mm/yyyy')}\n")
    d.add(f"Ward: {c.ward()}\n\n")
    d.add(f"Diagnosis: {c.dx()}\n")
    d.add(f"Presentation: {c.pcx()}\n")
    d.add(f"Investigations: {c.ix(3)}\n")
    d.add(f"Management: {c.mx(2)}\n")
    d.add(f"Follow-up: {c.pick(['GP to repeat U&Es in 1 week', 'clinic in 6 weeks', 'no hospital follow-up', 'virtual ward review in 48 h', 'repeat CXR in 6 weeks'])}\n")
    return d


@pos("discharge_summary", ["titled_name", "hospital_number", "date_of_birth"])
def tto_note(c):
    d = Doc()
    d.add(c.pick(["TTO for ", "TTOs for ", "Discharge meds for ", "Pharmacy - please screen TTO for "]), c.tn(), " (", c.hosp(label=c.chance(0.5)), ")")
    if c.inc("date_of_birth", 0.3):
        d.add(" ", c.dob(cue=True))
    d.add(c.pick([": ", " - ", "\n"]))
    d.add(c.pick([f"{c.mx()}, plus usual meds. ", "usual meds + new apixaban 5 mg BD. ", "ramipril held, restart when U&Es ok. ",
                  "prednisolone 30 mg OD 5 days, doxycycline 100 mg OD 5 days. "]))
    d.add(c.pick([f"Going home today from {c.ward()}.", "Transport booked for 14:00.", "Needs blister pack.", "Family collecting."]))
    return d


@pos("discharge_summary", ["titled_name", "address", "postcode", "date_of_birth", "phone"])
def discharge_narrative(c):
    p = c.p
    r = c.rel()
    adm = c.when()
    d = Doc()
    d.add(c.tn(style=c.pick(["full", "last"])), f" was admitted on {adm} with {c.pcx()}. ")
    if c.inc("date_of_birth", 0.4):
        d.add(f"({cap(c.his)} ", c.dob(cue=c.pick(["date of birth is", "DOB"])), ".) ")
    d.add(f"{cap(c.ix(2))}. We treated {c.him} for {c.dx()} with {c.mx()}. ")
    d.add(f"{cap(c.he)} lives at ", c.addr(pc=c.inc("postcode", 0.5)))
    if r.rel in ("wife", "husband", "partner"):
        d.add(f" with {c.his} {r.rel}, ", r.tname(c.rng, "last"))
    d.add(f". {cap(c.lesson())}. ")
    if c.inc("phone", 0.3):
        d.add(f"Please contact {c.his} {r.rel} on ", c.phone(label=False, p=r), " if there are concerns.")
    return d


@pos("discharge_summary", ["nhs_number", "titled_name", "date_of_birth", "hospital_number"])
def discharge_meds_table(c):
    d = Doc()
    d.add(c.pick(["**Discharge medications** – ", "### TTO\n", "Meds on discharge for "]), c.tn(), " (")
    d.add(c.nhs(label=True, nl=False) if c.inc("nhs_number", 0.7) else c.hosp(label=True))
    if c.inc("date_of_birth", 0.4):
        d.add(", ", c.dob(cue=True))
    if c.want == "hospital_number":
        d.add(", ", c.hosp(label=True))
    d.add(")\n\n| Drug | Dose | Frequency | Status |\n|---|---|---|---|\n")
    meds = [("Apixaban", "5 mg", "BD", "New"), ("Ramipril", "2.5 mg", "OD", "Held"), ("Bisoprolol", "2.5 mg", "OD", "Changed"),
            ("Atorvastatin", "80 mg", "ON", "New"), ("Furosemide", "40 mg", "OM", "Increased"), ("Metformin", "500 mg", "BD", "Unchanged"),
            ("Lansoprazole", "30 mg", "OD", "New"), ("Paracetamol", "1 g", "QDS PRN", "Unchanged"), ("Amoxicillin", "500 mg", "TDS", "5 days"),
            ("Prednisolone", "30 mg", "OD", "5 days"), ("Sertraline", "50 mg", "OD", "Unchanged"), ("Levothyroxine", "75 micrograms", "OD", "Unchanged"),
            ("Adcal-D3", "1 tab", "BD", "New"), ("Alendronic acid", "70 mg", "weekly", "New"), ("Senna", "15 mg", "ON", "New")]
    for m in c.rng.sample(meds, c.rng.randint(3, 6)):
        d.add("| " + " | ".join(m) + " |\n")
    return d


# =============================================================== handover (SBAR)

@pos("handover_sbar", ["titled_name", "hospital_number", "date_of_birth", "nhs_number"])
def sbar(c):
    p = c.p
    o = c.obs()
    d = Doc()
    lab = c.pick([("S: ", "B: ", "A: ", "R: "), ("Situation – ", "Background – ", "Assessment – ", "Recommendation – "),
                  ("**S** ", "**B** ", "**A** ", "**R** ")])
    nl = c.pick(["\n", "\n", "\n\n"])
    d.add(lab[0], c.tn(), f", {c.bed()} on {c.ward()}, {c.agesex('aM')}")
    if c.inc("hospital_number", 0.4):
        d.add(" (", c.hosp(label=c.chance(0.5)), ")")
    if c.inc("date_of_birth", 0.2):
        d.add(", ", c.dob(cue=True))
    if c.inc("nhs_number", 0.1):
        d.add(", ", c.nhs(label=True, nl=False))
    d.add(f". NEWS2 gone from {max(0, o['news'] - 3)} to {o['news']}.{nl}")
    d.add(lab[1], f"Admitted with {c.dx()}; {c.hx(2)}.{nl}")
    d.add(lab[2], f"{c.obs_line(o)}. {cap(c.find())}. I think {c.he} {c.pick(['is septic', 'is deteriorating', 'is stable but needs a senior review', 'may be fluid overloaded'])}.{nl}")
    d.add(lab[3], c.pick([f"Please review within 30 minutes; I've started {c.mx()}.", "Could you come and see them now?",
                          f"Repeat VBG at {c.time()} and escalate if worse.", f"Needs a ceiling of care decision."]))
    return d


@pos("handover_sbar", ["titled_name", "hospital_number"])
def handover_list(c):
    d = Doc()
    d.add(c.pick([f"Night handover {c.ward()}\n", f"## {c.ward()} handover\n", "Jobs for nights:\n", f"Weekend list – {c.ward()}\n"]))
    n = c.rng.randint(2, 5)
    idx = c.rng.randrange(n)
    for i in range(n):
        q = c.p if i == idx else Person(c.rng, age=c.rng.randint(25, 96))
        if q.hosp is None:
            q.hosp = gen_hosp(c.rng, c.trust[1])
        bullet = c.pick(["- ", "• ", f"{i + 1}. ", "* "])
        d.add(bullet, f"Bed {c.rng.randint(1, 28)}: ", c.pick(["", "", "", "pt "]), q.tname(c.rng, c.pick(["last", "last", "full", "lower"])), f" {q.age}{q.sex}")
        if (i == idx and c.inc("hospital_number", 0.3)) or c.chance(0.15):
            d.add(" ", c.hosp(label=c.chance(0.4), p=q))
        d.add(" – ", c.pick([f"chase {c.pick(['K', 'trop', 'CRP', 'Mg', 'INR'])} at {c.time()}", "for EOL care, family aware",
                             "DNACPR in notes", "IV abx, review cultures", "NBM from midnight", "falls risk, bed rails discussed",
                             "?discharge tomorrow", "needs cannula", "on fluids, check UO", "new AF, rate ok", "sliding scale"]), "\n")
    return d, (typos(c.rng, 0.02) if c.chance(0.5) else None)


@pos("handover_sbar", ["titled_name", "hospital_number"])
def night_msg(c):
    d = Doc()
    d.add(c.pick(["pls review ", "can someone review ", "FYI ", "heads up – ", "nights: "]), c.pick(["", "", "pt ", "patient ", "Pt "]),
          c.tn(style=c.pick(["lower", "last", "lowerfull"])),
          f" {c.bed()}")
    if c.inc("hospital_number", 0.5):
        d.add(" (", c.hosp(label=c.chance(0.3)), ")")
    d.add(f" {c.pick(['trop at 2am', 'K was 6.1 on the gas', 'spiked 38.9', 'new confusion', 'sats dropping', 'fell at 0300, no head injury', 'UO poor since 8pm'])}")
    d.add(c.pick([" thx", " ta", "", " - I'm in ED till 3", f" bleep {c.bleep()}"]))
    return d, (lower_all if c.chance(0.4) else typos(c.rng, 0.03))


@pos("handover_sbar", ["hospital_number", "titled_name"])
def surgical_list(c):
    d = Doc()
    d.add(c.pick(["Surgical handover\n", "SAU board\n", "Post-take (surgery)\n"]))
    n = c.rng.randint(2, 4)
    for i in range(n):
        q = c.p if i == 0 else Person(c.rng, age=c.rng.randint(18, 90))
        q.hosp = q.hosp or gen_hosp(c.rng, c.trust[1])
        if i == 0 or c.chance(0.6):
            d.add(c.hosp(label=False if c.chance(0.5) and core.bare_ok(q.hosp) else True, p=q))
        else:
            d.add(q.tname(c.rng, "last"))
        d.add(" – ", c.pick(["lap chole day 1, drain 40 mL", "?appendicitis for USS", "SBO, NG in, gastrografin given",
                              "post-op day 2 hemicolectomy, passing flatus", "abscess I&D list", "pancreatitis, Glasgow 2",
                              "perianal abscess, on CEPOD list", "diverticulitis, CT booked"]), "\n")
    if c.want == "titled_name":
        d.add("Family of ", c.tn(style="last"), " want an update.\n")
    return d


@pos("handover_sbar", ["nhs_number", "titled_name", "date_of_birth"])
def ed_handover(c):
    d = Doc()
    d.add(c.pick(["Handing over ", "Handover: ", "ED -> AMU: "]), c.tn(), ", ")
    d.add(c.nhs(label=True))
    if c.inc("date_of_birth", 0.4):
        d.add(", ", c.dob(cue=True))
    d.add(f". {c.agesex()} {c.pcx()}, {c.obs_line()}. {c.mx()}.")
    return d


# =============================================================== safeguarding

@pos("safeguarding", ["titled_name", "date_of_birth", "address", "postcode", "phone", "nhs_number"])
def sg_child(c):
    age = c.rng.randint(0, 15)
    q = Person(c.rng, age=age)
    mum = relative(q, c.rng, "mum")
    d = Doc()
    d.add(c.pick(["Safeguarding concern – ", "SAFEGUARDING: ", "Child protection referral re ", "Concern re "]),
          q.tname(c.rng, c.pick(["full", "full", "fullLAST"])), " (", c.dob(cue=c.pick(["DOB", "DOB:", "b.", "DOB -"]), p=q), ")")
    if c.inc("nhs_number", 0.3):
        d.add(", ", c.nhs(label=True, p=q, nl=False))
    d.add(f". Attended {c.pick(['ED', 'the CAU', 'the walk-in centre', 'fracture clinic'])} with "
          f"{c.pick(['a spiral fracture of the humerus', 'bruising to the ears and neck', 'a burn inconsistent with the history', 'a torn frenulum', 'unexplained bruising in a non-mobile infant', 'repeated attendances for minor injuries'])}. ")
    d.add(f"Lives with {c.pick(['mother', 'mum', 'mother and her partner'])}, ", mum.tname(c.rng, c.pick(["full", "last"])), ", at ")
    d.add(c.addr(p=mum, pc=c.inc("postcode", 0.6)))
    d.add(". ")
    if c.inc("phone", 0.6):
        d.add(c.pick(["Mum's mobile ", "Mother's number: ", "Mum can be reached on "]), c.mob(label=False, p=mum), ". ")
    d.add(c.pick([f"School: {c.pick(['St Anne’s Primary', 'Westfield Academy', 'Oak Tree Nursery'])}. ",
                  "Social worker allocated. ", "Not known to children's social care. ", "Health visitor informed. "]))
    d.add(c.pick(["Discussed with the named nurse.", "Skeletal survey requested.", "MASH referral made.", "Police informed."]))
    return d


@pos("safeguarding", ["titled_name", "address", "postcode", "phone", "hospital_number"])
def sg_adult(c):
    p = c.p
    if p.age < 60:
        p.age = c.rng.randint(60, 95)
    r = c.rel()
    d = Doc()
    d.add(c.pick(["Adult safeguarding referral: ", "Section 42 concern: ", "Safeguarding (adult) – ", "Raised a concern today about "]))
    d.add(c.tn(), f", {p.age}, ")
    if c.inc("hospital_number", 0.4):
        d.add(c.hosp(label=True), ", ")
    d.add("lives at ", c.addr(pc=c.inc("postcode", 0.5)), "; ")
    d.add(c.pick(["concerns re financial abuse by a relative", "self-neglect, house cluttered and no heating",
                  "unexplained bruising to both upper arms", "carers missing calls", "pressure ulcers grade 3 on admission from home",
                  "disclosed that a lodger takes her bank card"]))
    if c.inc("phone", 0.5):
        d.add(f". NOK ({r.rel}) ", r.tname(c.rng, c.pick(["full", "last"])), " ", c.phone(label=c.chance(0.5), p=r))
    d.add(". ", c.pick(["Capacity assessed for this decision.", "Patient consents to referral.", "Best interests meeting planned.",
                        "Datix completed."]))
    return d


@pos("safeguarding", ["titled_name", "date_of_birth", "address", "postcode", "phone"])
def sg_marac(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Discussed at MARAC: ", "DASH completed for ", "Domestic abuse disclosure – "]), c.tn(style=c.pick(["full", "fullLAST"])))
    d.add(", ", c.dob(cue=True), ". ")
    d.add(c.pick(["Current address ", "Now staying at ", "Moved to "]), c.addr(pc=c.inc("postcode", 0.7), town=True),
          c.pick([" (refuge – do NOT disclose)", " (do not share with partner)", ""]), ". ")
    if c.inc("phone", 0.7):
        d.add(c.pick(["Safe number: ", "Only contact on ", "Safe to call "]), c.mob(label=False), c.pick([" – text first", "", " between 10-2"]), ". ")
    d.add(c.pick(["IDVA referral made.", "High risk (DASH 16).", "Children on CP plan.", "Police aware."]))
    return d


@pos("safeguarding", ["titled_name", "hospital_number", "nhs_number"])
def sg_datix(c):
    d = Doc()
    d.add(c.pick(["Datix: ", "Incident report – ", "IR1: "]))
    d.add(c.pick(["unexplained bruising noted on ", "skin tear found on ", "medication error involving ", "fall from bed involving "]),
          c.tn(), " (")
    d.add(c.hosp(label=True) if c.inc("hospital_number", 0.6) else c.nhs(label=True))
    if c.want == "nhs_number":
        d.add(", ", c.nhs(label=True))
    d.add(f") on {c.ward()} at {c.time()}. ")
    d.add(c.pick(["Body map completed.", "Family informed.", "Safeguarding lead aware.", "Duty of candour conversation held."]))
    return d


# =============================================================== patient / relative messages

@pos("patient_message", ["titled_name", "phone"])
def msg_its_me(c):
    d = Doc()
    d.add(c.pick(["hi ", "hello ", "Hi, ", "hiya ", ""]), c.pick(["its ", "it's ", "this is ", "its "]),
          c.tn(style=c.pick(["lower", "last", "lower"])), f" from {c.bed()} ")
    d.add(c.pick(["can some1 ring my son", "can someone call my daughter", "please tell my husband im ok", "can i have a word with the doctor",
                  "when am i going home", "i need my tablets from home", "the nurse said to text"]))
    if c.inc("phone", 0.6):
        d.add(c.pick([" on ", " ", " number is "]), c.phone(label=False))
    d.add(c.pick([" thx", " thank u", " x", "", " ta"]))
    return d, (lower_all if c.chance(0.5) else typos(c.rng, 0.05))


@pos("patient_message", ["titled_name", "phone", "email"])
def msg_relative(c):
    r = c.rel()
    d = Doc()
    d.add(c.pick(["Hello, this is ", "Hi it's ", "Good morning, my name is ", "Hi this is "]),
          r.tname(c.rng, c.pick(["full", "full", "init"])), ", ", c.tn(style="last"), f"'s {r.rel}. ")
    d.add(c.pick([f"Can someone call me about {c.his} discharge?", f"I was told {c.he} was moved to {c.ward()}, is that right?",
                  f"Is {c.he} alright? Nobody has rung me since yesterday.", f"{cap(c.he)} sounded confused on the phone today."]))
    ph = c.inc("phone", 0.8)
    em = c.inc("email", 0.3)
    if ph:
        d.add(" ", c.pick(["My number is ", "Please ring ", "I'm on ", "Call me on "]), c.phone(label=False, p=r))
        if em:
            d.add(c.pick([" or email ", ". Email is ", " / "]), r.email(c.rng))
        d.add(c.pick([".", "", " x"]))
    elif em:
        d.add(c.pick([" My email is ", " Email: ", " Please reply to "]), r.email(c.rng), c.pick(["", "."]))
    d.add(c.pick([" Thank you", " Many thanks", "", " Thanks so much for looking after " + c.him]))
    return d


@pos("patient_message", ["phone", "titled_name"])
def whatsapp_export(c):
    r = c.rel()
    t0 = c.time().replace(".", ":")
    if ":" not in t0:
        t0 = t0[:2] + ":" + t0[2:]
    date = c.when(styles=[("dd/mm/yyyy", 1)])
    d = Doc()
    d.add(f"[{date}, {t0}] ", phone_items(r.mobile, c.rng, label=False, style=c.pick(["intl", "intl", "std"])), ": ")
    d.add(c.pick([f"Hi is mum ok? She is ", f"hiya is my dad still on {c.ward()}? he's ", f"Morning, any news on "]),
          c.tn(style=c.pick(["full", "lowerfull", "last"])))
    d.add("\n", f"[{date}, {t0[:3]}{min(59, int(t0[3:]) + 4):02d}] Ward {c.rng.randint(1, 40)} nurses: ",
          c.pick(["Hi, yes, comfortable and eating. The doctor will ring you.", "We can't give updates over WhatsApp sorry, please call the ward.",
                  "Yes still here, plan is for scan tomorrow."]))
    return d


@pos("patient_message", ["email", "titled_name", "date_of_birth", "hospital_number", "nhs_number"])
def patient_email(c):
    d = Doc()
    d.add("From: ", c.email(), "\n", f"Subject: {c.pick(['appointment', 'my results', 'Re: clinic letter', 'question about tablets', 'cancel'])}\n\n")
    d.add(c.pick(["Dear team,\n", "Hello,\n", "To whom it may concern\n", "Hi\n"]))
    d.add("my name is ", c.tn(style=c.pick(["full", "lowerfull", "full"])))
    if c.inc("date_of_birth", 0.6):
        d.add(", ", c.dob(cue=c.pick(["DOB", "dob", "date of birth", "born"])))
    if c.inc("hospital_number", 0.4):
        d.add(", ", c.pick(["hospital number ", "hosp no ", "my number is ", "MRN "]), c.hosp(label=False) if c.p.hosp and core.bare_ok(c.p.hosp) else c.hosp(label=True))
    if c.inc("nhs_number", 0.3):
        d.add(", ", c.nhs(label=True))
    d.add(f". {c.pick(['I had an appointment on ' + c.when() + ' but could not attend', 'I was discharged last week and have a question about my tablets', 'I need a copy of my letter for work', 'could you move my appointment please'])}.\n")
    d.add(c.pick(["Kind regards", "Thanks", "Many thanks", "Regards"]))
    return d


@pos("patient_message", ["phone", "titled_name"])
def voicemail(c):
    r = c.rel()
    d = Doc()
    d.add(f"Voicemail {c.time()} – ", c.pick([f"{r.rel} calling about ", "relative ringing re ", "call from family of "]),
          c.tn(style=c.pick(["full", "last"])), ", please ring back on ", c.phone(label=False, p=r))
    d.add(c.pick([". Says it's urgent.", ". Wants to know visiting times.", ". Not happy about the discharge.", ""]))
    return d


@pos("patient_message", ["titled_name", "date_of_birth", "address", "postcode"])
def sms_reply(c):
    d = Doc()
    d.add(c.pick(["yes thats me ", "yes it's ", "Hi yes this is "]), c.tn(style=c.pick(["lowerfull", "full", "lower"])))
    if c.inc("date_of_birth", 0.6):
        d.add(" dob ", c.dob(cue=False, style=c.pick(["dd/mm/yyyy", "d/m/yy", "d.m.yy", "dd.mm.yyyy"])))
    if c.inc("address", 0.6) or c.want == "postcode":
        d.add(c.pick([" new address is ", " i moved to ", " please send letters to "]), c.addr(lower=c.chance(0.5), pc=c.want == "postcode" or None))
    d.add(c.pick([" thanks", "", " x", " is that ok"]))
    return d, (lower_all if c.chance(0.4) else None)


@pos("patient_message", ["postcode", "titled_name"])
def portal_postcode(c):
    d = Doc()
    d.add(c.pick(["I've moved, my new postcode is ", "Can you update my postcode to ", "Postcode changed: ", "my postcode is "]), c.pc())
    d.add(c.pick([" – ", ". ", " "]), c.pick(["", "thanks, ", "regards "]))
    if c.inc("titled_name", 0.5):
        d.add(c.tn(style=c.pick(["full", "lowerfull"])))
    return d


@pos("patient_message", ["titled_name", "phone", "address", "postcode"])
def relative_lift(c):
    r = c.rel()
    d = Doc()
    d.add(c.pick(["Hi, I'm collecting ", "I'll pick up ", "Coming to get "]), c.tn(style=c.pick(["lower", "last", "full"])),
          c.pick([" at 3", " after lunch", " when she's ready" if c.p.sex == "F" else " when he's ready", " tomorrow"]), ". ")
    d.add(c.pick(["Please send the paperwork to ", "Transport isn't needed, home address is ", "Her home is " if c.p.sex == "F" else "His home is "]),
          c.addr(pc=c.inc("postcode", 0.5)), ". ")
    if c.inc("phone", 0.6):
        d.add(c.pick(["Ring me if delayed ", "My mobile ", "Contact: "]), c.phone(label=False, p=r))
    return d, typos(c.rng, 0.03)


# =============================================================== case presentations

@pos("case_presentation", ["titled_name", "hospital_number", "date_of_birth", "postcode"])
def case_thursday(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Case for Thursday: ", "Case for teaching – ", "For the case board: ", "Morning report case: "]),
          c.tn(), f", {c.agesex('aM')}")
    if c.inc("hospital_number", 0.3):
        d.add(" (", c.hosp(label=c.chance(0.6)), ")")
    if c.inc("date_of_birth", 0.3):
        d.add(", ", c.dob(cue=True))
    if c.inc("postcode", 0.2):
        d.add(", lives in ", c.pc())
    d.add(f", presented with {c.pcx()}.\n\n{c.pick(['PMH', 'Background', 'Hx'])}: {c.hx(2)}.\n")
    d.add(f"O/E: {c.find()}. {c.obs_line()}.\nIx: {c.ix(3)}.\nMx: {c.mx(2)}.\n\n")
    d.add(f"Learning point: {c.lesson()}.")
    return d


@pos("case_presentation", ["titled_name", "nhs_number", "date_of_birth", "hospital_number"])
def slides(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Slide 1\n", "---\n", "# Case presentation\n"]))
    d.add("## ", c.tn(style=c.pick(["full", "init"])), "\n")
    if c.inc("nhs_number", 0.6):
        d.add(c.nhs(label=True), "\n")
    if c.inc("date_of_birth", 0.5):
        d.add(c.dob(cue=True), "\n")
    if c.inc("hospital_number", 0.3):
        d.add(c.hosp(label=True), "\n")
    d.add(f"\nSlide 2\n- {c.agesex()}\n- PC: {c.pcx()}\n- {c.hx(1)}\n\nSlide 3\n- {c.ix(2)}\n- Dx: {c.dx()}\n")
    d.add(c.pick(["", "\n(forgot to anonymise – sorry!)", "\nSlide 4\n- Questions?"]))
    return d


@pos("case_presentation", ["hospital_number", "titled_name"])
def anyone_seen(c):
    d = Doc()
    d.add(c.pick(["Anyone seen this before? ", "Weird one: ", "Help – ", "Q for the reg group: "]))
    d.add(c.pick(["pt ", "patient ", "", "pt "]), c.hosp(label=c.chance(0.4)), f" {c.agesex('aM')} ")
    d.add(f"{c.pcx()}, {c.ix(2)}. {c.question()}")
    if c.want == "titled_name" or c.chance(0.2):
        d.add(" (", c.tn(style="last"), ", ", c.ward(), ")")
    return d, typos(c.rng, 0.02)


@pos("case_presentation", ["titled_name", "postcode", "address"])
def case_board(c):
    p = c.p
    d = Doc()
    d.add(f"**Specialty:** {c.pick(['Acute medicine', 'Respiratory', 'Cardiology', 'Geriatrics', 'Surgery', 'Paediatrics', 'O&G', 'ED'])}\n")
    d.add(f"**Grade:** {c.grade()}\n**Case:** {c.agesex('long')} with {c.pcx()}.\n")
    d.add("**Details:** ", c.tn())
    if c.inc("address", 0.4):
        d.add(", ", c.addr(pc=c.inc("postcode", 0.5)))
    elif c.inc("postcode", 0.6):
        d.add(c.pick([", lives in ", " from ", ", "]), c.pc())
    d.add(f"\n**What happened:** {c.mx(2)}.\n**Learning:** {c.lesson()}.")
    return d


@pos("case_presentation", ["titled_name", "date_of_birth", "hospital_number", "phone"])
def grand_round(c):
    p = c.p
    d = Doc()
    d.add(c.pick(["Grand round abstract: ", "Abstract for the audit meeting – ", "Poster draft: "]))
    d.add(f'"An unusual presentation of {c.dx()}". ')
    d.add(f"We describe ", c.tn(style=c.pick(["init", "initdot", "full"])), f", a {p.age}-year-old {c.noun()} (")
    if c.want == "hospital_number" or not c.inc("date_of_birth", 0.6):
        d.add(c.hosp(label=True))
    else:
        d.add(c.dob(cue=True))
    d.add(f") who presented with {c.pcx()}. {cap(c.ix(2))}. {cap(c.lesson())}.")
    if c.inc("phone", 0.15):
        d.add(" Consent obtained by phone (", c.mob(label=False), ").")
    return d


# =============================================================== reflections

@pos("reflection", ["titled_name", "hospital_number", "date_of_birth"])
def refl_nights(c):
    p = c.p
    d = Doc()
    d.add(c.pick([f"I was the {c.pick(['FY1', 'FY2', 'SHO', 'F1'])} on nights when ", "On my second night shift, ",
                  "During a busy weekend on-call, ", "Last week on nights "]))
    d.add(c.tn(), f" on {c.ward()}")
    if c.inc("hospital_number", 0.2):
        d.add(" (", c.hosp(label=True), ")")
    if c.inc("date_of_birth", 0.15):
        d.add(", ", c.dob(cue=True), ",")
    d.add(f" became unwell with {c.pcx()}. {c.obs_line()}. ")
    d.add(c.pick([f"I felt out of my depth but remembered the ABCDE approach. ", "I hesitated before calling the reg. ",
                  "I was worried I was overreacting. ", "The nurse in charge noticed first. "]))
    d.add(f"{c.pick(['Management', 'We went with', 'Plan'])}: {c.mx()}. On reflection, {c.lesson()}. ")
    d.add(c.pick(["Next time I will escalate sooner.", "I have since read the trust guideline.", "This will stay with me.",
                  "I discussed this with my supervisor."]))
    return d


@pos("reflection", ["titled_name", "date_of_birth", "nhs_number"])
def refl_gibbs(c):
    p = c.p
    d = Doc()
    d.add("**Description**\n", c.pick(["I looked after ", "I admitted ", "I clerked "]), c.tn())
    if c.inc("date_of_birth", 0.5):
        d.add(" (", c.dob(cue=True), ")")
    if c.inc("nhs_number", 0.3):
        d.add(" ", c.nhs(label=True))
    d.add(f", who came in with {c.pcx()}.\n\n**Feelings**\n{c.pick(['Anxious', 'Overwhelmed at first', 'Reassured once the reg arrived', 'Frustrated by delays'])}.\n\n")
    d.add(f"**Evaluation**\n{cap(c.mx())}: done promptly. The handover was rushed.\n\n**Analysis**\n{cap(c.lesson())}.\n\n")
    d.add(f"**Action plan**\n{c.pick(['Attend the sepsis simulation', 'Read the NICE guideline', 'Practise SBAR', 'Ask for feedback on my escalation'])}.")
    return d


@pos("reflection", ["titled_name", "phone"])
def refl_nurse(c):
    r = c.rel()
    d = Doc()
    d.add(c.pick(["NMC revalidation reflection. ", "Reflective account: ", "", "Reflection (nursing): "]))
    d.add(c.pick(["I was caring for ", "On a late shift I looked after ", "As the nurse in charge I supported "]), c.tn(), f", who was {c.pick(['dying', 'very distressed', 'confused and trying to leave', 'in a lot of pain'])}. ")
    d.add(f"I rang {c.his} {r.rel}, ", r.tname(c.rng, c.pick(["full", "last"])))
    if c.inc("phone", 0.7):
        d.add(", on ", c.phone(label=False, p=r))
    d.add(f", to {c.pick(['come in', 'explain the change', 'talk about DNACPR', 'update them'])}. ")
    d.add(c.pick(["I learnt how important it is to be honest early.", "It was one of the hardest calls I have made.",
                  "I used the SPIKES framework.", "My ward manager debriefed me afterwards."]))
    return d


@pos("reflection", ["titled_name", "address", "postcode"])
def refl_community(c):
    d = Doc()
    d.add(c.pick(["On my community placement I met ", "During a home visit I saw ", "With the district nurses I visited "]),
          c.tn(), " at ", c.addr(pc=c.inc("postcode", 0.4)), ". ")
    d.add(c.pick([f"{cap(c.he)} had {c.dx()} and lived alone.", "The house was cold and the fridge empty.",
                  "It made me think about social determinants of health.", "I saw how much care happens outside hospital."]))
    d.add(" ", c.pick(["I reflected on continuity of care.", "I will remember to ask about heating and food.", "It changed how I discharge patients."]))
    return d


@pos("reflection", ["titled_name", "date_of_birth", "hospital_number"])
def refl_student(c):
    d = Doc()
    d.add(c.pick(["As a third-year student I ", "During my surgical block I ", "In my GP placement I "]),
          c.pick(["clerked ", "presented ", "examined "]), c.tn(style=c.pick(["full", "last", "lower"])))
    if c.inc("date_of_birth", 0.4):
        d.add(" (", c.dob(cue=c.pick(["DOB", "born", "b."])), ")")
    if c.inc("hospital_number", 0.4):
        d.add(" – ", c.hosp(label=True))
    d.add(f". {c.pick(['The history was harder than the textbook.', 'I missed an important drug history.', 'The consultant asked me to present on the ward round.'])} ")
    d.add(f"Key learning: {c.lesson()}.")
    return d, typos(c.rng, 0.02)


# =============================================================== Markdown tables

@pos("markdown_table", ["titled_name", "nhs_number", "hospital_number", "date_of_birth"])
def obs_table_id(c):
    d = Doc()
    d.add(c.pick(["Obs for ", "Obs chart – ", "**Observations** ", "Here are the obs for "]), c.tn())
    if c.inc("nhs_number", 0.5):
        d.add(" (", c.nhs(label=True, nl=False), ")")
    elif c.inc("hospital_number", 0.6):
        d.add(" (", c.hosp(label=True), ")")
    if c.inc("date_of_birth", 0.2):
        d.add(" ", c.dob(cue=True))
    d.add("\n\n| Time | HR | BP | RR | SpO2 | Temp | NEWS2 |\n|---|---|---|---|---|---|---|\n")
    for _ in range(c.rng.randint(3, 5)):
        o = c.obs()
        d.add(f"| {c.time()} | {o['hr']} | {o['sbp']}/{o['dbp']} | {o['rr']} | {o['sats']}% | {o['temp']} | {o['news']} |\n")
    d.add(c.pick(["", f"\n{c.question()}", "\nTrend worrying?"]))
    return d


@pos("markdown_table", ["titled_name", "hospital_number", "nhs_number"])
def ward_list_table(c):
    d = Doc()
    col = c.pick(["Hosp no", "MRN", "NHS no", "Unit no."])
    d.add(f"{c.pick(['Ward list', 'Jobs', 'Board round'])} – {c.ward()}\n\n| Bed | Patient | {col} | Issue | Plan |\n|---|---|---|---|---|\n")
    n = c.rng.randint(2, 5)
    for i in range(n):
        q = c.p if i == 0 else Person(c.rng, age=c.rng.randint(30, 97))
        q.hosp = q.hosp or gen_hosp(c.rng, c.trust[1])
        ident = c.nhs(label=False, nl=False, p=q) if col == "NHS no" else Id("hospital_number", q.hosp["value"])
        d.add(f"| {c.rng.randint(1, 28)} | ", q.tname(c.rng, c.pick(["last", "full", "init"])), " | ", ident, " | ",
              c.pick(["CAP", "AKI", "delirium", "fall", "HF", "UTI", "NOF", "cellulitis", "COPD"]), " | ",
              c.pick(["IV abx day 2", "repeat U&Es", "OT/PT", "?home", "echo", "for ortho", "CT head"]), " |\n")
    return d


@pos("markdown_table", ["titled_name", "nhs_number", "date_of_birth"])
def bloods_table(c):
    d = Doc()
    o, cl = c.pick([(" (", ")"), (" – ", ""), (", ", "")])
    d.add(c.pick(["Bloods for ", "Trend – ", "**Bloods** "]), c.tn(), o)
    if c.want == "date_of_birth" or not c.inc("nhs_number", 0.7):
        d.add(c.dob(cue=True))
    else:
        d.add(c.nhs(label=True, nl=False))
    d.add(cl, "\n\n")
    d0 = recent_date(c.rng)
    days = [d0 + dt.timedelta(days=k) for k in sorted(c.rng.sample(range(0, 6), 3))]
    d.add("| | " + " | ".join(f"{x.day:02d}/{x.month:02d}" for x in days) + " |\n|---|---|---|---|\n")
    for row in c.rng.sample(["Hb", "WCC", "Plt", "Na", "K", "Urea", "Creat", "CRP", "Alb"], 5):
        lo, hi = {"Hb": (75, 140), "WCC": (4, 22), "Plt": (90, 450), "Na": (124, 145), "K": (3, 6), "Urea": (3, 25),
                  "Creat": (50, 400), "CRP": (3, 320), "Alb": (22, 40)}[row]
        d.add(f"| {row} | " + " | ".join(str(c.rng.randint(lo, hi)) for _ in days) + " |\n")
    return d


@pos("markdown_table", ["titled_name", "phone", "email"])
def contacts_table(c):
    d = Doc()
    d.add(c.pick(["Contacts for ", "NOK details – ", "Family contacts: "]), c.tn(), "\n\n| Name | Relationship | Phone | Notes |\n|---|---|---|---|\n")
    for i in range(c.rng.randint(1, 3)):
        r = relative(c.p, c.rng)
        d.add("| ", r.tname(c.rng, c.pick(["full", "last"])), f" | {r.rel} | ", c.phone(label=False, p=r), " | ")
        if c.inc("email", 0.2) and i == 0:
            d.add(r.email(c.rng))
        else:
            d.add(c.pick(["first contact", "LPA health & welfare", "works nights", "doesn't drive", "—"]))
        d.add(" |\n")
    return d


@pos("markdown_table", ["titled_name", "date_of_birth", "nhs_number", "postcode", "hospital_number"])
def clinic_table(c):
    cols = c.pick([["Time", "Patient", "DOB", "NHS no", "Postcode"], ["Time", "Patient", "DOB", "Hosp no", "Reason"],
                   ["Slot", "Name", "D.O.B.", "NHS", "Notes"]])
    if c.want == "postcode":
        cols = ["Time", "Patient", "DOB", "NHS no", "Postcode"]
    if c.want == "hospital_number":
        cols = ["Time", "Patient", "DOB", "Hosp no", "Reason"]
    d = Doc()
    d.add(f"{c.pick(['Clinic list', 'Tues AM clinic', 'Virtual clinic', 'Fracture clinic'])} {c.when()}\n\n| " + " | ".join(cols) + " |\n|" + "---|" * len(cols) + "\n")
    h, m = 9, 0
    for i in range(c.rng.randint(2, 5)):
        q = c.p if i == 0 else Person(c.rng, age=c.rng.randint(18, 90))
        q.hosp = q.hosp or gen_hosp(c.rng, c.trust[1])
        d.add(f"| {h:02d}:{m:02d} | ", q.tname(c.rng, c.pick(["full", "last", "init"])) if cols[1] == "Patient" else q.epr(c.rng, "UP"),
              " | ", Id("date_of_birth", fmt_date(q.dob, c.rng, c.pick(["dd/mm/yyyy", "dd.mm.yy", "d/m/yyyy"]))), " | ")
        if cols[3] in ("NHS no", "NHS"):
            d.add(c.nhs(label=False, nl=False, p=q))
        else:
            d.add(Id("hospital_number", q.hosp["value"]))
        d.add(" | ")
        if cols[4] == "Postcode":
            d.add(c.pc(p=q))
        else:
            d.add(c.pick(["f/u", "new", "results", "DNA last time", "interpreter booked"]))
        d.add(" |\n")
        m += 20
        if m >= 60:
            h, m = h + 1, m - 60
    return d


# =============================================================== URLs

def host(c, sys=None):
    t = c.trust[0]
    return c.pick([f"https://epr.{t}.nhs.uk", f"https://{t}-ice.nhs.uk", f"http://pas.{t}.nhs.uk", f"https://cerner.{t}.nhs.uk",
                   f"https://{t}.careflow.nhs.uk", f"https://intranet.{t}.nhs.uk"])


@pos("url", ["hospital_number"])
def url_mrn(c):
    h = c.p.hosp
    key = c.pick(["mrn", "MRN", "hospNo", "patientId", "PatientID", "hosp_no", "unitNo"])
    d = Doc()
    d.add(c.pick(["here's the link: ", "results are here ", "", "can't open this – ", "link → "]), host(c),
          c.pick(["/patient/summary?", "/results?", "/pathology/view?", "/Patient.aspx?", "/obs/chart?tab=news&"]),
          f"{key}=", Id("hospital_number", h["value"].replace(" ", "")),
          c.pick(["", "&tab=results", "&from=2024-03-01", "&view=full", f"&ward={c.rng.randint(1, 40)}"]))
    d.add(c.pick(["", " – anyone else getting a 403?", f"\n{c.question()}", " (the CRP trend)"]))
    return d


@pos("url", ["nhs_number", "date_of_birth"])
def url_nhs(c):
    d = Doc()
    key = c.pick(["nhs", "nhsNumber", "NHSNumber", "nhs_no", "nhsno"])
    d.add(c.pick(["", "ICE link: ", "link for the scan ", "Summary care record: "]), host(c),
          c.pick(["/results?", "/scr/view?", "/viewer/open?", "/patient?"]), f"{key}=",
          Id("nhs_number", c.p.nhs if c.chance(0.85) else f"{c.p.nhs[:3]}-{c.p.nhs[3:6]}-{c.p.nhs[6:]}"))
    if c.inc("date_of_birth", 0.3):
        d.add(c.pick(["&dob=", "&DOB=", "&birthDate="]), Id("date_of_birth", fmt_date(c.p.dob, c.rng, c.pick(["iso", "ddmmyyyy", "dd-mm-yyyy"]))))
    d.add(c.pick(["", "&from=2024-01-01", "&type=rad", "&src=huddle"]))
    d.add(c.pick(["", " – does this work for everyone?", "\n(image is on PACS too)"]))
    return d


@pos("url", ["email", "phone"])
def url_links(c):
    r = c.rel()
    d = Doc()
    if c.inc("email", 0.5):
        o, cl = c.pick([("[email the family](mailto:", ")"), ("mailto:", ""), ("<mailto:", ">"), ("[NOK email](mailto:", ")")])
        d.add(o, r.email(c.rng), cl, c.pick([" ", "\n"]))
    if c.inc("phone", 0.6):
        ph = phone_items(r.mobile, c.rng, label=False, style=c.pick(["intlplain", "plain"]))
        o, cl = c.pick([("[call daughter](tel:", ")"), ("tel:", ""), ("[ring NOK](tel:", ")"), ("<tel:", ">")])
        d.add(o, ph, cl)
    d.add(c.pick(["", " – saved from the ward iPad", " (pls don't share outside the team)"]))
    return d


@pos("url", ["postcode", "hospital_number", "email"])
def url_search(c):
    d = Doc()
    d.add(c.pick(["search link: ", "", "the referral portal URL is "]), host(c), "/search?")
    parts = []
    if c.inc("postcode", 0.6):
        parts.append(["postcode=", c.pc(style="nospace")])
    if c.inc("hospital_number", 0.5):
        parts.append([c.pick(["mrn=", "hospno="]), Id("hospital_number", c.p.hosp["value"].replace(" ", ""))])
    if c.inc("email", 0.3):
        parts.append(["email=", c.email()])
    parts.append([c.pick(["sort=asc", "page=1", "type=adult", "ward=all"])])
    c.rng.shuffle(parts)
    for i, pt in enumerate(parts):
        if i:
            d.add("&")
        d.add(pt)
    return d


# =============================================================== clinic / theatre lists

@pos("clinic_list", ["titled_name", "date_of_birth", "hospital_number"])
def clinic_plain(c):
    d = Doc()
    d.add(c.pick(["Tues AM clinic\n", "Thursday list:\n", "Virtual clinic – ", "Fri PM\n"]))
    n = c.rng.randint(2, 5)
    h, m = c.rng.choice([9, 13, 14]), 0
    for i in range(n):
        q = c.p if i == 0 else Person(c.rng, age=c.rng.randint(18, 92))
        q.hosp = q.hosp or gen_hosp(c.rng, c.trust[1])
        d.add(f"{h:02d}:{m:02d} ", q.epr(c.rng, c.pick(["UP", "UP", "Title"])), "  ",
              Id("date_of_birth", fmt_date(q.dob, c.rng, c.pick(["dd.mm.yy", "dd/mm/yyyy", "d/m/yy"]))))
        if i == 0 and c.inc("hospital_number", 0.6) or (i and c.chance(0.5)):
            d.add("  ", c.hosp(label=False if core.bare_ok(q.hosp) else True, p=q))
        d.add("  ", c.pick(["f/u", "new", "results", "2WW", "DNA x1", "phone"]), "\n")
        m += c.pick([15, 20, 30])
        if m >= 60:
            h, m = h + 1, m - 60
    return d


@pos("clinic_list", ["titled_name", "hospital_number"])
def theatre_list(c):
    d = Doc()
    d.add(c.pick(["Theatre 4 list\n", "CEPOD list\n", "Elective list – Th 6\n", "Day case list:\n"]))
    for i in range(c.rng.randint(2, 4)):
        q = c.p if i == 0 else Person(c.rng, age=c.rng.randint(18, 88))
        q.hosp = q.hosp or gen_hosp(c.rng, c.trust[1])
        d.add(f"{i + 1}. ", q.epr(c.rng, c.pick(["UP", "Title"])), f" ({q.age}) ")
        if i == 0 or c.chance(0.6):
            d.add(c.hosp(label=False if core.bare_ok(q.hosp) else True, p=q), " ")
        d.add("– ", c.pick(["lap chole", "TKR", "hemiarthroplasty", "I&D abscess", "lap appendicectomy", "hernia repair", "ORIF wrist", "EUA"]),
              c.pick(["", " (diabetic, first)", " – latex allergy", " ASA 3"]), "\n")
    return d


@pos("clinic_list", ["titled_name", "address", "postcode", "phone"])
def visit_list(c):
    d = Doc()
    d.add(c.pick(["DN visits today\n", "Home visits:\n", "Virtual ward rounds – community\n"]))
    for i in range(c.rng.randint(2, 4)):
        q = c.p if i == 0 else Person(c.rng, age=c.rng.randint(50, 99))
        d.add(f"{i + 1}) ", q.tname(c.rng, c.pick(["full", "last"])), " – ",
              addr_items(q.address, c.rng, pc=(i == 0 and c.inc("postcode", 0.5)) or c.chance(0.4), town=c.chance(0.4)))
        if (i == 0 and c.inc("phone", 0.4)) or c.chance(0.2):
            d.add(" – ", phone_items(q.landline, c.rng, label=False))
        d.add(" – ", c.pick(["bloods", "LMWH", "dressing", "catheter change", "insulin", "syringe driver check", "obs"]), "\n")
    return d


# =============================================================== email forwards

@pos("email_forward", ["email", "titled_name", "date_of_birth", "phone"])
def fwd(c):
    r = c.rel()
    d = Doc()
    d.add("---------- Forwarded message ---------\n", "From: ", r.tname(c.rng, "full"), " <", r.email(c.rng), ">\n")
    d.add(f"Date: {c.when(styles=[('d Mon yyyy', 1)])}\nSubject: {c.pick(['Mum', 'Dad', 'Complaint', 'Visiting', 'Discharge'])} – ", c.tn(style="full"), "\n\n")
    d.add(c.pick(["Dear ward manager,\n", "Hello,\n"]), f"I am writing about my {c.pick(['mother', 'father', 'husband', 'wife'])}")
    if c.inc("date_of_birth", 0.5):
        d.add(" (", c.dob(cue=c.pick(["DOB", "date of birth"])), ")")
    d.add(f", who was on {c.ward()}. {c.pick(['Nobody told us about the move.', 'We were not involved in the discharge.', 'The care was excellent and we want to say thank you.'])}")
    if c.inc("phone", 0.4):
        d.add(" Please call me on ", c.phone(label=False, p=r), ".")
    return d


@pos("email_forward", ["email", "titled_name", "date_of_birth", "nhs_number"])
def send_letter(c):
    d = Doc()
    d.add(c.pick(["Can you email the discharge letter to ", "Please send the clinic letter to ", "Pt asked for results by email – "]), c.email())
    d.add(c.pick(["? She's " if c.p.sex == "F" else "? He's ", ". Patient is ", " – "]), c.tn())
    if c.inc("date_of_birth", 0.6):
        d.add(", ", c.dob(cue=c.pick(["DOB", "dob"])))
    if c.inc("nhs_number", 0.3):
        d.add(", ", c.nhs(label=True))
    d.add(c.pick([". Consent documented.", ". Not sure we're allowed?", "", ". Thanks!"]))
    return d


@pos("email_forward", ["email", "titled_name"])
def nhsmail_colleague_of_pt(c):
    # patient who is themselves NHS staff; their nhs.net address is a patient identifier
    d = Doc()
    f, l = core.ascii_fold(c.p.first).lower(), core.ascii_fold(c.p.last).lower().replace("'", "").replace(" ", "")
    e = Id("email", c.pick([f"{f}.{l}@nhs.net", f"{f}.{l}{c.rng.randint(1, 9)}@nhs.net", f"{f[0].upper()}.{cap(l)}@nhs.net"]))
    d.add(c.pick(["Patient works in pharmacy here – ", "She's one of our HCAs, " if c.p.sex == "F" else "He's one of our porters, ",
                  "Staff member admitted: "]), c.tn(), c.pick([", ", " "]), c.pick(["prefers contact by ", "email ", "work email "]), e,
          c.pick([". Keep it confidential.", ". Please be discreet on the ward.", "."]))
    return d


# =============================================================== half-anonymised (one identifier left in)

def lone(c, kind):
    """The single identifier a trainee forgot to remove, with a phrase around it (brackets balanced)."""
    if kind == "nhs_number":
        return c.pick([[" (", c.nhs(label=True), ")"], [", NHS number ", c.nhs(label=False)], [", ", c.nhs(label=True)]])
    if kind == "date_of_birth":
        return c.pick([[", ", c.dob(cue=True)], [" – ", c.dob(cue=True)], [" (", c.dob(cue=True), ")"]])
    if kind == "postcode":
        return c.pick([[", lives in ", c.pc()], [" from ", c.pc()], [", home postcode ", c.pc()], [" (postcode ", c.pc(), ")"]])
    if kind == "phone":
        r = c.rel()
        return [c.pick([f", {r.rel}'s number ", ", NOK ", f", {r.rel} on ", f", {r.rel}'s mobile ", " – family contact "]), c.phone(label=False, p=r)]
    if kind == "email":
        return c.pick([[", wants letters emailed to ", c.email()], [" (email ", c.email(), ")"], [", contact via ", c.email()]])
    if kind == "hospital_number":
        return c.pick([[" ", c.hosp(label=c.chance(0.6))], [" (", c.hosp(label=c.chance(0.6)), ")"]])
    if kind == "address":
        return c.pick([[", found collapsed at home (", c.addr(pc=False, town=c.chance(0.5)), ")"],
                       [", lives at ", c.addr(pc=False, town=c.chance(0.5))], [", from ", c.addr(pc=False, town=c.chance(0.5))]])
    return [" ", c.tn()]


SINGLE = ["nhs_number", "date_of_birth", "postcode", "phone", "email", "hospital_number", "address", "titled_name"]


@pos("case_presentation", SINGLE)
def half_anon_case(c):
    k = c.want or c.pick(SINGLE)
    d = Doc()
    d.add(c.pick(["Anonymised case: ", "Case (details removed): ", "", "Quick case – ", "For the board: "]),
          f"{cap(c.agesex('long'))}", lone(c, k),
          f", presented with {c.pcx()}. {cap(c.ix(2))}. {cap(c.mx())}. {c.question()}")
    return d


@pos("handover_sbar", SINGLE)
def half_anon_handover(c):
    k = c.want or c.pick(SINGLE)
    d = Doc()
    d.add(f"{cap(c.bed())}, {c.agesex('aM')}", lone(c, k),
          f" – {c.dx()}. {c.obs_line()}. ",
          c.pick([f"Plan: {c.mx()}.", f"Chase {c.pick(['K', 'CRP', 'trop', 'gas'])} at {c.time()}.", "Escalate if NEWS2 ≥ 5.",
                  "For review by the reg."]))
    return d, (typos(c.rng, 0.02) if c.chance(0.5) else None)


@pos("reflection", SINGLE)
def half_anon_reflection(c):
    k = c.want or c.pick(SINGLE)
    d = Doc()
    d.add(c.pick(["I was the FY1 on nights when a ", "On a late shift a ", "In ED I saw a "]),
          f"{c.agesex('long')}", lone(c, k),
          f", became unwell with {c.pcx()}. {cap(c.obs_line())}. On reflection, {c.lesson()}.")
    return d



# =============================================================== clinic letters (address block)

SPEC = {"cap": "Respiratory Medicine", "copd": "Respiratory Medicine", "asthma": "Respiratory Medicine", "pe": "Respiratory Medicine",
        "nstemi": "Cardiology", "hf": "Cardiology", "af": "Cardiology", "dka": "Diabetes and Endocrinology",
        "hypogly": "Diabetes and Endocrinology", "hypoNa": "Diabetes and Endocrinology", "ugib": "Gastroenterology",
        "etoh": "Hepatology", "pancreatitis": "General Surgery", "appendicitis": "General Surgery", "sbo": "General Surgery",
        "nof": "Trauma and Orthopaedics", "delirium": "Care of the Elderly", "stroke": "Stroke Medicine",
        "bronchiolitis": "Paediatrics", "febrile_child": "Paediatrics", "preeclampsia": "Obstetrics", "pph": "Obstetrics",
        "aki": "Renal Medicine", "hyperk": "Renal Medicine", "neutropenic": "Oncology", "seizure": "Neurology",
        "meningitis": "Infectious Diseases", "cellulitis": "Acute Medicine", "caudaequina": "Spinal Surgery"}


@pos("clinic_letter", ["titled_name", "address", "postcode", "date_of_birth", "nhs_number", "hospital_number"])
def clinic_letter(c):
    p = c.p
    d = Doc()
    cd = recent_date(c.rng)
    st = c.pick(["dd/mm/yyyy", "d Mon yyyy", "dd.mm.yy"])
    dates = [fmt_date(cd + dt.timedelta(days=k), c.rng, st) for k in (0, c.rng.randint(0, 3), c.rng.randint(4, 12))]
    d.add(f"Department of {SPEC.get(c.s['k'], 'General Medicine')}\n", f"Clinic date: {dates[0]}\n",
          f"Dictated: {dates[1]}  Typed: {dates[2]}\n\n")
    d.add(f"The GP\n{c.gp()}\n\n")
    d.add(c.pick(["Re: ", "RE: ", "Patient: ", ""]), c.tn(style=c.pick(["full", "fullLAST", "UPPER", "init"])), "\n")
    d.add(c.addr(multiline=True, pc=True, town=True, locality=c.chance(0.5)), "\n")
    bits = [c.dob(cue=c.pick(["DOB:", "D.O.B.", "Date of birth:"]))]
    if c.inc("nhs_number", 0.7):
        bits.append(c.nhs(label=True, nl=False))
    if c.inc("hospital_number", 0.6):
        bits.append(c.hosp(label=True))
    sep = c.pick(["   ", "\n", "  |  "])
    for i, b in enumerate(bits):
        if i:
            d.add(sep)
        d.add(b)
    d.add("\n\n", f"Diagnosis: {c.dx()}\n", f"Plan: {c.mx(2)}\n\n")
    d.add(f"I reviewed this {p.age}-year-old {c.noun()} in clinic today. The {c.pick(['symptoms have', 'presenting problem has'])} settled. {cap(c.ix(2))}. ")
    d.add(c.pick(["I have not arranged further follow-up.", "I will see them again in 3 months.", "Please repeat bloods in 2 weeks.",
                  "Discharged to GP care."]))
    d.add("\n\nc.c. Patient")
    return d
