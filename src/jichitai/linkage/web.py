"""The linkage server's own web endpoints: health and the operators' status page and API.

``register(app, storage)`` adds

- ``GET /api/v1/health``: the transfer loop's liveness and each peer's state (JSON);
- ``GET /api/v1/status``: the same plus, per tenant, transfers by state and recent refusals;
- ``GET /status`` (and ``/``): the same for people, in Japanese.

Only addresses listed in ``status_allow`` of ``linkage.toml`` (loopback by default) may see them:
the linkage server has no staff accounts, and its status is for the installation's operators.
Nothing here shows a payload; refusals stay visible until an operator has looked into them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import RedirectResponse

from jichitai.linkage import monitor
from jichitai.linkage.config import LinkageConfig, load_config
from jichitai.linkage.server import STATUS
from jichitai.platform.storage import Storage
from jichitai.platform.web.app import make_templates
from jichitai.platform.zones import Zone

TEMPLATES = Path(__file__).parent / "templates"
TYPE_LABELS = {
    "accepted_application": "受理済み申請",
    "link_table": "シリアル番号紐付情報",
    "case_result": "処理結果",
}


def _allowed(request: Request, config: LinkageConfig) -> bool:
    host = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in config.status_allow)


def register(app: FastAPI, storage: Storage, config: LinkageConfig | None = None) -> None:
    cfg = config or load_config(storage.settings)
    templates = make_templates([TEMPLATES])

    def guard(request: Request) -> None:
        if not _allowed(request, cfg):
            raise HTTPException(403, "the status of the linkage server is for operators only")

    def health() -> dict[str, Any]:
        loop = STATUS.snapshot()
        peers_ok = all(p["ok"] for p in loop["peers"].values())
        status = "ok" if loop["running"] and peers_ok else "degraded"
        return {"zone": Zone.LINKAGE.value, "status": status, "loop": loop}

    @app.get("/api/v1/health")
    def api_health(request: Request) -> dict[str, Any]:
        guard(request)
        return health()

    @app.get("/api/v1/status")
    def api_status(request: Request) -> dict[str, Any]:
        guard(request)
        tenants = monitor.summary(storage)
        return {
            **health(),
            "flows": [f.model_dump(mode="json") for f in cfg.flows],
            "tenants": [
                {
                    "code": t.code,
                    "name": t.name,
                    "counts": t.counts,
                    "refused": [_row(r) for r in t.refused],
                    "in_flight": [_row(r) for r in t.in_flight],
                }
                for t in tenants
            ],
        }

    @app.get("/status")
    def status_page(request: Request) -> Response:
        guard(request)
        values = {
            "title": "連携状況",
            "site_title": "連携サーバ",
            "municipality_name": "",
            "staff": None,
            "csrf_token": "",
            "errors": {},
            "static_url": lambda path: f"{request.scope.get('root_path', '')}/static/{path}",
            "home_url": "/status",
            "runner": STATUS.snapshot(),
            "flows": cfg.flows,
            "tenants": monitor.summary(storage),
            "zone_labels": {z.value: z.label_ja for z in Zone},
            "type_labels": TYPE_LABELS,
            "state_labels": {s: monitor.STATE_LABELS[s] for s in monitor.STATE_LABELS},
        }
        return templates.TemplateResponse(request, "linkage/status.html", values)

    @app.get("/", include_in_schema=False)
    def home() -> Response:
        return RedirectResponse("/status", status_code=303)


def _row(r: monitor.TransferRow) -> dict[str, Any]:
    d = asdict(r)
    d["picked_at"] = r.picked_at.isoformat()
    d["acked_at"] = r.acked_at.isoformat() if r.acked_at else None
    d["reason_ja"] = r.reason_ja
    return d
