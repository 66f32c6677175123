"""Dialogue transcripts against the real engine (zulip ``verify_dialog`` style) and the small world they run in."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from bot.deps import Deps, NluFn, build_deps
from bot.engine import Engine
from bot.messages import GeoPoint, Inbound, InboundKind, Platform, Reply
from core.models import Policy, Staff
from core.settings import Settings
from core.store import StateStore
from nlp.policy_docs import load_policies
from tests.factories import NOW, Org, make_org, make_place, make_shift, make_staff
from tests.fakes import FixedClock

POLICIES = Path(__file__).resolve().parents[1] / "examples" / "policies.jsonl"
_ids = itertools.count(1)


def render(replies: list[Reply]) -> str:
    """Replies as one text, buttons as numbered lines (how WeChat shows them)."""
    lines: list[str] = []
    for reply in replies:
        lines.append(reply.text)
        lines += [f"{n}. {b.label}" for n, b in enumerate(reply.buttons, start=1)]
    return "\n".join(lines)


@dataclass
class Dialog:
    """One user talking to the engine; every call is a full turn."""

    engine: Engine
    user_key: str = "resident-1"
    platform: Platform = Platform.CONSOLE
    transcript: list[tuple[str, str]] = field(default_factory=list)

    def send(self, kind: InboundKind, shown: str, **fields: object) -> list[Reply]:
        """Send any kind of message and record the exchange."""
        inbound = Inbound(self.platform, self.user_key, self.user_key, f"m{next(_ids)}", kind, **fields)  # type: ignore[arg-type]
        replies = self.engine.handle(inbound)
        assert replies, f"silence after {shown!r}"
        self.transcript.append((shown, render(replies)))
        return replies

    def say(self, text: str) -> list[Reply]:
        """Type a message."""
        return self.send(InboundKind.TEXT, text, text=text)

    def press(self, payload: str) -> list[Reply]:
        """Press a button (Telegram inline keyboard)."""
        return self.send(InboundKind.BUTTON, f"[{payload}]", payload=payload)

    def share_location(self, lat: float, lon: float, label: str | None = None) -> list[Reply]:
        """Share a location."""
        return self.send(InboundKind.LOCATION, f"<location {lat},{lon}>", location=GeoPoint(lat, lon, label))

    def send_photo(self, ref: str = "media-1") -> list[Reply]:
        """Send a photo."""
        return self.send(InboundKind.IMAGE, "<photo>", media_ref=ref)

    def expect(self, steps: list[tuple[str, str]]) -> None:
        """Say each message and check its reply contains the expected words."""
        for message, expected in steps:
            reply = render(self.say(message))
            assert expected in reply, f"after {message!r} expected {expected!r}, got:\n{reply}\n\n{self.show()}"

    @property
    def last(self) -> str:
        """The text of the last answer."""
        return self.transcript[-1][1]

    def show(self) -> str:
        """The whole transcript, for assertion messages."""
        return "\n".join(f"> {said}\n{answer}" for said, answer in self.transcript)


@dataclass
class World:
    """A small city with places, a helper, policies and an engine over the test's database and store."""

    org: Org
    engine: Engine
    deps: Deps
    helper: Staff

    def dialog(self, user_key: str = "resident-1") -> Dialog:
        """A conversation with a new or returning user."""
        return Dialog(self.engine, user_key)


def seed(db: Session) -> tuple[Org, Staff]:
    """The org of the factories plus 幸福小区 in G01, 和平里 in G03, a helper on duty in G01 and the policies."""
    org = make_org(db)
    make_place(db, "幸福小区", org.grids[0], aliases=["幸福苑"])
    make_place(db, "和平里", org.grids[2])
    helper = make_staff(db, "H01", "帮办员小李", "helper", org.grids[0], "13700000001")
    make_shift(db, org.grids[0], helper)
    for doc in load_policies(POLICIES):
        db.add(Policy(id=doc.id, title=doc.title, body=doc.body, tags=list(doc.tags), audience=doc.audience,
                      region_code=doc.region, valid_from=doc.valid_from, valid_to=doc.valid_to,
                      source_url=doc.source_url, updated_at=NOW))
    db.commit()
    return org, helper


def build_world(session_factory: sessionmaker[Session], store: StateStore, settings: Settings, clock: FixedClock,
                nlu: NluFn | None = None) -> World:
    """Seed the database and wire the engine as production does (optionally pinning the classifier)."""
    with session_factory() as db:
        org, helper = seed(db)
    deps = build_deps(settings, session_factory, store, clock=clock)
    if nlu is not None:
        deps = replace(deps, nlu=nlu)
    return World(org, Engine(deps), deps, helper)
