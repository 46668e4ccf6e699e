"""``jichitai certificate issue|verify`` and the demo seeding, on the module's installation."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from jichitai.mynumber.registry.cert_cli import build_cli
from jichitai.mynumber.registry.demo import seed_demo
from jichitai.mynumber.registry.search import SearchQuery
from jichitai.mynumber.registry.service import RegistryService
from jichitai.platform.storage import Storage
from tests.conftest import ctx
from tests.mynumber.registry.issuance.support import register_family


def test_issue_and_verify_from_the_command_line(
    iss_storage: Storage, svc: RegistryService, tmp_path: Path
) -> None:
    result, numbers = register_family(svc, "石川", "イシカワ", children=0)
    app = build_cli(lambda: iss_storage, Console(width=200))
    runner = CliRunner()
    out = tmp_path / "cert.pdf"
    issued = runner.invoke(
        app,
        ["issue", "--tenant", "131016", "--atena", result.atena_numbers[0], "--kind", "juminhyo",
         "--items", "relationship,individual-number", "--requester", "proxy", "--out", str(out)],
    )  # fmt: skip
    assert issued.exit_code == 0, issued.output
    assert "R8-" not in issued.output or "issued" in issued.output
    assert "not printed" in issued.output and "個人番号" in issued.output  # a proxy without mail delivery
    assert out.read_bytes().startswith(b"%PDF") and numbers[0].encode() not in out.read_bytes()
    good = runner.invoke(app, ["verify", str(out), "--tenant", "131016"])
    assert good.exit_code == 0 and "valid" in good.output
    data = bytearray(out.read_bytes())
    data[len(data) // 3] ^= 0x01
    bad_file = tmp_path / "altered.pdf"
    bad_file.write_bytes(bytes(data))
    bad = runner.invoke(app, ["verify", str(bad_file), "--tenant", "131016"])
    assert bad.exit_code == 1 and "NOT valid" in bad.output
    unknown = runner.invoke(app, ["issue", "--tenant", "131016", "--kind", "other", "--out", str(out)])
    assert unknown.exit_code != 0


def test_demo_seed_loads_residents_once(iss_storage: Storage) -> None:
    notes = seed_demo(iss_storage, Console(quiet=True), 30)
    assert notes and "synthetic residents" in notes[0][1]
    service = RegistryService(iss_storage)
    page = service.search(ctx("registry.person.read"), SearchQuery(address="東京都千代田区", page_size=100))
    first = page.total
    assert first >= 25
    seed_demo(iss_storage, Console(quiet=True), 30)  # idempotent: nothing recorded twice
    assert (
        service.search(
            ctx("registry.person.read"), SearchQuery(address="東京都千代田区", page_size=100)
        ).total
        == first
    )
