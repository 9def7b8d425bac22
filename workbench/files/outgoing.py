"""Outgoing files (送付ファイル): one spec per kind, one registry, one approval flow.

REQUIREMENTS §6 (most past incidents were sending to the wrong people) and C9: every file
with personal data that leaves the workspace goes through the same three steps —

1. **preview** (件数の確認): who would be on it, as counts; nothing is written;
2. **request** (承認依頼): a second person's approval bound to the exact parameters *and*
   to the count and a digest of exactly who is selected;
3. **create** (作成): the approval is consumed, the selection is made again, and the package
   is written for its recipient with a media-ledger entry.  If the selection is no longer
   the approved one (a new target list, numbers registered, answers arrived, another batch
   sent meanwhile) the approval refuses it, with the counts then and now
   (:func:`workbench.core.approvals.consume`, reason ``population_changed``).

Each kind of file is one :class:`OutgoingFileSpec` — its kind, recipient, permission, typed
parameters, how it selects (count, digest, a summary in Japanese for the approver), what it
writes and what it records — and one :func:`register` call, which makes its three services
and puts it in :data:`REGISTRY`.  The CLI, the approvals screen and the dashboards' one
screen component (``widgets.outgoing.OutgoingFileFlow``) read their dispatch and labels from
:data:`REGISTRY`, so a new kind of file is one spec and one registry entry (README, "How it is
built").
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

from workbench.core import approvals
from workbench.core.errors import InvalidInput, NotFound
from workbench.core.labels import register as register_words
from workbench.core.permissions import Permission
from workbench.core.workspace import Session, Unit, service
from workbench.files import media

__all__ = [
    "REGISTRY",
    "ExportResult",
    "OutgoingFileSpec",
    "OutgoingServices",
    "Recheck",
    "SelectionPreview",
    "create",
    "digest_sql",
    "preview",
    "recheck",
    "register",
    "request",
    "spec_for",
]


def digest_sql(row: str) -> str:
    """A SQL aggregate: the digest of exactly which rows are selected (an approval is bound to it).

    ``row`` is a SQL expression naming one selected row (e.g. ``person_id`` or
    ``information || ':' || person_id``); the rows of a selection are distinct.  The digest does not
    depend on the order of the rows, so it needs no sort: SHA-256 of the count and the XOR of every
    row's 128-bit MD5.  Sorting 2,000,000 strings for ``string_agg(… ORDER BY …)`` took 11 s at a
    1,000,000-person office.  It detects a selection that moved since the approval (not an adversary
    forging one: the selection is made by the workbench from its own data).
    """
    return f"sha256(count(*)::VARCHAR || ':' || coalesce(bit_xor(md5_number(({row})::VARCHAR))::VARCHAR, ''))"


@dataclass(frozen=True)
class ExportResult:
    """A package written for a recipient: its ledger entry, file and record count (C9)."""

    ledger_entry: media.LedgerEntry
    path: Path
    record_count: int
    approval_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ledger_entry": self.ledger_entry.to_dict(), "path": str(self.path), "record_count": self.record_count,
                "approval_id": self.approval_id, **self.extra}


class SelectionPreview(Protocol):
    """What every kind's preview offers the generic flow: how many, exactly who (as a digest),
    and a sentence in Japanese for the approver and the confirmation box."""

    @property
    def count(self) -> int: ...

    @property
    def selection_digest(self) -> str: ...

    def summary_ja(self) -> str: ...

    def to_dict(self) -> dict[str, Any]: ...


ParamsT = TypeVar("ParamsT")
PreviewT = TypeVar("PreviewT", bound=SelectionPreview)


@dataclass(frozen=True)
class OutgoingFileSpec(Generic[ParamsT, PreviewT]):
    """One kind of outgoing file."""

    #: Approval kind (``approvals.kind``), the registry key.
    kind: str
    #: Package kind (``manifest.kind`` and the media ledger's ``kind``).
    package_kind: str
    #: Who receives it (a key of :data:`workbench.files.media.RECIPIENTS`).
    recipient: str
    #: The one permission its three services need.
    permission: Permission
    #: What it is, in staff words (Japanese, English).
    label_ja: str
    label_en: str
    #: The file itself, in staff words (「番号収集リスト」), for buttons and the package box.
    file_ja: str
    file_en: str
    #: Keyword arguments → canonical, validated parameters (a frozen dataclass); refuses bad input.
    parameters: Callable[..., ParamsT]
    #: Who would be on it (counts and digest only; may leave temporary tables for ``write``).
    select: Callable[[Unit, ParamsT], PreviewT]
    #: Write the package (``media.write_outgoing``) and record what went out; inside the create call.
    write: Callable[[Unit, ParamsT, PreviewT, str], ExportResult]
    #: Tables it records into besides the media ledger (documentation, and the README recipe).
    records: tuple[str, ...]
    #: Refusal when the selection is empty (English, Japanese).
    nothing_en: str = "Nobody is selected; there is nothing to send."
    nothing_ja: str = "対象者がいません。送付するものはありません。"
    nothing_reason: str = "nothing_to_send"
    #: Drop whatever ``select`` left behind (temporary tables); called after every step.
    release: Callable[[Unit], None] | None = None
    #: The file carries Individual Numbers (said in the confirmation box).
    holds_numbers: bool = False
    #: Stored approval parameters → typed parameters (default: ``parameters(**stored)``).
    restore: Callable[[dict[str, Any]], ParamsT] | None = None
    #: The selection when ``write`` follows in the same call (the create step): it may keep what the
    #: writer needs, which a preview, a request or a recheck need not build (default: ``select``).
    select_to_write: Callable[[Unit, ParamsT], PreviewT] | None = None

    def restored(self, stored: Mapping[str, Any]) -> ParamsT:
        return self.restore(dict(stored)) if self.restore is not None else self.parameters(**stored)

    def approval_params(self, params: ParamsT) -> dict[str, Any]:
        """The parameters an approval is bound to (the selection is bound separately)."""
        return _as_dict(params)

    @property
    def recipient_ja(self) -> str:
        return media.RECIPIENTS[self.recipient][0]


def _as_dict(params: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(params) and not isinstance(params, type):
        return dataclasses.asdict(params)
    return dict(params)


def _selection(p: SelectionPreview) -> dict[str, Any]:
    return {"count": int(p.count), "selection_digest": str(p.selection_digest)}


#: Every kind of outgoing file, by approval kind.  Filled by :func:`register` as the kind modules are
#: imported; :mod:`workbench.services` imports them all, so the registry is complete whatever was imported.
REGISTRY: dict[str, OutgoingFileSpec[Any, Any]] = {}


@dataclass(frozen=True)
class OutgoingServices(Generic[PreviewT]):
    """The three services made for one spec (session-bound, permission-checked, audited)."""

    preview: Callable[..., PreviewT]
    request: Callable[..., approvals.Approval]
    create: Callable[..., ExportResult]


_SERVICES: dict[str, OutgoingServices[Any]] = {}


def _note(unit: Unit, spec: OutgoingFileSpec[Any, Any], params: Any, preview: SelectionPreview) -> None:
    unit.note(outgoing=spec.kind, **{k: v for k, v in _as_dict(params).items() if _loggable(v)}, count=int(preview.count))


def _loggable(value: Any) -> bool:
    """Parameters are codes, years and counts; anything else stays out of the audit record."""
    if value is None or isinstance(value, (bool, int)):
        return True
    if isinstance(value, str):
        return len(value) <= 40
    if isinstance(value, (list, tuple)):
        return all(isinstance(v, str) and len(v) <= 40 for v in value) and len(value) <= 100
    return False


def _run_select(unit: Unit, spec: OutgoingFileSpec[ParamsT, PreviewT], params: ParamsT) -> PreviewT:
    try:
        result = spec.select(unit, params)
    finally:
        if spec.release is not None:
            spec.release(unit)
    _note(unit, spec, params, result)
    return result


def register(spec: OutgoingFileSpec[ParamsT, PreviewT], *, preview: str, request: str,
             create: str) -> OutgoingServices[PreviewT]:
    """Put ``spec`` in the registry and make its three services, audited under these operation names."""
    if spec.kind in REGISTRY:
        raise RuntimeError(f"duplicate outgoing file kind {spec.kind}")
    if spec.recipient not in media.RECIPIENTS:
        raise RuntimeError(f"unknown recipient {spec.recipient}")
    register_words("package", {spec.package_kind: (spec.file_ja, spec.file_en)})

    def _preview(unit: Unit, /, **kwargs: Any) -> PreviewT:
        return _run_select(unit, spec, spec.parameters(**kwargs))

    def _request(unit: Unit, /, **kwargs: Any) -> approvals.Approval:
        params = spec.parameters(**kwargs)
        found = _run_select(unit, spec, params)
        if found.count == 0:
            raise InvalidInput(spec.nothing_en, spec.nothing_ja, reason=spec.nothing_reason)
        summary = {"summary_ja": found.summary_ja(), "recipient": spec.recipient, **found.to_dict(),
                   **_selection(found), "parameters": spec.approval_params(params)}
        summary.pop("selection_digest", None)
        return approvals.request(unit, spec.kind, spec.approval_params(params), summary, selection=_selection(found))

    def _create(unit: Unit, /, *, approval_id: str | None, **kwargs: Any) -> ExportResult:
        params = spec.parameters(**kwargs)
        try:
            found = (spec.select_to_write or spec.select)(unit, params)
            _note(unit, spec, params, found)
            approval = approvals.consume(unit, approval_id, spec.kind, spec.approval_params(params),
                                         selection=_selection(found))
            if found.count == 0:  # pragma: no cover - an approval is never opened for an empty selection
                raise InvalidInput(spec.nothing_en, spec.nothing_ja, reason=spec.nothing_reason)
            return spec.write(unit, params, found, approval.approval_id)
        finally:
            if spec.release is not None:
                spec.release(unit)

    # Each service shows the spec's own typed parameters (help(), inspect, the API docs).
    unit_param = inspect.Parameter("unit", inspect.Parameter.POSITIONAL_ONLY, annotation="Unit")
    own = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(spec.parameters).parameters.values()]
    approval_param = inspect.Parameter("approval_id", inspect.Parameter.KEYWORD_ONLY, annotation="str | None")
    for fn, name, extra, returns in ((_preview, preview, [], "SelectionPreview"),
                                     (_request, request, [], "approvals.Approval"),
                                     (_create, create, [approval_param], "ExportResult")):
        fn.__name__ = fn.__qualname__ = name.rsplit(".", 1)[-1]
        fn.__doc__ = f"{spec.label_en} ({spec.label_ja}): {name.rsplit('.', 1)[-1]} (see workbench.files.outgoing)."
        setattr(fn, "__signature__", inspect.Signature([unit_param, *extra, *own], return_annotation=returns))  # noqa: B010
    made = OutgoingServices(
        preview=service(spec.permission, operation=preview)(_preview),
        request=service(spec.permission, operation=request)(_request),
        create=service(spec.permission, operation=create)(_create),
    )
    REGISTRY[spec.kind] = spec
    _SERVICES[spec.kind] = made
    approvals.register_kind(spec.kind, spec.label_ja, spec.label_en)
    return made


def spec_for(kind: str) -> OutgoingFileSpec[Any, Any]:
    """The spec of one kind of outgoing file (by approval kind)."""
    try:
        return REGISTRY[kind]
    except KeyError:
        raise NotFound(f"Unknown kind of outgoing file {kind!r}.", f"送付ファイルの種類 {kind!r} は不明です。",
                       reason="unknown_kind") from None


def services_for(kind: str) -> OutgoingServices[Any]:
    spec_for(kind)
    return _SERVICES[kind]


def preview(session: Session, kind: str, **params: Any) -> SelectionPreview:
    """Step 1 for any kind: counts only, nothing written."""
    result: SelectionPreview = services_for(kind).preview(session, **params)
    return result


def request(session: Session, kind: str, **params: Any) -> approvals.Approval:
    """Step 2 for any kind: ask a second person to approve exactly this selection."""
    return services_for(kind).request(session, **params)


def create(session: Session, kind: str, *, approval_id: str | None, **params: Any) -> ExportResult:
    """Step 3 for any kind: consume the approval and write the package."""
    return services_for(kind).create(session, approval_id=approval_id, **params)


@dataclass(frozen=True)
class Recheck:
    """An outgoing file's approval request checked against the data now (for the approver's card)."""

    approval_id: str
    kind: str
    count_then: int
    count_now: int
    unchanged: bool
    summary_ja_now: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@service(Permission.APPROVALS_DECIDE)
def recheck(unit: Unit, approval_id: str) -> Recheck:
    """Count the selection of a pending request again, so the approver sees whether what they are
    asked to approve is still what would be sent (counts only; issue 11 item 2)."""
    approval = approvals.load(unit, approval_id)
    spec = spec_for(approval.kind)
    stored = approval.summary.get("parameters")
    if not isinstance(stored, dict):
        raise NotFound("This request was made before requests kept their parameters; ask for a new one.",
                       "この依頼には条件が記録されていません（旧形式）。改めて依頼してもらってください。", reason="no_parameters")
    params = spec.restored(stored)
    now = _run_select(unit, spec, params)
    then = int(approval.summary.get("count") or 0)
    same = approvals.params_digest(spec.kind, {**spec.approval_params(params), **_selection(now)}) == approval.params_digest
    unit.note(approval_id=approval_id, approval_kind=approval.kind, unchanged=same)
    return Recheck(approval_id, approval.kind, then, int(now.count), same, now.summary_ja())


def labels() -> Mapping[str, tuple[str, str]]:
    """Approval kind → (Japanese, English) for every registered outgoing file."""
    return {k: (s.label_ja, s.label_en) for k, s in REGISTRY.items()}
