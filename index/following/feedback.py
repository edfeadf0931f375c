"""Answer feedback and the gaps it shows: voter ids hashed, unanswered and down-voted questions
grouped by topic, and the sites whose feeds might fill a topic's gap.

Grouping is general, not a list of topics: each question is embedded when it is recorded (the
same embedder as the index, so "Is the Icelandic eruption over?" and "What happened with the volcano
near Grindavik?" sit close; URLs and site names are left out, they are not the topic), and a
question joins the group whose centroid is nearest when the cosine reaches ``threshold``, or the
group holding a question with most of the same content words (Jaccard ≥ ``jaccard``: the words
agree even where the embedding does not) — greedy, newest first, one pass. A question without a
vector (recorded while the model was unavailable) joins by content words only. A group is labelled
by the content words most of its questions share."""

from __future__ import annotations

import hashlib
import hmac
import html
import re
from collections import Counter
from urllib.parse import urlsplit

import numpy as np

from ..text.words import content_words

GROUP_COSINE = 0.5  # questions at least this close (cosine of their embeddings) share a topic
GROUP_JACCARD = 0.34  # without vectors: shared content words over all of the two questions' words
LABEL_WORDS = 3
_TAG = re.compile(r"<[^<>]{0,2000}>")
_URL = re.compile(r"https?://[^\s<>\"')]+", re.I)
# only where no letter, digit or dot precedes: from inside "a.a.a…" every label would rescan the rest
_DOMAIN = re.compile(
    r"\b(?<![a-z0-9.])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,24}))(?::\d{2,5})?\b", re.I
)
_TLDS_NOT_SITES = {"e.g", "i.e", "a.m", "p.m", "u.s", "u.k"}


def voter_hash(key: bytes, user_id: int) -> str:
    """A keyed hash (HMAC-SHA256) of a Discord user id: one vote per person per answer is enforced
    without the archive holding who voted. A plain hash would not do — user ids are few enough
    to hash them all."""
    return hmac.new(key, str(int(user_id)).encode(), hashlib.sha256).hexdigest()[:32]


def to_blob(vector) -> bytes | None:
    if vector is None:
        return None
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_blob(blob: bytes | None) -> np.ndarray | None:
    if not blob:
        return None
    v = np.frombuffer(blob, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm else None


def group_questions(
    items: list[tuple[dict, bytes | None]], threshold: float = GROUP_COSINE, jaccard: float = GROUP_JACCARD
) -> list[list[dict]]:
    """Questions (dicts with "question") with their vectors, grouped by topic, largest group first."""
    groups: list[dict] = []  # {"items", "sum" (vector sum or None), "words": [sets]}
    for item, blob in items:
        vec = from_blob(blob)
        words = topic_words(item["question"])
        best, best_score = None, 0.0
        for g in groups:
            cosine = 0.0
            if vec is not None and g["sum"] is not None and g["sum"].shape == vec.shape:
                cosine = float(g["sum"] @ vec) / (float(np.linalg.norm(g["sum"])) or 1.0)
            shared = max((len(words & w) / len(words | w) for w in g["words"] if words | w), default=0.0)
            if cosine >= threshold or shared >= jaccard:
                score = max(cosine, shared)
                if score > best_score:
                    best, best_score = g, score
        if best is None:
            groups.append({"items": [item], "sum": None if vec is None else vec.copy(), "words": [words]})
        else:
            best["items"].append(item)
            best["words"].append(words)
            if vec is not None:
                best["sum"] = vec.copy() if best["sum"] is None else best["sum"] + vec
    groups.sort(key=lambda g: -len(g["items"]))
    return [g["items"] for g in groups]


def topic_text(question: str) -> str:
    """The question without markup pasted along with it, and without the URLs and site names in it
    (they say where, not what)."""
    text = html.unescape(_TAG.sub(" ", question or ""))
    return " ".join(_DOMAIN.sub(" ", _URL.sub(" ", text)).split())


def topic_words(question: str) -> set[str]:
    return {w for w in content_words(topic_text(question)) if not w.isdigit()}


def label(questions: list[dict]) -> str:
    """The content words most questions of a group share (at most LABEL_WORDS), by how many use them."""
    counts: Counter[str] = Counter()
    for q in questions:
        counts.update(topic_words(q["question"]))
    if not counts:
        return "(no words)"
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))  # ties alphabetically: the same every run
    shared = [w for w, n in ranked if n >= max(2, (len(questions) + 1) // 2)]
    words = shared[:LABEL_WORDS] or [w for w, _ in ranked[:LABEL_WORDS]]
    return ", ".join(words)


def named_sites(text: str) -> list[str]:
    """Home pages of the sites a question names: URLs (their origin, also in pasted links) and bare
    domains (https)."""
    text = html.unescape(text or "")
    out: list[str] = []
    for url in _URL.findall(text or ""):
        parts = urlsplit(url.rstrip(".,;:!?"))
        if parts.netloc:
            site = f"{parts.scheme.lower()}://{parts.netloc.lower()}/"
            if site not in out:
                out.append(site)
    rest = _URL.sub(" ", _TAG.sub(" ", text))
    for m in _DOMAIN.finditer(rest):
        domain = m.group(0).lower().rstrip(".")
        if domain in _TLDS_NOT_SITES or "." not in domain or domain.replace(".", "").isdigit():
            continue
        site = f"https://{domain}/"
        if site not in out:
            out.append(site)
    return out


def site_of(url: str) -> str | None:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.lower()}/"
