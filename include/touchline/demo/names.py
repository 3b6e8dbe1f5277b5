"""Word lists the demo book is drawn from: people, companies, industries and comments.

Plain tuples, so every draw is an index into a fixed order and the output is reproducible.
"""

from __future__ import annotations

import re
import unicodedata

FIRST_NAMES = (
    "Aaliyah", "Adam", "Adebayo", "Aiko", "Alejandro", "Alice", "Amara", "Amelia", "Ana",
    "Andrea", "Anna", "Arjun", "Ava", "Beatriz", "Ben", "Björn", "Camila", "Carlos", "Chen",
    "Chloe", "Daniel", "David", "Diego", "Elena", "Elif", "Emma", "Ethan", "Fatima", "Felix",
    "Francesca", "François", "Gabriel", "Grace", "Hana", "Hannah", "Hiroshi", "Ian", "Ingrid",
    "Isabella", "Jack", "James", "Javier", "Jin", "José", "Julia", "Kai", "Karim", "Kenji",
    "Laura", "Leila", "Liam", "Lucas", "Lucía", "Maya", "Mei", "Mia", "Mohammed", "Nadia",
    "Noah", "Nora", "Olivia", "Omar", "Oscar", "Paula", "Priya", "Rafael", "Rahul", "Rosa",
    "Ryan", "Sakura", "Samuel", "Sara", "Sofia", "Søren", "Tariq", "Thomas", "Valentina",
    "Victor", "Wei", "Yusuf", "Zoë",
)  # fmt: skip

LAST_NAMES = (
    "Abe", "Adeyemi", "Ahmed", "Alvarez", "Andersen", "Bauer", "Becker", "Bennett", "Brown",
    "Campbell", "Carter", "Castro", "Chen", "Clarke", "Costa", "Dubois", "Dupont", "Evans",
    "Fernández", "Fischer", "García", "Gomez", "Gupta", "Hansen", "Harris", "Hernández",
    "Hoffmann", "Ito", "Jansen", "Jensen", "Johnson", "Kato", "Kaur", "Khan", "Kim", "Kowalski",
    "Lambert", "Larsen", "Lee", "Lindqvist", "Lopez", "Martin", "Meyer", "Moreau", "Müller",
    "Murphy", "Nakamura", "Nguyen", "Nielsen", "Novak", "O'Brien", "Okafor", "Olsen", "Patel",
    "Pereira", "Petrov", "Rossi", "Russo", "Santos", "Sato", "Schmidt", "Schneider", "Silva",
    "Singh", "Smith", "Suzuki", "Tanaka", "Taylor", "Thompson", "Torres", "Wagner", "Walker",
    "Wang", "Weber", "Williams", "Wilson", "Wright", "Yamamoto", "Young", "Zhang",
)  # fmt: skip

COMPANY_HEADS = (
    "Acorn", "Alder", "Alpine", "Amber", "Anchor", "Apex", "Arbor", "Argent", "Arrow", "Ash",
    "Aspen", "Atlas", "Aurora", "Azure", "Banyan", "Beacon", "Birch", "Blue Harbor", "Bluebird",
    "Bramble", "Brightwater", "Brook", "Cabot", "Canopy", "Canyon", "Cardinal", "Cascade",
    "Cedar", "Citadel", "Clearwater", "Clover", "Cobalt", "Compass", "Copper", "Coral",
    "Cornerstone", "Crescent", "Crown", "Cypress", "Delta", "Driftwood", "Eagle", "Echo",
    "Elm", "Ember", "Evergreen", "Fable", "Falcon", "Fern", "Fieldstone", "Firefly", "Fjord",
    "Flint", "Foxglove", "Frontier", "Garnet", "Glacier", "Golden Gate", "Granite", "Greenleaf",
    "Grove", "Harbor", "Harvest", "Hawthorn", "Heron", "Highland", "Horizon", "Indigo", "Iris",
    "Iron Hill", "Ivy", "Jade", "Juniper", "Keystone", "Kestrel", "Lakeside", "Lantern",
    "Larch", "Laurel", "Lighthouse", "Linden", "Lotus", "Magnolia", "Maple", "Marble",
    "Meadow", "Meridian", "Mesa", "Mistral", "Monarch", "Moss", "Northwind", "Nova", "Oak",
    "Obsidian", "Onyx", "Orchard", "Osprey", "Pacific", "Palisade", "Pebble", "Pine",
    "Pinnacle", "Polaris", "Prairie", "Quarry", "Quartz", "Rain", "Raven", "Redwood", "Ridge",
    "River", "Rowan", "Sable", "Saffron", "Sage", "Sapphire", "Sequoia", "Shoreline",
    "Sierra", "Silver", "Slate", "Solstice", "Sparrow", "Spruce", "Starling", "Stone Bridge",
    "Summit", "Sunrise", "Tamarack", "Terra", "Thistle", "Tidewater", "Timber", "Topaz",
    "Trillium", "Tundra", "Union", "Valley", "Vantage", "Velvet", "Verdant", "Vista",
    "Walnut", "Waypoint", "Westbrook", "Wildflower", "Willow", "Windmill", "Yarrow", "Zenith",
    "Adler", "Baker", "Calloway", "Dalton", "Ellison", "Fairbanks", "Garrison", "Hadley",
    "Kendall", "Langley", "Mercer", "Nakano", "Okoro", "Prescott", "Quinn", "Rasmussen",
    "Sato", "Thornton", "Underwood", "Vasquez", "Whitaker", "Yilmaz",
)  # fmt: skip

COMPANY_TAILS = (
    "Analytics", "Apparel", "Architects", "Bank", "Bio", "Brands", "Brewing", "Builders",
    "Capital", "Care", "Cloud", "Commerce", "Communications", "Consulting", "Data", "Design",
    "Devices", "Diagnostics", "Digital", "Dynamics", "Education", "Electric", "Energy",
    "Engineering", "Entertainment", "Foods", "Freight", "Games", "Goods", "Health",
    "Holdings", "Home", "Hospitality", "Industries", "Insurance", "Interactive", "Labs",
    "Learning", "Legal", "Logistics", "Machines", "Manufacturing", "Marine", "Markets",
    "Media", "Medical", "Mobility", "Networks", "Nutrition", "Outdoors", "Partners",
    "Pharma", "Power", "Press", "Properties", "Recruiting", "Renewables", "Research",
    "Retail", "Robotics", "Security", "Semiconductors", "Services", "Software", "Solutions",
    "Sports", "Studios", "Supply", "Systems", "Technologies", "Telecom", "Therapeutics",
    "Trading", "Travel", "Ventures", "Wellness", "Works",
)  # fmt: skip

# Legal-form suffixes by region (index matches REGIONS); "" means no suffix.
COMPANY_SUFFIXES = (
    ("", "", "Inc", "Inc", "LLC", "Corp", "Co"),
    ("", "", "Ltd", "GmbH", "SA", "BV", "AB", "plc", "SAS"),
    ("", "", "Pty Ltd", "KK", "Pte Ltd", "Ltd"),
    ("", "", "SA", "Ltda", "SA de CV"),
)

# Names that exercise the file format and the downstream formula-injection guard:
# a comma, a double quote, non-ASCII letters, and leading = + - @.
SPECIAL_ACCOUNT_NAMES = (
    "Smith, Jones & Partners",
    'The "Good Coffee" Company',
    "Müller Präzisionstechnik GmbH",
    "=2+5 Consulting",
    "@home Robotics",
    "+Plus Media Ltd",
    "-Minus Design Studio",
)

REGIONS = ("NA", "EMEA", "APAC", "LATAM")
REGION_WEIGHTS = (0.46, 0.30, 0.16, 0.08)
# Centre of the working day in UTC seconds, per region (NA ~ 17:00 UTC, EMEA ~ 11:00 ...).
REGION_MIDDAY_UTC = (17 * 3600, 11 * 3600, 3 * 3600, 16 * 3600)

INDUSTRIES = (
    "Software", "Financial Services", "Healthcare", "Retail", "Manufacturing", "Education",
    "Media", "Logistics", "Professional Services", "Telecommunications", "Energy",
    "Hospitality", "Public Sector", "Real Estate", "Nonprofit",
)  # fmt: skip
INDUSTRY_WEIGHTS = (
    0.20, 0.12, 0.10, 0.09, 0.09, 0.06, 0.05, 0.06, 0.08, 0.03, 0.03, 0.03, 0.02, 0.02, 0.02,
)  # fmt: skip

CONTACT_ROLES = ("admin", "champion", "executive sponsor", "end user", "billing")

CHURN_REASONS = ("price", "product fit", "champion left", "budget", "moved to competitor")
CHURN_REASON_WEIGHTS = (0.22, 0.24, 0.18, 0.20, 0.16)

SNOOZE_REASONS = (
    "customer on holiday",
    "reorg in progress, new owner not named yet",
    "renewal handled by sales",
    "customer asked for a pause",
    "waiting on legal review",
    "merger announced; wait for the dust to settle",
    'champion said "call me next month"',
)

NPS_COMMENTS_PROMOTER = (
    "Love the dashboards",
    "Support is fast, friendly and knows the product",
    "The integrations saved us hours every week",
    'Honestly the best "set and forget" tool we have',
    "Great onboarding, great team",
    "Reports are exactly what our board wants",
    "Keep it up!",
)
NPS_COMMENTS_PASSIVE = (
    "Good overall, but exports are slow",
    "Does the job. Pricing is a bit high",
    "Would like more API endpoints",
    'Fine, though the "automations" page is confusing',
    "Solid product; documentation could be better",
    "Mostly happy.\nThe mobile view needs work",
)
NPS_COMMENTS_DETRACTOR = (
    "Too expensive for what we use",
    "Bugs in the integration, again",
    "We lost our main contact and nobody reached out",
    'Support said "known issue" three times, still not fixed',
    "Hard to get the team to adopt it",
    "Considering alternatives, to be honest",
    "Slow, buggy, and the renewal price went up",
    "Reports broke after the update.\nWe had to rebuild them by hand",
)

FEATURES = (
    "dashboards",
    "reports",
    "alerts",
    "integrations",
    "exports",
    "automations",
    "api",
    "admin",
)
# Relative popularity, most-adopted first: the first four are the core features.
FEATURE_WEIGHTS = (0.30, 0.22, 0.13, 0.11, 0.09, 0.07, 0.05, 0.03)

TICKET_TAGS = ("bug", "billing", "how-to", "integration", "feature-request", "onboarding")

_FOLD = str.maketrans({"ø": "o", "Ø": "O", "ß": "ss", "æ": "ae", "Æ": "AE", "đ": "d", "ł": "l"})


def ascii_fold(text: str) -> str:
    """Drop accents: "Müller" -> "Muller", "Søren" -> "Soren"."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    return decomposed.encode("ascii", "ignore").decode("ascii")


def slugify(text: str) -> str:
    """Lowercase ASCII words joined by hyphens: "=2+5 Consulting" -> "2-5-consulting"."""
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_fold(text).lower()).strip("-")
    return slug or "company"


def email_local_part(first: str, last: str) -> str:
    """ "Zoë", "O'Brien" -> "zoe.obrien"."""
    return f"{_local(first)}.{_local(last)}"


def _local(word: str) -> str:
    return re.sub(r"[^a-z0-9]", "", ascii_fold(word).lower())


# Pre-folded parts, so drawing a million e-mail addresses does no per-row Unicode work.
FIRST_NAME_LOCALS = tuple(_local(w) for w in FIRST_NAMES)
LAST_NAME_LOCALS = tuple(_local(w) for w in LAST_NAMES)
COMPANY_HEAD_SLUGS = tuple(slugify(w) for w in COMPANY_HEADS)
COMPANY_TAIL_SLUGS = tuple(slugify(w) for w in COMPANY_TAILS)
