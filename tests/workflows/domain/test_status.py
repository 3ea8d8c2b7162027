from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from workflows.domain.reports import (
    QUALITY_GATE_WORKFLOW,
    TEST_WORKFLOW,
    write_report,
    write_verification_report,
)
from workflows.domain.status import ImplementationStatus, SpecStatus, StatusCache, spec_status
from workflows.domain.verification import verify_spec
from workflows.domain.workspace import UnknownSpec, Workspace

from .conftest import BASIC_SPEC, T0, age_everything, set_mtime


def test_the_sample_spec_status(basic_ws: Workspace) -> None:
    status = spec_status(basic_ws, BASIC_SPEC)
    assert (status.has_spec, status.has_plan, status.has_tasks) == (True, True, True)
    assert (status.tasks_total, status.tasks_checked, status.tasks_verified) == (9, 4, 3)
    assert status.completion_rate == pytest.approx(4 / 9)
    assert status.verified_ratio == pytest.approx(3 / 9)
    assert status.implementation_status is ImplementationStatus.IN_PROGRESS
    assert status.checked_not_verified == ("T006", "T007")
    assert status.verified_not_checked == ("TSK-AUTH-004",)
    assert status.has_drift and status.invalid_hooks == 2
    assert status.tests_present  # through the test hook's file, tests/test_passwords.py
    assert status.tests_passed is None and status.quality_gate_passed is None
    assert not status.docs_present and not status.verified_since_last_change
    assert status.category == "core" and status.path == "specs/core/spec-core-001-authentication"


def test_a_spec_with_only_spec_md(basic_ws: Workspace) -> None:
    status = spec_status(basic_ws, "spec-feature-002-orders")
    assert (status.has_spec, status.has_plan, status.has_tasks) == (True, False, False)
    assert status.tasks_total == 0 and status.completion_rate == 0.0
    assert status.implementation_status is ImplementationStatus.NOT_STARTED
    assert not status.tests_present


def _status(**changes: object) -> SpecStatus:
    base: dict[str, object] = dict(
        spec_id="spec-x-001", category=None, path="specs/spec-x-001", has_spec=True,
        has_plan=True, has_tasks=True, docs_present=True, tasks_total=4, tasks_checked=4,
        tasks_verified=4, checked_not_verified=(), verified_not_checked=(), invalid_hooks=0,
        tests_present=True, tests_passed=True, quality_gate_passed=True,
        verified_since_last_change=True, last_verify_run="r1",
    )  # fmt: skip
    return SpecStatus(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("verified", "total", "expected"),
    [
        (0, 0, ImplementationStatus.NOT_STARTED),
        (0, 3, ImplementationStatus.NOT_STARTED),
        (1, 3, ImplementationStatus.IN_PROGRESS),
        (3, 3, ImplementationStatus.COMPLETED),
    ],
)
def test_implementation_status_follows_verified_tasks(
    verified: int, total: int, expected: ImplementationStatus
) -> None:
    status = _status(tasks_verified=verified, tasks_total=total, tasks_checked=total)
    assert status.implementation_status is expected


def test_status_as_dict_is_complete() -> None:
    data = _status(tasks_checked=2, tasks_verified=1).as_dict()
    assert data["tasks"] == {"total": 4, "checked": 2, "verified": 1}
    assert data["completion_rate"] == 0.5 and data["verified_ratio"] == 0.25
    assert data["implementation_status"] == "IN_PROGRESS"
    assert set(data) >= {"drift", "tests_present", "tests_passed", "quality_gate_passed",
                         "docs_present", "verified_since_last_change"}  # fmt: skip


def test_tests_present_through_the_spec_tests_folder(basic_root: Path) -> None:
    (basic_root / "specs/spec-feature-002-orders/tests").mkdir()
    assert spec_status(Workspace(basic_root), "spec-feature-002-orders").tests_present


def test_tests_passed_and_quality_gate_come_from_the_latest_reports(basic_ws: Workspace) -> None:
    write_report(basic_ws, TEST_WORKFLOW, "t1", {"spec_id": BASIC_SPEC, "passed": True}, "")
    write_report(basic_ws, QUALITY_GATE_WORKFLOW, "g1", {"spec_id": BASIC_SPEC, "passed": False}, "")
    status = spec_status(basic_ws, BASIC_SPEC)
    assert status.tests_passed is True and status.quality_gate_passed is False


def test_docs_present_means_a_readme_in_the_spec_folder(basic_root: Path) -> None:
    (basic_root / "specs/core/spec-core-001-authentication/README.md").write_text("# Auth\n")
    assert spec_status(Workspace(basic_root), BASIC_SPEC).docs_present


def test_verified_since_last_change(basic_root: Path) -> None:
    ws = Workspace(basic_root)
    age_everything(basic_root, T0)
    ref = write_verification_report(ws, verify_spec(ws, BASIC_SPEC, run_id="v1"))
    set_mtime(basic_root / ref.summary_rel, T0 + 10)
    fresh = spec_status(ws, BASIC_SPEC)
    assert fresh.verified_since_last_change and fresh.last_verify_run == "v1"
    # A file a hook names changed after the report: stale.
    set_mtime(basic_root / "src/auth/views.py", T0 + 20)
    assert not spec_status(ws, BASIC_SPEC).verified_since_last_change
    # The same tick counts as fresh (coarse file system clocks).
    set_mtime(basic_root / "src/auth/views.py", T0 + 10)
    assert spec_status(ws, BASIC_SPEC).verified_since_last_change
    # A spec file changed after the report: stale.
    set_mtime(basic_root / "specs/core/spec-core-001-authentication/spec.md", T0 + 11)
    assert not spec_status(ws, BASIC_SPEC).verified_since_last_change


def test_a_verify_report_for_another_spec_does_not_count(basic_ws: Workspace) -> None:
    write_verification_report(basic_ws, verify_spec(basic_ws, "spec-feature-002-orders"))
    assert spec_status(basic_ws, BASIC_SPEC).last_verify_run is None


# --- the cache -------------------------------------------------------------------------------


def test_the_cache_counts_hits_and_misses(basic_ws: Workspace) -> None:
    cache = StatusCache(basic_ws)
    first = cache.all()
    assert (cache.hits, cache.misses) == (0, 2)
    again = cache.all()
    assert (cache.hits, cache.misses) == (2, 2)
    assert again == first and again[0] is first[0]
    assert cache.status(BASIC_SPEC) is first[0]
    assert cache.stats() == {"hits": 3, "misses": 2, "entries": 2}


def test_the_cache_sees_a_change_to_a_hooked_file(basic_root: Path) -> None:
    cache = StatusCache(Workspace(basic_root))
    assert cache.status(BASIC_SPEC).tasks_verified == 3
    views = basic_root / "src/auth/views.py"
    views.write_text(views.read_text() + "# ratelimit\n")
    assert cache.status(BASIC_SPEC).tasks_verified == 4
    assert cache.misses == 2


def test_the_cache_sees_a_change_to_tasks_md(basic_root: Path) -> None:
    cache = StatusCache(Workspace(basic_root))
    cache.all()
    tasks = basic_root / "specs/core/spec-core-001-authentication/tasks.md"
    tasks.write_text(tasks.read_text().replace("- [ ] TSK-AUTH-004", "- [x] TSK-AUTH-004"))
    # Same size, so make sure the clock moved (file systems stamp with a coarse clock).
    set_mtime(tasks, tasks.stat().st_mtime + 1)
    statuses = {s.spec_id: s for s in cache.all()}
    assert statuses[BASIC_SPEC].verified_not_checked == ()
    assert (cache.hits, cache.misses) == (1, 3)  # the other spec was a hit


def test_the_cache_sees_a_new_file_and_a_new_report(basic_root: Path) -> None:
    ws = Workspace(basic_root)
    cache = StatusCache(ws)
    assert not cache.status("spec-feature-002-orders").has_plan
    (basic_root / "specs/spec-feature-002-orders/plan.md").write_text("# Plan\n")
    assert cache.status("spec-feature-002-orders").has_plan
    write_report(ws, TEST_WORKFLOW, "t1", {"passed": True}, "")
    assert cache.status("spec-feature-002-orders").tests_passed is True
    assert cache.misses == 3


def test_the_cache_sees_a_symlink_re_pointed(basic_root: Path) -> None:
    (basic_root / "src/real_a.py").write_text("def hash_password(): pass\n")
    (basic_root / "src/real_b.py").write_text("def something_else(): pass\n")
    link = basic_root / "src/auth/passwords.py"
    link.unlink()
    link.symlink_to(basic_root / "src/real_a.py")
    cache = StatusCache(Workspace(basic_root))
    assert cache.status(BASIC_SPEC).tasks_verified == 3
    link.unlink()
    link.symlink_to(basic_root / "src/real_b.py")
    # Only the test hook still verifies TSK-AUTH-001; the count stays 3 but it was recomputed.
    assert cache.status(BASIC_SPEC).tasks_verified == 3 and cache.misses == 2


def test_the_cache_forgets_removed_specs(basic_root: Path) -> None:
    cache = StatusCache(Workspace(basic_root))
    cache.all()
    shutil.rmtree(basic_root / "specs/spec-feature-002-orders")
    assert [s.spec_id for s in cache.all()] == [BASIC_SPEC]
    assert cache.stats()["entries"] == 1
    with pytest.raises(UnknownSpec):
        cache.status("spec-feature-002-orders")


def test_the_cache_can_be_cleared(basic_ws: Workspace) -> None:
    cache = StatusCache(basic_ws)
    cache.all()
    cache.clear()
    cache.all()
    assert cache.misses == 4


def test_the_cache_detail_includes_the_live_verification(basic_ws: Workspace) -> None:
    detail = StatusCache(basic_ws).detail(BASIC_SPEC)
    assert detail.verification.statuses()["T006"] == "needs_manual"
    assert detail.status.tasks_verified == detail.verification.verified


def test_the_cache_is_safe_to_share_between_threads(basic_ws: Workspace) -> None:
    cache = StatusCache(basic_ws)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert len(cache.all()) == 2
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and cache.hits + cache.misses == 160 and cache.misses == 2


def _many_specs(root: Path, count: int) -> None:
    (root / "src").mkdir(parents=True)
    for i in range(count):
        (root / f"src/mod_{i}.py").write_text(f"def func_{i}():\n    return {i}\n")
        spec = root / "specs" / f"spec-bulk-{i:04d}"
        spec.mkdir(parents=True)
        (spec / "spec.md").write_text("# Spec\n")
        (spec / "plan.md").write_text("# Plan\n")
        (spec / "tasks.md").write_text(
            f"- [x] T1 Done\n  evidence: code path=src/mod_{i}.py symbol=func_{i}\n"
            f"- [ ] T2 Left\n  evidence: code path=src/mod_{i}.py contains=later_{i}\n"
        )


def test_a_warm_status_of_500_specs_comes_from_the_cache(tmp_path: Path) -> None:
    _many_specs(tmp_path, 500)
    cache = StatusCache(Workspace(tmp_path))
    assert len(cache.all()) == 500
    statuses = cache.all()
    assert cache.hits == 500 and all(s.tasks_verified == 1 for s in statuses)
