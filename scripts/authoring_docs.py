#!/usr/bin/env python3
"""Generate docs/authoring.md, the authors' reference, from the schemas and the code it describes.

Fields, types, bounds and descriptions come from ``engine/schemas``; defaults from the code that
applies them (``ResourceLimits``, ``CheckRule``, the graders' constants); runtime images from
their Dockerfiles; archive caps from ``engine.packs`` and the settings. Only examples and the
prose around them are written here. ``tests/docs/test_authoring_doc.py`` fails when the
committed file differs from what this prints, so the reference never drifts.

    python scripts/authoring_docs.py            # rewrite docs/authoring.md
    python scripts/authoring_docs.py --check    # exit 1 if it is out of date
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.settings import Settings  # noqa: E402
from engine import packs, schemas, trees  # noqa: E402
from engine.models import CheckRule, ResourceLimits  # noqa: E402
from graders import comparators, http_grader, mutation_grader  # noqa: E402
from runners import images  # noqa: E402

TARGET = ROOT / "docs" / "authoring.md"

LIMIT_DEFAULTS = {f.name: getattr(ResourceLimits(), f.name) for f in dataclasses.fields(ResourceLimits)}
RULE_DEFAULTS = {f.name: f.default for f in dataclasses.fields(CheckRule) if f.name != "match"}

# Defaults applied in code, by the field's path in the document ("-" when there is none: required or optional).
DEFAULTS: dict[str, Any] = {
    **{f"limits.{name}": value for name, value in LIMIT_DEFAULTS.items()},
    **{f"grader.checks[].{name}": value for name, value in RULE_DEFAULTS.items()},
    "grader.checks[].micro_skill": "none: the check counts toward every skill of the task",
    "grader.tests (pytest)": ". (the whole grader/ folder)",
    "grader.comparator (io)": {"type": comparators.DEFAULT_TYPE},
    "grader.comparator.abs_tol (io)": comparators.DEFAULT_ABS_TOL,
    "grader.comparator.rel_tol (io)": comparators.DEFAULT_REL_TOL,
    "grader.ready_timeout_seconds (http)": http_grader.DEFAULT_READY_TIMEOUT,
    "grader.request_timeout_seconds (http)": http_grader.DEFAULT_REQUEST_TIMEOUT,
    "wrong": "[] (no counter-examples)",
    "wrong[].max_score": "no bound",
    "wrong[].must_not_earn": "[]",
    "credentials": "[] (the pack awards no credential)",
    "credentials[].description": '""',
    "credentials[].image": "none",
    "credentials[].skills": "[]",
    "credentials[].within_days": "none: however old",
    "credentials[].credentials": "[]",
}

EXAMPLES: dict[str, str] = {
    "credentials[].id": "back-end-foundations",
    "credentials[].name": "Back-end Foundations",
    "credentials[].image": "https://example.org/badges/foundations.png",
    "credentials[].skills": "[sql.sqlite.indexing, sql.sqlite.query-plans]",
    "credentials[].within_days": "365",
    "credentials[].credentials": "[async-resilience, sql-performance, http-apis]",
    "id": "retry-backoff",
    "version": "1.2.0",
    "title": "Retry a flaky call with exponential backoff",
    "description": "Practical Python tasks for backend hires.",
    "summary": "Write a retry helper with exponential backoff, a delay cap and a deadline.",
    "authors": "[Ada Lovelace]",
    "license": "Apache-2.0",
    "micro_skills": "[python.resilience.retry-backoff, python.resilience.deadlines]",
    "difficulty": "core",
    "environment": "python",
    "limits": "{time_seconds: 20, memory_mb: 256}",
    "grader": "{kind: pytest, tests: tests}",
    "grader.kind": "io",
    "grader.checks": '[{match: "*deadline*", micro_skill: python.resilience.deadlines, weight: 2, visible: true}]',
    "grader.checks[].match": '"*::test_deadline_*"',
    "grader.checks[].weight": "2",
    "grader.checks[].micro_skill": "python.resilience.deadlines",
    "grader.checks[].visible": "true",
    "grader.tests (pytest)": "tests",
    "grader.command (io)": "[python3, top_words.py]",
    "grader.command (script)": "[python3, /grader/grade.py]",
    "grader.comparator (io)": "{type: numeric, abs_tol: 0.001}",
    "grader.comparator.type (io)": "numeric",
    "grader.comparator.abs_tol (io)": "0.001",
    "grader.comparator.rel_tol (io)": "1e-6",
    "grader.comparator.command (io)": "[python3, /grader/check.py]",
    "grader.cases (io)": '[{name: empty-input, stdin: "", expected: ""}]',
    "grader.cases[].name (io)": "empty-input",
    "grader.cases[].stdin (io)": '"a b a\\n"',
    "grader.cases[].expected (io)": '"2 a\\n1 b\\n"',
    "grader.start (http)": "[python3, server.py]",
    "grader.port (http)": "8080",
    "grader.ready_timeout_seconds (http)": "5",
    "grader.request_timeout_seconds (http)": "2",
    "scoring": "{pass_threshold: 80}",
    "scoring.pass_threshold": "80",
    "wrong": "[{name: no-cap, verdict: not_ready, must_not_earn: [python.resilience.retry-backoff]}]",
    "wrong[].name": "no-cap",
    "wrong[].verdict": "not_ready",
    "wrong[].max_score": "60",
    "wrong[].must_not_earn": "[python.resilience.retry-backoff]",
    "wrong[].why": "the delay doubles past max_delay",
    **{
        f"limits.{name}": str(value)
        for name, value in {
            "time_seconds": 20,
            "memory_mb": 256,
            "cpus": 1,
            "pids": 64,
            "disk_mb": 32,
            "output_kb": 64,
        }.items()
    },
}


# -- walking a schema -------------------------------------------------------------------------------


def _ref(node: Any) -> Any:
    """``node`` with its ``$ref`` (to the ``$defs`` of the task or pack schema) resolved."""
    if isinstance(node, dict) and "$ref" in node:
        target = node["$ref"].removeprefix("#/$defs/")
        found = next(d for d in (schemas.schema(n).get("$defs", {}) for n in ("task", "pack")) if target in d)[target]
        return _ref({**found, **{k: v for k, v in node.items() if k != "$ref"}})
    return node


def _long(node: Any) -> Any:
    """The long form of a field: ``$ref`` resolved, and the last branch of a ``oneOf`` (the shorthand is first)."""
    node = _ref(node)
    if isinstance(node, dict) and "oneOf" in node:
        return _long({**node["oneOf"][-1], **{k: v for k, v in node.items() if k != "oneOf"}})
    return node


def _type(node: dict[str, Any]) -> str:
    node = _ref(node)
    if "oneOf" in node:
        return f"{_type(_long(node))}, or {_type(_long(node['oneOf'][0]))} (shorthand)"
    node = _long(node)
    if "const" in node:
        return f"`{node['const']}`"
    if "enum" in node:
        return " \\| ".join(f"`{v}`" for v in node["enum"])
    kind = node.get("type", "any")
    text = " or ".join(kind) if isinstance(kind, list) else kind
    if kind == "array" and isinstance(node.get("items"), dict) and "type" in node["items"]:
        text = f"list of {node['items']['type']}s"
    return text


def _rules(node: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
    ):
        if key in node:
            parts.append(f"{label} {node[key]}")
    if node.get("uniqueItems"):
        parts.append("unique")
    pattern = node.get("pattern") or (node.get("items") or {}).get("pattern")
    if pattern:
        parts.append(
            "slug"
            if pattern == "^[a-z0-9]+(-[a-z0-9]+)*$"
            else "semantic version"
            if pattern.startswith("^(0|")
            else "dotted slug (`area.topic.skill`)"
            if "\\." in pattern
            else f"pattern `{pattern}`"
        )
    return ", ".join(parts)


def _rows(node: dict[str, Any], prefix: str, required: set[str], suffix: str = "") -> list[tuple]:
    rows = []
    for name, shown in node.get("properties", {}).items():
        if shown is True:
            continue
        child = _long(shown)
        path = f"{prefix}{name}"
        key = f"{path}{suffix}"
        default = DEFAULTS.get(key, DEFAULTS.get(path, "required" if name in required else "-"))
        rows.append((key, _type(shown), _rules(child), default, child.get("description", ""), EXAMPLES.get(key, "")))
        if child.get("type") == "object" and "properties" in child:
            rows += _rows(child, f"{path}.", set(child.get("required", [])), suffix)
        items = _long(child.get("items"))
        if isinstance(items, dict) and items.get("type") == "object":
            rows += _rows(items, f"{path}[].", set(items.get("required", [])), suffix)
    return rows


def _table(rows: list[tuple]) -> str:
    lines = ["| field | type | rules | default | what it is | example |", "|---|---|---|---|---|---|"]
    for key, kind, rules, default, description, example in rows:
        shown = default if isinstance(default, str) else f"`{_yaml(default)}`"
        lines.append(f"| `{key}` | {kind} | {rules} | {shown} | {description} | {f'`{example}`' if example else ''} |")
    return "\n".join(lines)


def _yaml(value: Any) -> str:
    """A default as it would be written in task.yaml."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_yaml(v)}" for k, v in value.items()) + "}"
    return str(value)


def task_rows() -> list[tuple]:
    task = schemas.schema("task")
    grader = _long(task["properties"]["grader"])
    rows = _rows(
        {"properties": {k: v for k, v in task["properties"].items() if k != "grader"}}, "", set(task["required"])
    )
    grader_rows = [
        ("grader", "object", "", "required", "how submissions are graded; `kind` picks the rest", EXAMPLES["grader"])
    ]
    grader_rows += _rows({"properties": {"kind": grader["properties"]["kind"]}}, "grader.", {"kind"})
    grader_rows += _rows({"properties": {"checks": grader["properties"]["checks"]}}, "grader.", set())
    for branch in grader["allOf"]:
        kind = branch["if"]["properties"]["kind"]["const"]
        then = branch["then"]
        own = {k: v for k, v in then["properties"].items() if v is not True}
        grader_rows += _rows({"properties": own}, "grader.", set(then.get("required", [])), f" ({kind})")
    order = list(task["properties"])
    rows.sort(key=lambda row: order.index(row[0].split(".")[0].split("[")[0]))
    position = next(
        i for i, row in enumerate(rows) if order.index(row[0].split(".")[0].split("[")[0]) > order.index("grader")
    )
    return rows[:position] + grader_rows + rows[position:]


def image_rows() -> str:
    lines = ["| environment | built from | installed packages | environment variables |", "|---|---|---|---|"]
    for name, image in sorted(images.runtime_images().items()):
        text = image.dockerfile
        base_line = re.search(r"^FROM\s+(\S+)", text, re.MULTILINE)
        if base_line is None:
            raise SystemExit(f"the {name} image's Dockerfile has no FROM line")
        base = base_line.group(1)
        install = re.search(r"apt-get install[^\n]*\\\n\s*([^\n\\]+)", text)
        packages = ", ".join(f"`{p}`" for p in install.group(1).split()) if install else "-"
        env = ", ".join(f"`{v}`" for line in re.findall(r"^ENV\s+(.+)$", text, re.MULTILINE) for v in line.split())
        lines.append(f"| `{name}` | `{base}` (Debian packages only; no network at run time) | {packages} | {env} |")
    return "\n".join(lines)


def render() -> str:
    max_upload = Settings.model_fields["max_upload_bytes"].default  # the default, whatever this shell sets
    caps = packs.PACK_CAPS
    pack = schemas.schema("pack")
    return f"""<!-- Generated by scripts/authoring_docs.py from engine/schemas and the code; do not edit by hand. -->
# Writing task packs: the reference

A pack is a folder: `pack.yaml`, then one folder per task holding `task.yaml`, `statement.md`,
`starter/` (what the candidate receives), `grader/` (hidden), `solution/` (hidden; laid over the
starter it is the reference submission) and optionally `wrong/NAME/` (hidden counter-examples,
laid over the starter like the solution). `tasktrial pack init` writes one that passes
`pack check`; `tasktrial pack schema pack|task|result|script-results` prints the JSON Schemas.

`tasktrial pack validate PATH` reports every problem in one run: schema, environments, files,
`grader/cases` pairs, check mappings, counter-example folders, and syntax of hidden Python
(compiled), shell (`bash -n`) and JavaScript (`node --check`, when `node` is installed) files,
none of them run. `tasktrial pack check PATH` then proves the grader in the real sandbox: the
reference must be `ready` with 100 **in every micro-skill**, every `grader.checks` rule must map
a check the reference produced, the bare starter must be `not_ready`, and each counter-example
must get its declared verdict, stay at or under its `max_score` and not be ready in the skills it
`must_not_earn`. The service runs the same check on its workers before an uploaded version goes live.

## pack.yaml

{_table(_rows(pack, "", set(pack["required"])))}

`credentials` declares stackable micro-credentials (Open Badges 3.0 when exported): each is awarded
automatically when a candidate's latest verdict in each of its `skills` is `ready` (no older than
`within_days`, if given) and they hold each of its stacked `credentials`, by the same rule as
definitions made through the API. Validation refuses a skill no task of the pack assesses, a
stacked id the pack does not declare, an id declared twice and a stacking cycle, naming the
field. The service registers them as `PACK_ID/ID` when a version goes live; a credential no
live version declares any more is retired (no new awards; those made stay valid). Once
published, a credential's criteria never change: an upload that changes them is refused (give
the changed credential a new id). `tasks/backend-services/pack.yaml` has an example that stacks.

## task.yaml

Fields marked `(kind)` exist only for that `grader.kind`.

{_table(task_rows())}

## Check ids per grader kind

A `grader.checks` rule's `match` is a glob (`fnmatch`, case-sensitive) over these ids; the first
matching rule gives a check its weight, micro-skill and visibility. Validation refuses a rule
that matches no check, or only checks an earlier rule already maps, and a `micro_skill` that is
not in the task's `micro_skills`; where ids exist only at run time, `pack check` judges the rules
against the ids the reference run produced.

| kind | one check per | id | known before a run |
|---|---|---|---|
| `pytest` | hidden test | pytest's node id relative to `grader/`, e.g. `tests/test_retry.py::test_caps_the_delay`, with `[params]` for a parametrised test | yes (read from the test files; patterns naming parameters wait for `pack check`) |
| `io` | case | the case name (`grader/cases/NAME.in` + `NAME.out`, or `grader.cases[].name`) | yes |
| `script` | entry of `/grader/results.json` `tests` | its `number`, else its `name` | no: `pack check` |
| `http` | entry of `grader/{http_grader.CHECKS_FILE}` | its `name` | yes |
| `mutation` | variant, plus the gate | `{mutation_grader.GATE}` (weight 0: it decides whether anything counts), `caught-NAME` per `grader/variants/NAME/` | yes |

## Check visibility

A check is hidden unless its rule says `visible: true` (default `{_yaml(RULE_DEFAULTS["visible"])}`); a `script`
grader's `visibility: visible` on a test overrides the rule for that test. A candidate's view of a
result keeps every check's status and score, but the message of a hidden check is withheld, the
captured output is withheld, and a grader fault shows only "the grader failed; this attempt does
not count" (no message, output or checks: they may hold hidden paths and source). Authors of the
pack, reviewers and admins read everything. `tasktrial grade --as-candidate` prints exactly the
candidate's view.

## Comparators (`io`)

- `exact`: equal text after decoding, ignoring one trailing newline and CRLF line ends.
- `whitespace` (the default): equal as sequences of whitespace-separated tokens.
- `numeric`: token by token; a token that is a number in the expected output matches a number
  within tolerance, any other token must be equal. Two numbers `a`, `e` match when
  `|a - e| <= max(rel_tol * max(|a|, |e|), abs_tol)` (Python's `math.isclose`): **either**
  tolerance is enough. Defaults `abs_tol = {comparators.DEFAULT_ABS_TOL:g}`, `rel_tol = {comparators.DEFAULT_REL_TOL:g}`;
  `nan` and infinities are never numbers here.
- `regex`: the expected output (its trailing newline removed) is a Python regular expression
  (`re.DOTALL`) that the **whole** output (one trailing newline removed, CRLF normalised) must
  match (`fullmatch`). An invalid pattern fails the case with the compiler's message.
- `checker`: the author's program judges. It runs in a sandbox of its own (never the candidate's),
  with the grader folder at `/grader`, once per case that ran cleanly, as
  `COMMAND INPUT EXPECTED ACTUAL` (three file paths). Exit 0: pass; exit 1: fail; its stdout (first 1000 characters) is the check's message. Any
  other exit, or a timeout, is a grader fault (the attempt does not count).

A case whose program timed out or exited non-zero fails before any comparison.

## Grader faults

A grader that crashes, writes no or invalid results, or whose hidden tests do not collect with
the reference, produces `verdict: error`, `status: grader_error`: it is not the candidate's
outcome, never enters a profile, and `tasktrial grade` exits 4 and prints what the grader printed.

## Runtime images

Generated from the Dockerfiles the images are built from (`tasktrial images build`). Every
sandbox runs as uid 65534 in `/workspace`, with no network, a read-only root and the task's limits.

{image_rows()}

## Upload archive layout

`tasktrial pack publish PATH` builds and uploads it for you. By hand: `POST /v1/packs` with an
author's token, `multipart/form-data` with one field `archive`: a `.zip` or `.tar.gz` of the pack
folder, `pack.yaml` at its root or inside one top folder (which is removed):

```
my-pack.tar.gz
└── my-pack/
    ├── pack.yaml
    └── TASK/
        ├── task.yaml
        ├── statement.md
        ├── starter/…
        ├── grader/…
        ├── solution/…
        └── wrong/NAME/…      (optional)
```

Caps: the upload at most {max_upload} bytes by default (`TASKTRIAL_MAX_UPLOAD_BYTES`), at most
{caps.max_files} files, {caps.max_file_bytes} bytes per file and {caps.max_total_bytes} bytes in all.
Refused outright: links of any kind, absolute paths, `..`, backslashes, devices and FIFOs,
setuid/setgid bits, names that are not UTF-8 or that collide after case folding (a file `Src`
beside a folder `src/` included), a name segment over {trees.MAX_SEGMENT_BYTES} bytes or a path over {trees.MAX_PATH_BYTES} bytes (UTF-8),
and archives that expand past the caps. Submissions and packs, folders, JSON and archives all
pass the same rules (`engine.trees.Admission`). A new version is `checking` until the workers' pack check makes it `live`
(served to candidates) or `rejected` (its report says why: `tasktrial pack show ID@VERSION`).
Re-uploading the same content of a rejected version checks it again; new content needs a new
`version`. `tasktrial pack retire ID@VERSION` stops new submissions to a live version; its results
stay valid and verifiable.
"""  # noqa: E501 - the generated Markdown's table rows and paragraphs, verbatim: they cannot wrap here


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.is_file() or TARGET.read_text("utf-8") != text:
            print(f"{TARGET} is out of date: run python scripts/authoring_docs.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, "utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
