"""How a paper is cited in the email: authors in Vancouver style ("van den Berg P,
Okafor-Lindqvist M, et al.") and one name per journal. Pure.

Feeds give names as "First Last", "Last, First" or already cited ("Last FM"); the
surname keeps its particles ("van den Berg", "de la Cruz"), which a naive split on the
last space turned into "Berg PVD".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

# Lower-case words that begin a surname when they follow a given name.
PARTICLES = frozenset({
    "al", "bin", "da", "das", "de", "degli", "dei", "del", "della", "den", "der", "des",
    "di", "do", "dos", "du", "el", "ibn", "la", "le", "lo", "st", "te", "ten", "ter", "van",
    "vom", "von", "zu", "zum", "zur",
})
# The same particles capitalised ("Carlos Da Silva", "Anna De Luca") begin a surname too,
# but only these: "Van" or "Le" alone may be a given or a family name.
CAPITAL_PARTICLES = frozenset({"Da", "De", "Del", "Della", "Di", "Dos", "Du", "Von"})
SUFFIXES = frozenset({"Jr", "Jr.", "Sr", "Sr.", "II", "III", "IV"})
# Group authors are cited as written ("IO Society Writing Committee").
_GROUP = re.compile(r"\b(?:group|committee|consortium|society|investigators|collaborat\w*|"
                    r"network|team|association|working|panel)\b", re.IGNORECASE)
_CITED = re.compile(r"^\S.* [A-Z]{1,4}$")  # "Smith JA", "van den Berg P"


def cite_name(name: str) -> str:
    """'Jane A. Smith' or 'Smith, Jane A.' -> 'Smith JA'; 'Pieter van den Berg' ->
    'van den Berg P'; 'Smith JA' stays as it is."""
    name = " ".join(name.split())
    if not name or _GROUP.search(name):
        return name
    if "," in name:
        surname, _, given = (p.strip() for p in name.partition(","))
        given, suffix = _without_suffix(given.replace(",", " "))
        given, surname = _particles_to_surname(given, surname)
    else:
        if _CITED.match(name) and name.rsplit(" ", 1)[-1] not in SUFFIXES:
            return name  # already "Surname Initials" (PubMed style)
        rest, suffix = _without_suffix(name)
        given, surname = _given_and_surname(rest.split(" "))
    cited = f"{surname} {initials(given)}".strip()
    return f"{cited} {suffix.rstrip('.')}" if suffix else cited


def _without_suffix(name: str) -> tuple[str, str]:
    parts = name.split()
    if len(parts) > 1 and parts[-1] in SUFFIXES:
        return " ".join(parts[:-1]), parts[-1]
    return name, ""


def _particles_to_surname(given: str, surname: str) -> tuple[str, str]:
    """'Berg, Pieter van den': the particles after the given name belong to the surname."""
    parts = given.split()
    cut = len(parts)
    while cut > 1 and parts[cut - 1] in PARTICLES:
        cut -= 1
    return " ".join(parts[:cut]), " ".join([*parts[cut:], surname])


def _given_and_surname(parts: list[str]) -> tuple[str, str]:
    """Where the surname starts: at the first particle after a given name, else the
    last word."""
    for i in range(1, len(parts) - 1):
        if parts[i] in PARTICLES or parts[i] in CAPITAL_PARTICLES:
            return " ".join(parts[:i]), " ".join(parts[i:])
    return " ".join(parts[:-1]), parts[-1]


def initials(given: str) -> str:
    """'Jean-Luc' -> 'JL', 'Jane A.' -> 'JA', 'Élodie' -> 'É'."""
    return "".join(p[0] for p in re.split(r"[\s.\-]+", given) if p and p[0].isalpha()).upper()


def author_line(authors: Sequence[str], limit: int = 2) -> str:
    """'Smith J, Lee K, et al.': the citation style readers of IO journals expect."""
    shown = [cite_name(a) for a in authors if a.strip()][:limit]
    if not shown:
        return ""
    return ", ".join(shown) + (", et al." if len(authors) > limit else "")


# Words an ISO 4 abbreviation leaves out ("Journal of the ..." -> "J ...").
_SKIPPED = frozenset({"a", "an", "and", "at", "de", "der", "des", "du", "et", "for", "in",
                      "la", "le", "of", "on", "the", "und", "&"})


def journal_names(names: Iterable[str | None],
                  aliases: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each journal name as the email shows it: one name per journal, its full title.

    A name configured in `aliases` (abbreviation or variant -> full title) shows the
    configured title. Otherwise an abbreviation ("J Interv Oncol Res", from PubMed)
    shows a full title among `names` that it abbreviates ("Journal of Interventional
    Oncology Research", from the journal's own feed); a name without either stays as
    it is."""
    known = {_key(k): v for k, v in (aliases or {}).items()}
    distinct = sorted({n for n in names if n})
    titles = sorted({known.get(_key(n), n) for n in distinct}, key=len, reverse=True)
    shown = {}
    for name in distinct:
        if _key(name) in known:
            shown[name] = known[_key(name)]
        else:
            shown[name] = next((t for t in titles if t != name and abbreviates(name, t)), name)
    return shown


def abbreviates(short: str, title: str) -> bool:
    """Whether `short` is an ISO 4 style abbreviation of `title`: each of its words
    begins the title's next significant word and its letters appear in that word in
    order ("Natl" for "National"); every significant word is accounted for."""
    words = [w for w in _words(title) if w not in _SKIPPED]
    parts = [w for w in _words(short) if w not in _SKIPPED]
    if len(words) != len(parts) or len(parts) < 2 or parts == words:
        return False
    return all(_contracts(p, w) for p, w in zip(parts, words, strict=True))


def _contracts(part: str, word: str) -> bool:
    if not part or part[0] != word[0]:
        return False
    letters = iter(word)
    return all(c in letters for c in part)


def _words(name: str) -> list[str]:
    folded = unicodedata.normalize("NFKD", name.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return re.findall(r"[a-z0-9&]+", plain)


def _key(name: str) -> str:
    return " ".join(_words(name))
