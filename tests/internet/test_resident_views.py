"""What a resident sees: only their own applications, verified messages, and their encrypted replies."""

from __future__ import annotations

import threading

import pytest

from jichitai.contracts.submission import SubmissionStatus
from jichitai.internet.submissions import (
    ApplicationNotFound,
    AttachmentUpload,
    Receipt,
    SubmissionInvalid,
    get_for_resident,
    list_for_resident,
    reply_to_message,
    submit,
)
from jichitai.platform.errors import ValidationError
from jichitai.platform.storage import Storage
from tests.internet.api_support import CHIYODA, publish_lgwan_signing_key, signed_event
from tests.internet.conftest import Pki
from tests.internet.factories import PDF, submission


def test_residents_see_only_their_own_applications(internet_sqlite: Storage, pki: Pki) -> None:
    mine = submit(internet_sqlite, CHIYODA, **submission(pki, resident_key="resident-a"))
    theirs = submit(internet_sqlite, CHIYODA, **submission(pki, resident_key="resident-b"))
    assert [a.receipt_number for a in list_for_resident(internet_sqlite, CHIYODA, "resident-a")] == [
        mine.receipt_number
    ]
    with pytest.raises(ApplicationNotFound):
        get_for_resident(internet_sqlite, CHIYODA, "resident-a", theirs.receipt_number)
    with pytest.raises(ApplicationNotFound):
        reply_to_message(
            internet_sqlite, CHIYODA, "resident-a", theirs.receipt_number, in_reply_to="x", message_ja="回答"
        )


def test_replies_need_a_request_and_valid_files(internet_sqlite: Storage, pki: Pki) -> None:
    receipt = submit(internet_sqlite, CHIYODA, **submission(pki, resident_key="resident-a")).receipt_number
    with pytest.raises(ValidationError):  # nothing asked for an answer yet
        reply_to_message(
            internet_sqlite, CHIYODA, "resident-a", receipt, in_reply_to="nope", message_ja="回答"
        )
    publish_lgwan_signing_key(internet_sqlite, CHIYODA)
    from jichitai.internet.submissions import post_event
    from tests.conftest import ctx

    event = signed_event(
        internet_sqlite,
        CHIYODA,
        receipt,
        SubmissionStatus.CORRECTION_REQUESTED,
        event_id="ask-1",
        message_ja="住所の番地を確認してください。",
        reply_requested=True,
    )
    post_event(internet_sqlite, ctx("internet.status.post"), receipt, event)
    with pytest.raises(SubmissionInvalid) as caught:
        reply_to_message(
            internet_sqlite,
            CHIYODA,
            "resident-a",
            receipt,
            in_reply_to="ask-1",
            message_ja=" ",
            attachments=[AttachmentUpload("reply", "a.exe", "application/x-msdownload", b"MZ")],
        )
    assert {e.keyword for e in caught.value.errors} == {"required", "content_type"}
    summary = reply_to_message(
        internet_sqlite,
        CHIYODA,
        "resident-a",
        receipt,
        in_reply_to="ask-1",
        message_ja="1丁目2番3号です。",
        attachments=[AttachmentUpload("reply", "juminhyo.pdf", "application/pdf", PDF)],
    )
    detail = get_for_resident(internet_sqlite, CHIYODA, "resident-a", receipt)
    assert detail.application.status is SubmissionStatus.CORRECTION_REQUESTED
    assert detail.events[0].replied and not detail.application.reply_requested
    assert [r.reply_id for r in detail.replies] == [summary.reply_id]


def test_concurrent_replays_make_one_application(internet: Storage, pki: Pki) -> None:
    kwargs = submission(pki)
    receipts: list[Receipt] = []
    errors: list[BaseException] = []

    def send() -> None:
        try:
            receipts.append(submit(internet, CHIYODA, **kwargs))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({r.receipt_number for r in receipts}) == 1
    assert sum(not r.replayed for r in receipts) == 1
    assert len(list_for_resident(internet, CHIYODA, "resident-yamada")) == 1
