"""Password guessing against the embedded registry's htpasswd auth, reproduced over loopback:
bcrypt runs off the event loop in a bounded pool, guesses are throttled per address and per
user (429 + Retry-After), unknown users cost a bcrypt check like known ones, and valid
clients keep being served while the attack runs."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import bcrypt
import httpx
import pytest

from artreg.serving import AuthThrottle, FailureLimiter, PasswordChecker, TooManyAttempts
from tests.serving.attack import registry_process

ALICE = "alice-Pa55word"
BOB = "bob-Pa55word"
GUESS = "wr0ng-Xq7z"


def _htpasswd(path: Path, cost: int = 10) -> Path:
    lines = [
        f"{user}:{bcrypt.hashpw(pw.encode(), bcrypt.gensalt(cost)).decode()}"
        for user, pw in (("alice", ALICE), ("bob", BOB))
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def _client(url: str, source: str, auth: tuple[str, str] | None) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    return httpx.Client(base_url=url, transport=transport, auth=auth, timeout=60)


def test_guessing_is_throttled_and_valid_users_keep_working(tmp_path: Path) -> None:
    htpasswd = _htpasswd(tmp_path / "htpasswd")
    with registry_process(tmp_path / "data", "--htpasswd", str(htpasswd)) as server:
        alice = _client(server.url, "127.0.0.1", ("alice", ALICE))
        assert alice.get("/v2/").status_code == 200  # her session, before the attack
        stop = threading.Event()
        answers: list[httpx.Response] = []

        def attack(n: int) -> None:
            user = "alice" if n % 2 else f"nobody{n}"
            with _client(server.url, "127.0.0.2", (user, GUESS)) as client:
                while not stop.is_set():
                    answers.append(client.get("/v2/"))

        attackers = [threading.Thread(target=attack, args=(n,)) for n in range(8)]
        for thread in attackers:
            thread.start()
        try:
            while len(answers) < 60:  # the attack is well under way
                stop.wait(0.01)
            # alice keeps working from her own address, and bob logs in for the first time
            assert alice.get("/v2/").status_code == 200
            assert alice.get("/v2/_catalog").status_code == 200
            with _client(server.url, "127.0.0.3", ("bob", BOB)) as bob:
                assert bob.get("/v2/").status_code == 200
        finally:
            stop.set()
            for thread in attackers:
                thread.join()
            alice.close()
        statuses = [r.status_code for r in answers]
        assert set(statuses) <= {401, 429}
        # the address's burst of failures, then only refusals that cost no bcrypt
        assert statuses.count(401) <= 25
        assert statuses.count(429) >= len(statuses) - 25
        refused = next(r for r in answers if r.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
        assert ALICE not in server.stderr and GUESS not in server.stderr


def test_a_guessed_user_is_throttled_from_every_address_but_keeps_a_verified_session(
    tmp_path: Path,
) -> None:
    htpasswd = _htpasswd(tmp_path / "htpasswd")
    with registry_process(tmp_path / "data", "--htpasswd", str(htpasswd)) as server:
        with _client(server.url, "127.0.0.1", ("alice", ALICE)) as alice:
            assert alice.get("/v2/").status_code == 200  # verified once
            statuses = []
            for n in range(15):  # a distributed guesser: a new address each time
                with _client(server.url, f"127.0.1.{n + 1}", ("alice", GUESS)) as guesser:
                    statuses.append(guesser.get("/v2/").status_code)
            assert statuses[:10] == [401] * 10
            assert statuses[10:] == [429] * 5  # the name's own burst is spent
            assert alice.get("/v2/").status_code == 200
        with _client(server.url, "127.0.2.1", ("alice", ALICE)) as fresh:
            # a login that was never verified waits like a guess would
            assert fresh.get("/v2/").status_code == 429


def test_unknown_users_cost_one_bcrypt_check_like_known_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(6))
    checker = PasswordChecker({"alice": hashed})
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, stored: bytes) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setattr(bcrypt, "checkpw", counting)

    async def run() -> list[bool]:
        return [
            await checker.check("alice", b"wrong", "a1"),
            await checker.check("mallory", b"wrong", "a2"),
            await checker.check("mallory", b"right", "a3"),
        ]

    assert asyncio.run(run()) == [False, False, False]
    assert len(calls) == 3
    assert calls[0][:7] == calls[1][:7] == hashed[:7]  # same algorithm and cost
    checker.close()


def test_the_pool_refuses_rather_than_queues_without_bound() -> None:
    hashed = bcrypt.hashpw(b"right", bcrypt.gensalt(10))
    throttle = AuthThrottle(
        per_address=FailureLimiter(burst=1000), per_user=FailureLimiter(burst=1000)
    )
    checker = PasswordChecker({"alice": hashed}, throttle=throttle, workers=1, max_pending=4)

    async def run() -> list[object]:
        return await asyncio.gather(
            *(checker.check("alice", b"wrong", f"a{n}") for n in range(20)),
            return_exceptions=True,
        )

    results = asyncio.run(run())
    busy = [r for r in results if isinstance(r, TooManyAttempts)]
    assert results.count(False) == 4
    assert len(busy) == 16 and all(b.retry_after >= 1 for b in busy)
    checker.close()
