"""An independent population for grading 名寄せ (duplicate detection): people, their namesakes
and their second registrations, built from tables of its own.

ikou's fixture generator builds its hard duplicates from ikou's own kana, era and 異体字 tables
and a small name pool, so scoring ikou on it grades ikou against itself. This generator shares no
table with ikou's cleansing code (``ikou.cleansing``): the names, their frequencies, the 異体字,
the kana typos, the half-width kana and the address forms are written here. Only the columns
dedup does not look at (codes, dates of moving …) and the households come from the
fixture generator's base records, so that the export passes the sakura mapping's checks.

What it plants, with the truth for every pair:

- names with a realistic frequency: 100 common 氏 (佐藤 about 1.5 % of people) weighted by
  Zipf, then a long tail of composed 氏; 名 by sex and birth era (和子 and 茂 before 1970,
  陽菜 and 蓮 after 2000), common ones Zipf-weighted, then composed ones. Households share 氏,
  address and (some) a landline; adults have mobiles; so same-name strangers, namesakes with
  the same birth date, and family members sharing surname, address and phone all occur;
  本籍 and 筆頭者 from the household: head, spouse and children in the head's 戸籍, parents in
  their own (often at the same 本籍), lodgers in theirs; half the 本籍 in the city, half elsewhere;
- hard negatives: twins (same birth date, surname, address, household, different 名) and
  a child named after the parent (same full name, address, household; birth dates decades
  apart): ``hard_negatives.csv``;
- second registrations (``rate`` of current residents): a new 宛名番号 and (mostly) own
  household, no 個人番号, 住民票コード blank / the same / another, and one to four of: a 異体字,
  the reading in half-width kana, a kana typo, a kanji of the same reading (裕子 / 祐子), the name
  written without its space, the maiden name (旧氏), the 通称 instead of the name, a foreign
  name in romaji instead of katakana, a moved address, the 番地 written another way or in
  full-width digits, the phone blank or changed, birth day and month swapped or one digit
  mistyped, the 本籍 and 筆頭者 left out, a new 本籍 (転籍), the 本籍's number written in
  full-width digits or kanji (一二三四, 千二百三十四), a maiden-name registration in her parents' 戸籍: ``expected.csv`` (line, survivor_line, defect = the kinds), as bench_dedup reads it.

    python bench/people.py --out build/people-100k --residents 100000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import re
import unicodedata
from pathlib import Path

import numpy as np
import polars as pl

COMMON_SURNAMES = (
    "佐藤サトウ 鈴木スズキ 高橋タカハシ 田中タナカ 伊藤イトウ 渡辺ワタナベ 山本ヤマモト 中村ナカムラ 小林コバヤシ 加藤カトウ "
    "吉田ヨシダ 山田ヤマダ 佐々木ササキ 山口ヤマグチ 松本マツモト 井上イノウエ 木村キムラ 林ハヤシ 斎藤サイトウ 清水シミズ "
    "山崎ヤマザキ 森モリ 池田イケダ 橋本ハシモト 阿部アベ 石川イシカワ 山下ヤマシタ 中島ナカジマ 石井イシイ 小川オガワ "
    "前田マエダ 岡田オカダ 長谷川ハセガワ 藤田フジタ 後藤ゴトウ 近藤コンドウ 村上ムラカミ 遠藤エンドウ 青木アオキ 坂本サカモト "
    "斉藤サイトウ 福田フクダ 太田オオタ 西村ニシムラ 藤井フジイ 金子カネコ 岡本オカモト 藤原フジワラ 中野ナカノ 三浦ミウラ "
    "原田ハラダ 中川ナカガワ 松田マツダ 竹内タケウチ 小野オノ 田村タムラ 中山ナカヤマ 和田ワダ 石田イシダ 森田モリタ "
    "上田ウエダ 原ハラ 内田ウチダ 柴田シバタ 酒井サカイ 宮崎ミヤザキ 横山ヨコヤマ 高木タカギ 安藤アンドウ 宮本ミヤモト "
    "大野オオノ 小島コジマ 谷口タニグチ 今井イマイ 工藤クドウ 高田タカダ 増田マスダ 丸山マルヤマ 杉山スギヤマ 村田ムラタ "
    "大塚オオツカ 小山コヤマ 平野ヒラノ 藤本フジモト 河野コウノ 上野ウエノ 野口ノグチ 武田タケダ 松井マツイ 千葉チバ "
    "岩崎イワサキ 菅原スガワラ 木下キノシタ 久保クボ 佐野サノ 野村ノムラ 松尾マツオ 菊地キクチ 杉本スギモト 市川イチカワ")
SURNAME_HEADS = ("上ウエ 下シモ 大オオ 小コ 北キタ 南ミナミ 東ヒガシ 西ニシ 川カワ 山ヤマ 石イシ 岩イワ 松マツ 竹タケ 梅ウメ 杉スギ "
                 "柳ヤナギ 浅アサ 深フカ 長ナガ 高タカ 平ヒラ 福フク 宮ミヤ 吉ヨシ 金カネ 黒クロ 白シラ 赤アカ 青アオ 新ニイ 古フル "
                 "今イマ 水ミズ 池イケ 桜サクラ 広ヒロ 沢サワ 島シマ 藤フジ 菊キク 星ホシ 春ハル 秋アキ 早ハヤ 安ヤス")
SURNAME_TAILS = ("田ダ 川カワ 山ヤマ 本モト 村ムラ 井イ 野ノ 木キ 沢ザワ 島ジマ 崎ザキ 原ハラ 谷タニ 口グチ 部ベ 岡オカ 森モリ "
                 "橋ハシ 浦ウラ 瀬セ 尾オ 江エ 坂サカ 内ウチ 倉クラ 城シロ 辺ベ 垣ガキ 窪クボ 池イケ")
GIVEN = {  # (sex, era) -> common names, most common first
    ("F", 0): "和子カズコ 幸子サチコ 洋子ヨウコ 節子セツコ 京子キョウコ 恵子ケイコ 美智子ミチコ 久美子クミコ 悦子エツコ 典子ノリコ "
              "孝子タカコ 弘子ヒロコ 裕子ユウコ 順子ジュンコ 由美子ユミコ 明美アケミ 真由美マユミ 直美ナオミ 陽子ヨウコ 智子トモコ",
    ("F", 1): "陽子ヨウコ 裕子ユウコ 恵メグミ 愛アイ 香織カオリ 美穂ミホ 麻衣マイ 彩アヤ 舞マイ 沙織サオリ 瞳ヒトミ 絵美エミ "
              "智美トモミ 由美ユミ 明日香アスカ 千尋チヒロ 優子ユウコ 真理子マリコ 美香ミカ 奈々ナナ",
    ("F", 2): "陽菜ヒナ 結衣ユイ 葵アオイ 凛リン 美咲ミサキ 結菜ユイナ 芽依メイ 莉子リコ 美羽ミウ 心愛ココア 花音カノン 紬ツムギ "
              "陽葵ヒマリ 結愛ユア 杏アン 楓カエデ 澪ミオ 琴音コトネ 愛莉アイリ 咲良サクラ",
    ("M", 0): "清キヨシ 茂シゲル 博ヒロシ 実ミノル 勇イサム 進ススム 正タダシ 弘ヒロシ 稔ミノル 誠マコト 隆タカシ 明アキラ "
              "和夫カズオ 正男マサオ 茂雄シゲオ 修オサム 豊ユタカ 勝マサル 浩ヒロシ 学マナブ",
    ("M", 1): "誠マコト 大輔ダイスケ 拓也タクヤ 直樹ナオキ 健太ケンタ 翔太ショウタ 達也タツヤ 和也カズヤ 哲也テツヤ 剛ツヨシ "
              "大樹ダイキ 亮リョウ 健ケン 翼ツバサ 拓海タクミ 雄太ユウタ 浩二コウジ 秀樹ヒデキ 淳ジュン 聡サトシ",
    ("M", 2): "蓮レン 大翔ヒロト 悠真ユウマ 湊ミナト 陽翔ハルト 樹イツキ 悠人ユウト 蒼アオイ 颯太ソウタ 翔ショウ 陸リク "
              "大和ヤマト 朝陽アサヒ 奏太カナタ 碧アオ 律リツ 新アラタ 陽太ヨウタ 海斗カイト 悠ハルカ",
}
GIVEN_PARTS = {
    "F": ("美ミ 愛アイ 真マ 千チ 由ユ 優ユウ 彩アヤ 奈ナ 理リ 早サ 佳ヨシ 菜ナ 沙サ 結ユイ 春ハル 夏ナツ 秋アキ 冬フユ 雪ユキ 花ハナ",
          "子コ 美ミ 香カ 奈ナ 恵エ 代ヨ 江エ 里リ 穂ホ 花カ 乃ノ 音ネ 希キ 帆ホ 月ツキ"),
    "M": ("健ケン 大ダイ 拓タク 翔ショウ 雄ユウ 直ナオ 和カズ 正マサ 秀ヒデ 康ヤス 浩コウ 俊シュン 信ノブ 隆タカ 智トモ 勝カツ "
          "義ヨシ 光ミツ 英エイ 純ジュン",
          "一イチ 二ジ 太タ 也ヤ 介スケ 人ト 樹キ 輔スケ 平ヘイ 郎ロウ 吾ゴ 志シ 彦ヒコ 夫オ 典ノリ"),
}
FOREIGN_SURNAMES = ("NGUYEN グエン,TRAN チャン,LE レ,PHAM ファム,KIM キム,LEE イ,PARK パク,CHOI チェ,WANG ワン,"
                    "LI リ,ZHANG チャン,LIU リュウ,CHEN チェン,SANTOS サントス,REYES レイエス,CRUZ クルス,"
                    "SILVA シルバ,SOUZA ソウザ,OLIVEIRA オリベイラ,GURUNG グルン,SHARMA シャルマ,SMITH スミス")
FOREIGN_GIVEN = ("THI HOA ティ　ホア,VAN AN ヴァン　アン,MINH ミン,LINH リン,MINJUN ミンジュン,SEOYEON ソヨン,"
                 "JIWOO ジウ,WEI ウェイ,FANG ファン,JING ジン,MARIA マリア,JOSE ホセ,ANA アナ,JOAO ジョアン,"
                 "LUCAS ルーカス,RAJ ラジ,ANITA アニタ,JOHN ジョン,EMILY エミリー,DAVID デビッド")
# 異体字 a register holds next to the common form (all in CP932), and kanji of one reading
VARIANTS = {"高": "髙", "崎": "﨑", "辺": "邊", "斎": "齋", "浜": "濱", "沢": "澤", "島": "嶋", "桜": "櫻", "広": "廣",
            "竜": "龍", "恵": "惠", "実": "實", "真": "眞", "国": "國", "寿": "壽", "徳": "德"}
HOMOPHONES = {"裕": "祐", "祐": "裕", "博": "浩", "浩": "博", "和": "一", "幸": "倖", "智": "知", "美": "未",
              "恵": "惠", "明": "昭", "弘": "宏", "正": "政", "隆": "孝", "直": "尚", "健": "賢", "樹": "喜", "陽": "洋"}
VOICED = {"カ": "ガ", "キ": "ギ", "ク": "グ", "ケ": "ゲ", "コ": "ゴ", "サ": "ザ", "シ": "ジ", "ス": "ズ", "セ": "ゼ", "ソ": "ゾ",
          "タ": "ダ", "チ": "ヂ", "ツ": "ヅ", "テ": "デ", "ト": "ド", "ハ": "バ", "ヒ": "ビ", "フ": "ブ", "ヘ": "ベ", "ホ": "ボ"}
SMALL = {"ャ": "ヤ", "ュ": "ユ", "ョ": "ヨ", "ッ": "ツ", "ァ": "ア", "ィ": "イ", "ゥ": "ウ", "ェ": "エ", "ォ": "オ"}
# 本籍 (the 戸籍's place) outside the city: this module's own list; inside it, the household's 町字
REGISTER_PLACES = ("北海道札幌市中央区 青森県弘前市 岩手県盛岡市 宮城県仙台市青葉区 秋田県横手市 山形県鶴岡市 福島県会津若松市 "
                   "茨城県水戸市 栃木県宇都宮市 群馬県高崎市 埼玉県川越市 千葉県船橋市 東京都世田谷区 東京都練馬区 "
                   "神奈川県横浜市港北区 新潟県長岡市 富山県高岡市 石川県金沢市 福井県福井市 山梨県甲府市 長野県松本市 "
                   "岐阜県大垣市 静岡県浜松市中区 愛知県豊田市 三重県津市 滋賀県彦根市 京都府京都市左京区 大阪府堺市堺区 "
                   "兵庫県姫路市 奈良県橿原市 和歌山県田辺市 鳥取県米子市 島根県出雲市 岡山県倉敷市 広島県福山市 山口県下関市 "
                   "徳島県阿南市 香川県丸亀市 愛媛県今治市 高知県四万十市 福岡県久留米市 佐賀県唐津市 長崎県佐世保市 "
                   "熊本県八代市 大分県別府市 宮崎県都城市 鹿児島県霧島市 沖縄県那覇市").split()
REGISTER_TOWNS = "本町 元町 栄町 旭町 緑町 寿町 幸町 宮前町 中央 東町 西町 南町 北町 新田 川端町 山手町 城下 大字上野 大字下村 大字中島".split()
KANJI = "〇一二三四五六七八九"
ERAS = (("令和", dt.date(2019, 5, 1)), ("平成", dt.date(1989, 1, 8)), ("昭和", dt.date(1926, 12, 25)),
        ("大正", dt.date(1912, 7, 30)), ("明治", dt.date(1868, 1, 25)))


def _pairs(text: str, sep: str = " ") -> list[tuple[str, str]]:
    """'佐藤サトウ 鈴木スズキ' -> [('佐藤', 'サトウ'), …]: kanji, then its katakana reading."""
    out = []
    for word in text.split(sep):
        cut = next(i for i, c in enumerate(word) if "\u30a0" <= c <= "\u30ff")
        out.append((word[:cut], word[cut:]))
    return out


def _foreign(text: str) -> list[tuple[str, str]]:
    return [tuple(w.split(" ", 1) if w.count(" ") == 1 else (w.rsplit(" ", 1)[0], w.rsplit(" ", 1)[1]))
            for w in text.split(",")]


def _half_width() -> dict[str, str]:
    """Full-width katakana -> half-width, from Unicode's own compatibility mappings."""
    table = {}
    for cp in range(0xFF66, 0xFF9E):
        half = chr(cp)
        full = unicodedata.normalize("NFKC", half)
        table[full] = half
        voiced, semi = unicodedata.normalize("NFC", full + "\u3099"), unicodedata.normalize("NFC", full + "\u309a")
        if len(voiced) == 1:
            table[voiced] = half + "\uff9e"
        if len(semi) == 1:
            table[semi] = half + "\uff9f"
    table["ー"] = "ｰ"
    table["\u3000"] = " "
    return table


HALF = _half_width()


def zipf_pool(common: list[tuple[str, str]], tail: list[tuple[str, str]], head_share: float,
              exponent: float = 1.0) -> tuple[list[tuple[str, str]], np.ndarray]:
    """A pool and its probabilities: the common names share ``head_share`` by Zipf, the tail the
    rest, also by Zipf (a long tail, not a flat one)."""
    def zipf(n):
        w = 1 / np.arange(1, n + 1) ** exponent
        return w / w.sum()
    seen = {k for k, _ in common}
    tail = [t for t in tail if t[0] not in seen]
    p = np.concatenate([zipf(len(common)) * head_share, zipf(len(tail)) * (1 - head_share)])
    return common + tail, p


def _composed(heads: str, tails: str, rng: np.random.Generator) -> list[tuple[str, str]]:
    items = [(a + b, ra + rb) for a, ra in _pairs(heads) for b, rb in _pairs(tails)]
    order = rng.permutation(len(items))
    return [items[i] for i in order]


def kanji_number(n: int) -> str:
    """1234 -> 千二百三十四 (as 戸籍 write 番地)."""
    out = ""
    for unit, mark in ((1000, "千"), (100, "百"), (10, "十")):
        q, n = divmod(n, unit)
        out += ("" if q == 1 else KANJI[q]) + mark if q else ""
    return out + (KANJI[n] if n else "")


def register_form(place: str, rng: np.random.Generator) -> str:
    """The 本籍's number written another way: full-width, kanji digit by digit, or 千二百三十四."""
    head, num, tail = re.match(r"^(.*?)([0-9]+)(\D*)$", place).groups()
    how = int(rng.integers(3))
    number = (num.translate({ord(str(d)): chr(0xFF10 + d) for d in range(10)}) if how == 0
              else "".join(KANJI[int(d)] for d in num) if how == 1 else kanji_number(int(num)))
    return head + number + tail


def wareki(d: dt.date) -> str:
    name, start = next((n, s) for n, s in ERAS if d >= s)
    year = d.year - start.year + 1
    return f"{name}{'元' if year == 1 else year}年{d.month}月{d.day}日"


KIND_RATES = {"variant": 0.25, "half_width": 0.3, "kana_typo": 0.15, "homophone": 0.06, "no_space": 0.08,
              "maiden_name": 0.03, "moved": 0.35, "address_form": 0.15, "phone_blank": 0.3, "phone_changed": 0.2,
              "birth_swapped": 0.03, "birth_typo": 0.03, "romaji": 0.4, "tsusho": 0.2,
              "register_blank": 0.15, "register_moved": 0.05, "register_form": 0.1}
ADDRESS = ("町字コード", "町字", "番地", "郵便番号", "方書")


class People:
    """The population: base records (households, codes) from the fixture generator, every name,
    reading and phone from this module's tables."""

    def __init__(self, residents: int, seed: int):
        from ikou.fixtures.generator import planted_rows

        self.rng = rng = np.random.default_rng(seed)
        self.rows = rows = planted_rows(residents, seed, defects=False)
        self.surnames = zipf_pool(_pairs(COMMON_SURNAMES), _composed(SURNAME_HEADS, SURNAME_TAILS, rng), 0.35)
        self.given = {key: zipf_pool(_pairs(text), _composed(*GIVEN_PARTS[key[0]], rng), 0.45)
                      for key, text in GIVEN.items()}
        self.foreign = (_foreign(FOREIGN_SURNAMES), _foreign(FOREIGN_GIVEN))
        persons = (rows.group_by("宛名番号", maintain_order=True)
                   .agg(pl.col("hh", "rel", "male", "birth", "foreign", "town").first()))
        self.persons = self._names(persons)

    def _pick(self, pool, n: int) -> list[tuple[str, str]]:
        names, p = pool
        return [names[i] for i in self.rng.choice(len(names), size=n, p=p)]

    def _names(self, persons: pl.DataFrame) -> pl.DataFrame:
        rng, n = self.rng, persons.height
        households = persons["hh"].unique().sort()
        family = dict(zip(households.to_list(), self._pick(self.surnames, len(households))))
        own = self._pick(self.surnames, n)  # lodgers (同居人) have a surname of their own
        rel, hh, male = persons["rel"].to_list(), persons["hh"].to_list(), persons["male"].to_list()
        birth, foreign = persons["birth"].to_list(), persons["foreign"].to_list()
        surname = [own[i] if rel[i] == "10" else family[hh[i]] for i in range(n)]
        era = [0 if b.year < 1970 else 1 if b.year < 2000 else 2 for b in birth]
        given: list = [None] * n
        for key in GIVEN:
            idx = [i for i in range(n) if ("M" if male[i] else "F", era[i]) == (key[0], key[1])]
            for i, g in zip(idx, self._pick(self.given[key], len(idx))):
                given[i] = g
        # parents do not give two children one name: a repeat within a household is drawn again
        taken: dict[int, set[str]] = {}
        for i in range(n):
            seen = taken.setdefault(hh[i], set())
            for _ in range(20):
                if given[i][0] not in seen:
                    break
                given[i] = self._pick(self.given[("M" if male[i] else "F", era[i])], 1)[0]
            seen.add(given[i][0])
        birth = list(birth)
        # hard negatives: twins (same birth date, different 名) and a son named after his father
        children: dict[int, list[int]] = {}
        for i in range(n):
            if rel[i] == "04":
                children.setdefault(hh[i], []).append(i)
        heads = {hh[i]: i for i in range(n) if rel[i] == "01"}
        negatives = []
        for h, kids in children.items():
            if len(kids) >= 2 and rng.random() < 0.01:
                a, b = kids[0], kids[1]
                birth[b] = birth[a]
                while given[b] == given[a]:
                    given[b] = self._pick(self.given[("M" if male[b] else "F", era[a])], 1)[0]
                negatives.append((a, b, "twins"))
            elif h in heads and rng.random() < 0.003:
                father, son = heads[h], next((k for k in kids if male[k]), None)
                if son is not None and male[father] and not foreign[father]:
                    given[son] = given[father]
                    negatives.append((father, son, "named_after_parent"))
        fs, fg = self.foreign
        f_s, f_g = rng.integers(len(fs), size=n), rng.integers(len(fg), size=n)
        roman = [f"{fs[f_s[i]][0]} {fg[f_g[i]][0]}" if foreign[i] else None for i in range(n)]
        kata = [f"{fs[f_s[i]][1]}\u3000{fg[f_g[i]][1]}" if foreign[i] else None for i in range(n)]
        registers = self._registers(persons, surname, given, heads)
        half = rng.random(n) < 0.25  # the vendor wrote a quarter of the readings in half-width kana
        phones = self._phones(hh, birth, n)
        self.negatives = negatives
        return persons.with_columns(
            氏=pl.Series([None if foreign[i] else surname[i][0] for i in range(n)], dtype=pl.String),
            名=pl.Series([None if foreign[i] else given[i][0] for i in range(n)], dtype=pl.String),
            氏カナ=pl.Series([None if foreign[i] else surname[i][1] for i in range(n)], dtype=pl.String),
            名カナ=pl.Series([None if foreign[i] else given[i][1] for i in range(n)], dtype=pl.String),
            外国人ローマ字氏名=pl.Series(roman, dtype=pl.String), _kata=pl.Series(kata, dtype=pl.String),
            _half=pl.Series(half), birth=pl.Series(birth), 電話番号=pl.Series(phones, dtype=pl.String),
            本籍=pl.Series([r and r[0] for r in registers], dtype=pl.String),
            筆頭者=pl.Series([r and r[1] for r in registers], dtype=pl.String),
        ).with_columns(
            氏名=pl.coalesce(pl.col("_kata"), pl.col("氏") + "\u3000" + pl.col("名")),
            氏名カナ=pl.coalesce(pl.col("_kata"), pl.col("氏カナ") + "\u3000" + pl.col("名カナ")),
        ).with_columns(氏名カナ=pl.when(pl.col("_half")).then(pl.col("氏名カナ").str.replace_many(HALF))
                       .otherwise(pl.col("氏名カナ")))

    def place(self, town: str | None = None) -> str:
        """A 本籍: half in this city (the household's 町字), half elsewhere; 番地 or 番 up to 2,500."""
        from ikou.fixtures.generator import MUNICIPALITY_NAME

        rng = self.rng
        lot = int(np.exp(rng.uniform(0, np.log(2500))))
        where = (MUNICIPALITY_NAME + town if town and rng.random() < 0.5 else
                 REGISTER_PLACES[int(rng.integers(len(REGISTER_PLACES)))] + REGISTER_TOWNS[int(rng.integers(len(REGISTER_TOWNS)))])
        return f"{where}{lot}{'番地' if rng.random() < 0.85 else '番'}"

    def elder(self, surname: tuple[str, str]) -> str:
        """筆頭者 of a parents' 戸籍: the family's 氏 and an older man's 名."""
        return f"{surname[0]}\u3000{self._pick(self.given[('M', 0)], 1)[0][0]}"

    def _registers(self, persons: pl.DataFrame, surname: list, given: list, heads: dict) -> list:
        """(本籍, 筆頭者) of every Japanese resident: head, spouse and children in the head's 戸籍;
        the head's parents (and other kin) in their own, often at the same 本籍; lodgers their own."""
        rel, hh = persons["rel"].to_list(), persons["hh"].to_list()
        foreign, town = persons["foreign"].to_list(), persons["town"].to_list()
        home, out = {}, []
        for i in range(persons.height):
            if foreign[i]:
                out.append(None)
                continue
            h = heads.get(hh[i], i)
            if h not in home:
                home[h] = (self.place(town[i]), f"{surname[h][0]}\u3000{given[h][0]}")
            if rel[i] in ("01", "02", "04"):
                out.append(home[h])
            elif rel[i] == "10":
                out.append((self.place(), self.elder(surname[i])))
            else:
                out.append((home[h][0] if self.rng.random() < 0.5 else self.place(town[i]), self.elder(surname[i])))
        return out

    def _phones(self, hh: list, birth: list, n: int) -> list[str | None]:
        rng = self.rng
        landline = {h: f"0{rng.integers(11, 99)}-{rng.integers(100, 999)}-{rng.integers(1000, 9999)}"
                    for h in set(hh) if rng.random() < 0.4}
        out = []
        for i in range(n):
            adult = birth[i].year <= 2006
            if adult and rng.random() < 0.6:
                out.append(f"0{rng.choice([7, 8, 9])}0-{rng.integers(1000, 9999)}-{rng.integers(1000, 9999)}")
            else:
                out.append(landline.get(hh[i]))
        return [p if p is None or rng.random() < 0.75 else p.replace("-", "") for p in out]

    def records(self) -> pl.DataFrame:
        """The base records with this module's names, readings, phones (every version of a person alike)."""
        p = self.persons
        heads = p.filter(pl.col("rel") == "01").select("hh", 世帯主氏名="氏名")
        cols = ["氏", "名", "氏カナ", "名カナ", "氏名", "氏名カナ", "外国人ローマ字氏名", "電話番号", "本籍", "筆頭者"]
        twins = p.select("宛名番号", _birth="birth")
        out = (self.rows.drop(*cols, "世帯主氏名")
               .join(p.select("宛名番号", *cols), on="宛名番号", how="left", maintain_order="left")
               .join(heads, on="hh", how="left", maintain_order="left")
               .join(twins, on="宛名番号", how="left", maintain_order="left"))
        changed = out["_birth"] != out["birth"]
        births = [wareki(d) if c else t for d, c, t in zip(out["_birth"].to_list(), changed.to_list(),
                                                             out["生年月日"].to_list())]
        return out.with_columns(生年月日=pl.Series(births), 旧氏=pl.lit(None, pl.String), 旧氏カナ=pl.lit(None, pl.String),
                                通称=pl.lit(None, pl.String), 通称カナ=pl.lit(None, pl.String))

    def second_registrations(self, rows: pl.DataFrame, rate: float) -> tuple[list[dict], list[tuple[int, str]], dict]:
        """``rate`` of the current residents registered a second time. Returns the new records,
        (index of the original's latest record, kinds) for each, and changes to the originals."""
        from ikou.fixtures.generator import with_check_digit

        rng = self.rng
        ranked = rows.with_row_index("_i").with_columns(
            _v=pl.col("履歴番号").cast(pl.Int64) * 1000 + pl.col("枝番号").cast(pl.Int64))
        latest = ranked.filter(pl.col("_v") == pl.col("_v").max().over("宛名番号")).unique("宛名番号", keep="first")
        current = latest.filter(pl.col("住民状態") == "1")
        chosen = current.sample(n=int(current.height * rate), seed=int(rng.integers(1 << 30)), shuffle=True)
        addresses = latest.select(*ADDRESS).to_dicts()
        used = set(rows["宛名番号"].to_list())
        top = max(int(a) for a in used) + 1
        codes = with_check_digit(rng.integers(10**9, 10**10 - 1, size=chosen.height), 11)
        originals: dict[str, dict] = {}
        out, truth = [], []
        for j, rec in enumerate(chosen.drop("_v").to_dicts()):
            i = rec.pop("_i")
            kinds = [k for k, r in KIND_RATES.items() if rng.random() < r]
            new = dict(rec)
            kinds = self._vary(new, kinds, rec, addresses, originals)
            atena = str(top + j).zfill(10)
            new.update(宛名番号=atena, 世帯番号=str(top + j).zfill(10), 続柄="01", 続柄名="世帯主", 記載順位="1",
                       個人番号=None, 履歴番号="1", 枝番号="1", 最新="1",
                       住民票コード=str(codes[j]) if rng.random() < 0.1 else None)
            new["世帯主氏名"] = new["氏名"]
            out.append(new)
            truth.append((i, "+".join(kinds) or "plain"))
        return out, truth, originals

    def _vary(self, new: dict, kinds: list[str], rec: dict, addresses: list[dict], originals: dict) -> list[str]:
        rng, done = self.rng, []
        foreign = rec["住民種別"] == "G"
        for kind in kinds:
            if foreign and kind in ("romaji", "tsusho"):
                if kind == "romaji" and rec["外国人ローマ字氏名"]:
                    new["氏名"] = rec["外国人ローマ字氏名"]
                elif kind == "tsusho":
                    s, g = self._pick(self.surnames, 1)[0], self._pick(self.given[("F", 1)], 1)[0]
                    alias, alias_kana = f"{s[0]}\u3000{g[0]}", f"{s[1]}\u3000{g[1]}"
                    new.update(氏名=alias, 氏名カナ=alias_kana)
                    originals.setdefault(rec["宛名番号"], {}).update(通称=alias, 通称カナ=alias_kana)
                else:
                    continue
            elif foreign or kind in ("romaji", "tsusho"):
                continue
            elif kind == "variant":
                name = new["氏名"]
                spots = [k for k, c in enumerate(name) if c in VARIANTS]
                if not spots:
                    continue
                k = spots[int(rng.integers(len(spots)))]
                new["氏名"] = name[:k] + VARIANTS[name[k]] + name[k + 1:]
            elif kind == "homophone":
                name = new["氏名"]
                cut = name.find("\u3000") + 1
                spots = [k for k in range(cut, len(name)) if name[k] in HOMOPHONES]
                if not cut or not spots:
                    continue
                k = spots[0]
                new["氏名"] = name[:k] + HOMOPHONES[name[k]] + name[k + 1:]
            elif kind == "half_width":
                kana = new["氏名カナ"]
                full = unicodedata.normalize("NFKC", kana).replace(" ", "\u3000")
                new["氏名カナ"] = full if full != kana else "".join(HALF.get(c, c) for c in kana)
            elif kind == "kana_typo":
                kana = unicodedata.normalize("NFKC", new["氏名カナ"])
                spots = [k for k, c in enumerate(kana) if c in VOICED or c in VOICED.values() or c in SMALL]
                if not spots:
                    continue
                k = spots[int(rng.integers(len(spots)))]
                c = kana[k]
                swap = SMALL.get(c) or VOICED.get(c) or next(a for a, b in VOICED.items() if b == c)
                new["氏名カナ"] = kana[:k] + swap + kana[k + 1:]
            elif kind == "no_space":
                new["氏名"] = new["氏名"].replace("\u3000", "")
            elif kind == "maiden_name":
                if rec["性別"] != "女" or rec["続柄"] not in ("01", "02"):
                    continue
                s = self._pick(self.surnames, 1)[0]
                if s[0] == rec["氏"]:
                    continue
                # registered before the marriage: in her parents' 戸籍
                new.update(氏=s[0], 氏カナ=s[1], 氏名=f"{s[0]}\u3000{rec['名']}", 氏名カナ=f"{s[1]}\u3000{rec['名カナ']}",
                           本籍=self.place(), 筆頭者=self.elder(s))
                originals.setdefault(rec["宛名番号"], {}).update(旧氏=s[0], 旧氏カナ=s[1])
            elif kind.startswith("register_"):
                if foreign or not new["本籍"] or any(k.startswith("register_") for k in done) or "maiden_name" in done:
                    continue
                if kind == "register_blank":  # entered without the 本籍 and 筆頭者
                    new.update(本籍=None, 筆頭者=None)
                else:  # 転籍 (a new 本籍), or the number written another way
                    new["本籍"] = self.place() if kind == "register_moved" else register_form(new["本籍"], rng)
            elif kind == "moved":
                new.update(addresses[int(rng.integers(len(addresses)))])
            elif kind == "address_form":
                if "moved" in done or not new["番地"] or new["番地"].count("-") != 2:
                    continue
                a, b, c = new["番地"].split("-")
                new["番地"] = (f"{a}丁目{b}番{c}号" if rng.random() < 0.5
                              else unicodedata.normalize("NFKC", new["番地"]).translate(
                                  {ord(str(d)): chr(0xFF10 + d) for d in range(10)} | {ord("-"): "－"}))
            elif kind in ("phone_blank", "phone_changed"):
                if "phone_blank" in done or "phone_changed" in done or not rec["電話番号"]:
                    continue
                new["電話番号"] = None if kind == "phone_blank" else \
                    f"080-{self.rng.integers(1000, 9999)}-{self.rng.integers(1000, 9999)}"
            elif kind in ("birth_swapped", "birth_typo"):
                if "birth_swapped" in done or "birth_typo" in done:
                    continue
                d = rec["birth"]
                if kind == "birth_swapped":
                    if d.day > 12 or d.day == d.month:
                        continue
                    d = dt.date(d.year, d.day, d.month)
                else:
                    day = d.day // 10 * 10 + (d.day % 10 + 1) % 10 or 1
                    try:
                        d = dt.date(d.year, d.month, day)
                    except ValueError:
                        continue
                    if d == rec["birth"]:
                        continue
                new["生年月日"] = wareki(d)
            done.append(kind)
        return done


def generate(out: Path, residents: int, seed: int = 7, rate: float = 0.05) -> dict:
    """Write the export (the sakura vendor's CSV), expected.csv and hard_negatives.csv."""
    from ikou.fixtures.generator import EXPORT_NAME, HEADER, MUNICIPALITY_CODE, MUNICIPALITY_NAME

    out.mkdir(parents=True, exist_ok=True)
    people = People(residents, seed)
    rows = people.records()
    extra, truth, originals = people.second_registrations(rows, rate)
    if originals:
        fix = pl.DataFrame([{"宛名番号": k, **v} for k, v in originals.items()],
                           schema={"宛名番号": pl.String, "旧氏": pl.String, "旧氏カナ": pl.String,
                                   "通称": pl.String, "通称カナ": pl.String})
        rows = rows.update(fix, on="宛名番号", how="left")
    extra_rows = pl.DataFrame([{k: r.get(k) for k in HEADER} for r in extra], schema={k: pl.String for k in HEADER})
    table = pl.concat([rows.select(HEADER), extra_rows], how="vertical")
    body = table.write_csv(include_header=False, line_terminator="\r\n", quote_style="necessary")
    meta = (f"#住民記録データ抽出,{MUNICIPALITY_NAME},{MUNICIPALITY_CODE},作成日 令和8年11月1日\r\n"
            f"#ベンダ サクラ情報システム(架空),レコード件数 {table.height}\r\n")
    data = (meta + ",".join(HEADER) + "\r\n" + body).encode("cp932")
    (out / EXPORT_NAME).write_bytes(data)
    # each record's line, from Python's csv module on the written bytes
    reader = csv.reader(io.StringIO(data.decode("cp932"), newline=""))
    starts, prev = [], 0
    for _ in reader:
        starts.append(prev + 1)
        prev = reader.line_num
    line = starts[3:]
    base = rows.height
    pl.DataFrame({"line": [line[base + j] for j in range(len(truth))],
                  "fate": ["merged"] * len(truth), "code": ["probable_duplicate"] * len(truth),
                  "item": [None] * len(truth), "defect": [k for _, k in truth],
                  "survivor_line": [line[i] for i, _ in truth]},
                 schema_overrides={"item": pl.String}).write_csv(out / "expected.csv")
    latest = (rows.with_row_index("_i").with_columns(
        _v=pl.col("履歴番号").cast(pl.Int64) * 1000 + pl.col("枝番号").cast(pl.Int64))
        .filter(pl.col("_v") == pl.col("_v").max().over("宛名番号")).unique("宛名番号", keep="first"))
    where = dict(zip(latest["宛名番号"].to_list(), latest["_i"].to_list()))
    atena = people.persons["宛名番号"].to_list()
    pl.DataFrame({"line_a": [line[where[atena[a]]] for a, _, _ in people.negatives],
                  "line_b": [line[where[atena[b]]] for _, b, _ in people.negatives],
                  "kind": [k for _, _, k in people.negatives]},
                 schema={"line_a": pl.Int64, "line_b": pl.Int64, "kind": pl.String}).write_csv(out / "hard_negatives.csv")
    return {"records": table.height, "duplicates": len(truth), "hard_negatives": len(people.negatives)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--residents", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--duplicates", type=float, default=0.05, help="share of current residents registered twice")
    args = ap.parse_args()
    print(generate(args.out, args.residents, args.seed, args.duplicates))


if __name__ == "__main__":
    main()
