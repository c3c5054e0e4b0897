"""Dicts read in place: the verdict for a dict is the verdict for ``json.dumps(dict)``.

``Rule.evaluate``, ``Rule.matches`` and ``Rule.match_many`` walk a dict directly, descending
only into keys that lead to a field the rule or its exceptions read (docs/semantics.md, "Documents read in place"). These
tests compare that walk with the JSON decoder on the golden corpus, on a sample of the
differential oracle's documents (``python/tests/data/oracle_documents.ndjson``, written by
``DCOM_ORACLE_DUMP``; see core/tests/oracle.rs) and on generated dicts, under both case
foldings, and pin down what the walk does not look at.
"""

from __future__ import annotations

import datetime
import enum
import json
import math
import pathlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dcom_detect
from conftest import DATA, golden_cases

FOLDINGS = ["ascii", "unicode_simple"]
RULES = {folding: dcom_detect.Rule(case_folding=folding) for folding in FOLDINGS}
EXCEPTIONS_FILE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "exceptions.json"
BLANK = "empty or blank field name (or part of a dotted name)"


def outcome(rule: dcom_detect.Rule, event: Any) -> int | str:
    """The branch bits of the verdict (with exceptions: -2 when suppressed), or the reason
    the event was rejected."""
    try:
        verdict = rule.evaluate(event)
    except dcom_detect.BadEventError as error:
        return error.reason
    return -2 if verdict.suppressed_by else verdict.bits


def same_as_json(rule: dcom_detect.Rule, document: dict[str, Any]) -> None:
    from_dict = outcome(rule, document)
    from_json = outcome(rule, json.dumps(document))
    assert from_dict == from_json, f"dict {from_dict!r} vs JSON {from_json!r}: {json.dumps(document)[:400]}"
    if isinstance(from_json, int):
        assert rule.matches(document) == (from_json > 0)


def oracle_documents() -> list[dict[str, Any]]:
    lines = (DATA / "oracle_documents.ndjson").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.mark.parametrize("folding", FOLDINGS)
def test_the_oracle_sample_gets_the_same_verdict_as_its_json(folding: str) -> None:
    documents = oracle_documents()
    assert len(documents) >= 3000
    rule = RULES[folding]
    fired = 0
    for document in documents:
        same_as_json(rule, document)
        fired += rule.matches(document)
    # The sample exercises the rule: a good share of its documents fire.
    assert fired > len(documents) // 100
    results = rule.match_many(documents)
    assert results == [rule.matches(json.dumps(d)) for d in documents]


@pytest.mark.parametrize("folding", FOLDINGS)
def test_the_golden_corpus_as_dicts_gets_the_same_verdict_as_its_json(folding: str) -> None:
    rule = RULES[folding]
    compared = 0
    for case in golden_cases():
        try:
            document = json.loads(case.record)
        except (ValueError, RecursionError):
            continue
        if not isinstance(document, dict):
            continue
        try:
            text = json.dumps(document, allow_nan=False)
        except (ValueError, RecursionError):
            continue
        from_dict, from_json = outcome(rule, document), outcome(rule, text)
        if from_json in (BLANK, "nesting deeper than the limit of 1000") and isinstance(from_dict, int):
            # Not looked at where the walk does not go: the case must be such a subtree.
            assert case.id.startswith("reject/"), case.id
            continue
        assert from_dict == from_json, case.id
        compared += 1
    assert compared > 140


def test_exceptions_read_their_fields_in_place() -> None:
    rule = dcom_detect.Rule(exceptions=EXCEPTIONS_FILE)
    for document in oracle_documents()[:1500]:
        same_as_json(rule, document)
    # A field only the exceptions read is walked too: its shape errors are JSON's.
    sccm = {
        "event": {"category": "process", "type": "start"},
        "process": {"name": "cmd.exe", "parent": {"name": "mmc.exe", "executable": ["C:\\x\\mmc.exe"]}},
    }
    same_as_json(rule, sccm)


# ---------------------------------------------------------------- generated dicts

SEGMENTS = [
    "event", "category", "type", "process", "name", "parent", "command_line", "host",
    "event.category", "event.type", "process.name", "process.parent", "parent.name", "process.parent.name",
    "process.command_line", "name.", "process.", "x", "y.z", "@timestamp",
    "winlog", "channel", "event_id", "event_data", "Image", "ParentImage", "CommandLine",
    "Channel", "EventID", "log_name", "Event", "System", "EventData", "NewProcessName", "ParentProcessName",
]  # fmt: skip
WORDS = [
    "process", "start", "Process", "cmd.exe", "CMD.EXE", "mmc.exe", "MMC.exe", "excel.exe", "dcomcnfg.exe",
    "powershell -Exec DCOM", "x DCOM y -ExecutionPolicy", "C:\\Windows\\mmc.exe", "C:\\x\\cmd.exe",
    "Microsoft-Windows-Sysmon/Operational", "Security", "1", "4688", "\u212a", "",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.sampled_from(SEGMENTS), children, max_size=4),
    ),
    max_leaves=12,
)
documents = st.dictionaries(st.sampled_from(SEGMENTS), values, max_size=6)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(document=documents, folding=st.sampled_from(FOLDINGS))
def test_generated_dicts_get_the_same_verdict_as_their_json(document: dict[str, Any], folding: str) -> None:
    same_as_json(RULES[folding], document)


@settings(max_examples=300, deadline=None)
@given(document=documents, blank=st.sampled_from([" ", "a. .b", ".x", "\u3000"]), value=values)
def test_a_blank_key_is_rejected_where_the_walk_goes(document: dict[str, Any], blank: str, value: Any) -> None:
    document = dict(document)
    process = document.get("process")
    document["process"] = dict(process) if isinstance(process, dict) else {}
    document["process"][blank] = value
    rule = RULES["ascii"]
    assert outcome(rule, document) == BLANK
    assert outcome(rule, json.dumps(document)) == BLANK


# ---------------------------------------------------------------- what is not looked at


class Colour(enum.Enum):
    RED = 1


MATCH: dict[str, Any] = {
    "event": {"category": ["process"], "type": ["start"]},
    "process": {"name": "cmd.exe", "parent": {"name": "MMC.EXE"}},
}


@pytest.mark.parametrize(
    "field, value",
    [
        ("@timestamp", datetime.datetime(2024, 5, 1, 12, 0, tzinfo=datetime.timezone.utc)),
        ("labels", {1: "a non-str key", None: "another"}),
        ("metrics", {"ratio": math.nan, "limit": math.inf}),
        ("tags", {"a", "set"}),
        ("colour", Colour.RED),
        ("raw", b"bytes"),
        ("blank", {" ": "a blank key the rule never reads"}),
    ],
)
def test_values_the_rule_never_reads_are_not_inspected(field: str, value: Any) -> None:
    rule = dcom_detect.Rule()
    event = {**MATCH, field: value}
    assert rule.matches(event)
    assert rule.evaluate(event).branches == ("office_child",)
    assert rule.match_many([event, event]) == [True, True]
    # Where the walk goes (the process object), the same values are errors.
    inside = {**MATCH, "process": {**MATCH["process"], "name": value}}
    with pytest.raises((TypeError, dcom_detect.BadEventError)):
        rule.matches(inside)


def test_numpy_values_outside_the_rule_are_fine() -> None:
    np = pytest.importorskip("numpy")
    event = {**MATCH, "process": {**MATCH["process"], "pid": np.int64(4242)}, "score": np.float32(0.5)}
    assert dcom_detect.Rule().matches(event)


def test_errors_on_the_walked_paths_name_their_location() -> None:
    rule = dcom_detect.Rule()
    when = datetime.datetime(2024, 5, 1)
    with pytest.raises(TypeError, match=r"event\['process'\]\['name'\]: datetime.datetime is not JSON serialisable"):
        rule.matches({"process": {"name": when}})
    with pytest.raises(TypeError, match=r"keys must be str, not int"):
        rule.matches({"process": {1: "x"}})
    with pytest.raises(dcom_detect.BadEventError, match=r"event\['process'\]\['name'\]: NaN is not a JSON number"):
        rule.matches({"process": {"name": math.nan}})
    with pytest.raises(dcom_detect.BadEventError, match="wrong shape") as conflict:
        rule.matches({"event": {"category": "process"}, "process": {"name": {"x": 1}}})
    assert conflict.value.offset is None
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(dcom_detect.BadEventError, match="nesting deeper than the limit of 1000"):
        rule.matches({"process": {"name": loop}})
    with pytest.raises(dcom_detect.BadEventError) as in_batch:
        rule.match_many([MATCH, "{}", {"process": {"name": math.inf}}])
    assert in_batch.value.index == 2


def test_values_take_their_json_text() -> None:
    class Name(str, enum.Enum):
        CMD = "cmd.exe"

    class Flag(int, enum.Enum):
        ONE = 1

    rule = dcom_detect.Rule()
    for name in (Name.CMD, ("cmd.exe",), ["nope.exe", None, ["cmd.exe"]]):
        assert rule.matches({**MATCH, "process": {"name": name, "parent": {"name": "mmc.exe"}}}), name
    # A number is its JSON text, as Elasticsearch indexes it into a keyword.
    raw = {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1, "Image": "C:\\x\\cmd.exe",
           "ParentImage": "C:\\x\\mmc.exe"}  # fmt: skip
    assert rule.evaluate(raw).schema == rule.evaluate(json.dumps(raw)).schema
    assert rule.matches(raw)
    assert rule.matches({**raw, "EventID": Flag.ONE})
    assert not rule.matches({**raw, "EventID": 1.0})  # "1.0" is not event 1
    assert rule.matches({**raw, "EventID": True}) is False
    surrogate = {**MATCH, "process": {"name": "cmd.exe\ud800", "parent": {"name": "mmc.exe"}}}
    assert outcome(rule, surrogate) == outcome(rule, json.dumps(surrogate))


def test_match_many_keeps_the_order_of_mixed_items() -> None:
    rule = dcom_detect.Rule()
    miss = {"event": {"category": "process", "type": "start"}, "process": {"name": "notepad.exe"}}
    items: list[Any] = [MATCH, json.dumps(miss), miss, json.dumps(MATCH).encode(), bytearray(json.dumps(MATCH).encode())]
    assert rule.match_many(items * 3) == [True, False, False, True, True] * 3


def test_keys_resolved_for_one_rule_are_not_reused_for_another() -> None:
    """The binding caches resolved keys per thread; switching rules (whose exceptions read
    other fields) or meeting the same key object under another parent must not reuse them."""
    plain = dcom_detect.Rule()
    tuned = dcom_detect.Rule(exceptions=EXCEPTIONS_FILE)
    name = "name"  # one key object at two levels, as in every dict built from literals
    sccm = {
        "event": {"category": "process", "type": "start"},
        "host": {name: "sccm-01"},
        "process": {name: "cmd.exe", "parent": {name: "mmc.exe"}},
    }
    documents = oracle_documents()[:300] + [sccm]
    for _ in range(2):
        for document in documents:
            for rule in (plain, tuned, dcom_detect.Rule(exceptions=EXCEPTIONS_FILE), plain):
                same_as_json(rule, document)
    # The same key text as another object, and a key dotted where the cached one was not.
    assert plain.matches({"event": {"category": "process", "type": "start"},
                          "process": {"na" + "me": "cmd.exe", "parent.name": "mmc.exe"}})
    through_keyword = {"event": {"category": "process", "type": "start"},
                       "process": {"name": "cmd.exe", "parent": {"name.x": "mmc.exe"}}}
    same_as_json(plain, through_keyword)
    assert "wrong shape" in str(outcome(plain, through_keyword))


def test_subclasses_of_str_and_dict_are_read_like_the_exact_types() -> None:
    """The walk recognises an exact ``str`` or ``dict`` by its type pointer and falls back to
    the subclass check: both must read the same, as keys, values and maps."""
    import collections

    class Text(str):
        pass

    class Map(dict):  # type: ignore[type-arg]
        pass

    rule = dcom_detect.Rule()
    for wrap_text in (str, Text):
        for wrap_map in (dict, Map, collections.OrderedDict):
            event = wrap_map(
                {
                    wrap_text("event"): wrap_map({wrap_text("category"): wrap_text("process"), "type": ["start"]}),
                    wrap_text("process"): wrap_map(
                        {
                            wrap_text("name"): wrap_text("cmd.exe"),
                            wrap_text("parent"): wrap_map({"name": wrap_text("MMC.EXE")}),
                            # Same length as "name", and dotted keys beside the nested ones.
                            wrap_text("nime"): wrap_text("x"),
                            wrap_text("parent.name"): wrap_text("notepad.exe"),
                        }
                    ),
                    wrap_text("process.command_line"): wrap_text("x -Exec dcom"),
                }
            )
            same_as_json(rule, event)
            assert rule.evaluate(event).branches == ("office_child", "dcom_command_line"), (wrap_text, wrap_map)
            assert rule.match_many([event, event]) == [True, True]
            blank = wrap_map({**event, "process": wrap_map({**event["process"], wrap_text(" "): "x"})})
            assert outcome(rule, blank) == BLANK == outcome(rule, json.dumps(blank))
