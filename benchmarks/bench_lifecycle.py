"""Issue 12 benchmark: bulk deletion, purge, backup and restore at scale.

Run: ``.venv/bin/python benchmarks/bench_lifecycle.py [--persons 1000000] [--delete 0.1] [--keep DIR] [--profile DIR]``.

1. builds a workspace holding ``--persons`` people, all with registered numbers (not timed);
2. times, in this process, each step as staff run it:

   * **select + preview** — ``deletion.select_for_deletion`` of ``--delete`` × persons people;
   * **request** — the approval bound to the selection digest;
   * **apply** — ``deletion.apply_deletion``: every derived table, households, the deletion
     record and the signed journal, in one unit of work;
   * **purge** — ``deletion.purge``: re-encrypt every number and rebuild the file under a new key;
   * **backup** — ``backup.backup`` with a keyring copy;
   * **restore** — ``backup.restore`` into a new folder, audit chain verified, journal re-applied.

Prints one JSON line per step (wall seconds, CPU seconds of the process, rows, peak MB of the process so
far), and for the purge one line per phase of the rotation (``workbench.rotation`` logs each phase's
seconds).

``--server`` runs the purge through a data server started in this process (as ``workbench serve`` runs it):
the operations user asks for it as a client, while another client (the registrar) reveals a number every
0.1 s beside it; the step's line then also gives how many of those reads ran during the purge, their
median and longest wait, and the rotation logs how long readers were paused for the swap.

``--keep DIR`` builds the workspace once in ``DIR`` (its key-encryption key and audit anchors beside it)
and keeps a copy of it as built; each later run with the same ``DIR`` starts from that copy (the build
at 1,000,000 people takes minutes).  ``--profile DIR`` writes a cProfile of the apply and the purge there
(``apply.prof``, ``purge.prof``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import BENCH_PASSWORD as PASSWORD
from benchmarks import machine, own_kek, peak_mb, profiled

USERS = (("reg", ["registrar"]), ("shonin", ["approver"]), ("ops", ["operations"]))


class _Phases(logging.Handler):
    """Prints the rotation's phase lines (``workbench.rotation`` at INFO) as JSON lines of the benchmark."""

    def emit(self, record: logging.LogRecord) -> None:
        phase = getattr(record, "phase", None)
        if phase is not None:
            print(json.dumps({"phase": phase, "wall_s": round(float(getattr(record, "seconds", 0.0)), 2),
                              "peak_mb": round(peak_mb())}), flush=True)


def _build(root: Path, persons: int, delete: float, seed: int, clock: Any) -> dict[str, Any]:
    """The workspace with ``persons`` people, all registered; what a run needs to log in and choose."""
    from tests.direct_load import load_world
    from workbench import Workspace
    from workbench.controls import users
    from workbench.simulate import generate_world

    ws = Workspace.init(root / "ws", clock=clock, scrypt_n=2**10)
    secrets = {}
    for user, roles in USERS:
        uri = users.create_initial_user(ws, user, user, PASSWORD, roles).otpauth_uri
        secrets[user] = uri.split("secret=")[1].split("&")[0]
    world = generate_world(persons, seed=seed)
    load_world(ws, world.persons, world.households, registered=np.ones(len(world.persons), dtype=bool))
    chosen = world.persons["person_id"].sample(frac=delete, random_state=seed).tolist()
    return {"secrets": secrets, "chosen": chosen, "persons": persons, "clock": clock.now().isoformat()}


def _prepared(keep: Path, persons: int, delete: float, seed: int, clock: Any) -> dict[str, Any]:
    """``keep/run`` as first built (built into ``keep/run`` and copied to ``keep/base`` once).  The audit
    anchors are kept in the copy too, whatever the environment names: they must match the log."""
    import datetime as dt

    base, run, state_file = keep / "base", keep / "run", keep / "base.json"
    os.environ["WORKBENCH_AUDIT_ANCHOR_DIR"] = str(run / "anchors")
    os.environ["WORKBENCH_ANCHOR_CHATTR"] = "0"
    if state_file.exists():
        state: dict[str, Any] = json.loads(state_file.read_text())
        if (state["persons"], state["delete"], state["seed"]) != (persons, delete, seed):
            raise SystemExit(f"{keep} holds another build ({state['persons']} persons); name another --keep folder")
        shutil.rmtree(run, ignore_errors=True)
        shutil.copytree(base, run, symlinks=True)
        clock.set(dt.datetime.fromisoformat(state["clock"]))
        own_kek(run)
        return state
    shutil.rmtree(run, ignore_errors=True)
    shutil.rmtree(base, ignore_errors=True)
    run.mkdir(parents=True)
    own_kek(run)  # the paths stay the same in every run, so the audit anchors' names do too
    state = _build(run, persons, delete, seed, clock) | {"delete": delete, "seed": seed}
    shutil.copytree(run, base, symlinks=True)
    state_file.write_text(json.dumps(state))
    return state


def _purge_through_server(ws: Any, clock: Any, secrets: dict[str, str], spare: Path, state: dict[str, Any],
                          deleted: set[str], timed_step: Any) -> dict[str, Any]:
    """The purge asked of a data server by a client, a reader beside it; what the reader saw."""
    import threading

    from workbench.core import channel, credentials
    from workbench.intake import persons
    from workbench.lifecycle import deletion
    from workbench.web.dataserver import DataServer

    os.environ.setdefault(channel.RUNTIME_ENV, str(spare / "run"))
    server = DataServer(ws).start()
    try:
        def remote(user: str) -> Any:
            clock.advance(30)
            conn = channel.connect(ws.path)
            return conn.login(user, PASSWORD, credentials.totp_code(secrets[user], clock.now()))

        ops, reader = remote("ops"), remote("reg")
        person = next(p for p in _person_ids(ws, 50) if p not in deleted)
        waits: list[tuple[float, float]] = []  # (started, seconds)
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                t0 = time.perf_counter()
                persons.reveal_number(reader, person)
                waits.append((t0, time.perf_counter() - t0))
                stop.wait(0.1)

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        time.sleep(0.5)
        began = time.perf_counter()
        timed_step(lambda: deletion.purge(ops))
        ended = time.perf_counter()
        time.sleep(0.5)
        stop.set()
        thread.join(60)
        during = sorted(s for t0, s in waits if began <= t0 <= ended)
        return {"count": len(during), "median_s": round(during[len(during) // 2], 3) if during else None,
                "max_s": round(max(during), 3) if during else None, "purge_s": round(ended - began, 2)}
    finally:
        server.stop()


def _person_ids(ws: Any, limit: int) -> list[str]:
    with ws.transaction("bench.read", "system", writes=False) as con:
        return [str(r[0]) for r in con.execute("SELECT person_id FROM person_numbers ORDER BY person_id LIMIT ?",
                                               [limit]).fetchall()]


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--delete", type=float, default=0.1, help="share of people to delete")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", type=Path, help="build the workspace here once and start each run from that copy")
    parser.add_argument("--profile", type=Path, help="write cProfile files of the apply and the purge here")
    parser.add_argument("--server", action="store_true", help="purge through a data server, a reader beside it")
    args = parser.parse_args(argv)

    from workbench import FixedClock, Workspace
    from workbench.core import approvals, credentials
    from workbench.lifecycle import backup, deletion

    handler = _Phases()
    rotation_log = logging.getLogger("workbench.rotation")
    rotation_log.addHandler(handler)
    rotation_log.setLevel(logging.INFO)
    clock = FixedClock()
    out: list[dict[str, Any]] = []
    print(json.dumps({"machine": machine(), "persons": args.persons}), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.keep is not None:
            root = args.keep / "run"
            t0 = time.perf_counter()
            state = _prepared(args.keep, args.persons, args.delete, args.seed, clock)
            print(json.dumps({"step": "prepare", "wall_s": round(time.perf_counter() - t0, 2)}), flush=True)
        else:
            root = Path(tmp)
            own_kek(root)
            state = _build(root, args.persons, args.delete, args.seed, clock)
        ws = Workspace.open(root / "ws", clock=clock)
        secrets, chosen = state["secrets"], state["chosen"]
        spare = Path(tmp)

        def login(user: str) -> Any:
            clock.advance(30)
            return ws.login(user, PASSWORD, credentials.totp_code(secrets[user], clock.now()))

        def step(name: str, rows: int, fn: Any, profile: str | None = None) -> Any:
            result, wall, cpu = profiled(fn, args.profile / f"{profile}.prof" if profile and args.profile else None)
            line = {"step": name, "rows": rows, "wall_s": round(wall, 2),
                    "cpu_s": round(cpu, 2), "peak_mb": round(peak_mb()),
                    "load": round(os.getloadavg()[0], 1)}
            print(json.dumps(line), flush=True)
            out.append(line)
            return result

        reg = login("reg")
        preview = step("select+preview", len(chosen),
                       lambda: deletion.select_for_deletion(reg, person_ids=chosen, reason="moved_out"))
        request = step("request", len(chosen), lambda: deletion.request_deletion(reg, preview.list_id))
        approvals.decide(login("shonin"), request.approval.approval_id, approve=True)
        step("apply", len(chosen), lambda: deletion.apply_deletion(reg, preview.list_id,
                                                                   approval_id=request.approval.approval_id,
                                                                   expected_digest=preview.selection_digest),
             profile="apply")
        ops = login("ops")
        kept = state["persons"] - len(chosen)
        if args.server:
            reads = _purge_through_server(ws, clock, secrets, spare, state, set(chosen),
                                          lambda fn: step("purge", kept, fn, profile="purge"))
            print(json.dumps({"reads during the purge": reads}), flush=True)
            ws = Workspace.open(root / "ws", clock=clock)  # the stopped server closed its store
            ops = login("ops")
        else:
            step("purge", kept, lambda: deletion.purge(ops), profile="purge")
        step("backup", kept,
             lambda: backup.backup(ops, spare / "bk" / "b.wbbak", keyring_out=spare / "keys" / "k.json"))
        step("restore", kept,
             lambda: backup.restore(spare / "bk" / "b.wbbak", into=spare / "restored", keyring=spare / "keys" / "k.json",
                                    journal=ws.path / deletion.JOURNAL_FILE, clock=clock))
    rotation_log.removeHandler(handler)
    return out


if __name__ == "__main__":
    main()
