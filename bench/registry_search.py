"""Name search benchmark: p50/p95 latency of registry searches at city scale, through the service.

Usage:
    # on an installation kept by the import benchmark (3.8M residents of 横浜市):
    JICHITAI_KEYSTORE_PASSPHRASE=$(cat HOME/bench-passphrase) \\
        .venv/bin/python bench/registry_search.py --home HOME [-n 2000]
    # or load a fresh one first (PostgreSQL unless --backend sqlite):
    .venv/bin/python bench/registry_search.py --residents 200000 [-n 2000]

Queries are drawn (deterministically) from the residents in the database: exact kanji names, kana
readings (half of them in hiragana), variant-kanji spellings (髙→高, 﨑→崎, 邊→辺 … written the
other way round, so only the variant key matches), a surname + birth date, a surname alone
(broad: thousands of matches at city scale, answered capped: the first ``search.MAX_RESULTS`` in an
index's order), a given name alone (a name is matched from its beginning, so this finds the names
that begin with it, not a given-name search), birth date alone, and address prefix + birth date.
Besides, a tenth as many searches by the other name a person is known by (row ``other``): a
foreign resident's 通称 or a Japanese resident's 旧氏 with the 名 (``names.other_name``), in kanji or
kana, drawn from those who have one. These are Japanese names, so they also find the 氏名 that match.
Each goes through ``RegistryService.search`` (purpose check, index range scan, ranking, one audit
entry per person shown, commit), one at a time. Prints
p50/p95/p99 per kind and overall; the goal from issue 3 is p95 under 20 ms.

Then the review of ending stays (``RegistryService.stay_ending``, 在留期間満了の確認): a page of 20
foreign residents whose stay ends by a day drawn within a year either side of today, the first page
or a later one (row ``stay``, not in ``all``: it is not a name search).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from jichitai.mynumber.registry.models import Person
from jichitai.mynumber.registry.names import VARIANT_TABLE, other_name
from jichitai.mynumber.registry.service import RegistryService, SearchQuery
from jichitai.platform.config import load_settings
from jichitai.platform.context import TenantContext, operator
from jichitai.platform.storage.engine import Storage
from jichitai.platform.tenants import TenantCode
from jichitai.platform.zones import Zone

TENANT = "141003"
STAY = "stay"  # the stay review's row in the report
_UNVARIANT = {v: k for k, v in VARIANT_TABLE.items()}


def _hiragana(kana: str) -> str:
    return "".join(chr(ord(c) - 0x60) if "ァ" <= c <= "ヶ" else c for c in kana)


def _variant_spelling(name: str) -> str | None:
    """The name with one kanji swapped for its variant (or back): only the folded key matches."""
    for i, ch in enumerate(name):
        other = VARIANT_TABLE.get(ch) or _UNVARIANT.get(ch)
        if other:
            return name[:i] + other + name[i + 1 :]
    return None


def sample_people(storage: Storage, n: int, seed: int) -> list[Person]:
    ctx = TenantContext.of(TENANT, operator("bench"), "registry.migration")
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        total = uow.session.scalar(select(func.count()).select_from(Person)) or 0
        rng = random.Random(seed)
        # 住民票コード are random 11-digit numbers (ids are time-ordered): a range from a random
        # point of the unique index picks a uniform sample cheaply
        people: list[Person] = []
        seen: set[str] = set()
        while len(people) < n:
            start = f"{rng.randrange(10**11):011d}"
            batch = uow.session.scalars(
                select(Person).where(Person.juminhyo_code >= start).order_by(Person.juminhyo_code).limit(50)
            ).all()
            people += [p for p in batch if p.id not in seen]
            seen.update(p.id for p in batch)
        for p in people:
            uow.session.expunge(p)
    print(f"{total:,} persons in the registry; {len(people):,} sampled")
    return people[:n]


def sample_other_names(storage: Storage, n: int, seed: int) -> list[tuple[str, str | None]]:
    """The other names (通称, or 旧氏 with the 名) and readings of up to ``n`` persons who have one,
    read from their partial index."""
    ctx = TenantContext.of(TENANT, operator("bench"), "registry.migration")
    rng = random.Random(seed)
    with storage.unit_of_work(ctx, Zone.MYNUMBER) as uow:
        rows = uow.session.execute(
            select(
                Person.name, Person.name_kana, Person.alias, Person.alias_kana, Person.former_surname,
                Person.former_surname_kana,
            ).where(Person.other_name_key_folded.is_not(None))
        ).all()  # fmt: skip
    print(f"{len(rows):,} persons with another name (通称, 旧氏)")
    names = [other_name(*r) for r in rng.sample(rows, min(n, len(rows)))]
    return [(name, kana) for name, kana in names if name]


def analyze(storage: Storage) -> None:
    """Refresh the planner's statistics after a bulk load, as an operator would (VACUUM ANALYZE);
    autovacuum does it too, eventually. Needs the administrative role (the tenant role does not own
    the tables)."""
    from jichitai.platform.storage.backends import PostgresBackend

    backend = storage.backend
    if not isinstance(backend, PostgresBackend):
        return
    tenant = storage.catalog.get(TenantCode(TENANT))
    engine = backend.admin_engine(tenant.server, backend.database(Zone.MYNUMBER))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        start = time.perf_counter()
        for table in ("registry_persons", "registry_households", "atena_persons"):
            conn.exec_driver_sql(f'VACUUM ANALYZE "{backend.schema(tenant)}"."{table}"')
        print(f"VACUUM ANALYZE in {time.perf_counter() - start:.1f} s")


def queries(
    people: list[Person], others: list[tuple[str, str | None]], seed: int
) -> list[tuple[str, SearchQuery]]:
    rng = random.Random(seed)
    out: list[tuple[str, SearchQuery]] = [
        ("other", SearchQuery(name=name if kana is None or rng.random() < 0.5 else _hiragana(kana)))
        for name, kana in others
    ]
    for p in people:
        kind = rng.choice(
            ("kanji", "kana", "variant", "surname", "surname_only", "given_only", "birth", "address")
        )
        if kind == "kanji":
            q = SearchQuery(name=p.name)
        elif kind == "kana":
            q = SearchQuery(name=p.name_kana if rng.random() < 0.5 else _hiragana(p.name_kana))
        elif kind == "variant":
            other = _variant_spelling(p.name)
            if other is None:
                kind, q = "kanji", SearchQuery(name=p.name)
            else:
                q = SearchQuery(name=other)
        elif kind == "surname":
            q = SearchQuery(name=p.name.split("\u3000")[0], birth_date=p.birth_date)
        elif kind == "surname_only":
            q = SearchQuery(name=p.name.split("\u3000")[0])
        elif kind == "given_only":
            parts = p.name.split("\u3000")
            q = SearchQuery(name=parts[-1])
        elif kind == "birth":
            q = SearchQuery(birth_date=p.birth_date)
        else:
            q = SearchQuery(address=p.address_text.split("-")[0], birth_date=p.birth_date)
        out.append((kind, q))
    rng.shuffle(out)
    return out


def measure(storage: Storage, work: list[tuple[str, SearchQuery]]) -> dict[str, list[float]]:
    svc = RegistryService(storage)
    ctx = TenantContext.of(TENANT, operator("bench"), "registry.person.read")
    times: dict[str, list[float]] = {}
    found = capped = 0
    for _kind, q in work[:20]:  # warm-up: connections, caches
        svc.search(ctx, q)
    for kind, q in work:
        start = time.perf_counter()
        page = svc.search(ctx, q)
        times.setdefault(kind, []).append(time.perf_counter() - start)
        found += page.total > 0
        capped += page.capped
    print(f"{found:,} of {len(work):,} queries found someone; {capped:,} capped (too many matches)")
    rng = random.Random(len(work))
    today = svc.today()
    listed = 0
    for i in range(len(work) // 10 + 20):
        until = today + timedelta(days=rng.randint(-365, 365))
        page = 1 if rng.random() < 0.7 else rng.randint(2, 20)
        start = time.perf_counter()
        shown = svc.stay_ending(ctx, until, page=page, page_size=20)
        if i >= 20:  # the first 20: warm-up
            times.setdefault(STAY, []).append(time.perf_counter() - start)
            listed += len(shown.rows)
    print(f"stay review: {len(times.get(STAY, [])):,} pages, {listed:,} residents listed")
    return times


def _pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def report(times: dict[str, list[float]]) -> None:
    print(f"{'query':<10} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'mean ms':>8}")
    everything: list[float] = []
    for kind in sorted(times):
        v = times[kind]
        everything += v if kind != STAY else []
        print(
            f"{kind:<10} {len(v):>6} {_pct(v, 0.5):>8.2f} {_pct(v, 0.95):>8.2f} {_pct(v, 0.99):>8.2f}"
            f" {statistics.mean(v) * 1000:>8.2f}"
        )
    v = everything
    print(f"{'all':<10} {len(v):>6} {_pct(v, 0.5):>8.2f} {_pct(v, 0.95):>8.2f} {_pct(v, 0.99):>8.2f}"
          f" {statistics.mean(v) * 1000:>8.2f}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, help="an installation with tenant 141003 loaded")
    ap.add_argument("--residents", type=int, default=200_000, help="load a fresh installation of this size")
    ap.add_argument("--backend", default="postgresql")
    ap.add_argument(
        "--keep", type=Path, help="with --residents: load into this home and keep it (reuse with --home)"
    )
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    if args.home:
        storage = Storage(load_settings(args.home))
    else:
        import registry_import as ri  # bench/ is on sys.path when run as a script

        home = args.keep or Path(tempfile.mkdtemp(prefix="jtbench-search-"))
        path = ri.RESULTS / f"registry_{args.residents}.csv"
        ri.generate(path, args.residents)
        storage = ri.installation(home, args.backend, os.environ.get("JICHITAI_BENCH_PG_URL", ri.DEFAULT_PG))
        print(f"loading {args.residents:,} residents into {args.backend} …")
        seconds, _ = ri.our_import(storage, path, 2, 20_000, initial_load=True)
        print(f"loaded in {seconds:.0f} s")

        if args.keep:
            (home / "bench-passphrase").write_text(ri.PASSPHRASE)
            print(f"keeping the installation in {home} (JICHITAI_KEYSTORE_PASSPHRASE={ri.PASSPHRASE})")
        else:

            def cleanup() -> None:
                ri.drop(storage, os.environ.get("JICHITAI_BENCH_PG_URL", ri.DEFAULT_PG))

    try:
        analyze(storage)
        people = sample_people(storage, args.n, args.seed)
        others = sample_other_names(storage, args.n // 10, args.seed)
        report(measure(storage, queries(people, others, args.seed)))
    finally:
        cleanup()
        storage.close()


if __name__ == "__main__":
    main()
