"""Word pools for the held-out corpus generator. All people, addresses and numbers are fictional."""

# ---------------------------------------------------------------------------
# Names by origin: (male first names, female first names, surnames).
# A surname may be a (male form, female form) pair (Polish, Lithuanian...).
# ---------------------------------------------------------------------------
NAMES = {
    "english": (
        ["Oliver", "George", "Harry", "Jack", "Thomas", "William", "Daniel", "Michael", "Peter", "Graham",
         "Keith", "Trevor", "Alan", "Colin", "Derek", "Barry", "Stephen", "Leo", "Alfie", "Ronald", "Dennis"],
        ["Margaret", "Susan", "Janet", "Pauline", "Sarah", "Emma", "Charlotte", "Olivia", "Amelia", "Jessica",
         "Hannah", "Joan", "Doreen", "Brenda", "Eileen", "Lucy", "Rebecca", "Anne", "Sheila", "Poppy", "Maisie"],
        ["Hale", "Whitworth", "Pickering", "Ashworth", "Sutcliffe", "Barraclough", "Thornton", "Holroyd",
         "Fenwick", "Tranter", "Bentley", "Cartwright", "Greenwood", "Haworth", "Pemberton", "Rowbotham",
         "Lister", "Marsden", "Hartley-Brown", "Mason-Hughes", "Smith", "Walker", "Pearson", "Kettlewell"]),
    "scottish": (
        ["Callum", "Fraser", "Hamish", "Alasdair", "Euan", "Murdo", "Ruaridh", "Angus", "Struan"],
        ["Isla", "Morag", "Eilidh", "Kirsty", "Catriona", "Ailsa", "Fiona", "Shona"],
        ["McAllister", "MacLeod", "Buchanan", "Cameron", "Drummond", "Urquhart", "McCrindle", "Sinclair",
         "Mackintosh", "Galbraith"]),
    "welsh": (
        ["Rhys", "Dafydd", "Gethin", "Iolo", "Emyr", "Aled", "Gareth", "Huw"],
        ["Cerys", "Angharad", "Seren", "Bethan", "Nia", "Eleri", "Gwen", "Ffion"],
        ["Pritchard", "Llewellyn", "Prosser", "Gruffydd", "Bevan", "Vaughan", "Pugh", "Jenkins", "Rees"]),
    "irish": (
        ["Cian", "Ciarán", "Seán", "Darragh", "Padraig", "Eoin", "Declan", "Colm"],
        ["Aoife", "Siobhán", "Niamh", "Orla", "Róisín", "Saoirse", "Bernadette", "Clodagh"],
        ["Dunne", "Byrne", "O'Sullivan", "McGrath", "Fitzgerald", "O'Driscoll", "Kavanagh", "Ó Briain",
         "Doherty", "Mulligan"]),
    "polish": (
        ["Karol", "Tomasz", "Piotr", "Krzysztof", "Wojciech", "Łukasz", "Marek", "Jakub"],
        ["Agnieszka", "Katarzyna", "Małgorzata", "Zofia", "Joanna", "Ewa", "Magdalena"],
        [("Nowicki", "Nowicka"), ("Kowalski", "Kowalska"), ("Wiśniewski", "Wiśniewska"),
         ("Zieliński", "Zielińska"), ("Lewandowski", "Lewandowska"), "Wójcik", "Krawczyk", "Nowak"]),
    "lithuanian": (
        ["Mindaugas", "Tomas", "Darius", "Žygimantas"],
        ["Rūta", "Eglė", "Aistė", "Jurgita"],
        [("Kazlauskas", "Kazlauskienė"), ("Petrauskas", "Petrauskienė"), ("Jankauskas", "Jankauskienė")]),
    "romanian": (
        ["Andrei", "Ionuț", "Mihai", "Florin"],
        ["Ioana", "Elena", "Andreea", "Mirela"],
        ["Popescu", "Ionescu", "Dumitru", "Constantinescu", "Stoica"]),
    "nigerian": (
        ["Chinedu", "Oluwaseun", "Emeka", "Tunde", "Ifeanyi", "Babajide", "Obinna", "Femi"],
        ["Grace", "Adaeze", "Funmilayo", "Ngozi", "Chiamaka", "Folake", "Temitope", "Blessing"],
        ["Okoro", "Adeyemi", "Okonkwo", "Balogun", "Eze", "Nwosu", "Oyelaran", "Adebayo", "Chukwu",
         "Afolabi"]),
    "ghanaian": (
        ["Kwame", "Kofi", "Yaw", "Kwabena", "Kojo"],
        ["Ama", "Akosua", "Efua", "Abena", "Adwoa"],
        ["Mensah", "Asante", "Owusu", "Boateng", "Appiah", "Agyeman"]),
    "somali": (
        ["Abdirahman", "Mohamed", "Abdullahi", "Hassan", "Liban"],
        ["Hodan", "Ayaan", "Sahra", "Fadumo", "Hibo"],
        ["Warsame", "Farah", "Jama", "Abdi", "Hirsi", "Osman"]),
    "indian": (
        ["Rajesh", "Sanjay", "Harpreet", "Gurdeep", "Arjun", "Vikram", "Karthik", "Nikhil", "Jaswinder"],
        ["Priya", "Meera", "Kiran", "Harjinder", "Anjali", "Lakshmi", "Divya", "Hema", "Manpreet"],
        ["Patel", "Shah", "Mistry", "Sandhu", "Gill", "Dhillon", "Chauhan", "Subramaniam", "Krishnan",
         "Parmar", "Bains", "Lad"]),
    "pakistani": (
        ["Imran", "Tariq", "Zubair", "Bilal", "Asif", "Kamran"],
        ["Nasreen", "Shazia", "Ayesha", "Rukhsana", "Sana", "Parveen"],
        ["Hussain", "Akhtar", "Iqbal", "Mahmood", "Rashid", "Qureshi", "Butt", "Raja"]),
    "bangladeshi": (
        ["Abdul", "Rahim", "Shahidul", "Mizanur", "Jamal"],
        ["Rahima", "Nazma", "Shirin", "Fahmida", "Rupa"],
        ["Miah", "Uddin", "Rahman", "Choudhury", "Islam", "Ahmed", "Begum"]),
    "chinese": (
        ["Wei", "Jun", "Hao", "Ming", "Kai"],
        ["Mei", "Xiu", "Ling", "Yan", "Hui"],
        ["Lin", "Chen", "Wong", "Cheung", "Li", "Zhang", "Ho", "Tang", "Yip"]),
    "vietnamese": (
        ["Minh", "Duc", "Tuan", "Quang"],
        ["Hoa", "Ngoc", "Lan", "Thu"],
        ["Nguyen", "Tran", "Pham", "Hoang", "Vu"]),
    "caribbean": (
        ["Delroy", "Winston", "Errol", "Desmond", "Leroy", "Clive"],
        ["Marcia", "Beverley", "Claudette", "Hyacinth", "Yvonne", "Paulette"],
        ["Campbell", "Clarke", "Thompson", "Reid", "Grant", "Francis", "Bailey", "Gayle", "McKenzie"]),
    "turkish": (
        ["Mehmet", "Emre", "Serkan", "Hüseyin", "Kemal"],
        ["Ayşe", "Elif", "Zeynep", "Fatma", "Gül"],
        ["Yılmaz", "Demir", "Kaya", "Çelik", "Aydın", "Doğan"]),
    "arabic": (
        ["Omar", "Khaled", "Yusuf", "Ahmad", "Tarek"],
        ["Fatima", "Layla", "Rania", "Noor", "Huda"],
        ["Al-Hassan", "Haddad", "Al-Khatib", "Saleh", "Mansour", "Nasser"]),
    "portuguese": (
        ["João", "Tiago", "Rui", "Paulo"],
        ["Ana", "Beatriz", "Inês", "Lúcia"],
        ["Ferreira", "De Souza", "Gonçalves", "Pereira", "Carvalho"]),
    "italian": (
        ["Marco", "Giuseppe", "Luca", "Salvatore"],
        ["Giulia", "Francesca", "Rosa", "Carmela"],
        ["Esposito", "Romano", "Bianchi", "Ricci", "Di Marco"]),
    "greek": (
        ["Andreas", "Christos", "Nikos", "Stavros"],
        ["Eleni", "Despina", "Androulla", "Sofia"],
        ["Georgiou", "Christodoulou", "Papadopoulos", "Constantinou"]),
    "filipino": (
        ["Jose", "Ramon", "Arnel"],
        ["Maricel", "Rowena", "Jocelyn", "Marites"],
        ["Santos", "Reyes", "Dela Cruz", "Bautista", "Villanueva"]),
    "zimbabwean": (
        ["Tendai", "Tatenda", "Farai", "Tinashe"],
        ["Rudo", "Chipo", "Nyasha", "Tsitsi"],
        ["Moyo", "Ncube", "Dube", "Chikwanha", "Sibanda"]),
}

ORIGIN_WEIGHTS = {
    "english": 18, "scottish": 5, "welsh": 4, "irish": 5, "polish": 5, "lithuanian": 2, "romanian": 3,
    "nigerian": 5, "ghanaian": 3, "somali": 3, "indian": 6, "pakistani": 5, "bangladeshi": 4,
    "chinese": 3, "vietnamese": 2, "caribbean": 4, "turkish": 2, "arabic": 3, "portuguese": 2,
    "italian": 2, "greek": 2, "filipino": 2, "zimbabwean": 2,
}

# Staff surnames (for colleagues.jsonl only)
STAFF_SURNAMES = [
    "Okafor", "Jones", "Patel", "Adeyemi", "Hughes", "Clarke", "Rahman", "Kowalska", "Ahmed", "Shah",
    "Maguire", "Evans", "Nkemelu", "Fraser", "Lim", "Bhatt", "O'Neill", "Davies", "Osei", "Chaudhry",
    "Taylor", "Mbeki", "Kaur", "Singh", "Walsh", "Henderson", "Qureshi", "Brennan", "Morgan", "Achebe",
    "Thackeray", "Lindqvist", "Petrov", "Abara", "Cole", "Sutherland", "Iyer", "Van der Merwe", "Farouk",
    "Yeung", "Ellis", "Mensah-Bonsu", "Rowe", "Kerr", "Gallagher", "Pillai", "Obi", "Mistry", "Nash",
]
STAFF_FIRST = ["Sarah", "Ade", "Ravi", "Claire", "Tom", "Nadia", "James", "Helen", "Chidi", "Priya",
               "Mark", "Fiona", "Ola", "Ben", "Aisha", "Gareth", "Ruth", "Kwame", "Sinead", "Hassan"]

# ---------------------------------------------------------------------------
# Places: town -> list of (locality, outward code). Outward codes chosen to
# cover all six UK postcode formats (A9, A99, AA9, AA99, A9A, AA9A).
# ---------------------------------------------------------------------------
TOWNS = {
    "Leeds": [("Headingley", "LS6"), ("Harehills", "LS8"), ("Chapeltown", "LS7"), ("Armley", "LS12"),
              ("Beeston", "LS11"), ("Seacroft", "LS14"), ("Horsforth", "LS18"), ("Morley", "LS27"),
              ("Burley", "LS4"), ("Gipton", "LS9")],
    "Manchester": [("Rusholme", "M14"), ("Moss Side", "M16"), ("Hulme", "M15"), ("Levenshulme", "M19"),
                   ("Didsbury", "M20"), ("Chorlton", "M21"), ("Wythenshawe", "M22"), ("Ancoats", "M4"),
                   ("Cheetham Hill", "M8"), ("Gorton", "M18")],
    "Birmingham": [("Sparkbrook", "B11"), ("Handsworth", "B21"), ("Erdington", "B23"), ("Selly Oak", "B29"),
                   ("Small Heath", "B10"), ("Aston", "B6"), ("Edgbaston", "B15"), ("Nechells", "B7")],
    "London": [("Bethnal Green", "E2"), ("Wapping", "E1W"), ("Stratford", "E15"), ("Hackney", "E8"),
               ("Peckham", "SE15"), ("Brixton", "SW2"), ("Tooting", "SW17"), ("Westminster", "SW1P"),
               ("Pimlico", "SW1V"), ("Clerkenwell", "EC1R"), ("Holborn", "WC1N"), ("Covent Garden", "WC2H"),
               ("Fitzrovia", "W1T"), ("Marylebone", "W1G"), ("King's Cross", "N1C"), ("Tottenham", "N17"),
               ("Kilburn", "NW6"), ("Walthamstow", "E17"), ("Southall", "UB1"), ("Croydon", "CR0"),
               ("Ilford", "IG1"), ("Soho", "W1D"), ("Barbican", "EC2Y"), ("Westminster", "SW1A"), ("Mayfair", "W1K"),
               ("Bloomsbury", "WC1H"), ("Farringdon", "EC1M"), ("Shadwell", "E1W"), ("Bermondsey", "SE1P")],
    "Newcastle upon Tyne": [("Jesmond", "NE2"), ("Gosforth", "NE3"), ("Benwell", "NE4"), ("Byker", "NE6"),
                            ("Walker", "NE6"), ("Fenham", "NE4"), ("Kenton", "NE3")],
    "Sheffield": [("Nether Edge", "S7"), ("Firth Park", "S5"), ("Darnall", "S9"), ("Crookes", "S10"),
                  ("Hillsborough", "S6"), ("Sharrow", "S11"), ("Page Hall", "S4")],
    "Bristol": [("Easton", "BS5"), ("St Pauls", "BS2"), ("Bedminster", "BS3"), ("Southmead", "BS10"),
                ("Clifton", "BS8"), ("Hartcliffe", "BS13")],
    "Liverpool": [("Toxteth", "L8"), ("Anfield", "L4"), ("Kensington", "L7"), ("Walton", "L9"),
                  ("Speke", "L24"), ("Everton", "L5")],
    "Glasgow": [("Govanhill", "G42"), ("Partick", "G11"), ("Dennistoun", "G31"), ("Possilpark", "G22"),
                ("Govan", "G51")],
    "Cardiff": [("Canton", "CF11"), ("Grangetown", "CF11"), ("Splott", "CF24"), ("Ely", "CF5"),
                ("Butetown", "CF10")],
    "Nottingham": [("Radford", "NG7"), ("Hyson Green", "NG7"), ("Sneinton", "NG3"), ("Sherwood", "NG5"),
                   ("Bilborough", "NG8")],
    "Leicester": [("Highfields", "LE2"), ("Belgrave", "LE4"), ("Evington", "LE5")],
    "Bradford": [("Manningham", "BD8"), ("Great Horton", "BD7"), ("Heaton", "BD9"), ("Bradford Moor", "BD3")],
    "Oxford": [("Cowley", "OX4"), ("Blackbird Leys", "OX4"), ("Headington", "OX3"), ("Jericho", "OX2")],
    "Norwich": [("Lakenham", "NR1"), ("Mile Cross", "NR3")],
    "Plymouth": [("Mutley", "PL4"), ("Devonport", "PL1"), ("St Budeaux", "PL5")],
    "Hull": [("Newington", "HU3"), ("Newland", "HU5"), ("Bilton Grange", "HU9")],
    "Belfast": [("Ormeau", "BT7"), ("Stranmillis", "BT9"), ("Falls", "BT12"), ("Antrim Road", "BT15")],
    "Edinburgh": [("Leith", "EH6"), ("Gorgie", "EH11"), ("Marchmont", "EH9"), ("Craigmillar", "EH16")],
    "Stoke-on-Trent": [("Fenton", "ST4"), ("Tunstall", "ST6")],
    "Blackpool": [("Central", "FY1"), ("Layton", "FY3")],
    "Sunderland": [("Hendon", "SR2"), ("Pennywell", "SR4")],
    "Luton": [("Bury Park", "LU1"), ("Marsh Farm", "LU3")],
    "Preston": [("Deepdale", "PR1"), ("Fulwood", "PR2")],
    "Blackburn": [("Audley", "BB1"), ("Mill Hill", "BB2")],
    "Middlesbrough": [("Newport", "TS1"), ("Berwick Hills", "TS3"), ("Linthorpe", "TS5")],
    "Exeter": [("Heavitree", "EX1"), ("Exwick", "EX4")],
    "Brighton": [("Kemptown", "BN2"), ("Hanover", "BN2"), ("Preston Park", "BN1")],
    "York": [("Tang Hall", "YO31"), ("Heslington", "YO10")],
    "Wolverhampton": [("Whitmore Reans", "WV1"), ("Low Hill", "WV10")],
    "Coventry": [("Hillfields", "CV1"), ("Foleshill", "CV6"), ("Wyken", "CV2")],
    "Hebden Bridge": [("", "HX7")],
    "Whitby": [("", "YO21")],
    "Ilkley": [("", "LS29")],
    "Keswick": [("", "CA12")],
    "Penzance": [("", "TR18")],
    "Barrow-in-Furness": [("", "LA14")],
    "Bangor": [("", "LL57")],
}
TOWN_WEIGHTS = {t: (6 if t in ("Leeds", "Manchester", "Birmingham", "London") else 2) for t in TOWNS}
TOWN_WEIGHTS["London"] = 14

INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"

STREET_NAMES = [
    "Elm", "Church", "Victoria", "Mill", "Station", "Park", "Queen's", "King Edward", "Albert", "Beech", "Oak",
    "Rosebank", "Harehills", "Moorland", "Westfield", "Springfield", "Hollybush", "Belle Vue", "Clarendon",
    "Cavendish", "Granville", "Hawthorn", "Laburnum", "Sycamore", "Chestnut", "Alder", "Rowan", "Heather",
    "Bracken", "Meadow", "Orchard", "Brook", "Bridge", "Canal", "Wharf", "Foundry", "Cotton", "Weavers",
    "Tannery", "Chapel", "Vicarage", "School", "Green", "High", "North", "Market", "Coronation", "Jubilee",
    "Windsor", "Balmoral", "Sandringham", "Allerton", "Cranbrook", "Maple", "Lime", "Poplar", "Willow",
    "St Mary's", "St John's", "Prince's", "Gladstone", "Peel", "Nelson", "Wellington", "Trafalgar", "Hope",
    "Union", "Providence", "Railway", "Ashgrove", "Fernbank", "Ladysmith", "Stanley", "Derwent", "Raglan",
    "Lonsdale", "Cemetery", "Brunswick", "Kirkstall", "Dumbarton", "Cathcart", "Ormeau", "Salisbury",
]
STREET_SUFFIX = [("Street", "St"), ("Road", "Rd"), ("Lane", "Ln"), ("Avenue", "Ave"), ("Close", "Cl"),
                 ("Court", "Ct"), ("Crescent", "Cres"), ("Drive", "Dr"), ("Grove", "Gr"), ("Terrace", "Terr"),
                 ("Way", "Way"), ("Gardens", "Gdns"), ("Place", "Pl"), ("Mews", "Mews"), ("Walk", "Wlk"),
                 ("Rise", "Rise"), ("View", "View"), ("Row", "Row"), ("Square", "Sq"), ("Hill", "Hill")]
HOUSE_NAMES = ["Rose Cottage", "The Old Forge", "Ivy House", "Hillcrest", "Fernlea", "The Laurels",
               "Brookside", "Tŷ Gwyn", "Orchard House", "The Bungalow"]
CARE_HOMES = ["Oakwood Care Home", "Beechcroft Nursing Home", "Meadowbank House", "Lindley Lodge",
              "Abbeyfield House", "Hollins Park Care Centre", "Larchwood Residential Home"]
BLOCKS = ["Keats House", "Riverside House", "Canal Wharf", "Sunningdale Court", "Millennium Point",
          "Trinity Tower", "Marlowe Court", "Chaucer House"]

# Trusts (for URLs and hospital number prefixes). Codes are ODS-style prefixes; numbers are invented.
TRUSTS = [
    ("lth", "RR8"), ("mft", "RW3"), ("ouh", "RTH"), ("stgeorges", "RJ7"), ("nuth", "RTD"), ("nuh", "RX1"),
    ("uhb", "RRK"), ("sth", "RHQ"), ("royalfree", "RAL"), ("cuh", "RGT"), ("uhl", "RWE"), ("lpool", "REM"),
    ("bradford", "RAE"), ("uhbw", "RA7"), ("hey", "RWA"), ("ulh", "RWD"),
]

DOMAINS = [("gmail.com", 30), ("hotmail.co.uk", 14), ("yahoo.co.uk", 8), ("outlook.com", 8), ("icloud.com", 6),
           ("btinternet.com", 5), ("live.co.uk", 4), ("sky.com", 3), ("nhs.net", 8), ("hotmail.com", 4),
           ("aol.com", 2), ("virginmedia.com", 2), ("proton.me", 1), ("googlemail.com", 2), ("yahoo.com", 2),
           ("ntlworld.com", 1), ("talktalk.net", 1)]

WARDS = ["Ward 23", "AMU", "Ward 12", "CCU", "Beech Ward", "Nightingale Ward", "Ward 5", "SAU", "Ward 31",
         "the Children's Assessment Unit", "Rowan Ward", "Jubilee Ward", "Ward 8 (elderly care)", "ITU", "HDU",
         "Resus", "majors", "the discharge lounge", "Ward 14", "Ward 44", "Acorn Ward", "the stroke unit",
         "Ward 7", "the frailty unit", "Larch Ward", "Ward 19", "the birth centre", "Ward 2 (gynae)"]
GP_PRACTICES = ["Moorside Surgery", "Church Lane Medical Centre", "Riverside Health Centre", "The Grange Practice",
                "Parkview Surgery", "Hillside Family Practice", "Canal Street Medical Practice", "Northfield Surgery",
                "Abbey Medical Group", "Westway Health Centre"]
HOSPITALS = ["St James's", "the General", "the Royal", "the Infirmary", "the Children's Hospital",
             "Wythenshawe", "the Freeman", "the QE", "the Northern General", "Southmead"]
GRADES = ["FY1", "FY2", "CT1", "CT2", "ST3", "IMT2", "GPST1", "SHO", "reg", "F1", "F2", "third-year student",
          "student nurse", "band 5", "newly qualified nurse", "ACP", "PA"]
