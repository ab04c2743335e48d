"""Task metadata on ThreatConnect v2: associations, attributes, security labels, tags, assignees, escalatees.

Every path segment that carries a name or a value (tag, label, indicator value, user name) is
percent-encoded completely (``quote(value, safe="")``), so ``TLP:AMBER`` goes as
``TLP%3AAMBER``, ``Nation State`` as ``Nation%20State`` and a URL indicator keeps its slashes
inside one segment; the HMAC signs that encoded path.

Adds of tags, labels, associations and users are safe to repeat, so they are retried like
PUT/DELETE; adding an attribute is not (a retry could add it twice), so it is sent once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from prefect_soar.clients.threatconnect_core import ThreatConnectAPI, check_id
from prefect_soar.clients.threatconnect_filters import group_type_path, indicator_type_path, segment
from prefect_soar.errors import BadInputError
from prefect_soar.models.threatconnect import Attribute, Group, Indicator, SecurityLabel, Tag, User, Victim

SERVICE = "threatconnect"
MAX_TAG_LENGTH = 128


def check_tag(tag: str) -> str:
    """Validate a tag name (non-empty, at most 128 characters)."""
    if not isinstance(tag, str) or not tag.strip():
        raise BadInputError(f"tag must be a non-empty string, got {tag!r}", service=SERVICE)
    if len(tag) > MAX_TAG_LENGTH:
        raise BadInputError(
            f"tag {tag[:40]!r}... is {len(tag)} characters; the API allows {MAX_TAG_LENGTH}", service=SERVICE
        )
    return tag


INDICATOR_VALUE_FIELDS = {
    "addresses": "ip",
    "emailAddresses": "address",
    "hosts": "hostName",
    "urls": "text",
    "asns": "AS Number",
    "cidrBlocks": "Block",
    "mutexes": "Mutex",
    "userAgents": "User Agent String",
}
"""v2 indicator path type -> the create body's value field (files take md5/sha1/sha256)."""
FILE_HASH_FIELDS = {32: "md5", 40: "sha1", 64: "sha256"}
INDICATOR_ENTITY_KEYS = {"addresses": "address", "emailAddresses": "emailAddress", "files": "file", "hosts": "host",
                         "urls": "url", "asns": "asn", "cidrBlocks": "cidrBlock", "mutexes": "mutex",
                         "userAgents": "userAgent"}


def indicator_body(indicator_type: str, value: str) -> dict[str, str]:
    """The v2 create body of an indicator given by its path type and value.

    Raises:
        BadInputError: An empty value, a file hash that is not 32, 40 or 64 hex digits, or a type
            whose create body needs several fields (pass them yourself).
    """
    if not isinstance(value, str) or not value.strip():
        raise BadInputError(f"indicator value must be a non-empty string, got {value!r}", service=SERVICE)
    value = value.strip()
    if indicator_type == "files":
        field = FILE_HASH_FIELDS.get(len(value))
        if field is None or any(ch not in "0123456789abcdefABCDEF" for ch in value):
            raise BadInputError(f"{value[:70]!r} is not an MD5, SHA-1 or SHA-256 hex digest", service=SERVICE)
        return {field: value.lower()}
    field = INDICATOR_VALUE_FIELDS.get(indicator_type)
    if field is None:
        raise BadInputError(
            f"indicators of type {indicator_type!r} need a full create body; pass a mapping", service=SERVICE
        )
    return {field: value}


def _task_path(task_id: int) -> str:
    return f"/v2/tasks/{check_id(task_id, 'task_id')}"


class ThreatConnectMetadata(ThreatConnectAPI):
    """Metadata operations on one task (``/v2/tasks/{id}/...``).

    Every method takes ``owner``: the task's owner, sent as ``?owner=`` (default: the client's
    default owner); a task of another owner is not found without it.
    """

    def _params(self, owner: str | None) -> list[tuple[str, str | int]]:
        return self._owner_params(self._owner(owner))

    async def _action(self, method: str, path: str, owner: str | None) -> None:
        # adds (POST) of tags, labels, associations and users are safe to repeat
        await self._v2(method, path, params=self._params(owner), idempotent=True)

    # -- group associations -------------------------------------------------------

    async def list_associated_groups(
        self, task_id: int, group_type: str | None = None, *, owner: str | None = None
    ) -> list[Group]:
        """Groups associated with a task (``GET /v2/tasks/{id}/groups[/{type}]``).

        Args:
            task_id: The task.
            group_type: Only this group type (``incidents``, ``Adversary``...).
            owner: The task's owner.
        """
        path = f"{_task_path(task_id)}/groups"
        if group_type:
            path += f"/{group_type_path(group_type)}"
        return await self._collect(path, "group", Group, owner=self._owner(owner))

    def _group_path(self, task_id: int, group_type: str, group_id: int) -> str:
        return f"{_task_path(task_id)}/groups/{group_type_path(group_type)}/{check_id(group_id, 'group_id')}"

    async def associate_group(self, task_id: int, group_type: str, group_id: int, *, owner: str | None = None) -> None:
        """Associate a group (``POST /v2/tasks/{id}/groups/{type}/{groupId}``)."""
        await self._action("POST", self._group_path(task_id, group_type, group_id), owner)

    async def disassociate_group(
        self, task_id: int, group_type: str, group_id: int, *, owner: str | None = None
    ) -> None:
        """Remove a group association (``DELETE .../groups/{type}/{groupId}``)."""
        await self._action("DELETE", self._group_path(task_id, group_type, group_id), owner)

    # -- indicator associations ---------------------------------------------------

    async def list_associated_indicators(
        self, task_id: int, indicator_type: str | None = None, *, owner: str | None = None
    ) -> list[Indicator]:
        """Indicators associated with a task (``GET /v2/tasks/{id}/indicators[/{type}]``)."""
        path = f"{_task_path(task_id)}/indicators"
        if indicator_type:
            path += f"/{segment(indicator_type_path(indicator_type))}"
        return await self._collect(path, "indicator", Indicator, owner=self._owner(owner))

    def _indicator_path(self, task_id: int, indicator_type: str, value: str) -> str:
        kind = segment(indicator_type_path(indicator_type), what="indicator type")
        return f"{_task_path(task_id)}/indicators/{kind}/{segment(value, what='indicator value')}"

    async def associate_indicator(
        self, task_id: int, indicator_type: str, value: str, *, owner: str | None = None
    ) -> None:
        """Associate an indicator by type and value (``POST .../indicators/{type}/{value}``)."""
        await self._action("POST", self._indicator_path(task_id, indicator_type, value), owner)

    async def disassociate_indicator(
        self, task_id: int, indicator_type: str, value: str, *, owner: str | None = None
    ) -> None:
        """Remove an indicator association (``DELETE .../indicators/{type}/{value}``)."""
        await self._action("DELETE", self._indicator_path(task_id, indicator_type, value), owner)

    async def create_indicator(
        self,
        indicator_type: str,
        value: str | Mapping[str, Any],
        *,
        rating: float | None = None,
        confidence: int | None = None,
        owner: str | None = None,
    ) -> Indicator:
        """Create an indicator, or get the existing one (``POST /v2/indicators/{type}``).

        ThreatConnect treats a create of an existing indicator as an update of its rating and
        confidence, so the call is safe to repeat and is retried like an idempotent one.

        Args:
            indicator_type: v2 path type (``files``, ``addresses``, ``hosts``, ``urls``, ...) or its name.
            value: The value (a file hash, an IP, a host name, a URL, ...) or the full create body.
            rating: Threat rating 0-5.
            confidence: Confidence 0-100.
            owner: Owner to create in (default: the client's default owner).

        Returns:
            The indicator.
        """
        kind = indicator_type_path(indicator_type)
        body: dict[str, Any] = dict(value) if isinstance(value, Mapping) else indicator_body(kind, value)
        if rating is not None:
            if not 0 <= rating <= 5:
                raise BadInputError(f"rating must be within 0-5, got {rating!r}", service=SERVICE)
            body["rating"] = rating
        if confidence is not None:
            if not 0 <= confidence <= 100:
                raise BadInputError(f"confidence must be within 0-100, got {confidence!r}", service=SERVICE)
            body["confidence"] = confidence
        envelope, response = await self._v2(
            "POST", f"/v2/indicators/{segment(kind, what='indicator type')}", params=self._params(owner),
            json_body=body, idempotent=True,
        )
        key = INDICATOR_ENTITY_KEYS.get(kind) or next(iter(envelope.data or {}), "indicator")
        return self._entity(envelope, response, key, Indicator)

    # -- victim associations ------------------------------------------------------

    async def list_associated_victims(self, task_id: int, *, owner: str | None = None) -> list[Victim]:
        """Victims associated with a task (``GET /v2/tasks/{id}/victims``)."""
        return await self._collect(f"{_task_path(task_id)}/victims", "victim", Victim, owner=self._owner(owner))

    async def associate_victim(self, task_id: int, victim_id: int, *, owner: str | None = None) -> None:
        """Associate a victim (``POST .../victims/{victimId}``); the victim needs at least one asset."""
        await self._action("POST", f"{_task_path(task_id)}/victims/{check_id(victim_id, 'victim_id')}", owner)

    async def disassociate_victim(self, task_id: int, victim_id: int, *, owner: str | None = None) -> None:
        """Remove a victim association (``DELETE .../victims/{victimId}``)."""
        await self._action("DELETE", f"{_task_path(task_id)}/victims/{check_id(victim_id, 'victim_id')}", owner)

    # -- attributes -----------------------------------------------------------------

    async def list_attributes(self, task_id: int, *, owner: str | None = None) -> list[Attribute]:
        """A task's attributes (``GET /v2/tasks/{id}/attributes``)."""
        path = f"{_task_path(task_id)}/attributes"
        return await self._collect(path, "attribute", Attribute, owner=self._owner(owner))

    async def add_attribute(
        self,
        task_id: int,
        type: str,
        value: str,
        *,
        displayed: bool | None = None,
        source: str | None = None,
        owner: str | None = None,
    ) -> Attribute:
        """Add an attribute (``POST .../attributes``, 201); not retried, a repeat would add it twice.

        Args:
            task_id: The task.
            type: Attribute type (``Description``, ``Source``, or one defined for the owner).
            value: Its value.
            displayed: Show it at the top of the task page.
            source: Where the value comes from.
            owner: The task's owner.
        """
        if not isinstance(type, str) or not type.strip():
            raise BadInputError("attribute type must not be empty", service=SERVICE)
        body = _attribute_body(value, displayed, source)
        body = {"type": type, **body}
        path = f"{_task_path(task_id)}/attributes"
        envelope, response = await self._v2("POST", path, params=self._params(owner), json_body=body)
        return self._entity(envelope, response, "attribute", Attribute)

    async def update_attribute(
        self,
        task_id: int,
        attribute_id: int,
        value: str,
        *,
        displayed: bool | None = None,
        source: str | None = None,
        owner: str | None = None,
    ) -> Attribute:
        """Change an attribute's value (and ``displayed``/``source``) (``PUT .../attributes/{attrId}``)."""
        body = _attribute_body(value, displayed, source)
        path = f"{_task_path(task_id)}/attributes/{check_id(attribute_id, 'attribute_id')}"
        envelope, response = await self._v2("PUT", path, params=self._params(owner), json_body=body)
        return self._entity(envelope, response, "attribute", Attribute)

    async def delete_attribute(self, task_id: int, attribute_id: int, *, owner: str | None = None) -> None:
        """Delete an attribute (``DELETE .../attributes/{attrId}``)."""
        path = f"{_task_path(task_id)}/attributes/{check_id(attribute_id, 'attribute_id')}"
        await self._action("DELETE", path, owner)

    # -- security labels ------------------------------------------------------------

    async def list_security_labels(self, task_id: int, *, owner: str | None = None) -> list[SecurityLabel]:
        """A task's security labels (``GET /v2/tasks/{id}/securityLabels``)."""
        path = f"{_task_path(task_id)}/securityLabels"
        return await self._collect(path, "securityLabel", SecurityLabel, owner=self._owner(owner))

    def _label_path(self, task_id: int, label: str) -> str:
        return f"{_task_path(task_id)}/securityLabels/{segment(label, what='security label')}"

    async def add_security_label(self, task_id: int, label: str, *, owner: str | None = None) -> None:
        """Apply an existing security label (``POST .../securityLabels/{label}``, e.g. ``TLP%3AAMBER``)."""
        await self._action("POST", self._label_path(task_id, label), owner)

    async def delete_security_label(self, task_id: int, label: str, *, owner: str | None = None) -> None:
        """Remove a security label (``DELETE .../securityLabels/{label}``)."""
        await self._action("DELETE", self._label_path(task_id, label), owner)

    # -- tags -------------------------------------------------------------------------

    async def list_tags(self, task_id: int, *, owner: str | None = None) -> list[Tag]:
        """A task's tags (``GET /v2/tasks/{id}/tags``)."""
        return await self._collect(f"{_task_path(task_id)}/tags", "tag", Tag, owner=self._owner(owner))

    def _tag_path(self, task_id: int, tag: str) -> str:
        return f"{_task_path(task_id)}/tags/{segment(check_tag(tag), what='tag')}"

    async def add_tag(self, task_id: int, tag: str, *, owner: str | None = None) -> None:
        """Apply a tag, created on first use (``POST .../tags/{tag}``, e.g. ``Nation%20State``)."""
        await self._action("POST", self._tag_path(task_id, tag), owner)

    async def delete_tag(self, task_id: int, tag: str, *, owner: str | None = None) -> None:
        """Remove a tag (``DELETE .../tags/{tag}``)."""
        await self._action("DELETE", self._tag_path(task_id, tag), owner)

    # -- assignees and escalatees -----------------------------------------------------

    async def _users(self, task_id: int, role: str, owner: str | None) -> list[User]:
        return await self._collect(f"{_task_path(task_id)}/{role}", "user", User, owner=self._owner(owner))

    def _user_path(self, task_id: int, role: str, user_name: str) -> str:
        return f"{_task_path(task_id)}/{role}/{segment(user_name, what='user name')}"

    async def list_assignees(self, task_id: int, *, owner: str | None = None) -> list[User]:
        """Users the task is assigned to (``GET /v2/tasks/{id}/assignees``)."""
        return await self._users(task_id, "assignees", owner)

    async def add_assignee(self, task_id: int, user_name: str, *, owner: str | None = None) -> None:
        """Assign a user (``POST .../assignees/{userName}``)."""
        await self._action("POST", self._user_path(task_id, "assignees", user_name), owner)

    async def delete_assignee(self, task_id: int, user_name: str, *, owner: str | None = None) -> None:
        """Unassign a user (``DELETE .../assignees/{userName}``)."""
        await self._action("DELETE", self._user_path(task_id, "assignees", user_name), owner)

    async def list_escalatees(self, task_id: int, *, owner: str | None = None) -> list[User]:
        """Users the task escalates to (``GET /v2/tasks/{id}/escalatees``)."""
        return await self._users(task_id, "escalatees", owner)

    async def add_escalatee(self, task_id: int, user_name: str, *, owner: str | None = None) -> None:
        """Add an escalatee (``POST .../escalatees/{userName}``)."""
        await self._action("POST", self._user_path(task_id, "escalatees", user_name), owner)

    async def delete_escalatee(self, task_id: int, user_name: str, *, owner: str | None = None) -> None:
        """Remove an escalatee (``DELETE .../escalatees/{userName}``)."""
        await self._action("DELETE", self._user_path(task_id, "escalatees", user_name), owner)


def _attribute_body(value: str, displayed: bool | None, source: str | None) -> dict[str, object]:
    if not isinstance(value, str) or value == "":
        raise BadInputError("attribute value must be a non-empty string", service=SERVICE)
    body: dict[str, object] = {"value": value}
    if displayed is not None:
        body["displayed"] = displayed
    if source is not None:
        body["source"] = source
    return body


__all__ = ["MAX_TAG_LENGTH", "ThreatConnectMetadata", "check_tag"]
