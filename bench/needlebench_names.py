"""Made-up English names for NeedleBench's kinship chains, standing in for `names.json`.

The original list is only in the Hugging Face dataset `opencompass/NeedleBench`, which this
offline machine cannot reach. These are 50 first names and 50 surnames, every pairing in a fixed
order (2,500 names), chosen so that none of the prompt's worked examples (James Hill, Dan Newton,
...) and no full name in the Paul Graham essays is among them: a search for a person finds only
the needles. Put the original at `DATA/needlebench/names.json` to use it instead.
"""

from __future__ import annotations

FIRST = (
    "Abigail", "Adrian", "Alma", "Ansel", "Beatrix", "Bruno", "Calla", "Cedric", "Delia", "Dorian",
    "Edith", "Emeric", "Fiona", "Florian", "Greta", "Gideon", "Hazel", "Hollis", "Imogen", "Ivo",
    "Juno", "Jasper", "Keira", "Lazlo", "Lenora", "Linus", "Mabel", "Milo", "Nadia", "Nils",
    "Odette", "Orrin", "Petra", "Quentin", "Rosalind", "Rufus", "Sabine", "Silas", "Talia", "Tobias",
    "Ursula", "Vance", "Vera", "Wendell", "Willa", "Xavier", "Yara", "Yusuf", "Zelda", "Zoltan",
)
SURNAMES = (
    "Ashdown", "Bellweather", "Brightwater", "Calloway", "Carrow", "Delacroix", "Dunmore", "Eastbrook",
    "Fairchild", "Fenwick", "Galloway", "Greystone", "Hargrove", "Holloway", "Ingram", "Jessup",
    "Kettering", "Kingsley", "Lindqvist", "Lockhart", "Marchetti", "Merriweather", "Nakamura", "Northcott",
    "Okonkwo", "Ormsby", "Pemberton", "Quigley", "Ravensworth", "Redfern", "Saltonstall", "Sherwood",
    "Thistlewood", "Thornbury", "Underhill", "Vasquez", "Vollmer", "Wainwright", "Westergaard", "Whitlock",
    "Yardley", "Zabini", "Abernathy", "Blackwood", "Castellanos", "Draycott", "Everhart", "Fitzwilliam",
    "Goldberg", "Halvorsen",
)


def substitute_names() -> list[str]:
    return [f"{first} {surname}" for first in FIRST for surname in SURNAMES]
