"""Workers die or are stopped mid fine-tune: the stage runs again elsewhere, once, and the job ends.

Each test builds its own stack (support.fault_stack) with short timings: visibility
timeout 8 s, heartbeat 1 s, restore sweep 1 s, lease TTL 4 s, soft shutdown 3 s. Fine-tuning
is slowed to 0.3 s per epoch by the "epoch=sleep:0.3" failpoint so it can be hit mid-way.
"""

import os
import signal
import subprocess
import time

import pytest

from tuneloop import contracts

from .support import (
    EPOCH_SLEEP,
    HEARTBEAT_INTERVAL,
    RESTORE_INTERVAL,
    SLOW_EPOCHS,
    SOFT_SHUTDOWN_TIMEOUT,
    STAGES,
    VISIBILITY_TIMEOUT,
    LeaseWatcher,
    Stack,
    alive,
    all_events,
    assert_one_run_per_epoch,
    client_for,
    comparable,
    create_job,
    deliveries,
    describe_job,
    epochs_in,
    events_of,
    fault_stack,
    holder_pid,
    lease_holder,
    models_of,
    report_recovery,
    seed_interactions,
    stages_started,
    wait_for_epochs,
    wait_for_job,
    wait_job_status,
    wait_until,
)

pytestmark = pytest.mark.integration

N_EPOCHS = 12


def _fine_tune_runner(stack: Stack, job_id: str) -> tuple[str, int]:
    """The lease holder of the job's fine_tune and its process id, once the stage runs."""
    holder = wait_until(
        lambda: lease_holder(stack, job_id, "fine_tune"),
        30.0,
        lambda: f"a fine_tune lease for {job_id}: {describe_job(stack, job_id)}",
        interval=0.02,
    )
    return holder, holder_pid(holder)


def test_kill_9_of_the_pool_child_running_fine_tune_resumes_from_the_checkpoint_once() -> None:
    with fault_stack(workers=[("w1", SLOW_EPOCHS)]) as stack, client_for(stack) as client:
        seed_interactions(client)
        reference = wait_for_job(client, stack, create_job(client, N_EPOCHS), timeout=60.0)

        job_id = create_job(client, N_EPOCHS)
        wait_for_epochs(stack, job_id, 3)
        _, pid = _fine_tune_runner(stack, job_id)
        worker = stack.proc("w1")
        # Only ever kill our own pool child: in w1's process group, not its main process.
        assert stack.worker_of(pid) == "w1" and pid != worker.pid, (pid, stack.logs())
        os.kill(pid, signal.SIGKILL)
        killed_at = time.monotonic()
        seen_at_kill = len(epochs_in(events_of(stack, job_id)))

        def resumed() -> bool:
            return any(e["message"].startswith("resuming") for e in events_of(stack, job_id))

        wait_until(resumed, 30.0, lambda: f"fine_tune to resume: {describe_job(stack, job_id)}")
        resumed_after = time.monotonic() - killed_at
        wait_job_status(client, stack, job_id, contracts.TERMINAL, timeout=60.0)
        recovered_after = time.monotonic() - killed_at
        job = wait_for_job(client, stack, job_id, timeout=10.0)
        report_recovery(
            "kill -9 pool child (fine_tune)",
            recovered_after,
            f"kill -> resumed {resumed_after:.2f} s, kill -> job succeeded; "
            f"{seen_at_kill} of {N_EPOCHS} epochs done at the kill",
        )

        events = all_events(client, job_id)
        resumes = [e for e in events if e["message"].startswith("resuming fine-tuning after")]
        assert len(resumes) == 1, describe_job(stack, job_id)
        resumed_from = resumes[0]["data"]["epoch"]
        assert resumes[0]["message"] == f"resuming fine-tuning after epoch {resumed_from}"
        # The checkpoint of epoch k is written right after its event: at most one behind.
        assert seen_at_kill - 1 <= resumed_from <= seen_at_kill, (resumed_from, seen_at_kill)
        assert resumed_from >= 2
        assert_one_run_per_epoch(events, N_EPOCHS)
        assert [m["id"] for m in models_of(client, job_id)] == [job["model_id"]]
        counts = deliveries(stack, job_id)
        assert counts["fine_tune"] == 2, counts
        assert all(n == 1 for stage, n in counts.items() if stage != "fine_tune"), counts
        # Resumed from the checkpoint, the result is the one of an uninterrupted run.
        assert comparable(job["result"]) == comparable(reference["result"])
        assert [e["train_loss"] for e in job["result"]["epochs"]] == [
            e["train_loss"] for e in reference["result"]["epochs"]
        ]
        assert worker.alive(), stack.logs()


# kill -9 of a whole worker: its message comes back once its delivery time is older than the
# visibility timeout (the heartbeat kept it fresh until the kill), at the next restore sweep
# of a live worker. The new worker starts meanwhile (a few seconds, fewer than the visibility
# timeout), then resumes from the checkpoint and runs the remaining epochs and later stages.
WORKER_KILL_MARGIN = 10.0


def _worker_kill_bound(epochs_left: int) -> float:
    """Kill -> job succeeded: visibility timeout + heartbeat + restore sweep + work + margin."""
    work = (epochs_left + 1) * EPOCH_SLEEP
    return VISIBILITY_TIMEOUT + HEARTBEAT_INTERVAL + RESTORE_INTERVAL + work + WORKER_KILL_MARGIN


def test_kill_9_of_the_whole_worker_then_a_new_worker_finishes_the_job_within_the_bound() -> None:
    with fault_stack(workers=[("w1", SLOW_EPOCHS)]) as stack, client_for(stack) as client:
        seed_interactions(client)
        job_id = create_job(client, N_EPOCHS)
        with LeaseWatcher(stack, job_id, "fine_tune") as lease:
            wait_for_epochs(stack, job_id, 3)
            _, pid = _fine_tune_runner(stack, job_id)
            assert stack.worker_of(pid) == "w1", (pid, stack.logs())
            stack.kill("w1")
            killed_at = time.monotonic()
            seen_at_kill = len(epochs_in(events_of(stack, job_id)))
            # SIGKILL is delivered asynchronously: the pool child dies a moment after the call.
            wait_until(
                lambda: not alive(pid), 5.0, lambda: f"pool child {pid} to die\n{stack.logs()}"
            )
            stack.start_worker("w2", SLOW_EPOCHS)
            bound = _worker_kill_bound(N_EPOCHS - seen_at_kill)
            wait_job_status(client, stack, job_id, contracts.TERMINAL, timeout=bound + 30.0)
            recovered_after = time.monotonic() - killed_at
        job = wait_for_job(client, stack, job_id, timeout=10.0)
        report_recovery(
            "kill -9 whole worker (fine_tune), new worker started",
            recovered_after,
            f"kill -> job succeeded; bound {bound:.1f} s = visibility {VISIBILITY_TIMEOUT:g} + "
            f"heartbeat {HEARTBEAT_INTERVAL:g} + restore {RESTORE_INTERVAL:g} + remaining "
            f"epochs + margin {WORKER_KILL_MARGIN:g}",
        )
        assert recovered_after <= bound, (recovered_after, bound, describe_job(stack, job_id))

        # Never two runners at once: w2's pool child took the lease only after w1's had died.
        holders = lease.holders()
        assert len(holders) == 2, lease.takeovers
        assert holder_pid(holders[0]) == pid
        assert stack.worker_of(holder_pid(holders[1])) == "w2", (holders, stack.logs())
        assert lease.overlaps() == [], lease.takeovers
        started = f"job {job_id} stage fine_tune: started"
        assert [stack.log_text(w).count(started) for w in ("w1", "w2")] == [1, 1]
        events = all_events(client, job_id)
        assert stages_started(events).count("fine_tune") == 1
        assert_one_run_per_epoch(events, N_EPOCHS)
        assert any(e["message"].startswith("resuming fine-tuning after") for e in events)
        assert [m["id"] for m in models_of(client, job_id)] == [job["model_id"]]
        counts = deliveries(stack, job_id)
        assert counts["fine_tune"] == 2, counts


SIGTERM_EPOCHS = 20  # 17 epochs left after the third: longer than the soft shutdown timeout
SIGTERM_EXIT_MARGIN = 7.0


def test_sigterm_mid_fine_tune_hands_the_stage_to_another_worker_and_reruns_nothing_else() -> None:
    workers = [("w1", SLOW_EPOCHS), ("w2", SLOW_EPOCHS)]
    with fault_stack(workers=workers) as stack, client_for(stack) as client:
        seed_interactions(client)
        job_id = create_job(client, SIGTERM_EPOCHS)
        with LeaseWatcher(stack, job_id, "fine_tune") as lease:
            wait_for_epochs(stack, job_id, 3)
            _, pid = _fine_tune_runner(stack, job_id)
            stopped = stack.worker_of(pid)
            assert stopped in ("w1", "w2"), (pid, stack.logs())
            other = "w2" if stopped == "w1" else "w1"
            process = stack.proc(stopped)
            process.signal(signal.SIGTERM, group=False)  # a deploy: soft shutdown, then hand back
            signalled_at = time.monotonic()
            exit_bound = SOFT_SHUTDOWN_TIMEOUT + SIGTERM_EXIT_MARGIN
            try:
                process.wait(exit_bound)
            except subprocess.TimeoutExpired as exc:
                raise AssertionError(
                    f"{stopped} still runs {exit_bound:g} s after SIGTERM\n{stack.logs()}"
                ) from exc
            exited_after = time.monotonic() - signalled_at
            wait_job_status(client, stack, job_id, contracts.TERMINAL, timeout=60.0)
            recovered_after = time.monotonic() - signalled_at
        job = wait_for_job(client, stack, job_id, timeout=10.0)
        report_recovery(
            "SIGTERM to the worker running fine_tune (second worker up)",
            recovered_after,
            f"SIGTERM -> job succeeded; the stopped worker exited after {exited_after:.2f} s "
            f"(soft shutdown timeout {SOFT_SHUTDOWN_TIMEOUT:g} s)",
        )
        assert process.returncode is not None

        holders = lease.holders()
        assert len(holders) == 2, lease.takeovers
        assert holder_pid(holders[0]) == pid
        assert stack.worker_of(holder_pid(holders[1])) == other, (holders, stack.logs())
        assert lease.overlaps() == [], lease.takeovers
        started = f"job {job_id} stage fine_tune: started"
        assert [stack.log_text(w).count(started) for w in (stopped, other)] == [1, 1]
        events = all_events(client, job_id)
        assert_one_run_per_epoch(events, SIGTERM_EPOCHS)
        assert [m["id"] for m in models_of(client, job_id)] == [job["model_id"]]
        counts = deliveries(stack, job_id)
        assert counts["fine_tune"] >= 2, counts
        assert {s: n for s, n in counts.items() if s != "fine_tune"} == {
            s: 1 for s in STAGES if s != "fine_tune"
        }, counts
