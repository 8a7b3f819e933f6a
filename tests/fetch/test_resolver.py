"""ingest.fetch.resolver.CachedResolver: one lookup per host and port while the answer is kept."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from ingest.fetch.resolver import CachedResolver


class Counting:
    def __init__(self, answer) -> None:
        self.answer = answer
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if isinstance(self.answer, Exception):
            raise self.answer
        return list(self.answer)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def ask(resolver, *queries):
    async def main():
        return [await resolver(host, port) for host, port in queries]
    return asyncio.run(main())


def test_answer_kept_for_its_time_per_host_and_port():
    inner, clock = Counting(["93.184.216.34"]), Clock()
    cached = CachedResolver(inner, ttl=60, clock=clock)
    assert ask(cached, ("news.example", 443), ("NEWS.example", 443),
               ("news.example", 80)) == [["93.184.216.34"]] * 3
    assert inner.asked == [("news.example", 443), ("news.example", 80)]
    clock.now += 59.9
    ask(cached, ("news.example", 443))
    assert len(inner.asked) == 2
    clock.now += 0.1
    ask(cached, ("news.example", 443))
    assert inner.asked[-1] == ("news.example", 443) and len(inner.asked) == 3


@pytest.mark.parametrize("answer", [OSError(-2, "Name or service not known"), []])
def test_failures_and_empty_answers_are_not_kept(answer):
    inner = Counting(answer)
    cached = CachedResolver(inner, clock=Clock())
    for _ in range(2):
        with contextlib.suppress(OSError):
            ask(cached, ("gone.example", 443))
    assert len(inner.asked) == 2


def test_a_caller_changing_its_list_does_not_change_the_kept_answer():
    cached = CachedResolver(Counting(["93.184.216.34"]), clock=Clock())
    first = ask(cached, ("news.example", 443))[0]
    first.append("10.0.0.1")
    assert ask(cached, ("news.example", 443)) == [["93.184.216.34"]]


def test_the_cache_is_bounded():
    inner, clock = Counting(["93.184.216.34"]), Clock()
    cached = CachedResolver(inner, ttl=60, clock=clock, max_hosts=3)
    ask(cached, *[(f"h{n}.example", 443) for n in range(3)])
    clock.now += 61  # all three expired: the fourth host makes room by dropping them
    ask(cached, ("h3.example", 443))
    assert len(cached._answers) == 1
    ask(cached, *[(f"h{n}.example", 443) for n in range(4, 7)])  # full of live answers
    assert len(cached._answers) <= 3
