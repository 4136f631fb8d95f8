#!/usr/bin/env python3
"""Generate examples/subscribers.csv: 320 invented newsletter subscribers.

Deterministic: uses only the standard library and ``random.Random(2026)``,
so running this script again rewrites the CSV byte for byte.

    python examples/make_subscribers.py            # writes examples/subscribers.csv
    python examples/make_subscribers.py -o out.csv # writes elsewhere

All people, e-mail addresses and organisations are invented. E-mail domains
use only example.org / example.com / example.net and their subdomains
(reserved for documentation, RFC 2606).
"""

from __future__ import annotations

import argparse
import csv
import random
import re
import unicodedata
from pathlib import Path

SEED = 2026
N_ROWS = 320
COLUMNS = ["email", "name", "role", "interests", "region", "organisation"]

ROLES = ["physician", "resident", "fellow", "nurse", "technologist", "industry"]
ROLE_WEIGHTS = [40, 12, 10, 14, 12, 12]  # percent; applied as exact quotas

INTERESTS = ["liver", "lung", "kidney", "bone", "immuno-oncology"]
INTEREST_WEIGHTS = [40, 20, 15, 12, 20]
EMPTY_INTERESTS_RATE = 0.03  # a few subscribers never set their interests

REGIONS = ["north-america", "europe", "asia-pacific", "latin-america", "middle-east-africa"]
REGION_WEIGHTS = [36, 34, 15, 8, 7]

# Names that must appear (non-ASCII handling test cases), with their region.
FEATURED = [
    ("Zoë Müller", "europe"),
    ("José Álvarez", "latin-america"),
    ("Søren Ødegaard", "europe"),
    ("Nguyễn Thị Lan", "asia-pacific"),
    ("François Lefèvre", "europe"),
    ("Łukasz Wróbel", "europe"),
    ("Aoife Ní Bhriain", "europe"),
    ("Björn Þórsson", "europe"),
    ("Çağla Yıldız", "middle-east-africa"),
    ("Dmitrij Šimůnek", "europe"),
    ("Renée O'Connor", "north-america"),
    ("João Gonçalves", "latin-america"),
]

# (first names, last names) per region. Mixed on purpose: clinicians move.
NAMES = {
    "north-america": (
        ["James", "Emily", "Michael", "Sarah", "David", "Jessica", "Daniel", "Ashley",
         "Christopher", "Lauren", "Andrew", "Megan", "Marcus", "Keisha", "Tyler",
         "Hannah", "Raj", "Priya", "Kevin", "Mei", "Omar", "Rachel", "Ethan", "Chloé",
         "Jean-Luc", "Naomi", "Darnell", "Whitney", "Samir", "Grace"],
        ["Smith", "Johnson", "Williams", "Brown", "Miller", "Davis", "Wilson", "Anderson",
         "Thompson", "Nguyen", "Patel", "Kim", "Robinson", "Bergeron", "Tremblay",
         "O'Brien", "Washington", "Chen", "Goldberg", "Okafor", "Ramírez", "Fitzgerald",
         "Shapiro", "Lévesque", "Hernández", "Cohen", "Reyes", "MacDonald"],
    ),
    "europe": (
        ["Anna", "Lukas", "Sophie", "Matteo", "Elena", "Jan", "Clara", "Pierre", "Marta",
         "Henrik", "Inès", "Felix", "Giulia", "Pieter", "Katarzyna", "Nikos", "Ana",
         "Ólafur", "Małgorzata", "Sebastian", "Chiara", "Jörg", "Eline", "Hélène",
         "Tomás", "Ingrid", "Dominik", "Siobhán", "Radek", "Ece"],
        ["Schmidt", "Rossi", "Dubois", "García", "van Dijk", "Kowalski", "Novák",
         "Jensen", "Lindqvist", "Papadopoulos", "Moreau", "Ferrari", "Becker", "Fischer",
         "Martínez", "Nowak", "Janssen", "Dvořák", "Horváth", "Kovačević", "Schäfer",
         "Grünewald", "Sørensen", "Åberg", "Brennan", "Lambert", "Costa", "Bianchi",
         "Weiß", "Nieminen"],
    ),
    "asia-pacific": (
        ["Wei", "Hiroshi", "Yuki", "Min-jun", "Ji-woo", "Arjun", "Ananya", "Siti", "Minh",
         "Hana", "Kenji", "Xiaoling", "Haruto", "Seo-yeon", "Vikram", "Lakshmi", "Jia",
         "Thanh", "Ravi", "Liam", "Chloe", "Aroha", "Ming", "Sakura"],
        ["Wang", "Li", "Zhang", "Tanaka", "Suzuki", "Kim", "Park", "Lee", "Sharma",
         "Iyer", "Tran", "Pham", "Wong", "Lim", "Tan", "Yamamoto", "Nakamura", "Choi",
         "Reddy", "Ng", "Walker", "Taylor", "Ngata", "Liu"],
    ),
    "latin-america": (
        ["Camila", "Mateo", "Valentina", "Santiago", "Lucía", "Diego", "Isabela", "Rafael",
         "Mariana", "Andrés", "Gabriela", "Joaquín", "Fernanda", "Sebastián", "Ximena"],
        ["González", "Rodríguez", "Pérez", "Silva", "Santos", "Oliveira", "Fernández",
         "López", "Castillo", "Mendoza", "Araújo", "Gutiérrez", "Rocha", "Vargas",
         "Peña"],
    ),
    "middle-east-africa": (
        ["Ahmed", "Fatima", "Youssef", "Layla", "Omar", "Noura", "Kwame", "Amara",
         "Chinedu", "Thandiwe", "Yael", "Eitan", "Mehmet", "Zeynep", "Tariq", "Amina"],
        ["Hassan", "Al-Farsi", "Haddad", "Mansour", "Okonkwo", "Mensah", "Nkosi",
         "Abebe", "Levi", "Mizrahi", "Demir", "Öztürk", "Khalil", "Adeyemi", "Mokoena",
         "El-Amin"],
    ),
}

ORGANISATIONS = {
    "north-america": [
        "Lakeshore University Medical Center",
        "Mercy Valley Cancer Institute",
        "Northfield Regional Hospital",
        "Cedar Ridge Health System",
        "Hudson Bay University Health Centre",
        "St. Aldric Comprehensive Cancer Center",
        "Prairie Plains Medical Group",
    ],
    "europe": [
        "Universitätsklinikum Nordheim",
        "Hôpital Universitaire de Valmont",
        "Ospedale San Lorenzo di Vercella",
        "Hospital Clínico Santa Irene, Valdoria",
        "Amstelvliet Medisch Centrum",
        "Nordvik University Hospital",
        "St. Brigid's University Hospital",
        "Klinika Onkologii Wiślany",
    ],
    "asia-pacific": [
        "Eastern Harbour General Hospital",
        "Sakuragawa University Hospital",
        "Hanbit Cancer Center",
        "Sri Lotus Institute of Oncology",
        "Southern Cross Private Hospital",
        "Bệnh viện Đa khoa Sông Lam",
    ],
    "latin-america": [
        "Instituto Oncológico del Sur, Mendoza",
        "Hospital Universitário Vale Verde",
        "Clínica Andina de Oncología",
        "Centro Médico Nuevo Horizonte",
    ],
    "middle-east-africa": [
        "Gulf Crescent Medical City",
        "Cape Meridian Academic Hospital",
        "Lagoon City Teaching Hospital",
        "Anatolia University Faculty of Medicine",
        "Al-Noor Specialist Hospital",
    ],
}

INDUSTRY_ORGS = [
    "Thermavia Medical",
    "Radiantis Microspheres Ltd",
    "CryoNova Systems",
    "Histolux Therapeutics",
    "Embolix Devices GmbH",
    "Sonarc Imaging",
    "Meridian Needle Technologies",
]

CLINICAL_DOMAINS = ["example.org", "example.com", "example.net",
                    "hospital.example.org", "health.example.net", "mail.example.com"]
INDUSTRY_DOMAINS = ["example.com", "medtech.example.com", "corp.example.net"]

# Letters that NFKD does not decompose into ASCII + combining marks.
SPECIAL = {"ø": "o", "æ": "ae", "œ": "oe", "ß": "ss", "ł": "l", "đ": "d",
           "ð": "d", "þ": "th", "ı": "i"}


def ascii_slug(text: str) -> str:
    """Transliterate a name part to lowercase ASCII (e.g. 'Ødegaard' -> 'odegaard')."""
    text = "".join(SPECIAL.get(ch, ch) for ch in text.lower())
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"[^a-z0-9 -]", "", text)   # drop apostrophes etc.
    text = re.sub(r"[ ]+", ".", text.strip())  # 'van dijk' -> 'van.dijk'
    return text


def make_email(rng: random.Random, name: str, domain: str, taken: set[str]) -> str:
    parts = [ascii_slug(p) for p in name.split(" ", 1)]
    first, last = parts[0], parts[-1]
    style = rng.random()
    if style < 0.70 or "." in last:  # multi-word surnames always get first.last
        local = f"{first}.{last}"
    elif style < 0.85:
        local = f"{first[0]}{last}"
    else:
        local = f"{first}_{last}"
    local = local.replace("..", ".")
    email = f"{local}@{domain}"
    n = 2
    while email in taken:
        email = f"{local}{n}@{domain}"
        n += 1
    taken.add(email)
    return email


def pick_interests(rng: random.Random) -> str:
    if rng.random() < EMPTY_INTERESTS_RATE:
        return ""
    k = rng.choices([1, 2, 3], weights=[45, 35, 20])[0]
    chosen: list[str] = []
    while len(chosen) < k:
        item = rng.choices(INTERESTS, weights=INTEREST_WEIGHTS)[0]
        if item not in chosen:
            chosen.append(item)
    return ";".join(sorted(chosen, key=INTERESTS.index))


def build_rows(rng: random.Random) -> list[dict[str, str]]:
    people: list[tuple[str, str]] = list(FEATURED)
    seen = {name for name, _ in people}
    while len(people) < N_ROWS:
        region = rng.choices(REGIONS, weights=REGION_WEIGHTS)[0]
        firsts, lasts = NAMES[region]
        name = f"{rng.choice(firsts)} {rng.choice(lasts)}"
        if name not in seen:
            seen.add(name)
            people.append((name, region))
    rng.shuffle(people)

    # Exact role quotas (largest remainder), shuffled, so the mix is stable.
    quotas = [N_ROWS * w // 100 for w in ROLE_WEIGHTS]
    remainders = sorted(range(len(ROLES)),
                        key=lambda i: (-(N_ROWS * ROLE_WEIGHTS[i] % 100), i))
    for i in remainders[: N_ROWS - sum(quotas)]:
        quotas[i] += 1
    roles = [role for role, q in zip(ROLES, quotas, strict=True) for _ in range(q)]
    rng.shuffle(roles)

    rows = []
    taken: set[str] = set()
    for (name, region), role in zip(people, roles, strict=True):
        if role == "industry":
            org = rng.choice(INDUSTRY_ORGS)
            domain = rng.choice(INDUSTRY_DOMAINS)
        else:
            org = rng.choice(ORGANISATIONS[region])
            domain = rng.choice(CLINICAL_DOMAINS)
        rows.append({
            "email": make_email(rng, name, domain, taken),
            "name": name,
            "role": role,
            "interests": pick_interests(rng),
            "region": region,
            "organisation": org,
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", type=Path,
                        default=Path(__file__).resolve().with_name("subscribers.csv"))
    args = parser.parse_args()

    rows = build_rows(random.Random(SEED))
    with args.output.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n",
                                quoting=csv.QUOTE_MINIMAL)
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.output}")


if __name__ == "__main__":
    main()
