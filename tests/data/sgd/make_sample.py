#!/usr/bin/env python3
"""Cut the in-repo SGD sample from the full appointment-booking file.

Source: Schema-Guided Dialogue dataset (Rastogi et al., AAAI 2020),
google-research-datasets/dstc8-schema-guided-dialogue, CC BY-SA 4.0 (see LICENSE.txt
and README.md beside this script). The output is a modified excerpt and stays under
CC BY-SA 4.0.

Usage (from anywhere; Python 3.8+, standard library only):

    python3 tests/data/sgd/make_sample.py [--source FULL.json] [--out SAMPLE.json] [--check]

The default source is ../shared/data/sgd/train_services_dialogues.json beside the
repository; the default output is sample_services_dialogues.json beside this script.
--check regenerates in memory and fails (exit 1) if the stored sample differs.

Selection (deterministic, no randomness): whole dialogues, never edited. Only
single-domain dialogues (one Services_N service) with at least one BookAppointment
call are candidates, to keep the file small. A fixed list of *needs* is walked in
order; a need already met by the dialogues chosen so far is skipped, otherwise the
smallest candidates that meet it are added (size = compact JSON length; ties broken
by position in the source file). The needs mirror what `servicegraph replay-sgd`
(src/replay_sgd.rs) exercises, where each provider becomes a tenant with one staff
member working Mon-Sat 09:00-18:00 and a 60-minute service:

  1. per service (Services_1 stylist, Services_2 dentist, Services_3 doctor):
     - two calls in one dialogue for the same provider and day, less than 60 minutes
       apart, both inside working hours (one is expected SLOT_UNAVAILABLE);
     - a call outside working hours (Sunday, before 09:00, or ending after 18:00:
       expected OUTSIDE_WORKING_HOURS);
     - a FindProvider that returned several providers (tenants without bookings,
       which must list none);
  2. a booked provider whose name has an apostrophe; one with an ampersand; a
     provider with a non-ASCII character (none in the source: the SGD Services
     files are plain ASCII, so this need is reported and skipped);
  3. a provider whose slug is longer than 63 bytes (truncated by slugify);
  4. two dialogues booking the same provider, date and time inside working hours
     (two customers, one slot: one is expected SLOT_UNAVAILABLE); the pair adding the
     fewest bytes wins;
  5. per service, two dialogues with a call inside working hours (expected to book).

Output: a JSON array with one dialogue per line (compact within the line), in source
file order.
"""

import argparse
import json
import sys
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parents[3] / "shared" / "data" / "sgd" / "train_services_dialogues.json"
DEFAULT_OUT = HERE / "sample_services_dialogues.json"

SERVICES = ("Services_1", "Services_2", "Services_3")
OPEN_MINUTES, CLOSE_MINUTES, SLOT_MINUTES = 9 * 60, 18 * 60, 60
MAX_SLUG_LEN = 63


def provider_name(fields):
    """Value of the first key (in sorted order) ending with _name, as src/replay_sgd.rs."""
    for key in sorted(fields):
        if key.endswith("_name"):
            return fields[key]
    return None


def slug_length(name):
    """Length of graph::util::slugify(name) before truncation, for ASCII names."""
    text = name.lower().replace("&", " and ")
    words, word = [], ""
    for c in text:
        if c in "'`":
            continue
        if c.isascii() and c.isalnum():
            word += c
        elif word:
            words.append(word)
            word = ""
    if word:
        words.append(word)
    return len("-".join(words))


class Info:
    """What one dialogue offers to the replay."""

    def __init__(self, index, dialogue):
        self.index = index
        self.dialogue = dialogue
        self.id = dialogue["dialogue_id"]
        self.services = dialogue.get("services", [])
        self.size = len(json.dumps(dialogue, ensure_ascii=False, separators=(",", ":")))
        self.found = set()
        self.calls = []  # (provider, date, minutes since midnight)
        for turn in dialogue["turns"]:
            for frame in turn.get("frames", []):
                call = frame.get("service_call")
                if not call:
                    continue
                if call["method"] == "FindProvider":
                    for result in frame.get("service_results", []):
                        name = provider_name(result)
                        if name is not None:
                            self.found.add(name)
                elif call["method"] == "BookAppointment":
                    p = call["parameters"]
                    name = provider_name(p)
                    if name is None or "appointment_date" not in p or "appointment_time" not in p:
                        continue
                    hours, minutes = p["appointment_time"].split(":")
                    day = date.fromisoformat(p["appointment_date"])
                    self.calls.append((name, day, int(hours) * 60 + int(minutes)))
        self.providers = self.found | {c[0] for c in self.calls}

    def single_service(self):
        return self.services[0] if len(self.services) == 1 else None


def in_hours(call):
    _, day, start = call
    return day.weekday() != 6 and start >= OPEN_MINUTES and start + SLOT_MINUTES <= CLOSE_MINUTES


def overlapping_pair(calls):
    good = [c for c in calls if in_hours(c)]
    return any(
        a[0] == b[0] and a[1] == b[1] and abs(a[2] - b[2]) < SLOT_MINUTES
        for i, a in enumerate(good)
        for b in good[i + 1 :]
    )


def needs():
    """(label, count, predicate over one dialogue) in the order they are met."""

    def one(s, pred):
        return lambda d: d.single_service() == s and bool(pred(d))

    def overlapping(d):
        return overlapping_pair(d.calls)

    def outside(d):
        return any(not in_hours(c) for c in d.calls)

    def inside(d):
        return any(in_hours(c) for c in d.calls)

    out = []
    for s in SERVICES:
        out += [
            (f"{s}: two overlapping calls in one dialogue", 1, one(s, overlapping)),
            (f"{s}: call outside working hours", 1, one(s, outside)),
            (f"{s}: FindProvider with several providers", 1, one(s, lambda d: len(d.found) >= 2)),
        ]
    out += [
        ("booked provider name with an apostrophe", 1, lambda d: any("'" in c[0] for c in d.calls)),
        ("booked provider name with an ampersand", 1, lambda d: any("&" in c[0] for c in d.calls)),
        (
            "provider name with a non-ASCII character",
            1,
            lambda d: any(not p.isascii() for p in d.providers),
        ),
        (
            f"provider slug longer than {MAX_SLUG_LEN} bytes",
            1,
            lambda d: any(slug_length(p) > MAX_SLUG_LEN for p in d.providers),
        ),
        SAME_SLOT,
    ]
    for s in SERVICES:
        out.append((f"{s}: calls inside working hours", 2, one(s, inside)))
    return out


SAME_SLOT = ("two dialogues, same provider/date/time inside working hours", 2, None)


def same_slot_pair(chosen, candidates):
    """Two dialogues booking one provider/date/time inside working hours; prefers
    dialogues already chosen, then the smallest added size."""
    by_slot = {}
    for d in candidates:
        for c in {c for c in d.calls if in_hours(c)}:
            by_slot.setdefault(c, []).append(d)
    best = None
    for slot, ds in sorted(by_slot.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        ds = sorted(set(ds), key=lambda d: (d.id not in chosen, d.size, d.index))
        if len(ds) < 2:
            continue
        pair = ds[:2]
        cost = sum(d.size for d in pair if d.id not in chosen)
        key = (cost, pair[0].index, pair[1].index)
        if best is None or key < best[0]:
            best = (key, pair)
    return [] if best is None else best[1]


def select(dialogues, log=print):
    infos = [Info(i, d) for i, d in enumerate(dialogues)]
    candidates = [d for d in infos if d.single_service() and d.calls]
    chosen = {}

    def add(d, label):
        chosen[d.id] = d
        log(f"  + {d.id:<10} {d.size:>6} B  {label}")

    for label, count, pred in needs():
        if pred is None:  # SAME_SLOT
            for d in same_slot_pair(chosen, candidates):
                if d.id not in chosen:
                    add(d, label)
            continue
        have = sum(1 for d in chosen.values() if pred(d))
        pool = [d for d in candidates if d.id not in chosen and pred(d)]
        pool.sort(key=lambda d: (d.size, d.index))
        if not have and not pool:
            log(f"  (none in source) {label}")
        for d in pool[: max(0, count - have)]:
            add(d, label)
    return sorted(chosen.values(), key=lambda d: d.index)


def render(selected):
    lines = [json.dumps(d.dialogue, ensure_ascii=False, separators=(",", ":")) for d in selected]
    return "[\n" + ",\n".join(lines) + "\n]\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--check", action="store_true", help="fail if --out differs from a fresh cut")
    args = ap.parse_args()

    if not args.source.is_file():
        print(f"{args.source} not found; pass --source FULL.json", file=sys.stderr)
        return 2
    with open(args.source, encoding="utf-8") as f:
        dialogues = json.load(f)
    print(f"source: {args.source} ({len(dialogues)} dialogues)")
    selected = select(dialogues)
    text = render(selected)

    calls = sum(len(d.calls) for d in selected)
    providers = set().union(*(d.providers for d in selected))
    inside = sum(in_hours(c) for d in selected for c in d.calls)
    print(
        f"sample: {len(selected)} dialogues, {len(providers)} providers, "
        f"{calls} BookAppointment calls ({inside} inside working hours, "
        f"{calls - inside} outside), {len(text.encode('utf-8'))} bytes"
    )

    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
        if current != text:
            print(f"{args.out} differs from a fresh cut; rerun without --check", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
