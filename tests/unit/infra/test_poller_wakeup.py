"""An idle poller of the local stack sleeps longer and longer while its source stays empty, and
looks again at once when moto says the source got work (infra/local/activity.Wakeup)."""
from __future__ import annotations

import threading
import time

from infra.local.activity import Wakeup
from infra.local.pollers import IDLE_WAIT_MAX_S, Poller


class CountingPoller(Poller):
    def __init__(self, wakeup: Wakeup, work: list[str]) -> None:
        super().__init__("test", sqs=None, queue_url="http://localhost/000000000000/the-queue", wakeup=wakeup)
        self.polls: list[float] = []
        self.work = work
        self.done = threading.Event()

    def poll_once(self) -> bool:
        self.polls.append(time.monotonic())
        if self.work:
            self.work.pop()
            self.done.set()
            return True
        return False


def test_an_idle_poller_backs_off_to_a_poll_a_second():
    poller = CountingPoller(Wakeup(), [])
    poller.start()
    time.sleep(3.0)
    poller.stop()
    poller.join(timeout=2)
    assert not poller.is_alive()
    # 0.1, 0.2, 0.4, 0.8, then once a second: about 5 polls in 3 s, where a fixed 0.1 s pause made 30
    assert 3 <= len(poller.polls) <= 8
    assert max(b - a for a, b in zip(poller.polls, poller.polls[1:])) <= IDLE_WAIT_MAX_S + 0.5


def test_work_for_its_source_wakes_the_poller_at_once_and_others_do_not():
    wakeup, work = Wakeup(), []
    poller = CountingPoller(wakeup, work)
    poller.start()
    try:
        time.sleep(2.0)  # backed off to a second
        polls = len(poller.polls)
        wakeup.notify("another-queue")
        time.sleep(0.05)
        assert len(poller.polls) == polls
        work.append("message")
        sent = time.monotonic()
        wakeup.notify("the-queue")
        assert poller.done.wait(1.0)
        assert poller.polls[-1] - sent < 0.5  # not the second of the pause
    finally:
        poller.stop()
        poller.join(timeout=2)


def test_stop_ends_the_pause_at_once():
    poller = CountingPoller(Wakeup(), [])
    poller.start()
    time.sleep(1.6)
    asked = time.monotonic()
    poller.stop()
    poller.join(timeout=2)
    assert not poller.is_alive() and time.monotonic() - asked < 0.6
