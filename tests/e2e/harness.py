"""One installation, every zone, one resident: the chain of ARCHITECTURE.md "One application, end to end".

:func:`build_installation` prepares an embedded (SQLite) installation the way an operator would:
tenants (千代田区 131016, optionally 東京都 130001 for the prefectural procedures), a test CA whose
certificate and CRL are the trust anchors, a virtual My Number Card for a resident who is also in
the resident registry (the card's certificate serials linked to the person's 統合宛名番号 and the
link table sent to application management over the linkage server), staff accounts in the two
back-office zones, an API client of the receiving API for each tenant's pull worker, the linkage
tokens and ``linkage.toml``. It starts nothing, so the network-namespace test can run the zones as
``jichitai serve`` processes on it.

:class:`Chain` runs the four zone apps on loopback (uvicorn threads on free ports) and offers the
steps of the chain: :meth:`Chain.submit` (signed by the card), :meth:`Chain.pull`,
:meth:`Chain.accept_and_hand_over`, :meth:`Chain.run_linkage_once`, :meth:`Chain.inbox_of`,
:meth:`Chain.post_case_result`, :meth:`Chain.portal_status`. The loops that the servers run on
their own in production (the pull scheduler, the linkage loop) are driven one step at a time here,
so the tests wait for nothing.
"""

from __future__ import annotations

import base64
import io
import secrets
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select

from jichitai.contracts.submission import CertificateUse, SubmissionStatus
from jichitai.contracts.transfer import MessageType
from jichitai.platform.context import STAFF_ADMIN, Actor, ActorKind, TenantContext, operator, system
from jichitai.platform.identity.principal import StaffPrincipal
from jichitai.platform.identity.roles import Permission, Role
from jichitai.platform.identity.service import IdentityService
from jichitai.platform.identity.testing import TEST_PASSWORD, fast_hasher
from jichitai.platform.messaging import enqueue, new_envelope
from jichitai.platform.messaging.auth import ensure_token
from jichitai.platform.pki import (
    BasicFacts,
    CardStore,
    CertificateKind,
    Resident,
    Sex,
    TestCA,
    VirtualCard,
    issue_card,
    verify_certificate,
)
from jichitai.platform.pki.ca import new_rsa_key
from jichitai.platform.storage import Storage
from jichitai.platform.tenancy import NewTenant, add_tenant
from jichitai.platform.tenants import TenantCode, TenantKind
from jichitai.platform.zones import Zone
from jichitai.procedures import (
    HandledBy,
    canonical_form_bytes,
    default_catalog,
    sample_application,
    sample_attachments,
)
from tests.conftest import close_storage, make_settings, make_storage

CHIYODA = "131016"  # 千代田区
TOKYO = "130001"  # 東京都: offers the prefectural procedures (28–31)
CA_PASSPHRASE = b"e2e-test-ca-passphrase"
CARD_PASSPHRASE = b"e2e-card-passphrase"
AUTH_PIN = "1234"
SIGN_PIN = "ABC123XYZ"
NOW = datetime.now(UTC).replace(microsecond=0)
MOVED_IN = date(2024, 4, 1)

RESIDENT = Resident(
    facts=BasicFacts(
        name="山田　花子",
        address="東京都千代田区一番町10番地2",
        birth_date=date(1990, 1, 2),
        sex=Sex.FEMALE,
    ),
    name_kana="ヤマダ　ハナコ",
)
# The household as the registry has it: the card holder heads it; the children are the ones the
# sample 認定請求書 names (a child under three, and a university-age daughter named like her mother).
CHILDREN: tuple[tuple[str, str, date, str], ...] = (
    ("山田　一郎", "ヤマダ　イチロウ", date(2023, 5, 10), "1"),
    ("山田　花子", "ヤマダ　ハナコ", date(2005, 6, 1), "2"),
)

# staff accounts: (login, roles) in each back-office zone
LGWAN_STAFF = ("madoguchi", (Role.APPLICATION_CLERK,))
MYNUMBER_STAFF = (
    ("jidouteate", (Role.CHILD_ALLOWANCE_CLERK,)),
    ("gyomu", (Role.GENERIC_CLERK,)),
)

INTAKE_PATH = "/linkage/v1/tenants/{code}/intake"


# -- files a resident attaches --------------------------------------------------------------------


def real_pdf() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def real_image(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 32), (40, 120, 200)).save(out, format=kind)
    return out.getvalue()


def attachment_bytes(content_type: str) -> bytes:
    """A small real file of ``content_type`` (sanitizing re-encodes or rebuilds it on the way)."""
    if content_type == "application/pdf":
        return real_pdf()
    if content_type == "image/jpeg":
        return real_image("JPEG")
    if content_type == "image/png":
        return real_image("PNG")
    raise ValueError(f"no sample file for {content_type}")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


# -- the installation -------------------------------------------------------------------------------


@dataclass
class Card:
    """The resident's virtual My Number Card and the keys of the portal's view of them."""

    store: CardStore
    card: VirtualCard
    resident_key: str  # the portal's key of the resident (from the 利用者証明用 certificate)
    sign_serial: str
    auth_serial: str


@dataclass
class Installation:
    """What :func:`build_installation` prepared (nothing running)."""

    storage: Storage
    home: Path
    ports: dict[str, int]
    tenants: tuple[str, ...]
    ca: TestCA
    card: Card
    atena_number: str  # the resident's 統合宛名番号 in 131016
    lgwan_staff: dict[str, StaffPrincipal]  # tenant -> application clerk
    mynumber_staff: dict[tuple[str, str], StaffPrincipal]  # (tenant, login) -> clerk

    def close(self) -> None:
        from jichitai.internet.submissions.encryption import forget_submission_keys
        from jichitai.internet.submissions.verification import forget_trust_material

        forget_trust_material()
        forget_submission_keys()
        close_storage(self.storage)


def _admin(tenant: str) -> TenantContext:
    return TenantContext(TenantCode(tenant), operator(), STAFF_ADMIN)


def _add_staff(
    storage: Storage, tenant: str, zone: Zone, login: str, roles: Sequence[Role]
) -> StaffPrincipal:
    with storage.unit_of_work(_admin(tenant), zone) as uow:
        info = IdentityService.of(uow, hasher=fast_hasher()).create_staff(
            login, f"{login} 職員", [r.value for r in roles], TEST_PASSWORD
        )
    return StaffPrincipal(TenantCode(tenant), info.id, info.login_id, info.display_name, info.roles)


def _issue_card(ca: TestCA, cards_dir: Path, storage: Storage) -> Card:
    from jichitai.internet.portal.sessions import resident_key_of
    from jichitai.internet.submissions.verification import trust_material

    store = CardStore(
        cards_dir, CARD_PASSPHRASE, pin_hasher=PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    )
    card = issue_card(ca, store, RESIDENT, auth_pin=AUTH_PIN, sign_pin=SIGN_PIN, now=NOW - timedelta(days=1))
    material = trust_material(storage.settings.trust_anchor_paths(), storage.settings.crl_paths())
    auth_cert = card.authentication_certificate()
    verified = verify_certificate(
        auth_cert, CertificateKind.AUTHENTICATION, trust_store=material.trust_store, crls=material.crls
    )
    return Card(
        store,
        card,
        resident_key_of(verified),
        f"{card.signing_certificate(SIGN_PIN).serial_number:X}",
        f"{auth_cert.serial_number:X}",
    )


def _register_resident(storage: Storage, card: Card) -> str:
    """The card holder and the children move in; the card's serials are linked to the holder."""
    from jichitai.mynumber.atena import purposes as atena_purposes
    from jichitai.mynumber.atena.service import AtenaService
    from jichitai.mynumber.registry.service import MoveIn, NewPerson, RegistryService

    registry = RegistryService(storage)
    clerk = Actor(id="juki", kind=ActorKind.STAFF, role="registry_clerk")
    ctx = TenantContext.of(CHIYODA, clerk, "registry.change.record")
    facts = RESIDENT.facts
    result = registry.submit(
        ctx,
        MoveIn(
            idempotency_key=uuid.uuid4().hex,
            event_date=MOVED_IN,
            notified_on=MOVED_IN,
            persons=(
                NewPerson(facts.name, RESIDENT.name_kana, facts.birth_date, "2", "世帯主"),
                *(NewPerson(n, k, b, s, "子") for n, k, b, s in CHILDREN),
            ),
            address=facts.address,
            previous_address="神奈川県横浜市中区港町1丁目1番地",
        ),
    )
    atena = result.atena_numbers[0]
    atena_svc = AtenaService(storage)
    link_ctx = TenantContext.of(CHIYODA, clerk, atena_purposes.SERIAL_LINK_MANAGE.code)
    since = (NOW - timedelta(days=30)).date()
    atena_svc.link_serial(link_ctx, atena, card.sign_serial, "signing", since)
    atena_svc.link_serial(link_ctx, atena, card.auth_serial, "authentication", since)
    return atena


def publish_link_table(storage: Storage, tenant: str = CHIYODA) -> str:
    """What the registry does on a schedule and on change: the link table into its outbox.

    The My Number zone has no scheduler for this yet, so the harness plays it: export the table
    (no 個人番号) and enqueue it as a LINK_TABLE message for application management.
    """
    from jichitai.mynumber.atena import purposes as atena_purposes
    from jichitai.mynumber.atena.service import AtenaService

    ctx = TenantContext.of(tenant, system("registry-export", "system"), atena_purposes.LINK_TABLE_EXPORT.code)
    table = AtenaService(storage).export_link_table(ctx)
    envelope = new_envelope(
        MessageType.LINK_TABLE, source=Zone.MYNUMBER, destination=Zone.LGWAN, tenant=tenant, payload=table
    )
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        enqueue(uow, envelope)
    return envelope.message_id


def write_linkage_toml(home: Path, lgwan_url: str, mynumber_url: str, poll_interval: float = 0.2) -> None:
    """The linkage server's configuration: the three standard flows, both peers, token files."""
    (home / "linkage.toml").write_text(
        "\n".join(
            [
                f"poll_interval = {poll_interval}",
                "backoff_initial = 0.2",
                "backoff_max = 2.0",
                "timeout = 10.0",
                "",
                "[peers.lgwan]",
                f'url = "{lgwan_url}"',
                "",
                "[peers.mynumber]",
                f'url = "{mynumber_url}"',
                "",
            ]
        ),
        encoding="utf-8",
    )


def build_installation(
    home: Path,
    *,
    tenants: Sequence[str] = (CHIYODA,),
    ports: dict[str, int] | None = None,
    bind_host: str = "127.0.0.1",
    portal_url: str | None = None,
    pull_interval: int = 60,
) -> Installation:
    """An installation with everything the chain needs; see the module docstring.

    ``portal_url`` is where the LGWAN pull worker reaches the receiving API (default: the internet
    zone's loopback port).
    """
    ports = ports or dict(
        zip(("internet", "lgwan", "linkage", "mynumber", "card_reader"), free_ports(5), strict=True)
    )
    settings = make_settings(home, "sqlite", ports=ports, bind_host=bind_host)
    storage = make_storage(settings)
    try:
        kinds = {
            CHIYODA: ("千代田区", "チヨダク", TenantKind.SPECIAL_WARD),
            TOKYO: ("東京都", "トウキョウト", TenantKind.PREFECTURE),
        }
        for code in tenants:
            name, kana, kind = kinds[code]
            add_tenant(storage, NewTenant(code, name, kana, kind))
        pki_dir = settings.pki_dir
        pki_dir.mkdir(parents=True, exist_ok=True)
        # the test CA lives where `jichitai pki init-ca` puts it: its certificate and CRL are the anchors
        ca = TestCA.create(pki_dir, CA_PASSPHRASE, now=NOW - timedelta(days=30), key=new_rsa_key())
        ca.publish_crl(now=NOW - timedelta(hours=1))
        card = _issue_card(ca, home / "cards", storage)
        for zone in (Zone.LGWAN, Zone.MYNUMBER):
            ensure_token(home, zone)
        host = "127.0.0.1" if bind_host in {"0.0.0.0", "::"} else bind_host
        url = portal_url or f"http://{host}:{ports['internet']}"
        lgwan_staff: dict[str, StaffPrincipal] = {}
        mynumber_staff: dict[tuple[str, str], StaffPrincipal] = {}
        for code in tenants:
            _connect_pull_worker(storage, code, url, pull_interval)
            lgwan_staff[code] = _add_staff(storage, code, Zone.LGWAN, *LGWAN_STAFF)
            for login, roles in MYNUMBER_STAFF:
                mynumber_staff[(code, login)] = _add_staff(storage, code, Zone.MYNUMBER, login, roles)
        atena = _register_resident(storage, card) if CHIYODA in tenants else ""
        if atena:
            publish_link_table(storage, CHIYODA)
        write_linkage_toml(home, f"http://{host}:{ports['lgwan']}", f"http://{host}:{ports['mynumber']}")
    except BaseException:
        close_storage(storage)
        raise
    return Installation(storage, home, ports, tuple(tenants), ca, card, atena, lgwan_staff, mynumber_staff)


def _connect_pull_worker(storage: Storage, tenant: str, portal_url: str, interval: int) -> None:
    """An API client in the internet zone, its credentials in the LGWAN zone, the status key published."""
    from jichitai.lgwan import config
    from tests.internet.api_support import create_client, publish_lgwan_signing_key

    creds = create_client(storage, tenant)
    publish_lgwan_signing_key(storage, tenant)
    config.configure(
        storage,
        tenant,
        portal_url=portal_url,
        client_id=creds.client_id,
        client_secret=creds.secret,
        interval_seconds=interval,
    )


# -- a signed submission ------------------------------------------------------------------------------


def signed_submission(card: Card, procedure_id: str, form: dict[str, Any] | None = None) -> dict[str, Any]:
    """Keyword arguments of :func:`jichitai.internet.submissions.submit`, signed by the card.

    A procedure that needs the 署名用 certificate is signed with it over the canonical form bytes
    (PIN: the 署名用パスワード); one that needs only 利用者証明用 is signed with that key.
    """
    from jichitai.internet.submissions import AttachmentUpload

    definition = default_catalog().get(procedure_id)
    form = form if form is not None else sample_application(definition)
    data = canonical_form_bytes(form)
    if definition.requires_signature:
        signature, cert = card.card.sign_with_certificate(SIGN_PIN, data)
        use = CertificateUse.SIGNING
    else:
        signature, cert = card.card.authenticate(AUTH_PIN, data), card.card.authentication_certificate()
        use = CertificateUse.AUTHENTICATION
    from cryptography.hazmat.primitives import serialization

    attachments = [
        AttachmentUpload(m.kind, m.filename, m.content_type, attachment_bytes(m.content_type))
        for m in sample_attachments(definition, form)
    ]
    return {
        "procedure_id": procedure_id,
        "procedure_version": definition.ref,
        "form": form,
        "signed_bytes": data,
        "signature": signature,
        "certificate_pem": cert.public_bytes(serialization.Encoding.PEM).decode("ascii"),
        "certificate_use": use,
        "attachments": attachments,
        "idempotency_key": "e2e-" + secrets.token_hex(12),
        "resident_key": card.resident_key,
    }


def submission_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The same submission as a body of ``POST /api/v1/tenants/{code}/submissions``."""
    return {
        "procedure_id": kwargs["procedure_id"],
        "procedure_version": kwargs["procedure_version"],
        "form": kwargs["form"],
        "signed_data_b64": base64.b64encode(kwargs["signed_bytes"]).decode(),
        "signature_b64": base64.b64encode(kwargs["signature"]).decode(),
        "certificate_pem": kwargs["certificate_pem"],
        "certificate_use": str(kwargs["certificate_use"]),
        "attachments": [
            {
                "kind": a.kind,
                "filename": a.filename,
                "content_type": a.content_type,
                "data_b64": base64.b64encode(a.data).decode(),
            }
            for a in kwargs["attachments"]
        ],
        "idempotency_key": kwargs["idempotency_key"],
    }


# -- reading each zone's state (what staff and residents see, through the services) -----------------


@dataclass(frozen=True)
class LgwanState:
    id: str
    status: str
    verification: str
    match: str
    atena_number: str | None


def lgwan_state(storage: Storage, tenant: str, receipt: str) -> LgwanState | None:
    from jichitai.lgwan.models import LgwanApplication
    from jichitai.lgwan.purposes import APPLICATION_PULL

    ctx = TenantContext.of(tenant, system("e2e-check"), APPLICATION_PULL.code)
    with storage.unit_of_work(ctx, Zone.LGWAN) as uow:
        app = uow.session.scalars(
            select(LgwanApplication).where(LgwanApplication.receipt_number == receipt)
        ).first()
        if app is None:
            return None
        return LgwanState(app.id, app.status, app.verification, app.match, app.atena_number)


@dataclass(frozen=True)
class InboxEntry:
    """An application in a core system's inbox in the My Number zone."""

    system: str  # child_allowance or generic
    case_id: str
    receipt_number: str
    procedure_id: str
    applicant_atena_number: str | None
    status: str


def inbox_entries(inst: Installation, tenant: str, system_name: str) -> list[InboxEntry]:
    """Every case (open or not) in ``system_name``'s inbox of ``tenant``."""
    if system_name == HandledBy.CHILD_ALLOWANCE.value:
        from jichitai.mynumber.child_allowance import purposes as ca_purposes
        from jichitai.mynumber.child_allowance.models import Case

        return [
            InboxEntry(
                system_name, c.id, c.receipt_number, c.procedure_id, c.applicant_atena_number, c.status
            )
            for c in _rows(inst, tenant, Case, "jidouteate", ca_purposes.CASE_PROCESS.code)
        ]
    from jichitai.mynumber.intake import purposes as intake_purposes
    from jichitai.mynumber.intake.models import GenericCase

    return [
        InboxEntry(system_name, c.id, c.receipt_number, c.procedure_id, c.applicant_atena_number, c.status)
        for c in _rows(inst, tenant, GenericCase, "gyomu", intake_purposes.GENERIC_CASE.code)
    ]


def _rows(inst: Installation, tenant: str, model: Any, login: str, purpose: str) -> list[Any]:
    staff = inst.mynumber_staff[(tenant, login)]
    with inst.storage.unit_of_work(staff.context(purpose), Zone.MYNUMBER) as uow:
        rows = list(uow.session.scalars(select(model)))
        uow.session.expunge_all()
        return rows


def resident_status(
    inst: Installation, tenant: str, receipt: str, resident_key: str | None = None
) -> tuple[SubmissionStatus, list[str]]:
    """The status and the messages the portal shows the resident for ``receipt`` (verified events only).

    ``resident_key`` defaults to the portal's key of the logged-in card holder; a submission made
    through the API without a portal session is kept under :func:`signer_resident_key`.
    """
    from jichitai.internet.submissions import get_for_resident

    key = resident_key or inst.card.resident_key
    detail = get_for_resident(inst.storage, tenant, key, receipt)
    return detail.application.status, [e.message_ja for e in detail.events if e.message_ja]


def signer_resident_key(inst: Installation) -> str:
    """The resident key the portal gives a submission made with the 署名用 certificate and no session."""
    from jichitai.internet.submissions import resident_key_for_certificate
    from jichitai.internet.submissions.verification import trust_material

    settings = inst.storage.settings
    material = trust_material(settings.trust_anchor_paths(), settings.crl_paths())
    verified = verify_certificate(
        inst.card.card.signing_certificate(SIGN_PIN),
        CertificateKind.SIGNING,
        trust_store=material.trust_store,
        crls=material.crls,
    )
    return resident_key_for_certificate(verified.issuer, verified.serial)


# -- servers ------------------------------------------------------------------------------------------


class ThreadServer:
    """A uvicorn server for ``app`` in a daemon thread, on ``host:port``."""

    def __init__(self, app: Any, port: int, host: str = "127.0.0.1") -> None:
        self.url = f"http://{host}:{port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the test server at {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def answers(app: FastAPI, method: str, path: str) -> int:
    """The status ``app`` answers a bare request with (404 when no route takes it)."""
    from fastapi.testclient import TestClient

    # no ``with``: the app's lifespan (background loops, if any) is not started for this probe
    status: int = TestClient(app, raise_server_exceptions=False).request(method, path).status_code
    return status


def zone_app(zone: Zone, storage: Storage, *, card_reader_origin: str | None = None) -> FastAPI:
    """The zone's app exactly as the composition root builds it for ``jichitai serve``."""
    from jichitai.apps import create_app

    app = create_app(zone, storage)
    if zone is Zone.INTERNET and card_reader_origin is not None:
        from jichitai.internet.portal import PortalConfig

        app.state.portal_config = PortalConfig(card_reader_origin=card_reader_origin)
    if zone is Zone.MYNUMBER:
        # the only door into the My Number zone: the intake the linkage server delivers to
        status = answers(app, "POST", INTAKE_PATH.format(code=CHIYODA))
        assert status == 401, f"the My Number zone's linkage intake answers {status} without a token"
    return app


# -- the chain ------------------------------------------------------------------------------------------


@dataclass
class Chain:
    """The installation with the four zone apps running on loopback; the steps of one application."""

    inst: Installation
    servers: dict[Zone, ThreadServer] = field(default_factory=dict)
    reader: ThreadServer | None = None
    _stack: ExitStack = field(default_factory=ExitStack)
    _linkage: Any = None

    @property
    def storage(self) -> Storage:
        return self.inst.storage

    def url(self, zone: Zone) -> str:
        return self.servers[zone].url

    def start(self, *, card_reader: bool = False) -> Chain:
        """Start the zones (and, for a browser, the resident's card-reader helper with the card in)."""
        from jichitai.linkage.config import load_config
        from jichitai.linkage.server import LinkageServer, LoopStatus

        ports = self.inst.ports
        reader_origin = f"http://127.0.0.1:{ports['card_reader']}"
        for zone in (Zone.INTERNET, Zone.LGWAN, Zone.MYNUMBER, Zone.LINKAGE):
            app = zone_app(zone, self.storage, card_reader_origin=reader_origin if card_reader else None)
            self.servers[zone] = self._stack.enter_context(ThreadServer(app, ports[zone.value]))
        if card_reader:
            from jichitai.platform.pki.card_reader import CardReaderConfig
            from jichitai.platform.pki.card_reader import create_app as create_reader

            reader = create_reader(
                CardReaderConfig(
                    store=self.inst.card.store,
                    portal_origins=[self.url(Zone.INTERNET)],
                    inserted_card_id=self.inst.card.card.card_id,
                )
            )
            self.reader = self._stack.enter_context(ThreadServer(reader, ports["card_reader"]))
        # the linkage loop, driven one pass at a time (``run_linkage_once``) with its own status
        self._linkage = LinkageServer(self.storage, load_config(self.storage.settings), status=LoopStatus())
        self._stack.callback(self._linkage.close)
        return self

    def close(self) -> None:
        self._stack.close()

    # -- the steps ---------------------------------------------------------------------------------
    def submit(self, procedure_id: str, form: dict[str, Any] | None = None, *, tenant: str = CHIYODA) -> str:
        """Signed by the resident's card, into the submissions service as the portal's submit page
        calls it for the logged-in resident; the 受付番号."""
        kwargs = signed_submission(self.inst.card, procedure_id, form)
        from jichitai.internet.submissions import submit

        return submit(self.storage, tenant, **kwargs).receipt_number

    def pull(self, tenant: str = CHIYODA) -> Any:
        """One run of the LGWAN pull worker against the running portal (also posts waiting statuses)."""
        from jichitai.lgwan.pull import pull_once

        report = pull_once(self.storage, tenant)
        assert report.error == "", report.error
        return report

    def lgwan(self, receipt: str, tenant: str = CHIYODA) -> LgwanState:
        state = lgwan_state(self.storage, tenant, receipt)
        assert state is not None, f"{receipt} is not in application management"
        return state

    def accept_and_hand_over(self, receipts: Sequence[str], tenant: str = CHIYODA) -> None:
        """The application clerk accepts (受理) and hands over (引継ぎ) in bulk, as on the inbox page."""
        from jichitai.lgwan import service

        staff = self.inst.lgwan_staff[tenant]
        ids = [self.lgwan(r, tenant).id for r in receipts]
        accepted = service.accept(self.storage, staff, ids)
        assert not accepted.skipped, accepted.skipped
        handed = service.hand_over(self.storage, staff, ids)
        assert not handed.skipped, handed.skipped

    def run_linkage_once(self) -> int:
        """Linkage passes until nothing is left to move; the messages moved."""
        total = 0
        for _ in range(20):
            moved = int(self._linkage.run_once())
            total += moved
            if moved == 0:
                return total
        raise AssertionError("the linkage server kept finding messages")

    def inbox_of(self, system_name: str, tenant: str = CHIYODA) -> list[InboxEntry]:
        return inbox_entries(self.inst, tenant, system_name)

    def post_case_result(self, entry: InboxEntry, tenant: str = CHIYODA) -> str:
        """The core system decides: 認定 for a claim, 処理完了 for the rest; returns the outcome."""
        return record_result(self.inst, tenant, entry)

    def push_statuses(self, tenant: str = CHIYODA) -> None:
        """LGWAN posts the status events it queued (the next pull run does it too)."""
        from jichitai.lgwan.pull import push_once

        report = push_once(self.storage, tenant)
        assert report.error == "" and report.pending == 0, report

    def portal_status(self, receipt: str, tenant: str = CHIYODA) -> tuple[SubmissionStatus, list[str]]:
        return resident_status(self.inst, tenant, receipt)

    # -- the resident on the portal's pages ------------------------------------------------------------
    def portal_session(self, tenant: str = CHIYODA) -> httpx.Client:
        """An HTTP session on the portal, logged in the way portal.js does it with the card."""
        client = httpx.Client(base_url=self.url(Zone.INTERNET), timeout=30, follow_redirects=False)
        base = f"/m/{tenant}"
        got = client.post(f"{base}/login/challenge", json={})
        assert got.status_code == 200, got.text
        challenge = base64.b64decode(got.json()["challenge"])
        signature = self.inst.card.card.authenticate(AUTH_PIN, challenge)
        from cryptography.hazmat.primitives import serialization

        cert = (
            self.inst.card.card.authentication_certificate().public_bytes(serialization.Encoding.PEM).decode()
        )
        answer = client.post(
            f"{base}/login",
            json={
                "challenge_id": got.json()["challenge_id"],
                "signature": base64.b64encode(signature).decode(),
                "certificate": cert,
                "next": f"{base}/applications",
            },
        )
        assert answer.status_code == 200, answer.text
        return client


def record_result(inst: Installation, tenant: str, entry: InboxEntry) -> str:
    """What the clerk of the core system does with a case (see :meth:`Chain.post_case_result`)."""
    if entry.system == HandledBy.CHILD_ALLOWANCE.value:
        from jichitai.mynumber.child_allowance import purposes
        from jichitai.mynumber.child_allowance.service import ChildAllowanceService

        staff = inst.mynumber_staff[(tenant, "jidouteate")]
        ctx = staff.context(purposes.CASE_PROCESS.code, Permission.CHILD_ALLOWANCE_CASE_DECIDE)
        svc = ChildAllowanceService(inst.storage)
        if entry.procedure_id == "child_allowance_claim":
            return svc.certify(ctx, entry.case_id).outcome
        return svc.close_case(ctx, entry.case_id, "届出の内容を確認し、処理を完了しました。").outcome
    from jichitai.mynumber.intake import purposes as intake_purposes
    from jichitai.mynumber.intake.service import IntakeService

    staff = inst.mynumber_staff[(tenant, "gyomu")]
    ctx = staff.context(intake_purposes.GENERIC_CASE.code, Permission.APPLICATIONS_APPLICATION_READ)
    IntakeService(inst.storage).record_outcome(ctx, entry.case_id, "completed", "手続が完了しました。")
    return "completed"


def chain_at(
    home: Path, *, tenants: Sequence[str] = (CHIYODA,), card_reader: bool = False
) -> Iterator[Chain]:
    """A fixture body: an installation under ``home`` with its zones running; everything stopped after."""
    inst = build_installation(home, tenants=tenants)
    chain = Chain(inst)
    try:
        chain.start(card_reader=card_reader)
        # the link table the registry published at set-up reaches application management first
        assert chain.run_linkage_once() >= 1
        yield chain
    finally:
        chain.close()
        inst.close()
        shutil.rmtree(home, ignore_errors=True)


__all__ = [
    "AUTH_PIN",
    "CHIYODA",
    "SIGN_PIN",
    "TOKYO",
    "Chain",
    "InboxEntry",
    "Installation",
    "build_installation",
    "chain_at",
]
