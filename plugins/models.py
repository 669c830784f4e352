"""Pydantic models that outputs must validate against (``pydantic: plugins.models:Ticket``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class Ticket(BaseModel):
    """A triaged support ticket as the router consumes it."""

    model_config = ConfigDict(extra="forbid")

    category: Literal["billing", "bug", "account", "outage"]
    priority: Literal["P0", "P1", "P2", "P3"]


class Contact(BaseModel):
    """The sender of a message, as the CRM importer needs it."""

    model_config = ConfigDict(extra="forbid")

    name: str
    email: str
