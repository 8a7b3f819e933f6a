"""The dedup stage: fingerprints of copies are similar, of different stories not; the same
text gives the same fingerprint in any process; short texts are left out; scripts without
spaces are shingled by characters; no input breaks it."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from helpers.cli import REPO
from ingest.config.model import DedupConfig
from ingest.dedup.fingerprint import BANDS, NUM_PERM, ROWS, Fingerprint, fingerprint, similarity
from ingest.dedup.minhash import band_keys
from ingest.dedup.shingles import CHARS_PER_WORD, MAX_CHARS

THRESHOLD = DedupConfig().threshold

# Two stories of one site (same byline, same footer, same beat) and two in Chinese.
BYLINE = "By the City Desk | The Riverside Courier"
FOOTER = "© 2025 The Riverside Courier. All rights reserved. Sign up for our morning newsletter."

BUDGET = [
    "The city council approved a budget of 412 million dollars on Tuesday night after a "
    "debate that ran past midnight.",
    "The plan raises spending on road repairs by twelve percent and freezes the hiring of "
    "new administrative staff until the end of next year.",
    "Mayor Elena Ortiz said the vote showed that the council could agree on hard choices "
    "when the numbers left no other way.",
    "Opposition members argued that the freeze would slow the processing of building "
    "permits, which already takes longer than in any neighbouring town.",
    "The libraries will keep their weekend opening hours, a change that residents had "
    "demanded at three public meetings this autumn.",
    "Funding for the two swimming pools on the east side was cut by a third, and one of "
    "them may close during the winter months.",
    "The council also voted to borrow 30 million dollars to replace the water mains under "
    "the old market district, some of which date from 1911.",
    "Work on the mains is expected to start in March and to close parts of Harbour Street "
    "for about six weeks.",
    "The budget takes effect on the first of January, and a review of its results is "
    "planned for the council session in June.",
]
STRIKE = [
    "Bus and tram drivers in the city will strike for 24 hours on Friday, the transport "
    "union announced on Wednesday morning.",
    "The union is asking for a pay rise of eight percent and for shorter shifts on the "
    "night lines, which it says are understaffed.",
    "The transport company said it had offered four percent and would keep talking, but "
    "warned that most lines would not run during the strike.",
    "Schools on the east side have told parents that pupils who cannot reach them will be "
    "excused, and the hospital has asked staff to share cars.",
    "Mayor Elena Ortiz urged both sides to return to the table before the weekend, saying "
    "that commuters should not pay for a dispute about contracts.",
    "The last strike, two years ago, lasted three days and ended with an agreement that "
    "the union says the company never fully honoured.",
    "Taxis and the regional trains will run as usual, and the city will open two extra "
    "car parks near the old market district on Friday.",
    "Talks are set to resume on Thursday afternoon at the offices of the regional "
    "labour mediator.",
]
ZH_QUAKE = ("新华社北京电，气象部门周二宣布，当天下午三时许，沿海地区发生五点八级地震，震源深度约"
            "十公里。地震发生后，当地政府立即启动应急预案，组织救援队伍赶赴灾区。目前已有十二人受"
            "轻伤，被送往附近医院救治，没有人员死亡的报告。部分老旧房屋出现裂缝，铁路部门暂停了三"
            "条线路的列车运行，以便检查轨道和桥梁。专家表示，未来几天该地区可能发生余震，提醒居民"
            "注意安全，不要进入受损建筑。学校和商店周三将照常开放，供水和供电已经恢复正常。")
ZH_HARVEST = ("新华社北京电，农业部门周四表示，今年全国粮食总产量预计将再创新高，秋粮收获已经完成"
              "八成以上。北方多个省份的玉米和大豆产量明显增加，南方的水稻因为夏季降雨充足也获得丰"
              "收。部门负责人说，新的灌溉设施和良种推广发挥了重要作用，农民收入有望继续增长。与此同"
              "时，有关方面将加强粮食储备和运输能力建设，确保冬季市场供应稳定，价格保持在合理区间。")


def article(sentences: list[str]) -> str:
    """A story as the site publishes it: byline, one paragraph per two sentences, footer."""
    paragraphs = [" ".join(sentences[i:i + 2]) for i in range(0, len(sentences), 2)]
    return "\n".join([BYLINE, *paragraphs, FOOTER])


def fp(text: str, min_words: int = 0) -> Fingerprint:
    found = fingerprint(text, min_words)
    assert found is not None
    return found


def sim(a: str, b: str) -> float:
    return similarity(fp(a).signature, fp(b).signature)


def outlet_copy(sentences: list[str], new_lead: str, keep: float) -> str:
    """Another outlet's copy: its own first sentence, the end cut, its own byline and footer."""
    kept = sentences[1:max(2, round(len(sentences) * keep))]
    return "\n".join(["Staff and agencies", new_lead, *kept,
                      "This article first appeared in the Valley Gazette."])


COPIES = {
    "new lead, last fifth cut": outlet_copy(
        BUDGET, "Riverside's council has passed next year's budget after a long night.", 0.8),
    "lead added, last fifth cut": outlet_copy(
        BUDGET, "RIVERSIDE (Reuters) - " + BUDGET[0], 0.8),
    "paragraphs merged, case and punctuation changed": " ".join(BUDGET).upper().replace(",", ";"),
}


@pytest.mark.parametrize("text", [article(BUDGET), article(STRIKE), ZH_QUAKE, "one two three"])
def test_identical_texts_have_similarity_one(text):
    assert sim(text, text) == 1.0
    assert fp(text) == fp(text)


@pytest.mark.parametrize("copy", COPIES.values(), ids=COPIES.keys())
def test_a_copy_is_above_the_default_threshold(copy):
    assert sim(article(BUDGET), copy) >= THRESHOLD


@pytest.mark.parametrize("other", [article(STRIKE), outlet_copy(STRIKE, BUDGET[0], 0.8)],
                         ids=["the site's other story", "other story with this story's lead"])
def test_a_different_story_of_the_same_site_is_below(other):
    assert sim(article(BUDGET), other) < THRESHOLD / 2


def test_chinese_texts_cluster_by_characters():
    # no spaces: a tokenizer of words would see each clause as one token, and one changed
    # character would make the whole clause a different token
    copy = ("据报道，" + ZH_QUAKE[:int(len(ZH_QUAKE) * 0.8)]).replace("十二人", "十三人")
    assert sim(ZH_QUAKE, copy) >= THRESHOLD
    assert sim(ZH_QUAKE, ZH_HARVEST) < THRESHOLD / 2


@pytest.mark.parametrize(("a", "b"), [
    ("ＡＢＣ ｎｅｗｓ ２０２５", "abc News 2025"),  # compatibility forms folded
    ("Café au lait, déjà vu!", "Cafe\u0301 au lait déja\u0300 vu"),  # one form for accents
    ("hello, world -- it's\u00a0here", "Hello World it s here"),  # punctuation stripped
])
def test_texts_that_differ_only_in_form_have_one_fingerprint(a, b):
    assert fp(a) == fp(b)


def test_the_same_text_has_the_same_fingerprint_in_another_process():
    texts = [article(BUDGET), ZH_QUAKE, "อนุสาวรีย์ชัยสมรภูมิ กรุงเทพมหานคร ประเทศไทย"]
    code = ("import pickle, sys\nfrom ingest.dedup.fingerprint import fingerprint\n"
            "texts = pickle.load(sys.stdin.buffer)\n"
            "sys.stdout.buffer.write(pickle.dumps([fingerprint(t, 0) for t in texts]))")
    for seed in ("1", "2"):  # str hashes differ between these interpreters
        done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(texts),
                              capture_output=True, cwd=REPO, env={"PYTHONHASHSEED": seed},
                              timeout=120, check=True)
        assert pickle.loads(done.stdout) == [fingerprint(t, 0) for t in texts]


WORDS = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split()


@pytest.mark.parametrize(("text", "min_words", "kept"), [
    (" ".join(WORDS * 5), 50, True),
    (" ".join((WORDS * 5)[:49]), 50, False),
    (" ".join((WORDS * 5)[:49]) + " ... !!! ---", 50, False),  # punctuation is no word
    ("好" * (50 * CHARS_PER_WORD), 50, True),
    ("好" * (50 * CHARS_PER_WORD - 1), 50, False),
    ("", 0, False),  # no words at all: nothing to fingerprint
    ("word", 1, True),
    ("word", 2, False),
])
def test_min_words_is_respected(text, min_words, kept):
    assert (fingerprint(text, min_words) is not None) is kept


ODD_INPUTS = {
    "empty": "",
    "one word": "word",
    "1 MB of text": "the council met today " * 48_000,
    "1 MB without a separator": "a" * 1_000_000,
    "Chinese": ZH_QUAKE,
    "Japanese": "気象庁は13日、午後9時19分ごろ、日向灘で地震があったと発表した。",
    "Thai": "ผู้สื่อข่าวรายงานว่า เมื่อเวลา 12.00 น. ที่ผ่านมา",
    "only punctuation": "!?.,;:-- «» … ** //" * 1000,
    "only digits": "2025 12 03 10:00 4.5 % 1,000,000",
    "lone surrogates": "text \ud800 with \udfff halves \ud83d of pairs",
    "emoji and symbols": "🙂🙂 ✓ ★ 𝐁𝐨𝐥𝐝 𝔉𝔯𝔞𝔨𝔱𝔲𝔯",
    "control characters": "a\x00b\x1fc\x7f d\u200be\ufeff",
}


@pytest.mark.parametrize("text", ODD_INPUTS.values(), ids=ODD_INPUTS.keys())
def test_odd_inputs_give_a_well_formed_fingerprint_or_none(text):
    found = fingerprint(text, 0)
    assert found is None or (len(found.signature) == NUM_PERM * 4 and len(found.bands) == BANDS
                             and all(-(2**63) <= b < 2**63 for b in found.bands))
    assert found == fingerprint(text, 0)
    assert pickle.loads(pickle.dumps(found)) == found


def test_only_the_first_max_chars_are_read():
    text = " ".join(f"w{i}" for i in range(MAX_CHARS))
    assert fp(text) == fp(text[:MAX_CHARS])
    assert fp(text) != fp(text[:MAX_CHARS - 100])


@pytest.mark.parametrize(("a", "b"), [(b"", b""), (b"\x00" * 8, b"\x00" * 4), (b"\x01\x02", b"\x01\x02")])
def test_signatures_that_cannot_be_compared_have_similarity_zero(a, b):
    assert similarity(a, b) == 0.0


@pytest.mark.parametrize(("shift", "length"), [(0, 300), (50, 300), (150, 300), (250, 300), (300, 300)])
def test_similarity_estimates_the_resemblance_of_the_shingle_sets(shift, length):
    words = [f"w{i}" for i in range(length + shift)]
    a, b = words[:length], words[shift:]
    shared = max(0, length - shift - 2)  # shingles of three words inside the overlap
    exact = shared / (2 * (length - 2) - shared)
    tolerance = 4 * (exact * (1 - exact) / NUM_PERM) ** 0.5 + 1e-9
    assert abs(sim(" ".join(a), " ".join(b)) - exact) <= tolerance


def test_a_band_key_depends_on_its_values_and_on_its_number():
    values = np.arange(NUM_PERM, dtype=np.uint32)
    values[0:ROWS] = values[ROWS:2 * ROWS]  # the first two bands hold the same values
    keys = band_keys(values, BANDS)
    assert keys[0] != keys[1]
    changed = values.copy()
    changed[-1] += 1
    assert (band_keys(changed, BANDS) == keys).tolist() == [True] * (BANDS - 1) + [False]
