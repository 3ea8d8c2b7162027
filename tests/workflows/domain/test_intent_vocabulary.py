"""The seed's command vocabulary: every keyword alone names its intent, as a whole word;
Thai keywords of several words match across the tokenizer's boundaries; where keywords
overlap, the longer one wins."""

from __future__ import annotations

import pytest

from workflows.domain.intents import _matches, parse_intent, tokenize

VOCABULARY = {
    "status": [
        "งานถึงไหน", "เหลืออะไร", "ต้องทำอะไรต่อ", "มีปัญหาไหม", "เมื่อไหร่เสร็จ", "สถานะ",
        "ความคืบหน้า", "progress", "status", "what's left", "remaining", "next step", "eta",
    ],
    "run": ["ทำต่อ", "เริ่ม", "พัฒนา", "ดำเนินการ", "run", "start", "continue", "next"],
    "fix": ["แก้", "ผิดพลาด", "ไม่ทำงาน", "bug", "error", "fix", "broken", "issue"],
    "verify": ["ตรวจสอบ", "ถูกต้อง", "ผิด", "validate", "check", "verify", "correct"],
    "modify": [
        "เปลี่ยน", "เพิ่ม", "ลบ", "แก้ไข", "ปรับปรุง", "change", "add", "remove", "modify",
        "update", "refactor",
    ],
}  # fmt: skip
CASES = [(keyword, intent) for intent, keywords in VOCABULARY.items() for keyword in keywords]


@pytest.mark.parametrize(("keyword", "intent"), CASES)
def test_each_keyword_alone_names_its_intent(keyword: str, intent: str) -> None:
    result = parse_intent(keyword)
    assert (result.intent, result.matched) == (intent, (keyword,))


@pytest.mark.parametrize(("keyword", "intent"), CASES)
def test_each_keyword_in_a_sentence_with_a_spec(keyword: str, intent: str) -> None:
    thai = not keyword.isascii()
    text = f"ขอ {keyword} core-001 หน่อย" if thai else f"please {keyword} core-001 now"
    result = parse_intent(text)
    assert result.intent == intent, (text, result.matched)
    assert keyword in result.matched and result.spec_id == "spec-core-001"


@pytest.mark.parametrize(
    ("keyword", "inside"),
    [
        ("run", "runner"),
        ("start", "restart"),
        ("add", "address"),
        ("eta", "metadata"),
        ("next", "nextjs"),
        ("check", "checkout"),
        ("error", "errorless"),
        ("fix", "prefix"),
        ("issue", "issued"),
        ("correct", "incorrectly"),
        ("remove", "removed"),
        ("change", "changelog"),
        ("update", "updater"),
        ("progress", "progressive"),
    ],
)
def test_english_keywords_are_words_not_substrings(keyword: str, inside: str) -> None:
    assert keyword not in parse_intent(f"the {inside} thing").matched


def test_a_thai_keyword_matches_across_the_tokenizer_boundaries() -> None:
    # However newmm splits a phrase, the tokens that spell the keyword are one match.
    assert _matches(["ทำ", "ต่อ"]) == [("ทำต่อ", ("run", 1))]
    assert _matches(["ไม่", "ทำงาน"]) == [("ไม่ทำงาน", ("fix", 1))]
    assert [k for k, _ in _matches(["ต้อง", "ทำ", "อะไร", "ต่อ"])] == ["ต้องทำอะไรต่อ"]
    assert tokenize("งานถึงไหน") == ["งาน", "ถึง", "ไหน"]
    assert parse_intent("งานถึงไหน").matched == ("งานถึงไหน",)
    # ...but never from inside a word: ทำต่อ is not in ทำต่อม (a made-up longer token).
    assert _matches(["ทำต่อม"]) == []


@pytest.mark.parametrize(
    ("text", "intent", "matched"),
    [
        ("next step", "status", ("next step",)),
        ("next", "run", ("next",)),
        ("แก้ไข", "modify", ("แก้ไข",)),
        ("แก้", "fix", ("แก้",)),
        ("ไม่ทำงาน", "fix", ("ไม่ทำงาน",)),  # not run's ทำงาน
        ("ผิดพลาด", "fix", ("ผิดพลาด",)),  # not verify's ผิด
        ("what's left", "status", ("what's left",)),  # not "left" on its own
        ("งานถึงไหน", "status", ("งานถึงไหน",)),  # not ถึงไหน on its own
    ],
)
def test_where_keywords_overlap_the_longer_wins(text: str, intent: str, matched: tuple[str, ...]) -> None:
    result = parse_intent(text)
    assert (result.intent, result.matched) == (intent, matched)
