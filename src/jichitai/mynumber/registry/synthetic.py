"""A synthetic municipality: households and persons that look real, for demos, tests and benchmarks.

Deterministic for a seed: the same arguments give the same rows in the same order. Fast enough for
a city of millions: name pools are read once from Faker's ja_JP provider data (plus a wider table
of common surnames and given names below, so that a name search at city scale does not return
thousands of namesakes), and everything else is drawn with one ``random.Random``.

The composition follows the shape of Japan's census households (single persons about 38 %, couples
20 %, couples with children 25 %, single parents 9 %, three generations and others the rest), with
children born to mothers aged 20–45, about 2.5 % foreign residents (nationality, 在留資格, period of
stay, a few 通称), and a history over the years since ``start_year``: moves in (転入, 国外転入),
births (出生), moves within the city (転居), moves out (転出) and deaths (死亡), the last two leaving
除票 rows. Each person is a :class:`~jichitai.mynumber.registry.interchange.ResidentRow` that
round-trips through the interchange file; 個人番号 are valid and unique (an affine bijection of the
person's index, so uniqueness costs no memory).
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO, Literal, NamedTuple

from faker.providers.address.ja_JP import Provider as _FakerAddress
from faker.providers.person.ja_JP import Provider as _FakerPerson

from jichitai.mynumber.registry.addresses import Address
from jichitai.mynumber.registry.interchange import (
    STATUSES_WITHOUT_PERIOD,
    ResidentKind,
    ResidentRow,
    Sex,
    my_number_check_digit,
    write_csv,
    write_jsonl,
)
from jichitai.mynumber.registry.names import normalize_name
from jichitai.platform.tenants import PREFECTURES, TenantCode

# Common surnames beyond Faker's fifty, with readings; weights fall with rank. Variant-kanji forms
# (髙橋, 山﨑, 渡邊 ...) appear with small weights so that searches meet them as in real registers.
_EXTRA_SURNAMES = (
    "菊地:キクチ 杉本:スギモト 古川:フルカワ 大西:オオニシ 島田:シマダ 水野:ミズノ 桜井:サクライ "
    "高野:タカノ 渡部:ワタナベ 吉川:ヨシカワ 山内:ヤマウチ 西田:ニシダ 飯田:イイダ 菊池:キクチ "
    "西川:ニシカワ 小松:コマツ 北村:キタムラ 安田:ヤスダ 五十嵐:イガラシ 川口:カワグチ 平田:ヒラタ "
    "関:セキ 中田:ナカタ 久保田:クボタ 服部:ハットリ 東:ヒガシ 岩田:イワタ 土屋:ツチヤ "
    "川崎:カワサキ 福島:フクシマ 本田:ホンダ 辻:ツジ 樋口:ヒグチ 秋山:アキヤマ 田口:タグチ "
    "永井:ナガイ 山中:ヤマナカ 中西:ナカニシ 吉村:ヨシムラ 川上:カワカミ 大橋:オオハシ 石原:イシハラ "
    "松岡:マツオカ 浜田:ハマダ 馬場:ババ 森本:モリモト 矢野:ヤノ 浅野:アサノ 松下:マツシタ "
    "星野:ホシノ 大久保:オオクボ 吉岡:ヨシオカ 小池:コイケ 野田:ノダ 荒木:アラキ 大谷:オオタニ "
    "内藤:ナイトウ 松浦:マツウラ 熊谷:クマガイ 黒田:クロダ 尾崎:オザキ 永田:ナガタ 川村:カワムラ "
    "望月:モチヅキ 田辺:タナベ 松村:マツムラ 荒井:アライ 堀:ホリ 大島:オオシマ 平井:ヒライ "
    "早川:ハヤカワ 菅野:カンノ 栗原:クリハラ 西山:ニシヤマ 広瀬:ヒロセ 横田:ヨコタ 石橋:イシバシ "
    "萩原:ハギワラ 岩本:イワモト 片山:カタヤマ 関口:セキグチ 宮田:ミヤタ 大石:オオイシ 本間:ホンマ "
    "須藤:スドウ 高山:タカヤマ 岡崎:オカザキ 小田:オダ 伊東:イトウ 鎌田:カマタ 上原:ウエハラ "
    "篠原:シノハラ 小西:コニシ 松原:マツバラ 福井:フクイ 古田:フルタ 大和田:オオワダ 中野:ナカノ "
    "原田:ハラダ 竹内:タケウチ 小野:オノ 田村:タムラ 中山:ナカヤマ 和田:ワダ 石田:イシダ "
    "森田:モリタ 上田:ウエダ 原:ハラ 内田:ウチダ 柴田:シバタ 酒井:サカイ 宮崎:ミヤザキ "
    "横山:ヨコヤマ 高木:タカギ 安藤:アンドウ 宮本:ミヤモト 大野:オオノ 小島:コジマ 谷口:タニグチ "
    "今井:イマイ 工藤:クドウ 高田:タカダ 増田:マスダ 丸山:マルヤマ 杉山:スギヤマ 村田:ムラタ "
    "大塚:オオツカ 小山:コヤマ 藤本:フジモト 平野:ヒラノ 新井:アライ 河野:カワノ 上野:ウエノ "
    "武田:タケダ 野口:ノグチ 松井:マツイ 千葉:チバ 岩崎:イワサキ 菅原:スガワラ 木下:キノシタ "
    "久保:クボ 佐野:サノ 野村:ノムラ 松尾:マツオ 市川:イチカワ 金子:カネコ"
)
_VARIANT_SURNAMES = (
    "髙橋:タカハシ 山﨑:ヤマザキ 渡邊:ワタナベ 渡邉:ワタナベ 齋藤:サイトウ 齊藤:サイトウ 濵田:ハマダ "
    "德永:トクナガ 櫻井:サクライ 廣瀬:ヒロセ 澤田:サワダ 嶋田:シマダ 槇野:マキノ 國分:コクブン "
    "𠮷田:ヨシダ 宮﨑:ミヤザキ 岩﨑:イワサキ 髙木:タカギ"
)
_EXTRA_MALE = (
    "大輔:ダイスケ 翔:ショウ 拓也:タクヤ 健太:ケンタ 陽翔:ハルト 蓮:レン 悠真:ユウマ "
    "湊:ミナト 大和:ヤマト 颯太:ソウタ 樹:イツキ 悠斗:ユウト 陸:リク 誠:マコト "
    "清:キヨシ 茂:シゲル 博:ヒロシ 勇:イサム 実:ミノル 進:ススム 正:タダシ "
    "修:オサム 明:アキラ 隆:タカシ 一郎:イチロウ 達也:タツヤ 哲也:テツヤ 剛:ツヨシ "
    "聡:サトシ 恵太:ケイタ 亮:リョウ 涼太:リョウタ 颯:ハヤテ 蒼:アオイ 朝陽:アサヒ "
    "律:リツ 奏太:カナタ 駿:シュン 義男:ヨシオ 三郎:サブロウ 武:タケシ 勝:マサル "
    "豊:ユタカ 孝:タカシ 雄一:ユウイチ 圭:ケイ 龍之介:リュウノスケ 正雄:マサオ 秀樹:ヒデキ "
    "大翔:ヒロト 髙志:タカシ 德雄:ノリオ"
)
_EXTRA_FEMALE = (
    "陽菜:ヒナ 葵:アオイ 凛:リン 紬:ツムギ 芽依:メイ 結菜:ユイナ 咲良:サクラ "
    "美咲:ミサキ 愛:アイ 彩:アヤ 真由美:マユミ 裕子:ユウコ 恵子:ケイコ 幸子:サチコ "
    "和子:カズコ 洋子:ヨウコ 京子:キョウコ 節子:セツコ 久美子:クミコ 由美子:ユミコ 智子:トモコ "
    "美穂:ミホ 麻衣:マイ 千尋:チヒロ 優子:ユウコ 純子:ジュンコ 典子:ノリコ 文子:フミコ "
    "静香:シズカ 綾香:アヤカ 美紀:ミキ 瞳:ヒトミ 遥:ハルカ 七海:ナナミ 杏:アン "
    "莉子:リコ 心春:コハル 澪:ミオ 春子:ハルコ 静子:シズコ 千代子:チヨコ 富美子:フミコ "
    "ハル:ハル キヨ:キヨ さくら:サクラ ひなた:ヒナタ 櫻子:サクラコ 惠子:ケイコ 眞理子:マリコ"
)


@dataclass(frozen=True)
class _Nation:
    name: str  # 国籍・地域 as written in the register
    weight: float
    families: tuple[tuple[str, str], ...]
    male: tuple[tuple[str, str], ...]
    female: tuple[tuple[str, str], ...]
    statuses: tuple[tuple[str, float], ...]


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for item in text.split(" "):
        kanji, kana = item.split(":")
        out.append((kanji.replace("_", "\u3000"), kana.replace("_", "\u3000")))
    return tuple(out)


_WORK_STATUSES = (
    ("永住者", 25), ("技術・人文知識・国際業務", 20), ("留学", 15), ("技能実習2号", 10), ("特定技能1号", 10),
    ("家族滞在", 8), ("定住者", 6), ("日本人の配偶者等", 6),
)  # fmt: skip
_NATIONS = (
    _Nation("中国", 30, _pairs("王:オウ 李:リ 張:チョウ 劉:リュウ 陳:チン 楊:ヨウ 趙:チョウ 黄:コウ"),
            _pairs("偉:イ 強:キョウ 磊:ライ 軍:グン 洋:ヨウ"),
            _pairs("芳:ホウ 娜:ナ 敏:ビン 静:セイ 麗:レイ"),
            _WORK_STATUSES),
    _Nation("ベトナム", 20, _pairs("NGUYEN:グエン TRAN:チャン LE:レ PHAM:ファム HOANG:ホアン"),
            _pairs("VAN_AN:ヴァン_アン DUC_MINH:ドゥック_ミン VAN_HUNG:ヴァン_フン"),
            _pairs("THI_HOA:ティ_ホア THI_LAN:ティ_ラン THI_MAI:ティ_マイ"), _WORK_STATUSES),
    _Nation("韓国", 15, _pairs("金:キム 李:イ 朴:パク 崔:チェ 鄭:チョン"),
            _pairs("民俊:ミンジュン 志勲:ジフン 英浩:ヨンホ"), _pairs("瑞妍:ソヨン 秀彬:スビン 英姫:ヨンヒ"),
            (("特別永住者", 50), ("永住者", 25), ("日本人の配偶者等", 10), ("技術・人文知識・国際業務", 15))),
    _Nation("フィリピン", 10, _pairs("SANTOS:サントス REYES:レイエス CRUZ:クルス GARCIA:ガルシア"),
            _pairs("JOSE:ホセ MARK:マーク"), _pairs("MARIA:マリア ANGELICA:アンジェリカ"),
            (("永住者", 40), ("日本人の配偶者等", 20), ("定住者", 20), ("特定技能1号", 20))),
    _Nation("ブラジル", 7, _pairs("SILVA:シルバ SANTOS:サントス OLIVEIRA:オリベイラ SOUZA:ソウザ"),
            _pairs("JOAO:ジョアン LUCAS:ルーカス"), _pairs("ANA:アナ JULIANA:ジュリアナ"),
            (("永住者", 50), ("定住者", 40), ("日本人の配偶者等", 10))),
    _Nation("ネパール", 8, _pairs("GURUNG:グルン TAMANG:タマン SHRESTHA:シュレスタ RAI:ライ"),
            _pairs("RAM:ラム BIKASH:ビカス"), _pairs("SITA:シータ ANITA:アニタ"),
            (("留学", 40), ("技能", 25), ("家族滞在", 25), ("技術・人文知識・国際業務", 10))),
    _Nation("米国", 10, _pairs("SMITH:スミス JOHNSON:ジョンソン BROWN:ブラウン MILLER:ミラー"),
            _pairs("JOHN:ジョン MICHAEL:マイケル"), _pairs("EMILY:エミリー SARAH:サラ"),
            (("技術・人文知識・国際業務", 40), ("教育", 25), ("永住者", 20), ("日本人の配偶者等", 15))),
)  # fmt: skip

# Elsewhere in Japan, for 転入前住所, 転出先住所 and 本籍 outside the municipality.
_OTHER_PLACES = (
    "東京都新宿区", "東京都世田谷区", "大阪府大阪市北区", "愛知県名古屋市中区", "北海道札幌市北区",
    "福岡県福岡市博多区", "宮城県仙台市青葉区", "埼玉県さいたま市浦和区", "千葉県千葉市中央区",
    "兵庫県神戸市中央区", "京都府京都市左京区", "広島県広島市南区", "静岡県静岡市葵区", "新潟県新潟市中央区",
    "神奈川県川崎市中原区", "東京都八王子市", "千葉県船橋市", "埼玉県川口市", "茨城県水戸市",
    "栃木県宇都宮市",
    "長野県長野市", "石川県金沢市", "鹿児島県鹿児島市", "沖縄県那覇市",
)  # fmt: skip
_BUILDING_SUFFIXES = ("ハイツ", "コーポ", "メゾン", "レジデンス", "パレス", "グランド")
_BLOCK_STYLE_CHOME = 0.7  # share of addresses under 住居表示 (…丁目…番…号)
# a 転出 stays 未確定 until the new municipality's 転入通知 arrives: those of the last days still are
_NOTICE_DAYS = 14


class _Weighted:
    """Fast weighted choice: a cumulative table and bisect on one random number."""

    __slots__ = ("cum", "items", "total")

    def __init__(self, items: Sequence[tuple[str, str]], weights: Sequence[float]) -> None:
        self.items = tuple(items)
        self.cum = list(itertools.accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: random.Random) -> tuple[str, str]:
        return self.items[bisect.bisect_right(self.cum, rng.random() * self.total)]


def _name_pools() -> tuple[_Weighted, _Weighted, _Weighted]:
    surnames: dict[tuple[str, str], float] = {}
    for (kanji, kana, _romaji), weight in _FakerPerson.last_name_pairs.items():
        surnames[(kanji, kana)] = float(weight)
    extra = _pairs(_EXTRA_SURNAMES)
    for rank, pair in enumerate(extra):
        surnames.setdefault(pair, 60000.0 - rank * 300)
    for pair in _pairs(_VARIANT_SURNAMES):
        surnames.setdefault(pair, 6000.0)
    male = {(k, kana): 1.0 for k, kana, _r in _FakerPerson.first_name_male_pairs}
    for pair in _pairs(_EXTRA_MALE):
        male.setdefault(pair, 1.0)
    female = {(k, kana): 1.0 for k, kana, _r in _FakerPerson.first_name_female_pairs}
    for pair in _pairs(_EXTRA_FEMALE):
        female.setdefault(pair, 1.0)
    return (
        _Weighted(list(surnames), list(surnames.values())),
        _Weighted(list(male), list(male.values())),
        _Weighted(list(female), list(female.values())),
    )


def _towns() -> tuple[str, ...]:
    # Faker's towns include landmarks (皇居外苑, …タワー); keep names that read as 町字.
    # 区 inside a town name (四区町) would read as a ward of a designated city.
    skip = ("公園", "外苑", "タワー", "ヒルズ", "区", "郡")
    return tuple(t for t in _FakerAddress.towns if normalize_name(t) == t and not any(s in t for s in skip))


class LifeEvent(NamedTuple):
    """One change in a synthetic history: who (住民票コード), what (異動事由), when."""

    juminhyo_code: str
    kind: str
    on: date


@dataclass(frozen=True, slots=True)
class SyntheticHousehold:
    """A household (世帯) with its members (head first) and the events of its history, by date."""

    household_number: str
    members: tuple[ResidentRow, ...]
    events: tuple[LifeEvent, ...]


@dataclass(slots=True)
class _Member:
    relationship: str
    sex: Sex
    birth: date
    surname: tuple[str, str]
    given: tuple[str, str]
    alias: tuple[str, str] | None = None
    status: str | None = None


_MOD = 10**11
FORMER_SURNAME_SHARE = 0.04  # of the spouses in Japanese households


def _affine(rng: random.Random) -> tuple[int, int]:
    """Constants of a bijection i → (a·i + b) mod 10^11: a must be coprime to 10."""
    a = rng.randrange(10**9, _MOD)
    while a % 2 == 0 or a % 5 == 0:
        a += 1
    return a, rng.randrange(_MOD)


class PopulationGenerator:
    """Generates the households of one synthetic municipality (see the module docstring)."""

    def __init__(
        self,
        seed: int,
        tenant_code: str,
        municipality_name: str,
        *,
        start_year: int = 2000,
        as_of: date = date(2025, 4, 1),
        wards: Sequence[str] = (),
        foreign_share: float = 0.035,
    ) -> None:
        code = TenantCode(tenant_code)
        self.prefecture = PREFECTURES[int(code.prefecture_code) - 1]
        self.municipality_name = municipality_name
        self.cities = tuple(f"{municipality_name}{w}" for w in wards) or (municipality_name,)
        self.start = date(start_year, 1, 1)
        self.as_of = as_of
        if self.start >= as_of:
            raise ValueError("start_year must lie before as_of")
        self.foreign_share = foreign_share
        self.rng = random.Random(seed)
        # 旧氏 are drawn from a stream of their own, so that the rest of a seeded population is the
        # one it was before they were generated
        self._former_rng = random.Random(seed ^ 0x5EED_F0)
        self.surnames, self.male, self.female = _name_pools()
        self.towns = _towns()
        self.nations = tuple(_NATIONS)
        self.nation_cum = list(itertools.accumulate(n.weight for n in _NATIONS))
        self._my_number = _affine(self.rng)
        self._juminhyo = _affine(self.rng)
        self._person_index = 0
        self._household_index = 0
        self._as_of_ord = as_of.toordinal()
        self._start_ord = self.start.toordinal()

    # -- small draws ----------------------------------------------------------------------------

    def _birth(self, min_age: int, max_age: int) -> date:
        days = _randint(self.rng, min_age * 365 + 1, max_age * 365 + 364)
        return date.fromordinal(self._as_of_ord - days)

    def _between(self, first: date, last: date) -> date:
        a, b = first.toordinal(), last.toordinal()
        return date.fromordinal(a + _below(self.rng, b - a + 1)) if b > a else first

    def _given(self, sex: Sex) -> tuple[str, str]:
        return (self.male if sex is Sex.MALE else self.female).pick(self.rng)

    def _address(self) -> tuple[Address, str | None]:
        rng = self.rng
        town = self.towns[_below(rng, len(self.towns))]
        city = self.cities[_below(rng, len(self.cities))]
        if rng.random() < _BLOCK_STYLE_CHOME:
            address = Address(
                self.prefecture,
                city,
                town,
                _randint(rng, 1, 9),
                f"{_randint(rng, 1, 30)}-{_randint(rng, 1, 25)}",
                "",
            )
        else:
            address = Address(
                self.prefecture, city, town, None, f"{_randint(rng, 1, 3000)}-{_randint(rng, 1, 20)}", ""
            )
        building = None
        if rng.random() < 0.4:
            suffix = _BUILDING_SUFFIXES[_below(rng, len(_BUILDING_SUFFIXES))]
            building = f"{town}{suffix}{_randint(rng, 1, 12)}{_randint(rng, 1, 9):02d}号室"
        return address, building

    def _elsewhere(self) -> str:
        rng = self.rng
        place = _OTHER_PLACES[_below(rng, len(_OTHER_PLACES))]
        town = self.towns[_below(rng, len(self.towns))]
        return f"{place}{town}{_randint(rng, 1, 5)}丁目{_randint(rng, 1, 30)}-{_randint(rng, 1, 20)}"

    def _numbers(self) -> tuple[str, str]:
        i = self._person_index
        self._person_index += 1
        a, b = self._my_number
        body = f"{(a * i + b) % _MOD:011d}"
        a2, b2 = self._juminhyo
        return f"{(a2 * i + b2) % _MOD:011d}", f"{body}{my_number_check_digit(body)}"

    # -- household shapes -----------------------------------------------------------------------

    def _couple(self, surname: tuple[str, str], min_age: int, max_age: int) -> list[_Member]:
        rng = self.rng
        head_sex = Sex.MALE if rng.random() < 0.9 else Sex.FEMALE
        other = Sex.FEMALE if head_sex is Sex.MALE else Sex.MALE
        head_birth = self._birth(min_age, max_age)
        partner_birth = date.fromordinal(
            min(head_birth.toordinal() + _randint(rng, -5 * 365, 8 * 365), self._as_of_ord - 18 * 365)
        )
        return [
            _Member("世帯主", head_sex, head_birth, surname, self._given(head_sex)),
            _Member("夫" if other is Sex.MALE else "妻", other, partner_birth, surname, self._given(other)),
        ]

    def _children(self, mother_birth: date, surname: tuple[str, str], count: int) -> list[_Member]:
        rng = self.rng
        earliest = mother_birth.toordinal() + 20 * 365
        latest = min(mother_birth.toordinal() + 45 * 365, self._as_of_ord - 1)
        if latest <= earliest:
            return []
        births = sorted(earliest + _below(rng, latest - earliest) for _ in range(count))
        kids = []
        for ordinal in births:
            if self._as_of_ord - ordinal > 30 * 365:  # grown children have mostly left home
                continue
            sex = Sex.MALE if rng.random() < 0.51 else Sex.FEMALE
            kids.append(_Member("子", sex, date.fromordinal(ordinal), surname, self._given(sex)))
        return kids

    def _japanese_household(self) -> list[_Member]:
        rng = self.rng
        surname = self.surnames.pick(rng)
        kind = rng.random()
        if kind < 0.38:  # one person: young workers, middle-aged, elderly living alone
            age_band = rng.random()
            lo, hi = (18, 34) if age_band < 0.35 else (35, 64) if age_band < 0.65 else (65, 99)
            sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE
            return [_Member("世帯主", sex, self._birth(lo, hi), surname, self._given(sex))]
        if kind < 0.58:  # couple only, often elderly
            return self._couple(surname, 25, 92) if rng.random() < 0.5 else self._couple(surname, 65, 92)
        if kind < 0.83:  # couple with children
            members = self._couple(surname, 26, 62)
            mother = members[0] if members[0].sex is Sex.FEMALE else members[1]
            count = rng.choices((1, 2, 3, 4), cum_weights=(35, 80, 97, 100))[0]
            return members + self._children(mother.birth, surname, count)
        if kind < 0.92:  # single parent
            sex = Sex.FEMALE if rng.random() < 0.85 else Sex.MALE
            parent = _Member("世帯主", sex, self._birth(26, 60), surname, self._given(sex))
            count = rng.choices((1, 2, 3), cum_weights=(50, 88, 100))[0]
            birth_base = (
                parent.birth
                if sex is Sex.FEMALE
                else parent.birth + timedelta(days=_randint(rng, -1500, 1500))
            )
            return [parent, *self._children(birth_base, surname, count)]
        if kind < 0.98:  # three generations: the head's parents live with the family
            members = self._couple(surname, 30, 55)
            father_birth = date.fromordinal(
                min(members[0].birth.toordinal(), self._as_of_ord) - _randint(rng, 24, 38) * 365
            )
            elders = [_Member("父", Sex.MALE, father_birth, surname, self._given(Sex.MALE))]
            if rng.random() < 0.7:
                mother_birth = father_birth + timedelta(days=_randint(rng, 0, 5 * 365))
                elders.append(_Member("母", Sex.FEMALE, mother_birth, surname, self._given(Sex.FEMALE)))
            mother = members[0] if members[0].sex is Sex.FEMALE else members[1]
            children = self._children(
                mother.birth, surname, rng.choices((1, 2, 3), cum_weights=(40, 85, 100))[0]
            )
            return members + elders + children
        sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE  # a head and an unrelated lodger (同居人)
        lodger_sex = Sex.MALE if rng.random() < 0.5 else Sex.FEMALE
        return [
            _Member("世帯主", sex, self._birth(20, 80), surname, self._given(sex)),
            _Member(
                "同居人", lodger_sex, self._birth(20, 80), self.surnames.pick(rng), self._given(lodger_sex)
            ),
        ]

    def _foreign_household(self) -> tuple[_Nation, list[_Member]]:
        rng = self.rng
        nation = self.nations[bisect.bisect_right(self.nation_cum, rng.random() * self.nation_cum[-1])]
        family = nation.families[_below(rng, len(nation.families))]
        status = rng.choices([s for s, _ in nation.statuses], weights=[w for _, w in nation.statuses])[0]

        def given(sex: Sex) -> tuple[str, str]:
            pool = nation.male if sex is Sex.MALE else nation.female
            return pool[_below(rng, len(pool))]

        shape = rng.random()
        sex = Sex.MALE if rng.random() < 0.55 else Sex.FEMALE
        lo, hi = (19, 29) if status in ("留学", "技能実習2号", "特定技能1号") else (22, 70)
        if status == "特別永住者":
            lo, hi = 20, 95
        head = _Member("世帯主", sex, self._birth(lo, hi), family, given(sex), status=status)
        if status == "特別永住者" and rng.random() < 0.4:  # a Japanese 通称 is common among them
            head.alias = self._alias(sex)
        if (
            shape < 0.6
            or status in ("留学", "技能実習2号", "特定技能1号")
            or head.birth.year > self.as_of.year - 24
        ):
            return nation, [head]
        other = Sex.FEMALE if sex is Sex.MALE else Sex.MALE
        partner_status = status if status in ("永住者", "特別永住者", "定住者") else "家族滞在"
        partner_birth = date.fromordinal(
            min(head.birth.toordinal() + _randint(rng, -4 * 365, 6 * 365), self._as_of_ord - 20 * 365)
        )
        partner = _Member(
            "妻" if other is Sex.FEMALE else "夫",
            other,
            partner_birth,
            family,
            given(other),
            status=partner_status,
        )
        members = [head, partner]
        if shape > 0.8:
            mother = head if sex is Sex.FEMALE else partner
            kids = self._children(mother.birth, family, rng.choices((1, 2), cum_weights=(60, 100))[0])
            for kid in kids:
                kid.given = given(kid.sex)
                kid.status = status if status in ("永住者", "特別永住者") else "家族滞在"
            members += kids
        return nation, members

    def _alias(self, sex: Sex) -> tuple[str, str]:
        surname = self.surnames.pick(self.rng)
        given = self._given(sex)
        return f"{surname[0]}\u3000{given[0]}", f"{surname[1]}\u3000{given[1]}"

    # -- history and rows -----------------------------------------------------------------------

    def households(self, n_residents: int, *, first_line: int = 2) -> Iterator[SyntheticHousehold]:
        """Households until exactly ``n_residents`` person rows (current and 除票) were produced.

        Each row's ``line`` is where it lands in a CSV written in this order (header on line 1).
        """
        rng = self.rng
        as_of, start = self.as_of, self.start
        produced = 0
        line = first_line
        while produced < n_residents:
            foreign = rng.random() < self.foreign_share
            nation: _Nation | None = None
            if foreign:
                nation, members = self._foreign_household()
            else:
                members = self._japanese_household()
            members = members[: n_residents - produced]
            self._household_index += 1
            household_number = f"{self._household_index:010d}"
            address, building = self._address()

            # When the household came: long-time residents (some born here) or a 転入 since start_year.
            eldest_adult = min(m.birth for m in members if m.relationship != "子")
            settled_from = date.fromordinal(
                max(
                    eldest_adult.toordinal() + 18 * 365,
                    self._start_ord - 30 * 365,
                    date(1950, 1, 1).toordinal(),
                )
            )
            if rng.random() < (0.35 if foreign else 0.55):
                arrival = self._between(settled_from, start)
            else:
                arrival = self._between(max(start, settled_from), as_of - timedelta(days=30))
            arrival_reason = "国外転入" if foreign and rng.random() < 0.6 else "転入"
            came_from = (
                nation.name if nation and arrival_reason == "国外転入" else None
            ) or self._elsewhere()
            moved = None
            if rng.random() < 0.25 and arrival + timedelta(days=200) < as_of:
                moved = self._between(arrival + timedelta(days=200), as_of)
            previous_address = self._address()[0].text if moved else None

            head = members[0]
            head_name = f"{head.surname[0]}\u3000{head.given[0]}"
            honseki = None
            if not foreign:
                place = (
                    f"{self.prefecture}{self.cities[0]}"
                    if rng.random() < 0.5
                    else _OTHER_PLACES[_below(rng, len(_OTHER_PLACES))]
                )
                honseki = f"{place}{self.towns[_below(rng, len(self.towns))]}{_randint(rng, 1, 2000)}番地"
            removed_members = self._removals(members, arrival, moved)

            rows: list[ResidentRow] = []
            events: list[LifeEvent] = []
            for index, m in enumerate(members):
                juminhyo_code, my_number = self._numbers()
                born_here = m.birth >= arrival
                became = m.birth if born_here else arrival
                since = moved if moved is not None and moved > became else became
                if since != became:
                    reason, change_date = "転居", since
                elif born_here:
                    reason, change_date = "出生", m.birth
                else:
                    reason, change_date = arrival_reason, arrival
                events.append(LifeEvent(juminhyo_code, "出生" if born_here else arrival_reason, became))
                if since != became:
                    events.append(LifeEvent(juminhyo_code, "転居", since))
                removal = removed_members.get(index)
                removal_reason = removed_on = moved_out_to = None
                if removal is not None:
                    removal_reason, removed_on = removal
                    removed_on = max(removed_on, since)
                    reason, change_date = removal_reason, removed_on
                    moved_out_to = self._elsewhere() if removal_reason == "転出" else None
                    events.append(LifeEvent(juminhyo_code, removal_reason, removed_on))
                notified_on = min(change_date + timedelta(days=_randint(rng, 0, 14)), as_of)
                status = m.status
                stay_until = None
                if foreign and status not in STATUSES_WITHOUT_PERIOD:
                    stay_until = as_of + timedelta(days=_randint(rng, 30, 1800))
                card = (
                    f"{_letters(rng)}{_below(rng, 10**8):08d}{_letters(rng)}"
                    if foreign and removal is None
                    else None
                )
                japanese = not foreign
                former = self._former_surname(m) if japanese else None
                rows.append(
                    ResidentRow(
                        line=line,
                        juminhyo_code=juminhyo_code,
                        my_number=my_number,
                        atena_number=None,
                        household_number=household_number,
                        relationship=m.relationship,
                        head_name=head_name if index else None,
                        name=f"{m.surname[0]}\u3000{m.given[0]}",
                        name_kana=f"{m.surname[1]}\u3000{m.given[1]}",
                        alias=m.alias[0] if m.alias else None,
                        alias_kana=m.alias[1] if m.alias else None,
                        birth_date=m.birth,
                        sex=m.sex,
                        kind=ResidentKind.JAPANESE if japanese else ResidentKind.FOREIGN,
                        became_resident_on=became,
                        address=address,
                        address_note=building,
                        address_since=since,
                        previous_address=previous_address if since != became else None,
                        address_before_move_in=came_from if not born_here else None,
                        honseki=honseki,
                        hittosha=_hittosha(m, head_name, members) if japanese else None,
                        nationality=nation.name if nation else None,
                        residence_status=status,
                        stay_expires_on=stay_until,
                        residence_card_number=card,
                        change_reason=reason,
                        change_date=change_date,
                        notified_on=notified_on,
                        removal_reason=removal_reason,
                        removed_on=removed_on,
                        moved_out_to=moved_out_to,
                        move_out_confirmed=(
                            # the 転入通知 of a recent 転出 may not have arrived yet
                            (as_of - removed_on).days > _NOTICE_DAYS
                            if removal_reason == "転出" and removed_on is not None
                            else None
                        ),
                        former_surname=former[0] if former else None,
                        former_surname_kana=former[1] if former else None,
                    )
                )
                line += 1
            produced += len(rows)
            events.sort(key=lambda e: e.on)
            yield SyntheticHousehold(household_number, tuple(rows), tuple(events))

    def _former_surname(self, m: _Member) -> tuple[str, str] | None:
        """The 旧氏 (and reading) some spouses have recorded (施行令第30条の13): the 氏 before marriage."""
        if m.relationship not in ("妻", "夫") or self._former_rng.random() >= FORMER_SURNAME_SHARE:
            return None
        former = self.surnames.pick(self._former_rng)
        return None if former == m.surname else former

    def _removals(
        self, members: list[_Member], arrival: date, moved: date | None
    ) -> dict[int, tuple[str, date]]:
        """Which members left the register (転出, 死亡) and when; heads of larger households stay."""
        rng = self.rng
        as_of = self.as_of
        out: dict[int, tuple[str, date]] = {}
        if len(members) == 1:
            if rng.random() < 0.05:
                age = (as_of - members[0].birth).days // 365
                reason = "死亡" if age >= 70 and rng.random() < 0.8 else "転出"
                out[0] = (reason, self._between(max(arrival, members[0].birth, moved or arrival), as_of))
            return out
        for index, m in enumerate(members[1:], start=1):
            age = (as_of - m.birth).days // 365
            if m.relationship == "子" and age >= 20 and rng.random() < 0.25:
                out[index] = ("転出", self._between(max(arrival, m.birth + timedelta(days=18 * 365)), as_of))
            elif age >= 75 and rng.random() < 0.15:
                out[index] = ("死亡", self._between(max(arrival, m.birth), as_of))
        return out


def _hittosha(m: _Member, head_name: str, members: Sequence[_Member]) -> str:
    """筆頭者 of the member's 戸籍: the head's for his family, the father's for the head's parents."""
    if m.relationship in ("父", "母"):
        elder = next((e for e in members if e.relationship == "父"), m)
        return f"{elder.surname[0]}\u3000{elder.given[0]}"
    if m.relationship == "同居人":
        return f"{m.surname[0]}\u3000{m.given[0]}"
    return head_name


def _below(rng: random.Random, n: int) -> int:
    """A number in [0, n): ``random()`` scaled, several times cheaper than ``randrange`` (bias is
    negligible for synthetic data: n is far below 2**53)."""
    return int(rng.random() * n)


def _randint(rng: random.Random, a: int, b: int) -> int:
    return a + int(rng.random() * (b - a + 1))


def _letters(rng: random.Random) -> str:
    return chr(65 + _below(rng, 26)) + chr(65 + _below(rng, 26))


def generate_population(
    n_residents: int,
    seed: int,
    tenant_code: str,
    municipality_name: str,
    *,
    start_year: int = 2000,
    as_of: date = date(2025, 4, 1),
    wards: Sequence[str] = (),
    foreign_share: float = 0.035,
) -> Iterator[SyntheticHousehold]:
    """Households of a synthetic municipality, ``n_residents`` person rows in all (see module doc).

    ``tenant_code`` gives the prefecture (``141003`` → 神奈川県); ``municipality_name`` is the city
    as written in addresses (``横浜市``), with ``wards`` (``("中区", "西区")``) for a designated city.
    """
    generator = PopulationGenerator(
        seed,
        tenant_code,
        municipality_name,
        start_year=start_year,
        as_of=as_of,
        wards=wards,
        foreign_share=foreign_share,
    )
    return generator.households(n_residents)


def _rows(households: Iterator[SyntheticHousehold]) -> Iterator[ResidentRow]:
    for household in households:
        yield from household.members


def write_population(
    stream: IO[str],
    n_residents: int,
    seed: int,
    tenant_code: str,
    municipality_name: str,
    *,
    fmt: Literal["csv", "jsonl"] = "csv",
    start_year: int = 2000,
    as_of: date = date(2025, 4, 1),
    wards: Sequence[str] = (),
    foreign_share: float = 0.035,
) -> int:
    """Write a synthetic population straight to an interchange file; returns the rows written."""
    households = generate_population(
        n_residents,
        seed,
        tenant_code,
        municipality_name,
        start_year=start_year,
        as_of=as_of,
        wards=wards,
        foreign_share=foreign_share,
    )
    if fmt == "csv":
        return write_csv(_rows(households), stream)
    return write_jsonl(_rows(households), stream)
