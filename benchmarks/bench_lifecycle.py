"""Issue 12 benchmark: bulk deletion, purge, backup and restore at scale.

Run: ``.venv/bin/python benchmarks/bench_lifecycle.py [--persons 1000000] [--delete 0.1]``.

1. builds a workspace holding ``--persons`` people, all with registered numbers (not timed);
2. times, in this process, each step as staff run it:

   * **select + preview** — ``deletion.select_for_deletion`` of ``--delete`` × persons people;
   * **request** — the approval bound to the selection digest;
   * **apply** — ``deletion.apply_deletion``: every derived table, households, the deletion
     record and the signed journal, in one unit of work;
   * **purge** — ``deletion.purge``: re-encrypt every number and rebuild the file under a new key;
   * **backup** — ``backup.backup`` with a keyring copy;
   * **restore** — ``backup.restore`` into a new folder, audit chain verified, journal re-applied.

Prints one JSON line per step (wall seconds, rows, peak MB of the process so far).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import BENCH_PASSWORD as PASSWORD
from benchmarks import own_kek, peak_mb


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--persons", type=int, default=1_000_000)
    parser.add_argument("--delete", type=float, default=0.1, help="share of people to delete")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    from tests.direct_load import load_world
    from workbench import FixedClock, Workspace
    from workbench.controls import users
    from workbench.core import approvals, credentials
    from workbench.lifecycle import backup, deletion
    from workbench.simulate import generate_world

    clock = FixedClock()
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        own_kek(root)
        ws = Workspace.init(root / "ws", clock=clock, scrypt_n=2**10)
        secrets = {}
        for user, roles in (("reg", ["registrar"]), ("shonin", ["approver"]), ("ops", ["operations"])):
            uri = users.create_initial_user(ws, user, user, PASSWORD, roles).otpauth_uri
            secrets[user] = uri.split("secret=")[1].split("&")[0]

        def login(user: str) -> Any:
            clock.advance(30)
            return ws.login(user, PASSWORD, credentials.totp_code(secrets[user], clock.now()))

        world = generate_world(args.persons, seed=args.seed)
        load_world(ws, world.persons, world.households, registered=np.ones(len(world.persons), dtype=bool))
        chosen = world.persons["person_id"].sample(frac=args.delete, random_state=args.seed).tolist()

        def step(name: str, rows: int, fn: Any) -> Any:
            t0 = time.perf_counter()
            result = fn()
            line = {"step": name, "rows": rows, "wall_s": round(time.perf_counter() - t0, 2), "peak_mb": round(peak_mb())}
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
                                                                   expected_digest=preview.selection_digest))
        ops = login("ops")
        step("purge", args.persons - len(chosen), lambda: deletion.purge(ops))
        step("backup", args.persons - len(chosen),
             lambda: backup.backup(ops, root / "bk" / "b.wbbak", keyring_out=root / "keys" / "k.json"))
        step("restore", args.persons - len(chosen),
             lambda: backup.restore(root / "bk" / "b.wbbak", into=root / "restored", keyring=root / "keys" / "k.json",
                                    journal=ws.path / deletion.JOURNAL_FILE, clock=clock))
    return out


if __name__ == "__main__":
    main()
