"""The table ``fleetsim bench substitution`` prints, from its JSON object."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["table"]

PHASES: Final = {"create-job": "1 CreateJob", "device-fetch": "2 device fetch"}


def _num(value: float | None, fmt: str = ",.2f") -> str:
    return "—" if value is None else format(value, fmt)


def table(data: dict[str, Any]) -> str:
    """A Markdown table of the rows, the presigned-URL comparison and the targets."""
    doc, m, method = data["document"], data["machine"], data["method"]
    lines = [
        f"Substitution: {doc['path']} ({doc['bytes_in']:,} B in, {doc['bytes_stored']:,} B "
        f"stored; {doc['placeholders']} placeholders, {doc['presigned_urls']} presigned URLs "
        "per device fetch)",
        f"machine: {m['platform']}; {m['cpu']} ({m['cpus']} CPUs); {m['python']}",
        f"command: {data['command']}",
        f"method: {method['timer']}; CreateJob: {method['create_job']}; device fetch: "
        f"{method['devices']:,} devices x {method['rounds']} rounds, {method['device_fetch']}",
        "",
        "| phase | implementation | µs/doc | docs/s | p50 µs | p99 µs | x naive |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in data["rows"]:
        lines.append(
            f"| {PHASES[row['phase']]} | {row['implementation']} | {_num(row['us_per_doc'])} | "
            f"{_num(row['docs_per_s'], ',.0f')} | {_num(row['p50_us'])} | "
            f"{_num(row['p99_us'])} | {_num(row['x_naive'], ',.1f')} |"
        )
    presign = data["presign"]
    lines.append("")
    if presign["x_botocore"] is not None:
        same = "byte-identical" if presign["identical"] else "NOT identical"
        lines.append(
            f"presigned URLs: fleetsim {presign['fleetsim_us_per_url']:,.2f} µs/URL, botocore "
            f"{presign['botocore_us_per_url']:,.2f} µs/URL: {presign['x_botocore']:,.1f}x "
            f"botocore; {presign['urls_compared']:,} URLs compared, {same}"
        )
    lines += [f"note: {note}" for note in data["notes"]]
    for target in data["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        lines.append(f"{verdict} {target['target']} ({target['value']:,.1f}x)")
    return "\n".join(lines)
