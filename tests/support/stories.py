"""Three outlets reporting the same stories on different days, with different figures, served
as RSS from 127.0.0.1 (the newsroom's in-memory feed server), for digests, timelines and story
comparison. Dates are relative to now: the "today" stories are within the last 24 hours, the
"week" story three days old, the volcano coverage 8 to 12 days old (at fixed hours of those days,
so a day's count does not depend on when the tests run)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .newsroom import FeedServer, ServedFeed

HERALD, COURIER, WIRE = "Harbour Herald", "Coast Courier", "Metro Wire"
OUTLETS = (HERALD, COURIER, WIRE)

# (key, outlet, hours ago, title, text)
ITEMS = [
    # the day's biggest story: three outlets; the Herald first; 700 agents vs 600 agents
    (
        "agents-herald",
        HERALD,
        8,
        "Immigration agency sends 700 agents to Minneapolis",
        "The federal immigration agency sent 700 agents to Minneapolis on Tuesday, officials confirmed. "
        "The deployment of agents to Minneapolis drew protests outside the federal building downtown.",
    ),
    (
        "agents-courier",
        COURIER,
        5,
        "Protests grow as immigration agents arrive in Minneapolis",
        "Some 600 agents of the federal immigration agency arrived in Minneapolis on Tuesday, officials "
        "confirmed. Protests against the deployment grew outside the federal building downtown.",
    ),
    (
        "agents-wire",
        WIRE,
        2,
        "Federal immigration deployment to Minneapolis criticised",
        "Critics condemned the deployment of 700 federal immigration agents to Minneapolis on Tuesday. "
        "Protests outside the federal building downtown continued as the mayor asked the agency to withdraw.",
    ),
    # two outlets, the same figures
    (
        "storm-herald",
        HERALD,
        3,
        "Storm floods coastal towns",
        "A storm flooded coastal towns overnight, damaging 3,000 homes. Rescue crews evacuated "
        "residents from the flooded harbour districts as the storm surge peaked.",
    ),
    (
        "storm-wire",
        WIRE,
        6,
        "Coastal flooding after overnight storm surge",
        "An overnight storm surge flooded coastal towns and damaged 3,000 homes, rescue crews said. "
        "Residents of the harbour districts were evacuated before dawn.",
    ),
    # one outlet
    (
        "library",
        COURIER,
        4,
        "Central library reopens after renovation",
        "The central library reopened after a two-year renovation with a new reading hall, "
        "a children's wing and longer opening hours on weekends.",
    ),
    # three days old, two outlets: in a weekly digest, not a daily one
    (
        "toll-herald",
        HERALD,
        74,
        "Bridge toll rises next month",
        "The toll on the harbour bridge rises to 4 euros next month, the transport authority said, "
        "to pay for repairs of the bridge deck.",
    ),
    (
        "toll-courier",
        COURIER,
        76,
        "Harbour bridge toll to rise for deck repairs",
        "Drivers will pay a higher toll on the harbour bridge from next month, the transport authority "
        "announced, to fund repairs of the bridge deck.",
    ),
    # a topic followed over days (timelines): 'volcano' in these six, 'volcanic' (not counted) in one
    (
        "volcano-1",
        HERALD,
        12 * 24,
        "Volcano shows signs of waking",
        "Seismologists said the volcano near Grindavik shows signs of waking after a swarm of small earthquakes.",
    ),
    (
        "volcano-2",
        HERALD,
        10 * 24 + 2,
        "Volcano erupts near Grindavik",
        "The volcano near Grindavik erupted overnight and lava flowed toward the town, forcing 4,000 to leave.",
    ),
    (
        "volcano-3",
        COURIER,
        10 * 24 + 1,
        "Eruption forces Grindavik evacuation",
        "An eruption of the volcano forced the evacuation of 3,000 residents of Grindavik overnight.",
    ),
    (
        "volcano-4",
        WIRE,
        10 * 24,
        "Lava reaches Grindavik defences",
        "Lava from the volcano reached the earth walls built to protect Grindavik, officials said.",
    ),
    (
        "volcano-5",
        HERALD,
        9 * 24,
        "Volcanoes of the peninsula explained",
        "Why the volcanoes of the Reykjanes peninsula erupt again and again, explained by geologists.",
    ),
    (
        "volcano-6",
        WIRE,
        8 * 24,
        "Grindavik residents return after eruption",
        "Residents returned to Grindavik after the volcano calmed, though the risk remains.",
    ),
    (
        "volcanic",
        COURIER,
        9 * 24 + 3,
        "Volcanic ash grounds flights",
        "Ash from the eruption grounded flights across the north for a day.",
    ),
]

TODAY = ["agents-herald", "agents-courier", "agents-wire", "storm-herald", "storm-wire", "library"]
VOLCANO = ["volcano-1", "volcano-2", "volcano-3", "volcano-4", "volcano-5", "volcano-6"]


@dataclass
class Newsroom:
    feeds: dict[str, ServedFeed]
    links: dict[str, str]
    now: datetime

    def add(self, outlet: str, key: str, title: str, text: str, when: datetime) -> str:
        self.links[key] = self.feeds[outlet].add_item(title, text, date=when, slug=key)
        return self.links[key]


def serve(server: FeedServer, prefix: str) -> Newsroom:
    now = datetime.now(UTC)
    feeds = {name: ServedFeed(server, f"{prefix}/{name.split()[0].lower()}.xml", name) for name in OUTLETS}
    links = {}
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    for key, outlet, hours, title, text in ITEMS:
        when = now - timedelta(hours=hours)
        if hours >= 8 * 24:  # days ago, at noon less the hours: whatever the time now, on that day
            when = midnight - timedelta(days=hours // 24) + timedelta(hours=12 - hours % 24)
        links[key] = feeds[outlet].add_item(title, text, date=when, slug=key)
    return Newsroom(feeds, links, now)
