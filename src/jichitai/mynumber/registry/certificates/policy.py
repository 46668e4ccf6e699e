"""Which optional items may be printed for whom (pure rules of 住民基本台帳法).

* 本人 and 同一世帯員 (法第12条) may have every optional item printed when they ask for it.
* 個人番号 and 住民票コード go only to the person or the same household; a proxy's request is
  served only by mail to the person's registered address (法第12条第5項, 施行令第15条の4 and the
  ministry's 事務処理要領). Public bodies, 特定事務受任者 and third parties never get them on a
  certificate.
* 国 and 地方公共団体 (法第12条の2) and 特定事務受任者 may get 本籍・筆頭者, 世帯主・続柄 and the
  foreign-resident items when their duties need them (they say so by asking).
* Other third parties (法第12条の3) get only the basic items (基礎証明事項).

Requested but not allowed items are not printed; the decision carries the reason in Japanese so
the counter can tell the requester.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jichitai.mynumber.registry.certificates.model import (
    CertificateKind,
    CertifiedItem,
    IssueOptions,
    Layout,
    OptionalItem,
    RequesterKind,
)
from jichitai.platform.errors import ValidationError

_NUMBERS = frozenset({OptionalItem.INDIVIDUAL_NUMBER, OptionalItem.RESIDENT_CODE})
_FAMILY_ITEMS = frozenset({OptionalItem.HONSEKI, OptionalItem.RELATIONSHIP, OptionalItem.FOREIGN_STATUS})


@dataclass(frozen=True)
class ItemDecision:
    printed: frozenset[OptionalItem]
    refused: dict[OptionalItem, str] = field(default_factory=dict)  # item -> reason (Japanese)


def allowed_items(
    requester: RequesterKind, *, deliver_to_registered_address: bool = False
) -> frozenset[OptionalItem]:
    """The optional items a requester of this kind may have printed."""
    if requester in (RequesterKind.SELF, RequesterKind.SAME_HOUSEHOLD):
        return frozenset(OptionalItem)
    if requester is RequesterKind.PROXY:
        return _FAMILY_ITEMS | (_NUMBERS if deliver_to_registered_address else frozenset())
    if requester in (RequesterKind.PUBLIC_BODY, RequesterKind.LEGAL_PROFESSIONAL):
        return _FAMILY_ITEMS
    return frozenset()


def _refusal_reason(item: OptionalItem, requester: RequesterKind) -> str:
    if item in _NUMBERS:
        if requester is RequesterKind.PROXY:
            return f"{item.value}の記載は、代理人の請求では住民票上の住所への郵送による交付に限られます"
        return f"{item.value}は本人又は同一世帯員の請求に限り記載できます"
    return f"{requester.value}からの請求では{item.value}を記載できません"


def decide_items(options: IssueOptions) -> ItemDecision:
    """Optional items to print: requested AND allowed, with reasons for the rest."""
    allowed = allowed_items(
        options.requester, deliver_to_registered_address=options.deliver_to_registered_address
    )
    printed = frozenset(options.requested_items & allowed)
    refused = {
        item: _refusal_reason(item, options.requester)
        for item in sorted(options.requested_items - allowed, key=lambda i: i.value)
    }
    return ItemDecision(printed, refused)


def check_request(options: IssueOptions, *, removed: bool, people: int) -> None:
    """Refuse combinations the certificate kinds do not allow."""
    if options.kind is CertificateKind.JOHYO:
        if options.layout is not Layout.PERSON:
            raise ValidationError(
                "a certificate of a removed record is per person only",
                message_ja="住民票の除票の写しは個人単位でのみ交付できます",
            )
        if not removed:
            raise ValidationError("the record is not removed", message_ja="除票ではない住民票です")
    elif removed:
        raise ValidationError(
            "a removed record is certified with 住民票の除票の写し",
            message_ja="消除された住民票は除票の写しとして交付してください",
        )
    if options.kind is CertificateKind.KISAI_JIKOU and not options.certified_items:
        raise ValidationError(
            "a 住民票記載事項証明書 needs the items to certify",
            message_ja="証明する事項を指定してください",
        )
    if (
        options.kind is CertificateKind.KISAI_JIKOU
        and options.layout is Layout.HOUSEHOLD
        and CertifiedItem.NAME not in options.certified_items
    ):
        # the household's address heads the sheet; without the 氏名 a member's part may be empty
        # and nothing tells the members apart (found by the state machine: an empty block)
        raise ValidationError(
            "a household-listed 住民票記載事項証明書 certifies each member's name",
            message_ja="世帯連記式の住民票記載事項証明書は、証明する事項に氏名を含めてください",
        )
    if people == 0:
        raise ValidationError("nobody to certify", message_ja="証明する住民が指定されていません")
