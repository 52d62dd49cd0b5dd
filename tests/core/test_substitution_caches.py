"""Substitution caches live on objects the caller owns (issue 10), and the stats sink counts.

No module of the substitution core keeps a process-wide cache: a :class:`Compiler` remembers
documents and placeholders, a :class:`JobDocument` its plan and last render, a
:class:`Presigner` the URLs of the current second.
"""

from __future__ import annotations

import itertools
import json
from types import ModuleType

import pytest

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog, S3Location, VersionAction
from simulator.core.substitution import (
    Compiler,
    Execution,
    JobDocument,
    PlaceholderMemo,
    PresignConfig,
    Presigner,
    SubstitutionSnapshot,
    SubstitutionStats,
    compile_document,
    fetch,
    prepare_job_document,
    render_for_device,
    resolve,
    s3url,
    template,
)

SCOPE = Scope(region="us-west-2", account="123456789012")
ARN = SCOPE.arn("package/samplePackage/version/2.1.5")
ROLE = PresignConfig("arn:aws:iam::123456789012:role/JobsPresign", 600)
PKG = "${aws:iot:package:samplePackage:version:2.1.5"
DOWNLOAD = json.dumps(
    {"url": PKG + ":artifact:s3-presigned-url}", "sig": PKG + ":attributes:signature}"}
).encode()
UPLOAD = json.dumps(
    {
        "url": PKG + ":artifact:s3-presigned-url}",
        "log": "${aws:iot:s3-presigned-url-upload:https://logs.s3.us-west-2.amazonaws.com/"
        "${thingName}.log}",
    }
).encode()
PLAIN = json.dumps({"a": PKG + ":attributes:signature}", "all": PKG + ":attributes}"}).encode()
NOW = 1_767_225_600.0


def _catalog() -> Catalog:
    catalog = Catalog(SCOPE)
    catalog.create_package("samplePackage", now=0.0)
    artifact = S3Location("artifacts", "samplePackage/2.1.5/code.zip")
    catalog.create_version(
        "samplePackage", "2.1.5", now=0.0, attributes={"signature": "abc"}, artifact=artifact
    )
    catalog.update_version("samplePackage", "2.1.5", now=0.0, action=VersionAction.PUBLISH)
    return catalog


def _prepare(
    document: bytes, compiler: Compiler | None = None, stats: SubstitutionStats | None = None
) -> JobDocument:
    return prepare_job_document(
        document, [ARN], _catalog(), scope=SCOPE, presign=ROLE, compiler=compiler, stats=stats
    )


@pytest.mark.parametrize("module", [fetch, resolve, s3url, template])
def test_no_module_level_caches(module: ModuleType) -> None:
    for name, value in vars(module).items():
        if name.startswith("__") or isinstance(value, type | ModuleType):
            continue
        assert not isinstance(value, dict | list | set), f"{module.__name__}.{name}"
        assert not hasattr(value, "cache_clear"), f"{module.__name__}.{name} is an lru_cache"
    assert not hasattr(template, "clear_memo")


def test_compiler_compiles_a_document_once() -> None:
    compiler = Compiler()
    first = compiler.compile(PLAIN)
    assert compiler.compile(PLAIN) is first
    assert compiler.compile(PLAIN.decode()) is first  # text and bytes are one document
    assert (compiler.compiled, compiler.hits) == (1, 2)


def test_compiler_forgets_the_least_recently_used() -> None:
    compiler = Compiler(max_templates=2)
    a, b, c = (json.dumps({"k": i, "v": PKG + ":attributes:signature}"}).encode() for i in "abc")
    first_a = compiler.compile(a)
    compiler.compile(b)
    compiler.compile(a)  # a is now the most recently used
    compiler.compile(c)  # evicts b
    assert compiler.compile(a) is first_a
    compiler.compile(b)
    assert compiler.compiled == 4


def test_a_memo_changes_nothing_but_speed() -> None:
    memo = PlaceholderMemo()
    for document in (PLAIN, DOWNLOAD, PLAIN):
        assert compile_document(document, memo) == compile_document(document)
    assert len(memo) == 3  # signature, all attributes (both documents), the artifact URL


def test_prepare_uses_the_compiler() -> None:
    compiler = Compiler()
    one, two = _prepare(PLAIN, compiler=compiler), _prepare(PLAIN, compiler=compiler)
    assert one.template is two.template
    assert one.template.render(one.values) == one.after


def test_a_document_keeps_its_last_render_for_one_second() -> None:
    job, presigner = _prepare(DOWNLOAD), Presigner("AKID", "SECRET", region="us-west-2")
    fetch_ = [Execution(f"thing-{i}", "job", 1) for i in range(3)]
    first = render_for_device(job, fetch_[0], presigner, now=NOW, expires_in=600)
    assert render_for_device(job, fetch_[1], presigner, now=NOW + 0.9, expires_in=600) is first
    later = render_for_device(job, fetch_[2], presigner, now=NOW + 1, expires_in=600)
    assert later != first
    other = _prepare(DOWNLOAD)  # the same text, another job: its own cache
    assert other.fetch_cache is not job.fetch_cache
    assert other.fetch_cache.rendered == b""


def test_renders_that_depend_on_the_execution_are_not_shared() -> None:
    job, presigner = _prepare(UPLOAD), Presigner("AKID", "SECRET", region="us-west-2")
    one = render_for_device(job, Execution("a", "job", 1), presigner, now=NOW, expires_in=600)
    two = render_for_device(job, Execution("b", "job", 1), presigner, now=NOW, expires_in=600)
    assert b"/a.log" in one and b"/b.log" in two


def test_stats_count_both_phases() -> None:
    ticks = itertools.count()
    stats = SubstitutionStats(timer=lambda: float(next(ticks)))
    compiler = Compiler()
    download = _prepare(DOWNLOAD, compiler=compiler, stats=stats)
    _prepare(DOWNLOAD, compiler=compiler, stats=stats)
    upload = _prepare(UPLOAD, stats=stats)
    presigner = Presigner("AKID", "SECRET", region="us-west-2")
    for i in range(3):  # same second: one render, then two reused
        execution = Execution(f"thing-{i}", "job", 1)
        render_for_device(download, execution, presigner, now=NOW, expires_in=600, stats=stats)
    for i in range(2):  # upload: the artifact URL once a second, an upload URL per device
        execution = Execution(f"thing-{i}", "job", 1)
        render_for_device(upload, execution, presigner, now=NOW, expires_in=600, stats=stats)
    assert stats.snapshot() == SubstitutionSnapshot(
        documents_prepared=3,
        documents_compiled=2,
        prepare_s=3.0,
        renders=5,
        render_cache_hits=2,
        urls_served=3 + 4,
        urls_minted=1 + 2,
        render_s=5.0,
    )


def test_failed_prepare_counts_time_only() -> None:
    stats = SubstitutionStats(timer=itertools.count().__next__)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="not valid JSON"):
        _prepare(b"{", stats=stats)
    assert (stats.documents_prepared, stats.prepare_s) == (0, 1)
