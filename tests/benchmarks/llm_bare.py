"""The bare run bench_llm.py compares a job with: TRL's SFTTrainer called directly, nothing else.

python llm_bare.py MODEL_DIR ROWS_JSONL HP_JSON prints one JSON line: the seconds from loading
the model to the adapter saved, and the tokens trained. Same rows, same LoRA settings, same
epochs, batch, rate and per-epoch validation as the job; no Redis, no events, no checkpoints
uploaded. It imports nothing of Tuneloop's.
"""

import json
import sys
import tempfile
import time


def main() -> None:
    """Train once and print the figures."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    model_dir, rows_path, hp = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    torch.set_num_threads(int(hp.get("threads", torch.get_num_threads())))
    with open(rows_path, encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    train = [r for r in rows if r["side"] == "train"]
    valid = [r for r in rows if r["side"] == "validation"]
    strip = [{"prompt": r["prompt"], "completion": r["completion"]} for r in train]
    datasets.disable_progress_bars()
    started = time.perf_counter()
    set_seed(hp["seed"])
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    lora = LoraConfig(
        r=hp["lora_r"],
        lora_alpha=hp["lora_alpha"],
        lora_dropout=hp["lora_dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    with tempfile.TemporaryDirectory() as out:
        config = SFTConfig(
            output_dir=out,
            num_train_epochs=hp["n_epochs"],
            per_device_train_batch_size=hp["batch_size"],
            per_device_eval_batch_size=hp["batch_size"],
            learning_rate=hp["learning_rate"],
            max_length=hp["max_length"],
            seed=hp["seed"],
            eval_strategy="epoch" if valid else "no",
            save_strategy="no",
            logging_steps=hp["log_every"],
            report_to="none",
            disable_tqdm=True,
            use_cpu=not torch.cuda.is_available(),
            # The job's settings (tuneloop.llm.training), not TRL's defaults: bf16 only on a GPU
            # that has it (on the CPU it is many times slower), no activation checkpointing.
            bf16=torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
            fp16=False,
            activation_checkpointing=False,
            warmup_steps=0,
            completion_only_loss=True,
        )
        trainer = SFTTrainer(
            model=model,
            args=config,
            processing_class=tokenizer,
            train_dataset=datasets.Dataset.from_list(strip),
            eval_dataset=datasets.Dataset.from_list(
                [{"prompt": r["prompt"], "completion": r["completion"]} for r in valid]
            )
            if valid
            else None,
            peft_config=lora,
        )
        trainer.remove_callback(PrinterCallback)
        trainer.train()
        trainer.save_model(f"{out}/adapter")
        seconds = time.perf_counter() - started
        tokens = sum(len(ids) for ids in trainer.train_dataset["input_ids"]) * hp["n_epochs"]
    print(json.dumps({"seconds": seconds, "tokens": tokens, "train_rows": len(train)}))


if __name__ == "__main__":
    main()
