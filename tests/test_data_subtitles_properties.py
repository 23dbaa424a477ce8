"""Property tests for the subtitle parsers: what we write as SRT/WebVTT, we read back."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmark.data.subtitles import _parse_cues


def _stamp(seconds: float, separator: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


cues = st.lists(
    st.tuples(st.integers(0, 10_000_000), st.integers(0, 100_000),
              st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1,
                      max_size=30).map(str.strip).filter(lambda t: t and "-->" not in t and "<" not in t)),
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(cues, st.sampled_from([",", "."]))
def test_cues_round_trip(items, separator):
    lines = ["WEBVTT", ""] if separator == "." else []
    for number, (start_ms, length_ms, text) in enumerate(items, start=1):
        start, end = start_ms / 1000, (start_ms + length_ms) / 1000
        lines += [str(number), f"{_stamp(start, separator)} --> {_stamp(end, separator)}", text, ""]
    pieces = list(_parse_cues(lines, path="generated"))
    assert [(p.start, p.end) for p in pieces] == [(s / 1000, (s + d) / 1000) for s, d, _ in items]
    assert all(p.start <= p.end for p in pieces)
    assert [p.text for p in pieces] == [t for _, _, t in items]
