"""The training loop, its callbacks, checkpoint/resume, and the command line."""
import copy
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lesson_lib.cli import main
from lesson_lib.gpt import GPT, GPTConfig
from lesson_lib.pretrained import load, load_weights
from lesson_lib.train import (
    Callback,
    CheckpointWriter,
    ProgressBar,
    TrainConfig,
    grad_scaler,
    lr_at,
    pick_device,
    resume,
    train,
)
from lesson_lib.train import loop as train_loop

ROOT = Path(__file__).resolve().parent.parent


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py

TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
        "All:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved rather to die than to "
        "famish?\n\n") * 12


def tiny_gpt(dropout=0.0, seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=16,
                         dropout=dropout))


def patterned_ids(n=600):
    g = torch.Generator().manual_seed(0)
    base = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11])
    noise = torch.randint(0, 12, (n,), generator=g)
    ids = base.repeat(n // 12 + 1)[:n]
    return torch.where(torch.rand(n, generator=g) < 0.1, noise, ids)


def tiny_config(**kw):
    base = dict(max_iters=30, batch_size=4, block_size=8, lr=3e-3, min_lr=3e-4, warmup_iters=3,
                eval_interval=10, eval_iters=2, seed=7)
    return TrainConfig(**{**base, **kw})


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, state):
        self.events.append(("begin", state.iter))

    def on_step(self, state):
        self.events.append(("step", state.iter))

    def on_eval(self, state):
        self.events.append(("eval", state.iter))

    def on_train_end(self, state):
        self.events.append(("end", state.iter))


# ------------------------------------------------------------------ schedule and config

def test_lr_at_worked_example():
    c = TrainConfig(lr=1.0, min_lr=0.0, warmup_iters=10, lr_decay_iters=110, max_iters=200)
    assert lr_at(4, c) == pytest.approx(0.5)  # warm-up: (4 + 1) / 10
    assert lr_at(9, c) == pytest.approx(1.0)  # warm-up ends at the peak
    assert lr_at(10, c) == pytest.approx(1.0)  # cosine starts at the peak
    assert lr_at(60, c) == pytest.approx(0.5)  # half-way down the cosine
    assert lr_at(110, c) == pytest.approx(0.0) and lr_at(150, c) == 0.0
    c2 = TrainConfig(lr=1e-3, min_lr=1e-4, warmup_iters=0, max_iters=100)
    assert lr_at(0, c2) == pytest.approx(1e-3)
    assert lr_at(50, c2) == pytest.approx(1e-4 + 0.5 * 9e-4)


@pytest.mark.parametrize("kw, message", [
    (dict(max_iters=-1), r"TrainConfig\.max_iters must be an int >= 0, got -1"),
    (dict(batch_size=0), "batch_size must be a positive int, got 0"),
    (dict(lr=float("nan")), "lr must be a finite number >= 0, got nan"),
    (dict(lr=-1e-3), "lr must be a finite number >= 0"),
    (dict(lr=1e-4, min_lr=1e-3), "min_lr=0.001 is above lr=0.0001"),
    (dict(warmup_iters=-5), r"TrainConfig\.warmup_iters must be an int >= 0, got -5"),
    (dict(betas=(0.9, 1.5)), r"betas must be two numbers in \[0, 1\)"),
])
def test_bad_config_values_raise_value_error(kw, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**kw)


def test_a_float_count_is_a_type_error():
    with pytest.raises(TypeError, match=r"block_size must be a positive int, got float 2\.5"):
        TrainConfig(block_size=2.5)


def test_bad_inputs_to_train():
    with pytest.raises(TypeError, match="config must be a TrainConfig"):
        train(tiny_gpt(), patterned_ids(), None, {"max_iters": 3})
    with pytest.raises(ValueError, match=r"more than block_size=8 ids, got shape \(5,\)"):
        train(tiny_gpt(), patterned_ids(5), None, tiny_config())


@pytest.mark.parametrize("kw, error, message", [
    (dict(grad_accum=0), ValueError, "grad_accum must be a positive int, got 0"),
    (dict(batch_size=12, grad_accum=5), ValueError,
     "batch_size=12 does not split into grad_accum=5 equal micro-batches; expected a multiple"),
    (dict(dtype="float64"), ValueError, "dtype must be one of .*float32.*got 'float64'"),
    (dict(compile="yes"), TypeError, "compile must be True or False, got str 'yes'"),
    (dict(device="tpu"), ValueError, "device 'tpu' is not one of auto, cpu, cuda, mps"),
])
def test_bad_scaling_options(kw, error, message):
    with pytest.raises(error, match=message):
        TrainConfig(**kw)


def test_pick_device_prefers_cuda_then_mps_then_cpu(monkeypatch):
    from lesson_lib.train import device as dev

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert pick_device() == torch.device("cpu") == pick_device("cpu")
    with pytest.raises(ValueError, match=r"device 'cuda' is not available here .*available: cpu"):
        pick_device("cuda")
    with pytest.raises(ValueError, match="device 'mps' is not available here"):
        pick_device("mps")
    with pytest.raises(ValueError, match="device 'gpu' is not one of"):
        pick_device("gpu")
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert pick_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")


# ------------------------------------------------------------------ the loop

def test_same_seed_same_history_and_loss_decreases():
    ids = patterned_ids()
    train_ids, val_ids = ids[:500], ids[500:]
    runs = [train(tiny_gpt(dropout=0.1), train_ids, val_ids, tiny_config(max_iters=60))
            for _ in range(2)]
    assert runs[0]["step_loss"] == runs[1]["step_loss"]
    assert runs[0]["val_loss"] == runs[1]["val_loss"]
    assert runs[0]["iter"] == [10, 20, 30, 40, 50, 60]
    h = runs[0]
    assert h["val_loss"][-1] < h["val_loss"][0] - 0.3  # it learned the repeating pattern
    assert h["val_loss"][0] < math.log(12) and not h["interrupted"]
    assert len(h["step_loss"]) == 60 and h["tokens_per_s"] > 0
    other = train(tiny_gpt(dropout=0.1), train_ids, val_ids, tiny_config(max_iters=60, seed=8))
    assert other["step_loss"] != h["step_loss"]  # the seed matters


def test_callbacks_are_called_in_order():
    rec = Recorder()
    train(tiny_gpt(), patterned_ids(), patterned_ids(100), tiny_config(max_iters=20), [rec])
    expected = ([("begin", 0)] + [("step", i) for i in range(10)] + [("eval", 10)]
                + [("step", i) for i in range(10, 20)] + [("eval", 20), ("end", 20)])
    assert rec.events == expected


def test_batch_function_and_scalar_loss_model():
    class Regression(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(3))

        def forward(self, x, y):
            return ((x @ self.w - y) ** 2).mean()  # a bare scalar loss is accepted

    true_w = torch.tensor([1.0, -2.0, 0.5])

    def batch(g):
        x = torch.randn(16, 3, generator=g)
        return x, x @ true_w

    model = Regression()
    h = train(model, batch, batch, tiny_config(max_iters=300, lr=0.05, min_lr=0.01,
                                               weight_decay=0.0, eval_interval=100))
    assert h["val_loss"][-1] < 1e-3
    torch.testing.assert_close(model.w.detach(), true_w, atol=0.05, rtol=0)


def test_grad_accum_2_equals_the_plain_step():
    ids, val = patterned_ids(), patterned_ids(100)
    models, runs = [], []
    for k in (1, 2):
        model = tiny_gpt()
        runs.append(train(model, ids, val, tiny_config(batch_size=4, grad_accum=k)))
        models.append(model)
    plain, accum = runs
    assert accum["grad_accum"] == 2 and plain["grad_accum"] == 1
    torch.testing.assert_close(accum["step_loss"], plain["step_loss"], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(accum["val_loss"], plain["val_loss"], rtol=1e-5, atol=1e-6)
    for (name, a), b in zip(models[0].state_dict().items(), models[1].state_dict().values()):
        if "k_proj.bias" not in name:  # its gradient is 0 up to rounding (softmax ignores a
            # shift shared by a row), and Adam turns rounding noise into full-size steps
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)
    other = tiny_gpt()  # a real difference (another seed) is far above that tolerance
    moved = train(other, ids, val, tiny_config(batch_size=4, seed=8))
    assert abs(moved["val_loss"][-1] - plain["val_loss"][-1]) > 1e-3


def test_bfloat16_trains_within_0_1_of_float32():
    ids, val = patterned_ids(), patterned_ids(200)
    f32 = train(tiny_gpt(), ids, val, tiny_config(max_iters=60))
    model = tiny_gpt()
    bf16 = train(model, ids, val, tiny_config(max_iters=60, dtype="bfloat16"))
    assert bf16["dtype"] == "bfloat16" and f32["dtype"] == "float32"
    assert next(model.parameters()).dtype == torch.float32  # weights stay float32: mixed precision
    assert bf16["val_loss"][-1] < bf16["val_loss"][0] - 0.3  # it learned
    assert abs(bf16["val_loss"][-1] - f32["val_loss"][-1]) < 0.1
    assert bf16["step_loss"] != f32["step_loss"]  # autocast really ran in bfloat16


def test_float16_trains_with_a_gradient_scaler():
    assert grad_scaler(torch.device("cpu"), "float16").is_enabled()
    assert not grad_scaler(torch.device("cpu"), "bfloat16").is_enabled()
    h = train(tiny_gpt(), patterned_ids(), patterned_ids(200), tiny_config(max_iters=60,
                                                                           dtype="float16"))
    assert all(math.isfinite(v) for v in h["step_loss"])
    assert h["val_loss"][-1] < h["val_loss"][0] - 0.3


def test_compile_is_opt_in(monkeypatch):
    compiled = []

    def fake_compile(model):
        compiled.append(model)
        return model

    monkeypatch.setattr(train_loop.torch, "compile", fake_compile)
    model = tiny_gpt()
    train(model, patterned_ids(), None, tiny_config(max_iters=2))
    assert compiled == []
    train(model, patterned_ids(), None, tiny_config(max_iters=2, compile=True))
    assert compiled == [model]


def test_config_device_moves_the_model_and_history_names_it():
    model = tiny_gpt()
    h = train(model, patterned_ids(), None, tiny_config(max_iters=2, device="auto"))
    assert h["device"] == str(pick_device("auto")) == str(next(model.parameters()).device)
    assert h["world_size"] == 1 and h["tokens_per_s"] > 0


class InterruptAt(Callback):
    def __init__(self, step):
        self.step = step

    def on_step(self, state):
        if state.iter == self.step:
            raise KeyboardInterrupt


class SnapshotAtEval(Callback):
    def __init__(self):
        self.snapshots = {}

    def on_eval(self, state):
        self.snapshots[state.iter] = copy.deepcopy(state.model.state_dict())


def test_keyboard_interrupt_returns_history_and_keeps_last_checkpoint(tmp_path, capsys):
    model, bar, snap = tiny_gpt(), ProgressBar(), SnapshotAtEval()
    ckpt = CheckpointWriter(tmp_path, name="run")
    h = train(model, patterned_ids(), patterned_ids(100), tiny_config(), [bar, snap, ckpt,
                                                                          InterruptAt(24)])
    assert h["interrupted"] is True and "Interrupted at step 24" in capsys.readouterr().out
    assert len(h["step_loss"]) == 25 and h["iter"] == [10, 20]
    assert bar.bar.disable  # tqdm sets this when the bar is closed
    loaded, _ = load(tmp_path / "run.safetensors")  # the checkpoint of the last evaluation
    assert loaded.meta["iter"] == 20 and loaded.meta["val_loss"] == h["val_loss"][-1]
    for key, value in snap.snapshots[20].items():
        torch.testing.assert_close(loaded.state_dict()[key], value, rtol=0, atol=0)
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no temporary files


def test_checkpoint_interrupted_while_writing_stays_intact(tmp_path, monkeypatch):
    from lesson_lib import checkpoints

    real_save, calls = checkpoints.save_model, []

    def flaky_save(model, filename, *args, **kwargs):
        calls.append(filename)
        if len(calls) == 2:  # the second evaluation dies half-way through its write
            Path(filename).write_bytes(b"\x00" * 17)
            raise KeyboardInterrupt
        return real_save(model, filename, *args, **kwargs)

    monkeypatch.setattr(checkpoints, "save_model", flaky_save)
    snap = SnapshotAtEval()
    h = train(tiny_gpt(), patterned_ids(), patterned_ids(100), tiny_config(),
              [snap, CheckpointWriter(tmp_path, name="run")])
    assert h["interrupted"] and len(calls) == 2
    model = load_weights(tiny_gpt(seed=1), tmp_path / "run.safetensors")
    for key, value in snap.snapshots[10].items():
        torch.testing.assert_close(model.state_dict()[key], value, rtol=0, atol=0)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "run.json", "run.safetensors", "run.train.json", "run.train.safetensors"]


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_resume_matches_an_uninterrupted_run(tmp_path, dropout):
    ids, val = patterned_ids(), patterned_ids(100)
    config = tiny_config(max_iters=30)
    full = tiny_gpt(dropout)
    h_full = train(full, ids, val, config)

    first = tiny_gpt(dropout)
    h1 = train(first, ids, val, config, [CheckpointWriter(tmp_path, name="run"), InterruptAt(14)])
    assert h1["interrupted"] and h1["iter"] == [10]
    second = tiny_gpt(dropout, seed=123)  # different init: every number must come from the file
    h2 = train(second, ids, val, config, **resume(second, tmp_path / "run", config))
    assert h1["step_loss"][:10] + h2["step_loss"] == h_full["step_loss"]
    assert h2["iter"] == [20, 30] and h2["val_loss"] == h_full["val_loss"][1:]
    for (k, a), b in zip(full.state_dict().items(), second.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)


# ------------------------------------------------------------------ command line

CLI_ARGS = ["--tokenizer", "char", "--block-size", "16", "--batch-size", "4", "--n-layer", "1",
            "--n-head", "2", "--n-embd", "16", "--max-iters", "20", "--dropout", "0.1",
            "--lr", "3e-3", "--min-lr", "3e-4", "--warmup-iters", "2", "--eval-interval", "10",
            "--eval-iters", "2", "--seed", "3", "--device", "cpu"]


def check_outputs(out: Path, stdout: str):
    last = stdout.strip().splitlines()[-1]
    m = __import__("re").fullmatch(r"val_loss=(\S+) tokens_per_s=(\S+)", last)
    assert m, f"last line was {last!r}"
    val, tps = float(m.group(1)), float(m.group(2))
    assert math.isfinite(val) and tps > 0
    hist = json.loads((out / "history.json").read_text())
    assert hist["iter"] == [10, 20] and len(hist["train_loss"]) == len(hist["val_loss"]) == 2
    assert hist["world_size"] == 1 and hist["device"] == "cpu" and hist["dtype"] == "float32"
    assert hist["grad_accum"] == 1 and hist["tokens_per_s"] > 0
    assert val == pytest.approx(hist["val_loss"][-1], abs=1e-4)
    model, tok = load(out / "model.safetensors")
    assert tok.decode(tok.encode("Speak, speak.")) == "Speak, speak."
    assert model.config.block_size == 16 and model.config.n_embd == 16
    return val


def test_cli_in_process(tmp_path, capsys):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT + "Zounds!")  # 'Z' only in the last 10%: the char vocab covers it
    history = main(["--data", str(data), "--out", str(tmp_path / "out"), *CLI_ARGS])
    val = check_outputs(tmp_path / "out", capsys.readouterr().out)
    assert val == pytest.approx(history["val_loss"][-1], abs=1e-4)
    _, tok = load(tmp_path / "out" / "model")
    assert "Z" in tok.chars


def test_cli_bpe_in_process(tmp_path, capsys):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT)
    args = [a if a != "char" else "bpe" for a in CLI_ARGS] + ["--vocab-size", "280"]
    main(["--data", str(data), "--out", str(tmp_path / "out"), *args])
    check_outputs(tmp_path / "out", capsys.readouterr().out)
    _, tok = load(tmp_path / "out" / "model")
    assert tok.vocab_size == 280


def test_cli_subprocess(tmp_path):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "lesson_lib.train", "--data", str(data),
                             "--out", str(tmp_path / "out"), *CLI_ARGS],
                            capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    check_outputs(tmp_path / "out", result.stdout)


@pytest.mark.parametrize("change, message", [
    ({"--data": "missing.txt"}, "no text file at"),
    ({"--block-size": "0"}, "--block-size: expected an integer >= 1, got 0"),
    ({"--lr": "fast"}, "--lr: expected a number, got 'fast'"),
    ({"--dropout": "1.5"}, r"--dropout: expected a number in \[0.0, 1.0\), got '1.5'"),
    ({"--n-head": "3"}, "n_embd=16 is not divisible by n_head=3"),
    ({"--min-lr": "1"}, "min_lr=1.0 is above lr=0.003"),
    ({"--block-size": "500"}, "too short for --block-size 500"),
])
def test_cli_bad_arguments(tmp_path, capsys, change, message):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT)
    args = ["--data", str(data), "--out", str(tmp_path / "out"), *CLI_ARGS]
    for flag, value in change.items():
        value = str(tmp_path / value) if flag == "--data" else value
        args[args.index(flag) + 1] = value
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)
    assert not (tmp_path / "out").exists()


def test_cli_grad_accum_and_bfloat16_flags(tmp_path, capsys):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT)
    plain = main(["--data", str(data), "--out", str(tmp_path / "a"), *CLI_ARGS, "--dropout", "0"])
    accum = main(["--data", str(data), "--out", str(tmp_path / "b"), *CLI_ARGS, "--dropout", "0",
                  "--grad-accum", "2"])
    torch.testing.assert_close(accum["val_loss"], plain["val_loss"], rtol=1e-5, atol=1e-5)
    hist = json.loads((tmp_path / "b" / "history.json").read_text())
    assert hist["grad_accum"] == 2
    main(["--data", str(data), "--out", str(tmp_path / "c"), *CLI_ARGS, "--dtype", "bfloat16"])
    assert json.loads((tmp_path / "c" / "history.json").read_text())["dtype"] == "bfloat16"
    assert "1 process(es) x 2 micro-batch(es) of 2 = batch 4" in capsys.readouterr().out


def test_cli_resume_replays_an_interrupted_run(tmp_path, capsys):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT)
    args = [*CLI_ARGS, "--max-iters", "30"]
    main(["--data", str(data), "--out", str(tmp_path / "full"), *args])
    main(["--data", str(data), "--out", str(tmp_path / "cut"), *args], callbacks=[InterruptAt(14)])
    printed = capsys.readouterr().out
    assert "the checkpoint of step 10 stays" in printed and "--resume" in printed
    assert json.loads((tmp_path / "cut" / "history.json").read_text())["interrupted"] is True
    main(["--data", str(data), "--out", str(tmp_path / "cut"), *args, "--resume"])
    assert "resuming at step 10" in capsys.readouterr().out
    full, cut = (json.loads((tmp_path / d / "history.json").read_text()) for d in ("full", "cut"))
    assert cut["iter"] == full["iter"] == [10, 20, 30] and cut["resumed_from"] == 10
    assert cut["val_loss"] == full["val_loss"] and not cut["interrupted"]
    a, _ = load(tmp_path / "full" / "model")
    b, _ = load(tmp_path / "cut" / "model")
    for (k, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(x, y, rtol=0, atol=0, msg=k)
    with pytest.raises(SystemExit):  # a finished run has nothing left to resume
        main(["--data", str(data), "--out", str(tmp_path / "cut"), *args, "--resume"])
    assert "is at step 30, already at --max-iters 30" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--batch-size", "5", "--grad-accum", "2"], "batch_size=5 does not split into grad_accum=2"),
    (["--device", "cuda"] if not torch.cuda.is_available() else ["--device", "gpu"],
     "--device"),
    (["--dtype", "float64"], "invalid choice: 'float64'"),
    (["--resume"], r"--resume: no training state at .*model\.train\.json"),
])
def test_cli_bad_scaling_arguments(tmp_path, capsys, extra, message):
    data = tmp_path / "tiny.txt"
    data.write_text(TEXT)
    with pytest.raises(SystemExit) as exit_info:
        main(["--data", str(data), "--out", str(tmp_path / "out"), *CLI_ARGS, *extra])
    assert exit_info.value.code == 2
    assert __import__("re").search(message, capsys.readouterr().err)
