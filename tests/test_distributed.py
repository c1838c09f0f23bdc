"""Several processes, one model: DDP over gloo equals one process, resumes exactly, fails clearly.

Two processes on 127.0.0.1 (gloo) train tiny GPTs with the command line. One
test goes through ``torchrun`` itself, as the README tells a reader to; the
others start the two ranks directly with the environment torchrun would give
them (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT), which starts faster on a
busy machine. Each run has a timeout; ports are asked of the OS.
Also here: token shards and the GPT-2-small path (a tiny CPU smoke run).
"""
import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist

from lesson_lib.cli import PRESETS, flops_per_token, main
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.pretrained import load
from lesson_lib.train import distributed
from lesson_lib.train.shards import TokenShards, prepare

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 300  # seconds for one multi-process run, on a loaded 2-core machine
TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
        "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to "
        "famish?\n\nAll:\nResolved. resolved.\n\n") * 20
ARGS = ["--tokenizer", "char", "--block-size", "16", "--batch-size", "8", "--n-layer", "1",
        "--n-head", "2", "--n-embd", "16", "--max-iters", "30", "--lr", "3e-3", "--min-lr",
        "3e-4", "--warmup-iters", "3", "--eval-interval", "10", "--eval-iters", "2",
        "--seed", "5", "--device", "cpu", "--no-progress"]
WORKER = """
import sys
import torch.distributed as dist
from lesson_lib.cli import main
from lesson_lib.train import Callback

class InterruptAt(Callback):
    def on_step(self, state):
        if state.iter == 14:
            raise KeyboardInterrupt

dist.init_process_group("gloo")  # main() uses the group it finds and leaves it open
full, cut = sys.argv[1], sys.argv[2]
args = sys.argv[3:]
main(["--out", full, *args])
main(["--out", cut, *args], callbacks=[InterruptAt()])
dist.destroy_process_group()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(rank=None, world=None, port=None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    if rank is not None:
        env.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                   LOCAL_WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    return env


def run_ranks(cmd: list, world: int = 2) -> list:
    """Start ``world`` ranks of ``cmd``; wait for all; ``[(returncode, stdout, stderr)]``."""
    port = free_port()
    procs = [subprocess.Popen(cmd, cwd=ROOT, env=env_for(r, world, port), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for r in range(world)]
    results = []
    try:
        for p in procs:
            out, err = p.communicate(timeout=TIMEOUT)
            results.append((p.returncode, out, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for rank, (code, out, err) in enumerate(results):
        assert code == 0, f"rank {rank} exited {code}:\n{out[-1500:]}\n{err[-3000:]}"
    return results


def history(folder: Path) -> dict:
    return json.loads((folder / "history.json").read_text())


def assert_same_weights(a_path, b_path, atol):
    a, _ = load(a_path)
    b, _ = load(b_path)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        if "k_proj.bias" not in name:  # zero gradient up to rounding; Adam amplifies the noise
            torch.testing.assert_close(x, y, rtol=0, atol=atol, msg=name)


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "lines.txt"
    path.write_text(TEXT)
    return path


# ------------------------------------------------------------------ 2 processes = 1 process

@pytest.fixture(scope="module")
def torchrun_pair(text_file, tmp_path_factory):
    """The same 30 steps, dropout 0: once in this process, once under torchrun on 2 ranks."""
    work = tmp_path_factory.mktemp("pair")
    args = ["--data", str(text_file), *ARGS, "--dropout", "0"]
    one = main(["--out", str(work / "one"), *args])
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "lesson_lib.train", "--out", str(work / "two"), *args],
        cwd=ROOT, env=env_for(), capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-3000:]
    return work, one, result.stdout


def test_two_gloo_processes_equal_one_process(torchrun_pair):
    work, one, stdout = torchrun_pair
    two = history(work / "two")
    assert two["world_size"] == 2 and history(work / "one")["world_size"] == 1
    assert two["iter"] == one["iter"] == [10, 20, 30]
    assert abs(two["val_loss"][-1] - one["val_loss"][-1]) < 2e-3
    torch.testing.assert_close(two["val_loss"], one["val_loss"], rtol=0, atol=2e-3)
    assert_same_weights(work / "one" / "model", work / "two" / "model", atol=1e-4)
    assert two["val_loss"][-1] < two["val_loss"][0] - 0.1  # and they did learn


def test_rank_0_alone_logs_and_writes(torchrun_pair):
    work, _, stdout = torchrun_pair
    assert len(re.findall(r"^val_loss=\S+ tokens_per_s=\S+$", stdout, re.M)) == 1
    assert stdout.count("2 process(es) x 1 micro-batch(es) of 4 = batch 8") == 1
    assert sorted(p.name for p in (work / "two").iterdir()) == [
        "history.json", "model.json", "model.ranks.safetensors", "model.safetensors",
        "model.train.json", "model.train.safetensors"]
    h = history(work / "two")
    assert h["grad_accum"] == 1 and h["device"] == "cpu" and h["dtype"] == "float32"
    assert h["tokens_per_s"] > 0


# ------------------------------------------------------------------ resume under DDP

def test_interrupt_and_resume_under_ddp_replays_the_same_numbers(text_file, tmp_path, capsys):
    args = ["--data", str(text_file), *ARGS, "--dropout", "0.1"]  # dropout: per-rank RNGs
    worker = tmp_path / "worker.py"
    worker.write_text(WORKER)
    full, cut = tmp_path / "full", tmp_path / "cut"
    ranks = run_ranks([sys.executable, str(worker), str(full), str(cut), *args])
    assert "the checkpoint of step 10 stays" in ranks[0][1] and "stays" not in ranks[1][1]
    assert history(cut)["interrupted"] is True and history(cut)["iter"] == [10]
    resumed = run_ranks([sys.executable, "-m", "lesson_lib.train", "--out", str(cut), *args,
                         "--resume"])
    assert "resuming at step 10" in resumed[0][1]
    a, b = history(full), history(cut)
    assert b["iter"] == a["iter"] == [10, 20, 30] and b["resumed_from"] == 10
    assert b["val_loss"] == a["val_loss"] and b["train_loss"] == a["train_loss"]
    assert_same_weights(full / "model", cut / "model", atol=0)
    # resuming with another number of processes is refused, naming both numbers
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(cut), *args, "--resume"])
    assert exit_info.value.code == 2
    assert re.search(r"written by a run of 2 process\(es\), but this run has 1; expected "
                     r"torchrun --nproc_per_node=2", capsys.readouterr().err)


# ------------------------------------------------------------------ clear errors

def test_a_batch_that_does_not_split_across_processes(text_file, tmp_path, monkeypatch, capsys):
    with pytest.raises(ValueError, match=r"global batch of 12 rows does not split into 5 "
                                         r"process\(es\) x 1 micro-batch\(es\); expected "
                                         r"--batch-size to be a multiple of 5"):
        distributed.micro_batch_size(12, 5, 1)
    assert distributed.micro_batch_size(480, 8, 5) == 12
    monkeypatch.setattr(distributed, "start", lambda device: (distributed.World(0, 3, 0),
                                                              device, False))
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "out"), "--data", str(text_file), *ARGS])
    assert exit_info.value.code == 2
    assert "batch of 8 rows does not split into 3 process(es)" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_missing_backend_is_named(text_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(dist, "is_nccl_available", lambda: False)
    with pytest.raises(RuntimeError, match="NCCL backend is not available .*--device cpu"):
        distributed.backend_for(torch.device("cuda"))
    monkeypatch.setattr(dist, "is_gloo_available", lambda: False)
    with pytest.raises(RuntimeError, match="gloo backend is not available"):
        distributed.backend_for(torch.device("cpu"))
    with pytest.raises(ValueError, match="needs --device cpu .*or cuda .*got 'mps'"):
        distributed.backend_for(torch.device("mps"))
    for key, value in env_for(0, 2, free_port()).items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["--out", str(tmp_path / "out"), "--data", str(text_file), *ARGS])
    assert exit_info.value.code == 2
    assert "--device cpu: the gloo backend is not available" in capsys.readouterr().err


def test_rows_split_a_batch_and_check_its_size():
    x, y = torch.arange(8).view(4, 2), torch.arange(8).view(4, 2) + 1
    a, b = distributed.rows((x, y), 2, 4)
    assert a.tolist() == [[4, 5], [6, 7]] and b.tolist() == [[5, 6], [7, 8]]
    with pytest.raises(ValueError, match=r"element 1 of the batch is \(3,\); expected a tensor "
                                         r"with at least 4 rows"):
        distributed.rows((x, torch.zeros(3)), 2, 4)


# ------------------------------------------------------------------ token shards, GPT-2 small

def test_shards_hold_uint16_ids_split_like_the_cli(tmp_path):
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    files[0].write_text(TEXT)
    files[1].write_text(TEXT.upper())
    meta = prepare(files, tmp_path / "shards", tokenizer="bpe", vocab_size=300,
                   shard_tokens=1000, verbose=False)
    assert meta["vocab_size"] == 300 and len(meta["train"]) > 1  # several shards
    for split in ("train", "val"):
        sizes = [(tmp_path / "shards" / f).stat().st_size for f in meta[split]]
        assert sum(sizes) == 2 * meta["tokens"][split]  # 2 bytes a token
        assert max(sizes) <= 2 * 1000
    shards = TokenShards(tmp_path / "shards", "val")
    assert shards.arrays[0].dtype == np.uint16
    from lesson_lib.tokenizers import Tokenizer
    tok = Tokenizer.from_dict(meta["tokenizer"])
    cut = int(len(TEXT) * 0.9)
    assert tok.decode(shards.ids().tolist()) == TEXT[cut:] + TEXT.upper()[cut:]
    x, y = shards.batcher(8, 5)(torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (5, 8) and torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="vocab_size=70000 does not fit uint16 shards"):
        prepare(files, tmp_path / "wide", tokenizer="bpe", vocab_size=70_000, verbose=False)


def test_a_vocabulary_too_wide_for_uint16_is_refused(tmp_path, monkeypatch):
    from lesson_lib.train import shards

    (tmp_path / "a.txt").write_text(TEXT)
    monkeypatch.setattr(shards, "MAX_UINT16_VOCAB", 10)
    with pytest.raises(ValueError, match=r"a vocabulary of \d+ ids does not fit uint16 shards; "
                                         "expected at most 10"):
        prepare([tmp_path / "a.txt"], tmp_path / "out", tokenizer="char", verbose=False)
    assert not (tmp_path / "out").exists()


def test_one_shard_trains_exactly_like_the_text_file(text_file, tmp_path):
    prepare([text_file], tmp_path / "shards", tokenizer="char", verbose=False)
    from_text = main(["--data", str(text_file), "--out", str(tmp_path / "a"), *ARGS])
    from_shards = main(["--data", str(tmp_path / "shards"), "--out", str(tmp_path / "b"), *ARGS])
    assert from_shards["val_loss"] == from_text["val_loss"]


def test_the_gpt2_small_preset_has_124m_parameters():
    p = PRESETS["gpt2-small"]
    vocab = -(-50257 // p["pad_vocab"]) * p["pad_vocab"]
    assert vocab == 50304
    with torch.device("meta"):
        model = GPT(GPTConfig(vocab_size=vocab, block_size=p["block_size"], n_layer=p["n_layer"],
                              n_head=p["n_head"], n_embd=p["n_embd"], bias=p["bias"]))
    total = sum(t.numel() for t in model.parameters())
    assert 123.5e6 < total < 125.5e6, total
    assert 0.8e9 < flops_per_token(model) < 0.9e9
    assert p["batch_size"] * p["block_size"] == 491_520  # tokens per step, as GPT-2's recipe


def test_gpt2_small_path_smoke_run_on_cpu(tmp_path, capsys):
    files = [tmp_path / "one.txt", tmp_path / "two.txt"]
    for i, f in enumerate(files):
        f.write_text(TEXT.replace("Citizen", f"Citizen {i}"))
    main_shards = [sys.executable, "-m", "lesson_lib.train.shards", *map(str, files), "--out",
                   str(tmp_path / "shards"), "--tokenizer", "bpe", "--vocab-size", "300"]
    made = subprocess.run(main_shards, cwd=ROOT, env=env_for(), capture_output=True, text=True,
                          timeout=TIMEOUT)
    assert made.returncode == 0, made.stderr[-2000:]
    assert "wrote 1 training and 1 validation shard(s)" in made.stdout
    h = main(["--data", str(tmp_path / "shards"), "--out", str(tmp_path / "run"),
              "--preset", "gpt2-small", "--n-layer", "1", "--n-head", "2", "--n-embd", "16",
              "--block-size", "16", "--batch-size", "8", "--grad-accum", "2", "--max-iters", "6",
              "--warmup-iters", "2", "--eval-interval", "3", "--eval-iters", "1",
              "--device", "cpu", "--no-progress"])
    assert h["dtype"] == "bfloat16" and h["grad_accum"] == 2  # from the preset / the flag
    assert "padded to 320" in capsys.readouterr().out  # 300 rounded up to a multiple of 64
    model, tok = load(tmp_path / "run" / "model")
    assert model.config.bias is False and model.config.vocab_size == 320
    assert tok.vocab_size == 300 and history(tmp_path / "run")["iter"] == [3, 6]


def test_gpu_check_script_is_valid_bash():
    script = ROOT / "bench" / "gpu_check.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    text = script.read_text()
    assert "torch.distributed.run" in text and "bfloat16" in text and "MFU" in text
