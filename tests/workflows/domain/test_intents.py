from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from workflows.domain.intents import INTENTS, extract_spec_id, parse_intent, tokenize

REPO = Path(__file__).resolve().parents[3]
KNOWN = ["spec-core-001-authentication", "spec-feature-002-orders", "spec-core-010-billing"]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # status
        ("What's the status of spec-core-001?", "status"),
        ("show me the progress on core-001", "status"),
        ("how far along is the orders spec", "status"),
        ("give me an overview", "status"),
        ("STATUS", "status"),
        ("สถานะของ spec-core-001 เป็นอย่างไร", "status"),
        ("core-001 ไปถึงไหนแล้ว", "status"),
        ("ขอดูความคืบหน้าหน่อย", "status"),
        ("สรุปภาพรวมให้หน่อย", "status"),
        # run
        ("run core-001", "run"),
        ("please start the autopilot on spec-feature-002-orders", "run"),
        ("kick off spec-core-001", "run"),
        ("execute it", "run"),
        ("launch core-010 now!", "run"),
        ("รัน core-001 ให้หน่อย", "run"),
        ("ช่วยรันcore-001ให้หน่อย", "run"),
        ("เริ่มทำ spec-core-001 เลย", "run"),
        ("ลุยเลย", "run"),
        # fix
        ("fix spec-core-001", "fix"),
        ("the build is broken, please repair it", "fix"),
        ("tests are failing in core-001", "fix"),
        ("there's a bug in orders", "fix"),
        ("แก้ core-001 หน่อย", "fix"),
        ("ระบบผิดพลาด ช่วยดูที", "fix"),
        ("เทสต์ไม่ผ่าน", "fix"),
        ("โค้ดพัง", "fix"),
        ("แก้บั๊กใน spec-core-001", "fix"),
        # verify
        ("verify core-001", "verify"),
        ("validate the evidence for spec-core-001", "verify"),
        ("check core-001", "verify"),
        ("sync the checkboxes", "verify"),
        ("ตรวจสอบ spec-core-001", "verify"),
        ("ยืนยันหลักฐานของ core-001", "verify"),
        ("เช็คงาน core-001 หน่อย", "verify"),
        # modify
        ("add a password reset requirement to core-001", "modify"),
        ("change the plan of spec-feature-002-orders", "modify"),
        ("update the spec", "modify"),
        ("rename the tasks", "modify"),
        ("เพิ่มข้อกำหนดใน core-001", "modify"),
        ("เปลี่ยนแผนของ spec-core-001", "modify"),
        ("แก้ไขสเปค core-001 เพิ่มข้อกำหนดเรื่องรหัสผ่าน", "modify"),
        ("ปรับปรุงแผน", "modify"),
        # mixed Thai and English
        ("ช่วย verify spec-core-001 หน่อย", "verify"),
        ("run autopilot บน core-001 เลย", "run"),
        ("status ของ core-001 ล่ะ", "status"),
        # nothing recognisable
        ("hello there", "unknown"),
        ("", "unknown"),
        ("สวัสดีครับ", "unknown"),
        ("spec-core-001", "unknown"),
    ],
)
def test_it_recognises_many_phrasings(text: str, intent: str) -> None:
    assert parse_intent(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "the tests are running slowly",  # running is not run
        "runner",
        "what is the address",  # address is not add
        "addition",
        "restart-less",  # "restart" is not "start"
        "unfixable",
        "checkout",  # checkout is not check
        "statuses",  # a different word
        "ผิดหวังมาก",  # disappointed: ผิด does not fire inside ผิดหวัง
        "เพิ่งกินข้าว",  # เพิ่ง (just now) is not เพิ่ม (add)
    ],
)
def test_words_never_match_inside_other_words(text: str) -> None:
    result = parse_intent(text)
    assert result.intent == "unknown", (text, result.matched)


def test_a_thai_keyword_inside_a_longer_word_is_not_a_second_keyword() -> None:
    result = parse_intent("ระบบผิดพลาด")
    assert result.intent == "fix" and result.matched == ("ผิดพลาด",)
    both = parse_intent("ทำผิด แล้วก็ผิดพลาดอีก")
    assert both.matched == ("ทำผิด", "ผิดพลาด")


def test_english_substrings_do_not_add_to_the_score() -> None:
    result = parse_intent("update the address field")
    assert result.intent == "modify" and result.matched == ("update",)
    assert parse_intent("while running, check the status").matched == ("check", "status")


def test_tokenize_segments_thai_and_keeps_english_words() -> None:
    assert tokenize("รันspec core ผิดพลาด Running!") == ["รัน", "spec", "core", "ผิดพลาด", "running"]


@pytest.mark.parametrize(
    ("text", "spec_id"),
    [
        ("status of spec-core-001-authentication please", "spec-core-001-authentication"),
        ("run Spec-Core-001", "spec-core-001"),
        ("run core-001", "spec-core-001"),
        ("run core-001.", "spec-core-001"),
        ("รันcore-001ให้หน่อย", "spec-core-001"),
        ("verify feature-002-orders", "spec-feature-002-orders"),
        ("fix spec-core-001-, now", "spec-core-001"),
        ("run utf-8 tests", None),
        ("run it", None),
        ("fix TSK-AUTH-001", None),
    ],
)
def test_it_extracts_spec_ids(text: str, spec_id: str | None) -> None:
    assert parse_intent(text).spec_id == spec_id


def test_known_spec_ids_expand_an_abbreviation_when_unambiguous() -> None:
    assert parse_intent("run core-001", known_spec_ids=KNOWN).spec_id == KNOWN[0]
    assert parse_intent("run spec-feature-002", known_spec_ids=KNOWN).spec_id == KNOWN[1]
    assert parse_intent("run core-999", known_spec_ids=KNOWN).spec_id == "spec-core-999"
    ambiguous = ["spec-core-001-a", "spec-core-001-b"]
    assert parse_intent("run core-001", known_spec_ids=ambiguous).spec_id == "spec-core-001"


def test_the_spec_id_is_blanked_before_keywords_are_matched() -> None:
    assert extract_spec_id("run spec-fix-001-status") == ("spec-fix-001-status", "run  ")
    assert parse_intent("run spec-fix-001-status").matched == ("run",)


def test_actions() -> None:
    run = parse_intent("run core-001", known_spec_ids=KNOWN).action
    assert (run.kind, run.workflow, run.spec_id, run.needs_spec) == (
        "start_workflow", "autopilot", KNOWN[0], False,
    )  # fmt: skip
    assert run.description == f"Start workflow autopilot on {KNOWN[0]}"
    assert parse_intent("verify core-001").action.workflow == "verify-and-sync"
    assert parse_intent("fix core-001").action.workflow == "development-loop"
    status = parse_intent("status").action
    assert (status.kind, status.needs_spec, status.description) == (
        "show_status", False, "Show every spec's status",
    )  # fmt: skip
    modify = parse_intent("edit spec-core-001").action
    assert modify.kind == "propose_edit" and "spec.md of spec-core-001" in modify.description
    assert parse_intent("run it").action.needs_spec
    assert parse_intent("blah").action.kind == "none"


def test_confidence_is_between_0_and_1_and_drops_when_ambiguous() -> None:
    clear = parse_intent("fix the failing tests in core-001")
    tied = parse_intent("run the fix")
    assert 0 <= tied.confidence < clear.confidence <= 1
    assert parse_intent("hello").confidence == 0.0
    assert parse_intent("run core-001").confidence > parse_intent("run").confidence


def test_ties_go_to_the_more_specific_intent() -> None:
    assert parse_intent("run the fix").intent == "fix"
    assert parse_intent("check status").intent == "status"  # check weighs less than status


def test_as_dict() -> None:
    data = parse_intent("verify core-001").as_dict()
    assert data["intent"] in INTENTS and data["spec_id"] == "spec-core-001"
    assert data["matched"] == ["verify"] and data["action"]["workflow"] == "verify-and-sync"  # type: ignore[index]


def test_thai_segmentation_needs_no_network_and_emits_no_warnings(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import socket, warnings
        warnings.simplefilter("error")
        def refuse(*args, **kwargs):
            raise RuntimeError("network used")
        socket.socket = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from workflows.domain.intents import parse_intent
        result = parse_intent("ช่วยตรวจสอบ core-001 ที่ผิดพลาด")
        assert result.matched == ("ตรวจสอบ", "ผิดพลาด"), result.matched
        print("ok")
        """
    )
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o500)  # PyThaiNLP must not need to write its data folder
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHAINLP")}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env={**env, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "ok", "")
    assert list(home.iterdir()) == []
