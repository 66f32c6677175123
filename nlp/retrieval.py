"""Policy knowledge base: find the policy a colloquial question is about, and the sentence that answers it.

Ranking is BM25F over three kinds of features: *concepts* from the alias file (``policy_synonyms.txt``, so 娃儿 finds
婴幼儿 and 高企 finds 高新技术企业), jieba words, and character bigrams (which survive typos and words jieba splits
oddly). Title and tags weigh more than the body. The score is the matched share of what the question asks for, so it
is comparable across questions and a threshold can decide "no policy fits". ``BM25Index`` is the plain baseline.
The policies themselves and the alias file are read by ``nlp.policy_docs``.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

import numpy as np
import numpy.typing as npt

from nlp.policy_docs import PolicyDoc, SynonymGroups, load_synonyms
from nlp.tokenizer import DomainTokenizer, get_tokenizer

logger = logging.getLogger(__name__)

DEFAULT_ANSWER_THRESHOLD: Final = 0.3

_FIELDS: Final = (("title", 3.0, 0.3), ("tags", 2.0, 0.3), ("body", 1.0, 0.75))  # name, weight, length norm b
_K1: Final = 1.2
_KIND_WEIGHT: Final = {"c": 1.0, "w": 1.0, "b": 0.4}  # concept, jieba word, character bigram
# What a query feature the collection lacks costs the score, as a share of the rarest word's idf: an unknown word
# (驾照, 路灯) is likely what the question is about; an unknown concept is a question word (咋个); an unknown
# bigram is usually a span across two words.
_UNKNOWN_COST: Final = {"c": 0.0, "w": 0.5, "b": 0.0}
# A known feature is priced at least this share of the rarest word's idf, so a question made only of words every
# policy uses (补贴, 申请) cannot look like a confident match.
_FLOOR_SHARE: Final = 0.5
_AUDIENCE_MISMATCH: Final = 0.75
_TITLE_SHARE_IN_SUMMARY: Final = 0.3
_CJK: Final = re.compile(r"[\u4e00-\u9fff]+")
_SENTENCE: Final = re.compile(r"[^。！？；\n]+[。！？；]?")
# Closed-class words (pronouns, particles, modal verbs, kin terms, time words) and question filler, standard and
# dialect: they say who is asking and how, never which policy is meant.
_STOP_TEXT: Final = """我 我们 我家 咱 咱们 俺 俺们 你 你们 您 他 她 它 他们 她们 人家 大家 自己 自家 家里 屋里 屋头 一家 一家人
    我妈 我爸 妈 爸 老公 老婆 男人 媳妇 儿子 女儿 亲戚 邻居
    的 地 得 了 着 过 吗 呢 吧 啊 呀 哦 喔 噢 哟 啦 嘛 哈 噻 撒 哇 咯 嘞 哩 呗 咧 诶 嗯 么 伐 冇
    不 没 没有 有 有没有 有没得 没得 有得 有冇 不得 是 是不是 在 要 会 能 能够 可以 可能 应该 给 想 还 都 就 也 又
    还是 但是 因为 所以 如果 然后 就是 只是 已经 刚刚 还有 或者 比如 而且 那么 这么 这样 那样
    这 那 这个 那个 这些 那些 哪个 哪些 个 一个 一些 有些 有点 一点 一下 一下子 点 些 很 得很 太 好 真 挺
    现在 今年 明年 去年 最近 目前 以前 之前 以后 今天 昨天 时候 晚上 早上
    听说 知道 晓得 请问 问 问下 问一下 想问 问问 打听 咨询 帮 帮忙 帮我 请 谢谢 麻烦
    什么 啥 哪里 哪儿 哪 怎么样 政府 国家 政策 规定 可以吗 能否 是否 行不行 中不中 不中 好不好 要不要
    给不给 管不管 不管 能不能 可不可以 和 与 及 或 等 对 把 被 从 向 到 为 于 以"""
_STOP_WORDS: Final = frozenset(_STOP_TEXT.split())
_QUANTITY: Final = re.compile(r"[一二两三四五六七八九十百千万几每半多好\d]+[个位次块岁年月天周号点]*")
_ASPECT_QUERY: Final = {
    "amount": re.compile(r"多少|好多|几多|金额|额度|标准|最高|几个钱|百分之|几折|比例|补.{0,2}钱|给.{0,2}钱"),
    "howto": re.compile(r"怎么|咋|如何|哪里|哪儿|哪个|在哪|申请|申报|办理|报名|领|流程|材料|手续"),
    "deadline": re.compile(r"什么时候|啥时候|几时|截止|期限|哪天|多久|好久|到期|到账"),
}
_ASPECT_SENTENCE: Final = {
    "amount": re.compile(r"\d[\d.,]*\s*(?:万?元|%|倍|个月)|百分之|\d/\d"),
    "howto": re.compile(r"申请|申报|办理|提交|携带|登录|小程序|服务大厅|窗口|申领"),
    "deadline": re.compile(r"\d{4}年\d{1,2}月(?:\d{1,2}日)?|截至|以内|之日起|工作日|每年\d+月"),
}

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class PolicyHit:
    """A ranked policy with the sentence that best answers the question."""

    id: str
    title: str
    score: float
    summary: str
    source_url: str | None


@dataclass(frozen=True, slots=True)
class PolicyAnswer:
    """The policy that answers a question well enough, plus the runners-up worth offering."""

    id: str
    title: str
    score: float
    summary: str
    source_url: str | None
    valid_to: date | None
    related: tuple[PolicyHit, ...] = ()


def _idf(df: int, n: int) -> float:
    """BM25's idf, never negative."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


class _Analyzer:
    """Turns text into concept, word and bigram features."""

    def __init__(self, tokenizer: DomainTokenizer, groups: SynonymGroups) -> None:
        self._tokenizer = tokenizer
        direct: dict[str, list[str]] = {}
        for group in groups:
            for alias in group:
                direct.setdefault(alias, []).append(group[0])
        # An alias also carries the concepts of aliases inside it: 高龄津贴 is 高龄 too, 低保金 is 低保.
        self._concepts = {alias: _nested_concepts(alias, direct) for alias in direct}
        aliases = sorted(direct, key=len, reverse=True)  # longest first: 高新技术企业 before 高新
        self._pattern = re.compile("|".join(map(re.escape, aliases))) if aliases else None

    def features(self, text: str, *, query: bool = False) -> Counter[str]:
        """Features of a text; in a query, words inside an alias are replaced by its concepts.

        Policies are cut in search mode (long words also yield their parts); questions in precise mode, so an
        unknown word such as 幼儿园 does not match through a part of it (幼儿).
        """
        feats: Counter[str] = Counter()
        rest = text
        if self._pattern is not None:
            for match in self._pattern.finditer(text):
                feats.update("c:" + concept for concept in self._concepts[match.group()])
            if query:
                rest = self._pattern.sub("，", text)
        words = self._tokenizer.cut(rest) if query else self._tokenizer.cut_for_search(rest)
        feats.update("w:" + w for w in words if _is_content(w))
        runs = _content_runs(words) if query else _CJK.findall(rest)
        feats.update("b:" + run[i : i + 2] for run in runs for i in range(len(run) - 1))
        return feats


def _nested_concepts(alias: str, direct: Mapping[str, list[str]]) -> tuple[str, ...]:
    """The concepts of an alias and of every other alias found inside it, its own first."""
    found = dict.fromkeys(direct[alias])
    for size in range(len(alias) - 1, 0, -1):
        for start in range(len(alias) - size + 1):
            found.update(dict.fromkeys(direct.get(alias[start : start + size], ())))
    return tuple(found)


def _is_content(word: str) -> bool:
    """A word worth matching: two or more characters (or a number), not filler."""
    if word in _STOP_WORDS or _QUANTITY.fullmatch(word) or not any(ch.isalnum() for ch in word):
        return False
    return len(word) >= 2


def _content_runs(words: Sequence[str]) -> list[str]:
    """Stretches of adjacent Chinese content words, so bigrams never span filler or punctuation."""
    runs, current = [], ""
    for word in words:
        if word not in _STOP_WORDS and not _QUANTITY.fullmatch(word) and _CJK.fullmatch(word):
            current += word
        else:
            runs.append(current)
            current = ""
    runs.append(current)
    return [run for run in runs if len(run) >= 2]


@dataclass(frozen=True, slots=True)
class _Posting:
    idf: float
    docs: IntArray
    sat: FloatArray  # BM25F saturated term frequency per document, in [0, 1)


class PolicyIndex:
    """The searchable policy collection; build it once (at start-up) and share it."""

    def __init__(self, docs: Sequence[PolicyDoc], analyzer: _Analyzer) -> None:
        self.docs: tuple[PolicyDoc, ...] = tuple(docs)
        self._analyzer = analyzer
        self._by_id = {doc.id: i for i, doc in enumerate(self.docs)}
        # Each text is analysed once: a body's features are the sum of its sentences' (jieba dominates build time).
        sentences = [self._split(doc.body) for doc in self.docs]
        titles = [analyzer.features(doc.title) for doc in self.docs]
        fields = [
            (title, analyzer.features(" ".join(doc.tags)), sum((c for _, c in parts), Counter()))
            for doc, title, parts in zip(self.docs, titles, sentences)
        ]
        self._postings = self._index(fields)
        self._ref_idf = _idf(1, max(1, len(self.docs)))
        self._sentences = [[(text, frozenset(c)) for text, c in parts] for parts in sentences]
        self._title_feats = [frozenset(title) for title in titles]

    @classmethod
    def build(
        cls,
        docs: Iterable[PolicyDoc],
        synonyms: SynonymGroups | None = None,
        tokenizer: DomainTokenizer | None = None,
    ) -> PolicyIndex:
        """Index policies with the alias groups (default: the packaged file) and the domain tokenizer."""
        groups = load_synonyms() if synonyms is None else synonyms
        return cls(list(docs), _Analyzer(tokenizer or get_tokenizer(), groups))

    def __len__(self) -> int:
        return len(self.docs)

    def get(self, policy_id: str) -> PolicyDoc | None:
        """The policy with this id, if indexed."""
        index = self._by_id.get(policy_id)
        return None if index is None else self.docs[index]

    def _index(self, fields: Sequence[tuple[Counter[str], ...]]) -> dict[str, _Posting]:
        """BM25F postings: per feature, the field-weighted, length-normalised, saturated frequency in each doc."""
        lengths = [[c.total() for c in doc_fields] for doc_fields in fields]
        avg = [max(1.0, sum(ls[i] for ls in lengths) / max(1, len(lengths))) for i in range(len(_FIELDS))]
        pseudo_tf: dict[str, dict[int, float]] = {}
        for d, doc_fields in enumerate(fields):
            for (_, weight, b), feats, length, mean in zip(_FIELDS, doc_fields, lengths[d], avg):
                norm = 1.0 - b + b * length / mean
                for feat, tf in feats.items():
                    per_doc = pseudo_tf.setdefault(feat, {})
                    per_doc[d] = per_doc.get(d, 0.0) + weight * tf / norm
        n = len(self.docs)
        return {
            feat: _Posting(
                idf=_idf(len(per_doc), n),
                docs=np.fromiter(per_doc.keys(), dtype=np.int64, count=len(per_doc)),
                sat=np.fromiter(
                    (t / (_K1 + t) for t in per_doc.values()), dtype=np.float64, count=len(per_doc)
                ),
            )
            for feat, per_doc in pseudo_tf.items()
        }

    def _split(self, body: str) -> list[tuple[str, Counter[str]]]:
        """The body's sentences with their features (for the body field and for picking the summary)."""
        sentences = [s.strip() for s in _SENTENCE.findall(body) if s.strip()]
        return [(s, self._analyzer.features(s)) for s in sentences]

    def _query_weights(self, query: str) -> dict[str, float]:
        """Each query feature's weight: its kind's weight times its idf (unknown ones have none)."""
        feats = self._analyzer.features(query, query=True)
        return {f: _KIND_WEIGHT[f[0]] * (p.idf if (p := self._postings.get(f)) else 0.0) for f in feats}

    def _scores(self, weights: Mapping[str, float]) -> FloatArray:
        """Each policy's matched share of the query: BM25F sum over the best achievable sum."""
        scores = np.zeros(len(self.docs))
        for feat, weight in weights.items():
            posting = self._postings.get(feat)
            if posting is not None:
                scores[posting.docs] += weight * posting.sat
        floor = _FLOOR_SHARE * self._ref_idf
        ceiling = sum(
            max(w, _KIND_WEIGHT[f[0]] * floor) if w > 0 else _UNKNOWN_COST[f[0]] * self._ref_idf
            for f, w in weights.items()
        )
        return scores / ceiling if ceiling > 0 else scores

    def search(
        self,
        query: str,
        top: int = 5,
        today: date | None = None,
        audience: str | None = None,
        regions: Collection[str] | None = None,
    ) -> list[PolicyHit]:
        """The best policies for a question, best first; expired ones and other regions' are left out.

        Args:
            today: the local date deciding expiry (default: the machine's date; the bot passes its time zone's).
            audience: "enterprise" or "resident" prefers policies for that audience (others still appear, lower).
            regions: the asker's region codes (grid up to city); region-bound policies elsewhere are left out.
        """
        weights = self._query_weights(query)
        scores = self._scores(weights)
        today = today or date.today()
        for i, doc in enumerate(self.docs):
            if doc.is_expired(today) or (
                regions is not None and doc.region is not None and doc.region not in regions
            ):
                scores[i] = 0.0
            elif audience is not None and doc.audience not in ("all", audience):
                scores[i] *= _AUDIENCE_MISMATCH
        order = np.argsort(-scores, kind="stable")[:top]
        return [self._hit(int(i), float(scores[i]), query, weights) for i in order if scores[i] > 0]

    def answer(
        self,
        query: str,
        threshold: float = DEFAULT_ANSWER_THRESHOLD,
        today: date | None = None,
        audience: str | None = None,
        regions: Collection[str] | None = None,
    ) -> PolicyAnswer | None:
        """The policy that answers the question, or None when none scores at least ``threshold`` (offer a helper)."""
        hits = self.search(query, top=3, today=today, audience=audience, regions=regions)
        if not hits or hits[0].score < threshold:
            return None
        best = hits[0]
        related = tuple(h for h in hits[1:] if h.score >= threshold)
        doc = self.docs[self._by_id[best.id]]
        return PolicyAnswer(
            best.id, best.title, best.score, best.summary, best.source_url, doc.valid_to, related
        )

    def _hit(self, index: int, score: float, query: str, weights: Mapping[str, float]) -> PolicyHit:
        doc = self.docs[index]
        summary = self._key_sentence(index, query, weights)
        return PolicyHit(doc.id, doc.title, round(score, 4), summary, doc.source_url)

    def _key_sentence(self, index: int, query: str, weights: Mapping[str, float]) -> str:
        """The body sentence sharing most with the question, preferring the asked aspect (amount, how, when).

        Words of the title count less here: they say which policy it is, not which of its sentences answers.
        """
        sentences = self._sentences[index]
        if not sentences:
            return self.docs[index].body
        title = self._title_feats[index]
        local = {f: w * (_TITLE_SHARE_IN_SUMMARY if f in title else 1.0) for f, w in weights.items()}
        total = sum(local.values()) or 1.0
        asked = [name for name, cue in _ASPECT_QUERY.items() if cue.search(query)] or ["amount"]

        def merit(position: int) -> float:
            text, feats = sentences[position]
            overlap = sum(w for f, w in local.items() if f in feats) / total
            aspects = sum(0.3 for name in asked if _ASPECT_SENTENCE[name].search(text))
            amount = 0.1 if _ASPECT_SENTENCE["amount"].search(text) else 0.0
            return overlap + aspects + amount - 0.02 * position

        return sentences[max(range(len(sentences)), key=merit)][0]


class BM25Index:
    """Plain Okapi BM25 over jieba search-mode tokens of title, tags and body: the baseline to beat."""

    def __init__(self, docs: Sequence[PolicyDoc], tokenizer: DomainTokenizer | None = None) -> None:
        self.docs = tuple(docs)
        self._tokenizer = tokenizer or get_tokenizer()
        bags = [Counter(self._tokens(f"{d.title} {' '.join(d.tags)} {d.body}")) for d in self.docs]
        lengths = np.array([sum(bag.values()) for bag in bags], dtype=np.float64)
        norm = _K1 * (1.0 - 0.75 + 0.75 * lengths / max(1.0, float(lengths.mean()) if len(bags) else 1.0))
        self._postings: dict[str, tuple[float, IntArray, FloatArray]] = {}
        per_term: dict[str, list[tuple[int, float]]] = {}
        for d, bag in enumerate(bags):
            for term, tf in bag.items():
                per_term.setdefault(term, []).append((d, tf * (_K1 + 1) / (tf + norm[d])))
        for term, entries in per_term.items():
            ids, vals = zip(*entries)
            self._postings[term] = (_idf(len(entries), len(bags)), np.array(ids), np.array(vals))

    def _tokens(self, text: str) -> list[str]:
        return [w for w in self._tokenizer.cut_for_search(text) if any(ch.isalnum() for ch in w)]

    def search(self, query: str, top: int = 5) -> list[tuple[str, float]]:
        """(policy id, BM25 score) pairs, best first, score above zero."""
        scores = np.zeros(len(self.docs))
        for term in set(self._tokens(query)):
            if term in self._postings:
                idf, ids, vals = self._postings[term]
                scores[ids] += idf * vals
        order = np.argsort(-scores, kind="stable")[:top]
        return [(self.docs[i].id, float(scores[i])) for i in order if scores[i] > 0]
