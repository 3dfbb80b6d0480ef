"""A person's profile picture WhatsApp reports, turned into the engine's `contact` event.

Duck-typed over neonize's protobuf types (this module never imports neonize). Source:
whatsmeow's types/events/events.go (Picture: JID, Author, Timestamp, Remove, PictureID), filled
by notification.go (handlePictureNotification: a `w:profile:picture` notification, for a group
or a person); neonize 0.5.2 hands it over as PictureEv (Neonize.proto Picture, code 23) without
PictureID. Push-name changes are not an event of neonize 0.5.2: the node sees them on incoming
messages (node_agent/contact_events.py).

    Picture of a person's JID → contact {changes: {picture: True set, False removed}}

The event id hashes the JID, `Timestamp` (Unix seconds) and Remove, so a repeat of one
notification has the same id.
"""

from __future__ import annotations

from typing import Any

from node_agent.contact_events import contact_event
from node_agent.engines.whatsapp import mapping
from node_agent.groups import GROUP_SERVER


def picture_changed(event: Any) -> dict[str, Any] | None:
    """Return the `contact` event (emit()'s keywords) of a neonize Picture event of a person,
    or None for a group's picture (group_events.py maps it)."""
    if event.JID.Server == GROUP_SERVER:
        return None
    picture = not event.Remove
    return contact_event(
        mapping.jid_str(event.JID), {"picture": picture}, key=(event.Timestamp, picture)
    )
