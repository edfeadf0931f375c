"""Grouping questions by topic, and the sites a question names (index.following.feedback)."""

from __future__ import annotations

from index.following import feedback as f
from index.vectors.embedders import HashEmbedder


def items(questions):
    embedder = HashEmbedder()
    return [({"question": q}, f.to_blob(embedder.encode([f.topic_text(q)])[0])) for q in questions]


def test_questions_on_one_topic_group_together_and_get_its_words_as_label():
    groups = f.group_questions(
        items(
            [
                "Is the volcano in Iceland still erupting?",
                "Volcano in Iceland: is the eruption over?",
                "Who won the chess olympiad?",
                "Did the volcano in Iceland erupt again?",
            ]
        )
    )
    assert [len(g) for g in groups] == [3, 1]
    assert f.label(groups[0]) == "iceland, volcano"  # the words all three share
    assert groups[1][0]["question"] == "Who won the chess olympiad?"


def test_without_vectors_shared_content_words_group():
    groups = f.group_questions(
        [
            ({"question": "ferry strike harbour islands"}, None),
            ({"question": "harbour islands ferry timetable"}, None),
            ({"question": "opera house frescoes"}, None),
        ]
    )
    assert [len(g) for g in groups] == [2, 1]


def test_named_sites_and_topic_text():
    q = "What did https://News.example.org/world/x say, and bbc.co.uk, about 3.5 percent?"
    assert f.named_sites(q) == ["https://news.example.org/", "https://bbc.co.uk/"]
    assert f.topic_text(q) == "What did say, and , about 3.5 percent?"
    assert f.site_of("http://127.0.0.1:8080/a/b.html") == "http://127.0.0.1:8080/"
    assert f.site_of("ftp://x/") is None


def test_voter_hash_is_keyed():
    a, b = f.voter_hash(b"k1", 42), f.voter_hash(b"k2", 42)
    assert a != b and "42" not in a and a == f.voter_hash(b"k1", 42)


def test_pasted_markup_is_not_the_topic():
    q = 'Who won in <a data-analytics-id="inline-link" href="https://theweek.com/tag/brazil">Brazil</a>?'
    assert f.topic_text(q) == "Who won in Brazil ?"
    assert f.named_sites(q) == ["https://theweek.com/"]
    assert f.topic_words(q) == {"won", "brazil"}
