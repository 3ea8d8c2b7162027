"""Free text (English, Thai, or both) -> what the user wants the Autopilot to do.

Keywords match whole words, never substrings: English is split on non-letters ("running"
is not "run", "address" is not "add"), and Thai, written without spaces, is segmented with
PyThaiNLP's dictionary tokenizer (newmm, bundled dictionary, no network), so "ผิด" does not
fire inside "ผิดพลาด" or "ผิดหวัง". Each intent scores the weights of its keywords found;
the best score wins, and the confidence falls when another intent comes close.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

INTENTS = ("status", "run", "fix", "verify", "modify", "unknown")
ACTION_KINDS = ("show_status", "start_workflow", "propose_edit", "none")  # what an intent leads to
# When two intents score the same, the more specific request wins.
TIE_ORDER = ("fix", "verify", "modify", "run", "status")
WORKFLOWS = {"run": "autopilot", "verify": "verify-and-sync", "fix": "development-loop"}

_Weights = dict[str, float]
# Keyword -> weight. An English keyword of several words is a phrase of consecutive
# tokens; a Thai keyword is matched on consecutive tokens whose letters, joined, are the
# keyword ("ทำต่อ" is the tokens "ทำ" + "ต่อ"), so it may span the tokenizer's word
# boundaries but never starts or ends inside a word. Where matches overlap, the longest
# wins ("next step" is status, not "next"; "แก้ไข" is modify, not "แก้").
KEYWORDS: dict[str, _Weights] = {
    "status": {
        "status": 1, "progress": 1, "overview": 1, "summary": 1, "state": 0.8,
        "how far": 1, "what's left": 1, "where are we": 1, "show": 0.5, "left": 0.4,
        "remaining": 1, "next step": 1, "eta": 1,
        "สถานะ": 1, "ความคืบหน้า": 1, "คืบหน้า": 1, "ภาพรวม": 1, "สรุป": 0.8,
        "งานถึงไหน": 1, "ถึงไหน": 1, "เหลืออะไร": 1, "ต้องทำอะไรต่อ": 1, "มีปัญหาไหม": 1,
        "เมื่อไหร่เสร็จ": 1, "เป็นยังไง": 0.8, "เป็นอย่างไร": 0.8, "เหลือ": 0.5, "ดู": 0.5,
    },
    "run": {
        "run": 1, "rerun": 1, "start": 1, "execute": 1, "launch": 1, "autopilot": 1,
        "begin": 1, "trigger": 1, "kick off": 1, "implement": 0.8, "go": 0.6,
        "build": 0.6, "continue": 0.6, "proceed": 0.6, "next": 0.6,
        "รัน": 1, "เริ่ม": 1, "เริ่มต้น": 1, "ดำเนินการ": 1, "ทำต่อ": 1, "พัฒนา": 1, "ลุย": 0.8,
        "เดินหน้า": 0.8, "ทำงาน": 0.6, "สั่งงาน": 0.5,
    },
    "fix": {
        "fix": 1, "fixes": 1, "fixing": 1, "repair": 1, "broken": 1, "failing": 1,
        "failed": 1, "fails": 1, "error": 1, "errors": 1, "bug": 1, "bugs": 1,
        "debug": 1, "crash": 1, "crashes": 1, "wrong": 0.8, "resolve": 0.8, "issue": 0.5,
        "แก้": 1, "ซ่อม": 1, "ผิดพลาด": 1, "ข้อผิดพลาด": 1, "ไม่ทำงาน": 1,
        "ความผิดพลาด": 1, "ทำผิด": 1, "พัง": 1, "บั๊ก": 1, "บัก": 1, "ล้มเหลว": 1,
        "ไม่ผ่าน": 1,
    },
    "verify": {
        "verify": 1, "verifying": 1, "verification": 1, "validate": 1, "validation": 1,
        "confirm": 1, "audit": 1, "evidence": 1, "sync": 1, "reconcile": 1, "prove": 1,
        "check": 0.6, "checks": 0.6, "checking": 0.6, "correct": 1,
        "ตรวจสอบ": 1, "ตรวจ": 1, "ตรวจงาน": 1, "ยืนยัน": 1, "พิสูจน์": 1, "หลักฐาน": 1,
        "ซิงค์": 1, "เช็ค": 0.6, "เช็ก": 0.6, "ถูกต้อง": 1, "ผิด": 1,
    },
    "modify": {
        "modify": 1, "change": 1, "edit": 1, "update": 1, "add": 1, "remove": 1,
        "rename": 1, "rewrite": 1, "amend": 1, "adjust": 1, "delete": 1, "revise": 1,
        "replace": 1, "refactor": 1, "extend": 0.8,
        "เปลี่ยน": 1, "เปลี่ยนแปลง": 1, "เพิ่ม": 1, "เพิ่มเติม": 1, "ลบ": 1, "ปรับ": 1,
        "ปรับปรุง": 1, "อัปเดต": 1, "อัพเดท": 1, "อัพเดต": 1, "เขียนใหม่": 1, "แก้ไข": 1,
    },
}  # fmt: skip

_THAI = "\u0e00-\u0e7f"
_TOKEN_RE = re.compile(rf"(?P<thai>[{_THAI}]+)|(?P<word>[a-z0-9]+(?:['’][a-z]+)?)")
# Spec ids are ASCII; the boundaries are ASCII too so Thai letters may touch them.
_FULL_ID_RE = re.compile(r"(?<![a-z0-9_-])spec-[a-z0-9][a-z0-9_-]*[a-z0-9]")
_SHORT_ID_RE = re.compile(r"(?<![a-z0-9_-])[a-z][a-z0-9]*-\d{3,}(?:-[a-z0-9][a-z0-9_]*)*(?![a-z0-9_-])")


@dataclass(frozen=True)
class IntentAction:
    kind: str  # one of ACTION_KINDS
    workflow: str | None
    spec_id: str | None
    description: str
    needs_spec: bool = False  # the action cannot happen until a spec id is given

    def as_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "workflow": self.workflow,
            "spec_id": self.spec_id,
            "description": self.description,
            "needs_spec": self.needs_spec,
        }


@dataclass(frozen=True)
class Intent:
    intent: str
    spec_id: str | None
    confidence: float  # 0..1
    action: IntentAction
    matched: tuple[str, ...] = ()  # the keywords that fired, in text order
    scores: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "spec_id": self.spec_id,
            "confidence": self.confidence,
            "action": self.action.as_dict(),
            "matched": list(self.matched),
        }


def parse_intent(text: str, *, known_spec_ids: Collection[str] | None = None) -> Intent:
    """`known_spec_ids` lets `core-001` expand to the one spec it abbreviates."""
    lowered = text.casefold()
    spec_id, rest = extract_spec_id(lowered, known_spec_ids)
    tokens = tokenize(rest)
    matched = _matches(tokens)
    scores = _scores(matched)
    if not scores:
        return Intent("unknown", spec_id, 0.0, _action("unknown", spec_id))
    intent = max(TIE_ORDER, key=lambda name: (scores.get(name, 0.0), -TIE_ORDER.index(name)))
    confidence = _confidence(scores, intent, spec_id is not None)
    keywords = tuple(dict.fromkeys(k for k, _ in matched))
    return Intent(intent, spec_id, confidence, _action(intent, spec_id), keywords, scores)


def tokenize(text: str) -> list[str]:
    """Lowercase words; Thai runs are segmented into dictionary words."""
    tokens: list[str] = []
    for match in _TOKEN_RE.finditer(text.casefold()):
        if match.group("thai"):
            tokens.extend(_thai_words(match.group("thai")))
        else:
            tokens.append(match.group("word").replace("’", "'"))
    return tokens


@lru_cache(maxsize=2048)
def _thai_words(run: str) -> tuple[str, ...]:
    # Only the dictionary bundled with the package is used, so PyThaiNLP never needs to
    # write or download; without read-only mode its import creates ~/pythainlp-data and
    # fails where HOME is not writable (a non-root container user, for one).
    if "PYTHAINLP_READ_MODE" not in os.environ:  # the deprecated name; both set is an error
        os.environ.setdefault("PYTHAINLP_READ_ONLY", "1")
    # Imported here: loading PyThaiNLP and its dictionary costs ~0.5 s, paid on first use.
    from pythainlp.tokenize import word_tokenize

    return tuple(w for w in word_tokenize(run, engine="newmm", keep_whitespace=False) if w.strip())


def extract_spec_id(lowered: str, known: Collection[str] | None = None) -> tuple[str | None, str]:
    """The first spec id mentioned, and the text with the id blanked out."""
    match = _FULL_ID_RE.search(lowered) or _SHORT_ID_RE.search(lowered)
    if match is None:
        return None, lowered
    found = match.group()
    candidate = found if found.startswith("spec-") else f"spec-{found}"
    rest = lowered[: match.start()] + " " + lowered[match.end() :]
    return _expand(candidate, known), rest


def _expand(candidate: str, known: Collection[str] | None) -> str:
    if not known or candidate in known:
        return candidate
    longer = [k for k in known if k.startswith(candidate + "-")]
    return longer[0] if len(longer) == 1 else candidate


_THAI_CHAR = re.compile(f"[{_THAI}]")


def _phrases() -> Iterable[tuple[str, tuple[str, ...], str, float]]:
    for intent, words in KEYWORDS.items():
        for keyword, weight in words.items():
            if _THAI_CHAR.search(keyword):
                yield keyword, (keyword.replace(" ", ""),), intent, weight
            else:
                yield keyword, tuple(keyword.split()), intent, weight


_PHRASES = tuple(_phrases())


def _matches(tokens: list[str]) -> list[tuple[str, tuple[str, float]]]:
    """(keyword, (intent, weight)) for each keyword found, in the order of the text.

    Every occurrence of every keyword is found as a span of tokens; then the longest
    spans are taken first and a span overlapping one already taken is dropped, so a
    keyword inside a longer one never counts. Each keyword counts once."""
    spans: list[tuple[int, int, str, tuple[str, float]]] = []
    for keyword, parts, intent, weight in _PHRASES:
        for start, end in _find_all(tokens, parts):
            spans.append((start, end, keyword, (intent, weight)))
    spans.sort(key=lambda s: (-(s[1] - s[0]), -len(s[2]), s[0]))
    taken: list[tuple[int, int, str, tuple[str, float]]] = []
    used: set[int] = set()
    for span in spans:
        covered = set(range(span[0], span[1]))
        if covered & used:
            continue
        used |= covered
        taken.append(span)
    taken.sort(key=lambda s: s[0])
    found: dict[str, tuple[str, float]] = {}
    for _, _, keyword, hit in taken:
        found.setdefault(keyword, hit)
    return list(found.items())


def _find_all(tokens: list[str], parts: tuple[str, ...]) -> Iterable[tuple[int, int]]:
    """(start, end) token spans where the keyword is: English words one token each; a
    Thai keyword (one part) as the letters of consecutive tokens joined."""
    if len(parts) == 1 and _THAI_CHAR.search(parts[0]):
        target = parts[0]
        for i, token in enumerate(tokens):
            if not target.startswith(token):
                continue
            joined = ""
            for j in range(i, len(tokens)):
                joined += tokens[j]
                if joined == target:
                    yield i, j + 1
                    break
                if not target.startswith(joined):
                    break
        return
    size = len(parts)
    for i in range(len(tokens) - size + 1):
        if tuple(tokens[i : i + size]) == parts:
            yield i, i + size


def _scores(matched: list[tuple[str, tuple[str, float]]]) -> dict[str, float]:
    scores: dict[str, float] = {}
    for _, (intent, weight) in matched:
        scores[intent] = scores.get(intent, 0.0) + weight
    return scores


def _confidence(scores: dict[str, float], intent: str, has_spec: bool) -> float:
    top = scores[intent]
    second = max((v for k, v in scores.items() if k != intent), default=0.0)
    base = min(0.95, 0.55 + 0.2 * top)
    margin = (top - second) / top if top > 0 else 0.0
    value = base * (0.6 + 0.4 * margin) + (0.05 if has_spec else 0.0)
    return round(min(1.0, max(0.0, value)), 2)


def _action(intent: str, spec_id: str | None) -> IntentAction:
    target = spec_id or "which spec?"
    if intent == "status":
        what = f"Show the status and next step of {spec_id}" if spec_id else "Show every spec's status"
        return IntentAction("show_status", None, spec_id, what)
    if intent in WORKFLOWS:
        workflow = WORKFLOWS[intent]
        what = f"Start workflow {workflow} on {target}"
        return IntentAction("start_workflow", workflow, spec_id, what, needs_spec=spec_id is None)
    if intent == "modify":
        what = f"Propose an edit to the spec.md of {target} for review"
        return IntentAction("propose_edit", None, spec_id, what, needs_spec=spec_id is None)
    return IntentAction("none", None, spec_id, "Nothing to do: the request was not understood")
