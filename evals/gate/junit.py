"""The gate as JUnit XML, the one report format every CI system renders.

One testsuite per runner, one testcase per check. A regression is a
<failure> (the build is red for a reason in the measured model), an
inconclusive check is an <error> (the test could not be run fairly: an
outage, a changed suite), a check not run is <skipped>. A first testsuite,
`gate`, holds the run-level checks, so a suite change shows as a failed
testcase rather than an empty report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from evals.gate.gate import Check, GateReport

_ELEMENT = {"regression": "failure", "inconclusive": "error", "skipped": "skipped"}


def _testcase(parent: ET.Element, classname: str, check: Check) -> None:
    case = ET.SubElement(parent, "testcase", classname=classname, name=check.name, time="0")
    tag = _ELEMENT.get(check.status)
    if tag is None:
        ET.SubElement(case, "system-out").text = check.message
        return
    el = ET.SubElement(case, tag, message=check.message, type=check.status)
    el.text = check.message


def _testsuite(root: ET.Element, name: str, checks: list[Check], properties: dict[str, str]) -> None:
    count = {k: sum(c.status == k for c in checks) for k in ("regression", "inconclusive", "skipped")}
    suite = ET.SubElement(
        root, "testsuite", name=name, tests=str(len(checks)), failures=str(count["regression"]), errors=str(count["inconclusive"]),
        skipped=str(count["skipped"]), time="0",
    )
    props = ET.SubElement(suite, "properties")
    for k, v in properties.items():
        ET.SubElement(props, "property", name=k, value=v)
    for c in checks:
        _testcase(suite, f"evals.gate.{name}", c)


def junit_xml(report: GateReport) -> str:
    root = ET.Element("testsuites", name=f"evals gate {report.run_id}" + (" (SIMULATED)" if report.simulated_runners else ""))
    if report.baseline_id is None:
        comparable = Check(name="runs are comparable", status="skipped", message=report.baseline_reason)
    elif report.reasons:
        comparable = Check(name="runs are comparable", status="inconclusive", message="; ".join(report.reasons))
    else:
        comparable = Check(name="runs are comparable", status="pass", message="same suite, both runs finished, runners in common")
    base = {"run": report.run_id, "baseline": report.baseline_id or "none", "baseline_reason": report.baseline_reason, "result": report.result, "exit_code": str(report.exit_code)}
    if report.simulated_runners:
        base["SIMULATED"] = "answers from the simulated server, not a model: " + ", ".join(report.simulated_runners)
    _testsuite(root, "gate", [comparable], {**base, "rule": report.rule})
    for g in report.runners:
        _testsuite(root, g.runner, g.checks, {**base, **{f"note_{i}": n for i, n in enumerate(g.notes, 1)}})
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr, "0")) for s in root.iter("testsuite"))))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(report: GateReport, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(junit_xml(report), encoding="utf-8")
    return path
