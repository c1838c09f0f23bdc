"""Find a Hugging Face model folder: on disk, in the hub cache, or (online) on the Hub.

``GPT.from_pretrained`` and ``BPETokenizer.from_pretrained`` read the
files that Hugging Face's ``save_pretrained`` writes for GPT-2
(``config.json``, ``model.safetensors``, ``vocab.json``, ``merges.txt``).
``model_folder(path_or_name, files)`` says where those files are:

1. a folder on disk is used as it is;
2. a name such as ``"gpt2"`` or ``"openai-community/gpt2-medium"`` is first
   looked up in the local ``huggingface_hub`` cache (no network at all);
3. only when some file is missing, and only when ``huggingface_hub`` is
   installed and offline mode (``HF_HUB_OFFLINE=1``) is off, the Hub is
   asked once, with a short timeout, whether the model exists; then the
   missing files are downloaded into the cache.

Without a network, or with a name the Hub does not know, the error comes
within seconds (not after ``huggingface_hub``'s retries) and names the
model and the command that fetches it on a machine that has a network.

Left out: revisions other than ``main``, private models' tokens (log in
with ``hf auth login`` and they work), and any file format but safetensors.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["model_folder", "GPT2_FILES"]

# the files GPT.from_pretrained and BPETokenizer.from_pretrained read
GPT2_FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
_TRUE = {"1", "true", "yes", "on"}


def _how_to_get(name: str, files) -> str:
    files = [f for f in GPT2_FILES if f in files] + [f for f in GPT2_FILES if f not in files]
    return (f"on a machine with a network run `hf download {name} {' '.join(files)} "
            f"--local-dir DIR` (pip install huggingface_hub) and pass that folder, "
            f"e.g. GPT.from_pretrained('DIR')")


def _looks_like_path(text: str) -> bool:
    """A Hub name is ``name`` or ``owner/name``; anything else is a path on disk."""
    return (text.startswith((".", "/", "~")) or "\\" in text or text.count("/") > 1
            or os.path.isabs(text))


def _offline() -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE:
        return True
    try:
        from huggingface_hub import constants
    except ImportError:
        return False
    return bool(constants.HF_HUB_OFFLINE)


def _cached(name: str, files, cache_dir) -> dict:
    """``{file: path}`` for the files already in the hub cache; never touches the network."""
    from huggingface_hub import try_to_load_from_cache

    found = {}
    for f in files:
        try:
            hit = try_to_load_from_cache(name, f, cache_dir=cache_dir)
        except ValueError:  # an invalid repo id
            return {}
        if isinstance(hit, str) and Path(hit).is_file():
            found[f] = Path(hit)
    return found


def _probe(name: str, timeout: float):
    """Ask the Hub once whether ``name`` exists; return its file names.

    Raises ``LookupError`` for a name the Hub does not know and
    ``ConnectionError`` when the Hub cannot be reached. No retries, so this
    fails within about ``timeout`` seconds.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import GatedRepoError, HFValidationError, RepositoryNotFoundError

    try:
        info = HfApi().model_info(name, timeout=timeout)
    except GatedRepoError:
        raise LookupError(f"the model {name!r} is gated on the Hugging Face Hub; log in with "
                          "`hf auth login` and accept its licence on its page") from None
    except (RepositoryNotFoundError, HFValidationError):
        raise LookupError(f"the Hugging Face Hub has no model named {name!r}") from None
    except Exception as err:  # DNS, refused or timed-out connections, proxies
        raise ConnectionError(f"{type(err).__name__}: {err}") from None
    return {s.rfilename for s in (info.siblings or [])}


def model_folder(path_or_name, files=GPT2_FILES, *, cache_dir=None, timeout: float = 5.0) -> Path:
    """The folder that holds ``files`` for ``path_or_name``; downloads only when needed.

    ``path_or_name`` is a folder on disk or a Hub name (``"gpt2"``). A name
    is looked up in the hub cache (``cache_dir``, default the usual
    ``~/.cache/huggingface/hub``) first. Missing files are fetched only
    online; ``timeout`` (seconds) bounds the one request that checks the
    model exists. Errors: ``FileNotFoundError`` (no such folder, or files
    missing and no way to fetch them), ``ValueError`` (an unknown name).
    """
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise TypeError(f"path_or_name must be a folder path or a model name (str), got "
                        f"{type(path_or_name).__name__}")
    files = tuple(files)
    text = os.fspath(path_or_name)
    folder = Path(text).expanduser()
    if folder.is_dir():
        missing = [f for f in files if not (folder / f).is_file()]
        if "model.safetensors" in missing and (folder / "pytorch_model.bin").is_file():
            raise ValueError(
                f"{folder} has pytorch_model.bin (a pickle, which lesson_lib never loads) but "
                "no model.safetensors; convert it once with transformers: GPT2LMHeadModel."
                "from_pretrained(DIR).save_pretrained(DIR, safe_serialization=True)")
        if missing:
            raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; a Hugging Face "
                                    f"GPT-2 folder holds {', '.join(files)} (save one with "
                                    "save_pretrained(DIR, safe_serialization=True))")
        return folder
    if folder.is_file():
        raise ValueError(f"{text} is a file; pass the folder that holds {', '.join(files)}")
    if isinstance(path_or_name, os.PathLike) or _looks_like_path(text) or not text.strip():
        raise FileNotFoundError(f"no folder at {text!r}; pass a folder with "
                                f"{', '.join(files)} or a Hugging Face model name like 'gpt2'")
    name = text
    try:
        import huggingface_hub  # noqa: F401
    except ImportError:
        raise FileNotFoundError(
            f"{name!r} is not a folder here, and fetching a model by name needs huggingface_hub "
            f"(pip install huggingface_hub); or {_how_to_get(name, files)}") from None
    found = _cached(name, files, cache_dir)
    if len(found) == len(files):
        return found[files[0]].parent  # one snapshot folder holds them all
    if _offline():
        raise FileNotFoundError(
            f"the model {name!r} is not in the local Hugging Face cache and offline mode is "
            f"on (HF_HUB_OFFLINE=1); {_how_to_get(name, files)}")
    try:
        remote = _probe(name, timeout)
    except LookupError as err:
        raise ValueError(f"{err}; GPT-2 comes as 'gpt2', 'gpt2-medium', 'gpt2-large' and "
                         "'gpt2-xl' (openai-community/...), or pass a folder on disk") from None
    except ConnectionError as err:
        raise FileNotFoundError(
            f"the model {name!r} is not in the local Hugging Face cache and the Hub cannot be "
            f"reached ({err}); {_how_to_get(name, files)}") from None
    absent = [f for f in files if f not in remote]
    if absent:
        raise ValueError(f"the Hub model {name!r} has no {', '.join(absent)}; this loader "
                         f"reads {', '.join(files)} (safetensors only, never pickles)")
    from huggingface_hub import hf_hub_download

    paths = [Path(hf_hub_download(name, f, cache_dir=cache_dir, etag_timeout=timeout))
             for f in files]
    return paths[0].parent
