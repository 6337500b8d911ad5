"""The supervisor's restart delays."""

from tuneloop_devstack.procs import Backoff


def test_delays_double_from_one_second_up_to_thirty_while_a_process_keeps_crashing():
    backoff = Backoff()
    assert [backoff.delay("worker", uptime=0.5) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_process_that_ran_a_minute_is_restarted_after_one_second_again():
    backoff = Backoff()
    for _ in range(4):
        backoff.delay("worker", uptime=0.5)
    assert backoff.delay("worker", uptime=61.0) == 1
    assert backoff.delay("worker", uptime=0.5) == 2


def test_each_process_has_its_own_count():
    backoff = Backoff()
    backoff.delay("worker", uptime=0.5)
    backoff.delay("worker", uptime=0.5)
    assert backoff.delay("gateway", uptime=0.5) == 1
