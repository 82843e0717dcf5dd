"""The adversarial suite's outcomes per codec: docs/hardening_cases.md.

Run: python docs/make_hardening_report.py
(tests/test_docs.py checks that the committed file is what this prints today)
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rgbtask.fidelity.evaluate import describe_config
from rgbtask.samples import make_scene
from rgbtask.testing import adversarial_cases, check_adversarial, registered_examples

DOCS = Path(__file__).resolve().parent
COMMAND = "python docs/make_hardening_report.py"
SYMBOL = {"same": "same", "decoded": "ok", "encoded": "ok", "rejected": "error"}


def outcomes():
    """``{(name, index, repr): [Outcome]}`` for every example configuration of every codec, and
    ``(name, parameters, range_text)`` of each."""
    out, ranges, seen = {}, [], Counter()
    for codec, values in registered_examples(make_scene(height=48, width=64, seed=3)):
        out[(codec.name, seen[codec.name], repr(codec))] = check_adversarial(codec, values)
        seen[codec.name] += 1
        ranges.append((codec.name, describe_config(codec.get_config()), codec.range_text()))
    return out, ranges


def report() -> str:
    results, ranges = outcomes()
    first = {key[0]: res for key, res in results.items() if key[1] == 0}
    names = sorted(first)
    lines = [
        "# Adversarial inputs: what every codec does with them",
        "",
        f"Made by `{COMMAND}` from `rgbtask.testing.check_adversarial`, which `check_codec` runs on",
        "every codec (plugins included). Each case must give a correct result or a `ValueError`",
        "subclass that says what was expected; a case that gives anything else fails the test",
        "suite. `same`: exactly what the plain array of the same codes gives (or, for a per-pixel",
        "codec given a crop or a tiling, the canonical decoding of those pixels); `ok`: decoded",
        "(contract kept, every item in the codec's range, within the round-trip bound where the",
        "input holds a sample's exact codes) or encoded (round trip within the bound); `error`: a",
        "clear `ValueError`; `-`: not applicable to this codec's values.",
        "",
        "## What decode can return (`Codec.range_text`, checked by `Codec.in_range`)",
        "",
        "| codec | configuration | range |",
        "|---|---|---|",
        *(f"| `{name}` | `{text}` | {rng} |" for name, text, rng in ranges),
        "",
        "## Summary over every example configuration",
        "",
        f"{len(results)} configurations of {len(names)} codecs; a run is one case on one"
        " configuration.",
        "",
        "| side | group | cases | runs | same | ok | error | failed |",
        "|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], Counter] = {}
    cases: dict[tuple[str, str], set] = {}
    for res in results.values():
        for o in res:
            key = (o.side, o.group)
            groups.setdefault(key, Counter())[SYMBOL[o.result]] += 1
            cases.setdefault(key, set()).add(o.case)
    totals = Counter()
    for key in sorted(groups, key=lambda k: (k[0] != "decode", k[1])):
        c = groups[key]
        totals += c
        runs = sum(c.values())
        lines.append(
            f"| {key[0]} | {key[1]} | {len(cases[key])} | {runs} | {c['same']} | {c['ok']} | "
            f"{c['error']} | 0 |"
        )
    lines.append(
        f"| all | | {len(adversarial_cases())} | {sum(totals.values())} | {totals['same']} | "
        f"{totals['ok']} | {totals['error']} | 0 |"
    )
    for side in ("decode", "encode"):
        lines += [
            "",
            f"## {side} (first example configuration of each codec)",
            "",
            "| case | expected | " + " | ".join(f"`{n}`" for n in names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        table = {n: {o.case: o for o in first[n] if o.side == side} for n in names}
        for case in (c for c in adversarial_cases() if c.side == side):
            cells = [
                SYMBOL[table[n][case.name].result] if case.name in table[n] else "-" for n in names
            ]
            lines.append(f"| {case.name} | {case.expect} | " + " | ".join(cells) + " |")
    lines += ["", "## The errors, one example each", ""]
    seen = set()
    for n in names:
        for o in first[n]:
            if o.result == "rejected" and (o.side, o.case) not in seen:
                seen.add((o.side, o.case))
                message = o.message.replace("|", "\\|").replace("\n", " ")
                lines.append(f"- {o.side}, {o.case} (`{n}`): {message}")
    return "\n".join(lines) + "\n"


def main() -> None:
    (DOCS / "hardening_cases.md").write_text(report())
    print(f"wrote {DOCS / 'hardening_cases.md'}")


if __name__ == "__main__":
    main()
