"""LoRA SFT and DPO on a tiny model: masks, learning, stop, and resume from an epoch checkpoint."""

import shutil
from pathlib import Path

import pytest
from llm_fixtures import QA, WRONG, dpo_rows, hp, prompt, sft_rows

from tuneloop.llm import models, scoring, training


class Recorder(training.NoHooks):
    """Hooks that record what training reports and stop after a given step."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.steps: list[tuple[int, float]] = []
        self.epochs: list[tuple] = []
        self.stop_after = stop_after

    def on_step(self, step, train_loss):
        self.steps.append((step, train_loss))

    def on_epoch(self, epoch, checkpoint_dir, train_loss, valid_loss):
        files = {p.name for p in checkpoint_dir.iterdir()}
        self.epochs.append((epoch, checkpoint_dir, train_loss, valid_loss, files))

    def should_stop(self):
        return self.stop_after is not None and len(self.steps) >= self.stop_after


def mean_nll(model, tok, pairs) -> float:
    scores = scoring.nll_batch(model, tok, [(prompt(q), a) for q, a in pairs])
    return sum(s for s, _ in scores) / sum(n for _, n in scores)


def test_supervised_loss_is_on_the_completion_tokens_only(tiny_model, tmp_path):
    trainer = training.build_trainer("supervised", tiny_model, sft_rows(), [], hp(), tmp_path)
    tok = trainer.processing_class
    for row, (question, answer) in zip(trainer.train_dataset, QA, strict=True):
        trained = [t for t in row["labels"] if t != -100]
        assert tok.decode(trained) == answer + tok.eos_token
        n_prompt = len(scoring.prompt_ids(tok, prompt(question)))
        assert row["labels"][:n_prompt] == [-100] * n_prompt


def test_supervised_lowers_nll_and_reproduces_a_trained_answer(tiny_model, sft_adapter):
    base, tok = models.load_base(tiny_model)
    tuned, _ = models.load_tuned(tiny_model, sft_adapter)
    assert mean_nll(tuned, tok, QA) < mean_nll(base, tok, QA) - 0.5
    question, answer = QA[3]
    assert scoring.greedy(tuned, tok, prompt(question), 20) == answer
    assert scoring.greedy(base, tok, prompt(question), 20) != answer


def test_dpo_raises_the_chosen_over_rejected_margin(tiny_model, tmp_path):
    def margins(model, tok):
        return [
            scoring.logprob(model, tok, prompt(q), a) - scoring.logprob(model, tok, prompt(q), w)
            for (q, a), w in zip(QA, WRONG, strict=True)
        ]

    result = training.train(
        "dpo",
        tiny_model,
        dpo_rows(),
        dpo_rows()[:2],
        hp(n_epochs=4, batch_size=2, learning_rate=5e-3, beta=0.5),
        tmp_path,
    )
    base, tok = models.load_base(tiny_model)
    tuned, _ = models.load_tuned(tiny_model, result.adapter_dir)
    before, after = margins(base, tok), margins(tuned, tok)
    assert sum(after) / len(after) > sum(before) / len(before) + 1.0
    assert sum(m > 0 for m in after) > sum(m > 0 for m in before)
    assert sum(m > 0 for m in after) == len(after)
    assert [e["epoch"] for e in result.epochs] == [1, 2, 3, 4]
    assert all(e["valid_loss"] is not None for e in result.epochs)


def test_hooks_see_steps_and_epoch_checkpoints(tiny_model, tmp_path):
    hooks = Recorder()
    result = training.train(
        "supervised",
        tiny_model,
        sft_rows(),
        sft_rows()[:2],
        hp(n_epochs=2, log_every=2),
        tmp_path,
        hooks,
    )
    assert [s for s, _ in hooks.steps] == [2, 4]
    assert [e[0] for e in hooks.epochs] == [1, 2]
    for _, checkpoint, train_loss, valid_loss, files in hooks.epochs:
        assert checkpoint.parent.parent == tmp_path
        assert {
            "adapter_model.safetensors",
            "optimizer.pt",
            "scheduler.pt",
            "trainer_state.json",
        } <= files
        assert train_loss > 0 and valid_loss > 0
    assert result.steps == 4 and result.train_tokens > 0
    assert [e["epoch"] for e in result.epochs] == [1, 2]


def test_should_stop_raises_stopped_and_writes_no_adapter(tiny_model, tmp_path):
    hooks = Recorder(stop_after=3)
    with pytest.raises(training.Stopped):
        training.train(
            "supervised", tiny_model, sft_rows(), [], hp(n_epochs=3, batch_size=2), tmp_path, hooks
        )
    assert len(hooks.steps) == 3
    assert not (tmp_path / "adapter").exists()


def adapter_weights(adapter_dir):
    from safetensors.torch import load_file

    return load_file(str(adapter_dir / "adapter_model.safetensors"))


def test_resume_from_an_epoch_checkpoint_gives_the_uninterrupted_adapter(tiny_model, tmp_path):
    import shutil

    import torch

    params = hp(n_epochs=3, batch_size=2, learning_rate=5e-3)
    whole = training.train("supervised", tiny_model, sft_rows(), [], params, tmp_path / "whole")

    class CopyFirstEpochThenStop(Recorder):
        def on_epoch(self, epoch, checkpoint_dir, train_loss, valid_loss):
            super().on_epoch(epoch, checkpoint_dir, train_loss, valid_loss)
            shutil.copytree(checkpoint_dir, tmp_path / "saved" / f"epoch-{epoch}")

        def should_stop(self):
            return bool(self.epochs)

    with pytest.raises(training.Stopped):
        training.train(
            "supervised",
            tiny_model,
            sft_rows(),
            [],
            params,
            tmp_path / "first",
            CopyFirstEpochThenStop(),
        )
    resumed_hooks = Recorder()
    resumed = training.train(
        "supervised",
        tiny_model,
        sft_rows(),
        [],
        params,
        tmp_path / "second",
        resumed_hooks,
        resume_from=tmp_path / "saved" / "epoch-1",
    )
    assert [e[0] for e in resumed_hooks.epochs] == [2, 3]
    assert resumed.steps == whole.steps
    expected, got = adapter_weights(whole.adapter_dir), adapter_weights(resumed.adapter_dir)
    assert expected.keys() == got.keys()
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)
    assert [e["epoch"] for e in resumed.epochs] == [1, 2, 3]


class PauseAtStep(Recorder):
    """Hooks that ask for a pause at a step inside an epoch and keep the checkpoint handed over."""

    def __init__(self, at_step: int, keep: Path) -> None:
        super().__init__()
        self.at_step, self.keep, self.paused_at = at_step, keep, None

    def pause_requested(self):  # asked at a step's end, before that step's loss is logged
        return len(self.steps) + 1 == self.at_step

    def on_pause(self, step, checkpoint_dir):
        self.paused_at = step
        shutil.copytree(checkpoint_dir, self.keep)


def test_a_pause_inside_an_epoch_checkpoints_that_step_and_resumes_to_the_unpaused_adapter(
    tiny_model, tmp_path
):
    import torch

    params = hp(n_epochs=2, batch_size=2, learning_rate=5e-3)  # 8 rows: 4 steps an epoch
    whole = training.train("supervised", tiny_model, sft_rows(), [], params, tmp_path / "whole")
    pausing = PauseAtStep(at_step=6, keep=tmp_path / "paused")
    with pytest.raises(training.Stopped, match="paused after step 6"):
        training.train(
            "supervised", tiny_model, sft_rows(), [], params, tmp_path / "first", pausing
        )
    assert pausing.paused_at == 6 and [e[0] for e in pausing.epochs] == [1]
    assert training.checkpoint_epoch(tmp_path / "paused") == 1.5
    assert not (tmp_path / "first" / "adapter").exists()
    resumed_hooks = Recorder()
    resumed = training.train(
        "supervised",
        tiny_model,
        sft_rows(),
        [],
        params,
        tmp_path / "second",
        resumed_hooks,
        resume_from=tmp_path / "paused",
    )
    assert [s for s, _ in resumed_hooks.steps] == [7, 8]  # steps 1-6 are not trained again
    assert [e[0] for e in resumed_hooks.epochs] == [2]
    assert resumed.steps == whole.steps
    expected, got = adapter_weights(whole.adapter_dir), adapter_weights(resumed.adapter_dir)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-6)


def test_a_pause_at_an_epochs_last_step_is_left_to_that_epochs_checkpoint(tiny_model, tmp_path):
    pausing = PauseAtStep(at_step=4, keep=tmp_path / "paused")  # step 4 ends epoch 1
    training.train(
        "supervised",
        tiny_model,
        sft_rows(),
        [],
        hp(n_epochs=2, batch_size=2),
        tmp_path / "run",
        pausing,
    )
    assert pausing.paused_at is None  # no step checkpoint: the epoch's own one reports it
    assert [e[0] for e in pausing.epochs] == [1, 2]
