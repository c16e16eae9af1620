"""The model worker (issue 13): model commands hand their call to a warm background process.

Why: `import litellm` costs seconds of CPU on every model command; the worker pays it once. It must
never make things worse: any failure falls back to the in-process call, a reply cut midway is kept
as today, keys stay the command's (read at each call, never kept), only this user may talk to it,
and it never holds a caller's pipes. The rest of the suite runs with COACH_WORKER=off.

To keep the file quick, most tests share one warm worker: they point COACH_HOME at one folder per
module (the worker is per <home>) and keep each test's own database through COACH_DATABASE_URL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL, coaching_messages
from scripted_server import Reply, ScriptedServer, broken_stream, error, text, tool_call
from workers import stop_workers, wait_gone, worker_pids

from coachcli import __version__
from coachcli.llm.worker import protocol, route, spawn
from coachcli.llm.worker.channel import Channel
from coachcli.llm.worker.paths import worker_paths
from coachcli.llm.worker.server import Worker
from coachcli.processes import pid_alive

REPO = Path(__file__).resolve().parent.parent
KEY = "sk-test-scripted-key-123456"


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers() -> Iterator[set[Path]]:
    """The homes whose workers this module's tests may start: all are stopped (and waited for)."""
    homes: set[Path] = set()
    yield homes
    for home in homes:
        stop_workers(home)


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory: pytest.TempPathFactory, workers: set[Path]) -> Path:
    home = tmp_path_factory.mktemp("worker") / "home"
    workers.add(home)
    return home


@pytest.fixture
def worker_on(
    model_env: ScriptedServer,
    shared_home: Path,
    isolated_env: Path,
    database: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """The worker on, for the module's shared home; this test's database stays its own."""
    if database is None:
        monkeypatch.setenv("COACH_DATABASE_URL", f"sqlite:///{isolated_env / 'coach.db'}")
        isolated_env.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("COACH_HOME", str(shared_home))
    monkeypatch.setenv("COACH_WORKER", "auto")
    monkeypatch.setattr(route, "_routes", {})  # each test starts with this process's routes unused
    return shared_home


@pytest.fixture
def own_home(tmp_path: Path, workers: set[Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home of this test's own (for lifecycle tests that need no worker to exist yet)."""
    home = tmp_path / "own"
    workers.add(home)
    monkeypatch.setattr(route, "_routes", {})
    return home


# -- helpers --------------------------------------------------------------------------------------


def _error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def _run_coach(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coachcli", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


# -- model calls through the worker ---------------------------------------------------------------

# Reports which heavy modules the command process loaded, however it exits.
_RUNNER = """
import atexit, json, os, sys
atexit.register(lambda: open(os.environ["IMPORT_REPORT"], "w").write(
    json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "litellm")[:3])))
sys.argv = ["coach", *json.loads(os.environ["COACH_ARGS"])]
from coachcli.cli.app import main
main()
"""


def test_one_shot_chat_runs_in_the_worker_and_never_imports_litellm(
    worker_on: Path, model_env: ScriptedServer, tmp_path: Path
) -> None:
    """`coach chat "hi"` twice: both answered through the worker (it counts them), the command
    process never loads litellm, and a caller reading stdout to EOF is not held by the worker."""
    report = tmp_path / "imports.json"
    env = {**os.environ, "COACH_ARGS": json.dumps(["chat", "hi"]), "IMPORT_REPORT": str(report)}
    env["PYTHONPATH"] = str(REPO)
    model_env.queue(text("Hello from the worker.", chunks=3), text("Again."))
    for expected in ("Hello from the worker.\n", "Again.\n"):
        proc = subprocess.Popen(
            [sys.executable, "-c", _RUNNER],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        # EOF on both pipes arrives when the command exits: the worker holds neither.
        stdout, stderr = proc.communicate(timeout=180)
        assert proc.returncode == 0, stderr
        assert stdout == expected
        assert json.loads(report.read_text()) == []
    status = spawn.describe(worker_on)
    assert status.running  # it outlived the command whose pipes closed
    assert status.requests_served is not None and status.requests_served >= 2
    assert status.version == __version__
    assert [h["authorization"] for h in model_env.request_headers] == [f"Bearer {KEY}"] * 2


def test_chat_json_streaming_and_status(coach: Any, worker_on: Path, model_env: ScriptedServer) -> None:
    """--json shape and usage come back from the worker; `coach worker status --json` is exact."""
    model_env.queue(text("One small step.", chunks=4, input_tokens=42, output_tokens=6))
    run = coach("chat", "I skipped two runs", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert (doc["reply"], doc["model"], doc["input_tokens"], doc["output_tokens"]) == (
        "One small step.",
        MODEL,
        42,
        6,
    )
    assert model_env.requests[0]["stream"] is True
    status = coach("worker", "status", "--json")
    assert status.exit_code == 0, status.stderr
    info = status.json()
    assert set(info) == {"running", "pid", "started_at", "requests_served", "idle_seconds", "version"}
    assert info["running"] is True
    assert info["pid"] == spawn.describe(worker_on).pid
    assert info["requests_served"] >= 1
    assert info["started_at"].endswith("+00:00")
    assert info["version"] == __version__


def test_tool_calls_and_dispatch_through_the_worker(
    coach: Any, worker_on: Path, model_env: ScriptedServer
) -> None:
    """A tool call (remember_fact) and its follow-up, then a dispatch: all served by the worker."""
    before = spawn.describe(worker_on).requests_served or 0
    model_env.queue(tool_call("remember_fact", {"fact": "Runs three times a week"}), text("Noted."))
    run = coach("chat", "I run three times a week")
    assert run.exit_code == 0, run.stderr
    assert "Noted." in run.stdout
    facts = coach("facts", "list", "--json").json()
    assert [f["text"] for f in facts] == ["Runs three times a week"]
    model_env.queue(text("A four-week plan."))
    run = coach("dispatch", "Plan my next month of running", "--agent", "planner", "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["result"] == "A four-week plan."
    assert (spawn.describe(worker_on).requests_served or 0) - before == 3


def test_a_history_is_counted_in_one_request_not_one_per_message(
    coach: Any, worker_on: Path, model_env: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker request is a round trip (about a millisecond): fitting the window asks for the
    tokens of every message at once, and those counts are the ones asked one by one."""
    for number in range(6):
        model_env.queue(text(f"Reply {number}."))
        assert coach("chat", f"Message number {number}").exit_code == 0
    asked: list[str] = []
    real = route.WorkerRoute._small

    def spy(self: route.WorkerRoute, request: dict[str, Any]) -> dict[str, Any] | None:
        asked.append(str(request["op"]))
        return real(self, request)

    monkeypatch.setattr(route.WorkerRoute, "_small", spy)
    model_env.queue(text("Noted."))
    run = coach("chat", "One more")
    assert run.exit_code == 0, run.stderr
    assert asked.count("count") <= 3  # the tools and cue, the system prompt, the 13 messages
    from coachcli.config import resolve
    from coachcli.llm.client import LLMClient

    client = LLMClient.from_settings(resolve())
    items = [[{"role": "user", "content": "Plan my week"}], [{"role": "assistant", "content": "Done. " * 40}]]
    each = client.count_each(items)
    assert each == [client.count_tokens(item) for item in items]
    assert each[1] > each[0] > 0


def test_provider_errors_are_the_same_one_line_as_in_process(
    coach: Any, worker_on: Path, model_env: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 through the worker gives exactly the error the in-process call gives."""
    lines = []
    for mode in ("auto", "off"):
        monkeypatch.setenv("COACH_WORKER", mode)
        model_env.queue(error(401))
        run = coach("chat", "hello")
        assert run.exit_code == 1
        lines += _error_lines(run.stderr)
    assert len(lines) == 2
    assert lines[0] == lines[1]
    assert "rejected the API key" in lines[0]
    assert KEY not in lines[0]


def test_broken_provider_stream_keeps_the_partial(
    coach: Any, worker_on: Path, model_env: ScriptedServer, store: Any
) -> None:
    """The provider's stream breaking inside the worker: partial kept, marked interrupted, one error."""
    model_env.queue(broken_stream("You could try a shorter run on", chunks=3))
    run = coach("chat", "How do I fit in runs?")
    assert run.exit_code == 1
    [line] = _error_lines(run.stderr)
    assert "broke off midway" in line
    _user, partial = coaching_messages(store)
    assert (partial.content, partial.status) == ("You could try a shorter run on", "interrupted")


def test_each_call_uses_the_key_in_the_environment_at_that_moment(
    coach: Any, worker_on: Path, model_env: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Key rotation between two calls reaches the provider; a removed key is gone (the worker kept
    none): with an --api-base and no key, the placeholder goes, as in-process."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-first-key-aaaaaaaa")
    assert coach("chat", "one").exit_code == 0
    monkeypatch.setenv("OPENAI_API_KEY", "sk-second-key-bbbbbbbb")
    assert coach("chat", "two").exit_code == 0
    monkeypatch.delenv("OPENAI_API_KEY")
    assert coach("chat", "three").exit_code == 0
    sent = [h["authorization"] for h in model_env.request_headers]
    assert sent == ["Bearer sk-first-key-aaaaaaaa", "Bearer sk-second-key-bbbbbbbb", "Bearer no-key"]
    assert spawn.describe(worker_on).running


def test_a_slow_call_does_not_hold_up_another(worker_on: Path, model_env: ScriptedServer) -> None:
    """Two commands at once: the second is answered while the first still waits for its provider."""
    from coachcli.config import resolve
    from coachcli.llm.client import LLMClient

    release = threading.Event()

    def slow(body: dict[str, Any]) -> Reply:
        release.wait(60)
        return text("slow answer")

    model_env.queue(slow, text("fast answer"))
    settings = resolve()
    results: list[str] = []
    ask = [{"role": "user", "content": "hi"}]
    first = threading.Thread(
        target=lambda: results.append(LLMClient.from_settings(settings).complete(ask).content)
    )
    first.start()
    try:
        model_env.wait_for_requests(1, timeout=120)
        route._routes.clear()  # the second "command": a client of its own
        assert LLMClient.from_settings(settings).complete(ask).content == "fast answer"
        assert results == []  # the first is still waiting
    finally:
        release.set()
        first.join(60)
    assert results == ["slow answer"]


def test_ctrl_c_mid_reply_keeps_the_partial_and_the_worker_serves_on(
    worker_on: Path, model_env: ScriptedServer
) -> None:
    """Ctrl-C while the worker streams: the partial comes back as ReplyInterrupted (as in-process),
    the connection closes (the worker abandons the call) and the next call is served."""
    from coachcli.config import resolve
    from coachcli.llm.client import LLMClient
    from coachcli.llm.types import ReplyInterrupted

    def press_ctrl_c(piece: str) -> None:
        raise KeyboardInterrupt

    client = LLMClient.from_settings(resolve())
    full = "one two three four five six seven eight"
    model_env.queue(text(full, chunks=8, chunk_delay=0.2))
    with pytest.raises(ReplyInterrupted) as stopped:
        client.complete([{"role": "user", "content": "hi"}], on_text=press_ctrl_c)
    shown = stopped.value.partial.content
    assert shown and full.startswith(shown) and shown != full  # the first piece, as it was shown
    assert stopped.value.partial.finish_reason == "interrupted"
    assert client.complete([{"role": "user", "content": "again"}]).content == "ok"
    assert len(model_env.requests) == 2


@pytest.mark.sqlite_only
def test_stop_during_a_call_lets_the_call_finish(
    coach: Any, worker_on: Path, model_env: ScriptedServer
) -> None:
    """`coach worker stop` while a call runs: the socket goes at once, the call completes, then the
    worker exits."""
    release = threading.Event()

    def slow(body: dict[str, Any]) -> Reply:
        release.wait(60)
        return text("Finished after the stop.")

    model_env.queue(text("warm"))
    assert coach("chat", "warm up").exit_code == 0
    pid = spawn.describe(worker_on).pid
    assert pid is not None
    model_env.queue(slow)
    command = subprocess.Popen(
        [sys.executable, "-m", "coachcli", "chat", "take your time"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        model_env.wait_for_requests(2, timeout=120)
        stop = coach("worker", "stop")
        assert stop.exit_code == 0
        assert stop.stdout.strip() == f"stopped the worker (pid {pid})"
        assert coach("worker", "status").stdout.strip() == "not running"
        assert pid_alive(pid)  # still serving the call in flight
    finally:
        release.set()
        stdout, stderr = command.communicate(timeout=120)
    assert command.returncode == 0, stderr
    assert stdout == "Finished after the stop.\n"
    assert wait_gone(pid)
    assert coach("worker", "stop").stdout.strip() == "no worker was running"


# -- failures: never worse than without the worker ------------------------------------------------


@pytest.mark.sqlite_only
def test_version_mismatch_stops_the_old_worker_and_starts_a_fresh_one(
    coach: Any, worker_on: Path, model_env: ScriptedServer
) -> None:
    """A worker announcing another coachcli version is stopped; a fresh one serves the call."""
    paths = worker_paths(worker_on)
    assert paths is not None
    old = spawn.stop(paths)
    if old:
        assert wait_gone(old)
    fake = (
        "import sys; from coachcli.llm.worker import protocol, server; real = protocol.identity; "
        "protocol.identity = lambda: {**real(), 'version': '0.0.1'}; server.main(sys.argv[1:])"
    )
    subprocess.run(
        [sys.executable, "-c", fake, "--socket", str(paths.socket), "--idle", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        check=True,
        timeout=60,
    )
    deadline = time.monotonic() + 30
    while not protocol.reachable(paths.socket) and time.monotonic() < deadline:
        time.sleep(0.02)
    stale = spawn.describe(worker_on)
    assert stale.version == "0.0.1"
    assert stale.pid is not None

    model_env.queue(text("Fresh worker here."))
    run = coach("chat", "hi")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Fresh worker here.\n"
    assert wait_gone(stale.pid)
    fresh = spawn.describe(worker_on)
    assert (fresh.running, fresh.version) == (True, __version__)
    assert fresh.pid != stale.pid
    assert fresh.requests_served == 1


@pytest.mark.sqlite_only
def test_worker_killed_before_the_first_chunk_falls_back_in_process(
    coach: Any, worker_on: Path, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGKILL while the worker waits for the provider: the command makes the call itself, says
    nothing (one dim line under COACH_DEBUG), and the reply is saved once."""
    model_env.queue(text("warm-up"))
    assert coach("chat", "warm up").exit_code == 0
    pid = spawn.describe(worker_on).pid
    assert pid is not None

    def kill_then_answer(body: dict[str, Any]) -> Reply:
        os.kill(pid, signal.SIGKILL)
        wait_gone(pid)
        return text("never delivered")

    model_env.queue(kill_then_answer, text("Answered in-process."))
    monkeypatch.setenv("COACH_DEBUG", "1")
    run = coach("chat", "are you there?")
    assert run.exit_code == 0, run.stderr
    assert run.stdout == "Answered in-process.\n"
    assert run.stderr.count("model worker not used") == 1
    assert [m.content for m in coaching_messages(store)][-2:] == ["are you there?", "Answered in-process."]
    assert model_env.pending() == 0


def test_worker_killed_mid_stream_keeps_the_partial(
    worker_on: Path, model_env: ScriptedServer, store: Any
) -> None:
    """SIGKILL after text was shown: a broken stream as today (partial saved, interrupted, one
    error), not a second call."""
    from coachcli.coaching.chat import CoachingTurn
    from coachcli.coaching.turn_events import QuietEvents
    from coachcli.config import resolve
    from coachcli.llm.client import LLMClient
    from coachcli.llm.types import StreamBroken

    settings = resolve()
    client = LLMClient.from_settings(settings)  # starts the worker if this test runs alone
    killed: list[int] = []

    class KillOnFirstText(QuietEvents):
        def text(self, piece: str) -> None:
            if not killed:
                pid = spawn.describe(worker_on).pid
                assert pid is not None
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                wait_gone(pid)

    model_env.queue(text("Start with a gentle ten minutes and build from there.", chunks=6, chunk_delay=0.3))
    with store.session() as session:
        turn = CoachingTurn(session, settings.user, client, events=KillOnFirstText())
        with pytest.raises(StreamBroken) as broken:
            turn.run("How do I restart running?")
    assert killed
    assert "broke off midway" in broken.value.message
    shown = broken.value.partial.content
    assert shown and "Start with a gentle ten minutes and build from there.".startswith(shown)
    _user, partial = coaching_messages(store)
    assert (partial.content, partial.status) == (shown, "interrupted")
    assert len(model_env.requests) == 1


@pytest.mark.sqlite_only
def test_repl_uses_a_running_worker_else_loads_litellm_itself(
    worker_on: Path, model_env: ScriptedServer
) -> None:
    from coachcli.config import resolve

    settings = resolve()
    paths = worker_paths(worker_on)
    assert paths is not None
    assert spawn.ensure_running(paths, 60)
    assert route.worker_or_preload(settings) is True
    pid = spawn.stop(paths)
    assert pid is not None and wait_gone(pid)
    route._routes.clear()
    assert route.worker_or_preload(settings) is False
    # Its clients now call litellm in this process: no worker is started for them.
    from coachcli.llm.client import LLMClient

    assert LLMClient.from_settings(settings).complete([{"role": "user", "content": "hi"}]).content == "ok"
    assert not spawn.describe(worker_on).running


# -- lifecycle: start, race, stale socket, idle exit, who may connect -----------------------------


@pytest.mark.sqlite_only
def test_two_racing_starts_give_one_worker(own_home: Path) -> None:
    paths = worker_paths(own_home)
    assert paths is not None
    results: list[bool] = []
    starters = [
        threading.Thread(target=lambda: results.append(spawn.ensure_running(paths, 60))) for _ in range(3)
    ]
    for thread in starters:
        thread.start()
    for thread in starters:
        thread.join()
    assert results == [True, True, True]
    assert len(list(worker_pids(paths.socket))) == 1


@pytest.mark.sqlite_only
def test_stale_socket_is_replaced_and_the_folder_is_private(own_home: Path) -> None:
    """A socket file left by a killed worker: nobody answers, so a new worker takes its place."""
    paths = worker_paths(own_home)
    assert paths is not None
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(paths.socket))
    dead.close()  # the file stays; nothing listens
    assert paths.socket.exists() and not protocol.reachable(paths.socket)
    assert not spawn.describe(own_home).running
    assert spawn.ensure_running(paths, 60)
    assert spawn.describe(own_home).running
    assert paths.folder.stat().st_mode & 0o777 == 0o700
    assert paths.socket.stat().st_mode & 0o777 == 0o600


@pytest.mark.sqlite_only
def test_idle_worker_exits_and_takes_its_socket_away(own_home: Path) -> None:
    paths = worker_paths(own_home)
    assert paths is not None
    # Two seconds: long enough that a loaded machine still finds the worker before it goes.
    assert spawn.ensure_running(paths, idle_seconds=2.0)
    [pid] = list(worker_pids(paths.socket))
    assert wait_gone(pid)
    assert not paths.socket.exists()


@pytest.mark.sqlite_only
def test_a_worker_whose_socket_was_removed_exits(own_home: Path) -> None:
    """Its folder deleted (a temporary home cleaned up): nobody can reach it, so it does not linger."""
    paths = worker_paths(own_home)
    assert paths is not None
    assert spawn.ensure_running(paths, idle_seconds=600)
    [pid] = worker_pids(paths.socket)
    paths.socket.unlink()
    assert wait_gone(pid)


@pytest.mark.sqlite_only
def test_another_users_connection_is_refused(tmp_path: Path) -> None:
    """SO_PEERCRED: a peer whose uid is not the worker's gets a refusal and nothing else."""
    worker = Worker(tmp_path / "unused.sock", 60, uid=os.getuid() + 1)
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    assert protocol.peer_uid(mine) == os.getuid()
    assert protocol.same_user(mine) and not protocol.same_user(mine, os.getuid() + 1)
    serving = threading.Thread(target=worker.handle, args=(mine,))
    serving.start()
    theirs.settimeout(10)
    assert protocol.receive(theirs)["op"] == "refused"
    serving.join(10)
    with pytest.raises(protocol.ChannelClosed):
        protocol.receive(theirs)  # the worker hung up without reading a request
    theirs.close()
    assert worker.requests_served == 0


@pytest.mark.sqlite_only
def test_stop_answers_before_the_worker_exits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The main thread, woken by the closed listener, waits for the `stopped` answer: were it to
    return first, the process would exit and `coach worker stop` would read an EOF (seen in CI)."""
    worker = Worker(tmp_path / "w.sock", 60)
    monkeypatch.setattr(Worker, "_import", lambda self: self.ready.set())  # no litellm needed here
    monkeypatch.setattr(signal, "signal", lambda *_args: None)  # serve_forever runs in a thread here
    real_send = protocol.send
    serving_when_answered: list[bool] = []

    def slow_stopped(sock: socket.socket, message: dict[str, Any]) -> None:
        if message.get("op") == "stopped":
            time.sleep(0.3)  # the main thread has long woken from accept() by now
            serving_when_answered.append(serving.is_alive())
        real_send(sock, message)

    monkeypatch.setattr(protocol, "send", slow_stopped)
    serving = threading.Thread(target=worker.serve_forever)
    serving.start()
    deadline = time.monotonic() + 10
    while not protocol.reachable(worker.path) and time.monotonic() < deadline:
        time.sleep(0.01)
    channel = Channel.open(worker.path)
    try:
        answer = channel.ask({"op": "stop"}, timeout=10)
    finally:
        channel.close()
    serving.join(10)
    assert answer == {"op": "stopped", "pid": os.getpid()}
    assert serving_when_answered == [True]
    assert not serving.is_alive() and not worker.path.exists()


def test_the_code_stamp_is_the_one_the_process_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """A running worker reports the code it started with: were the files read at each hello, an
    edit or a reinstall would make the old worker look current, and it would serve new commands
    with old code."""
    stamp = protocol.code_stamp()

    def no_scan(_path: object) -> None:
        raise AssertionError("the code folder was read again")

    monkeypatch.setattr(protocol.os, "scandir", no_scan)
    assert protocol.code_stamp() == stamp
    assert protocol.identity()["stamp"] == stamp


def test_frames_round_trip_and_refuse_oversize() -> None:
    left, right = socket.socketpair()
    message = {"op": "text", "text": "naïve ✓ " * 1000}
    protocol.send(left, message)
    assert protocol.receive(right) == message
    left.sendall((protocol.MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(protocol.ProtocolError):
        protocol.receive(right)
    left.close()
    right.close()


def test_provider_variables_map_to_explicit_arguments() -> None:
    """Keys, bases and versions are passed per call; credentials litellm can only read from the
    environment (AWS, Vertex) make the call run in the command instead."""
    from coachcli.llm.worker.calls import Unsupported, call_kwargs

    assert call_kwargs({"OPENAI_API_KEY": "k", "OPENAI_API_BASE": "http://b"}, None) == {
        "api_key": "k",
        "api_base": "http://b",
    }
    assert call_kwargs({"OPENAI_API_KEY": "k", "OPENAI_API_BASE": "http://b"}, "http://given") == {
        "api_key": "k"
    }
    assert call_kwargs({"AZURE_API_VERSION": "2024-01"}, None) == {"api_version": "2024-01"}
    with pytest.raises(Unsupported):
        call_kwargs({"AWS_ACCESS_KEY_ID": "x"}, None)
