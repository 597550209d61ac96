"""The queue of mount change requests of one temp VM.

A request is written into the temp VM's ``queue/`` folder before its process waits
for the lock. Whoever holds the lock applies every queued request that needs no
prompt in one recreate and writes each waiter its own result; a waiter that gets
the lock and finds its result just prints it. Requests of dead processes are dropped.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vmtemp import paths, prompts, store
from vmtemp.mounts import Mount

STALE_REQUEST_S = 600


@dataclass
class Request:
    """One user's change, as queued: resolved mounts to add, or items to remove/flip."""

    id: str
    kind: str  # mount | unmount | protect | unprotect
    pid: int
    add: list[Mount] = field(default_factory=list)
    items: list[str] = field(default_factory=list)
    all: bool = False
    cwd: str = ""
    assume_yes: bool = False
    interactive: bool = False
    smart_ro: bool = True
    allowed: list[tuple[Mount, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "pid": self.pid, "add": [m.to_json() for m in self.add],
                "items": self.items, "all": self.all, "cwd": self.cwd, "assume_yes": self.assume_yes,
                "interactive": self.interactive, "smart_ro": self.smart_ro,
                "allowed": [[m.to_json(), rule] for m, rule in self.allowed]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Request:
        return cls(id=d["id"], kind=d["kind"], pid=int(d["pid"]), add=[Mount(**m) for m in d["add"]],
                   items=list(d["items"]), all=bool(d["all"]), cwd=d["cwd"], assume_yes=bool(d["assume_yes"]),
                   interactive=bool(d["interactive"]), smart_ro=bool(d.get("smart_ro", True)),
                   allowed=[(Mount(**m), rule) for m, rule in d.get("allowed", [])])


@dataclass
class Outcome:
    code: int
    lines: list[str]


def new_request(kind: str, *, add: list[Mount] | None = None, items: list[str] | None = None, all_: bool = False,
             yes: bool, allowed=None, smart_ro: bool = True) -> Request:
    return Request(id=f"{time.time():.6f}-{os.getpid()}-{uuid.uuid4().hex[:6]}", kind=kind, pid=os.getpid(),
                   add=add or [], items=items or [], all=all_, cwd=os.path.realpath(os.getcwd()),
                   assume_yes=yes, interactive=prompts.interactive(), smart_ro=smart_ro, allowed=allowed or [])


def req_path(name: str, req_id: str) -> Path:
    return paths.queue_dir(name) / f"{req_id}.req.json"


def res_path(name: str, req_id: str) -> Path:
    return paths.queue_dir(name) / f"{req_id}.res.json"


def enqueue(name: str, req: Request) -> None:
    paths.ensure_dir(paths.queue_dir(name))
    store.atomic_write(req_path(name, req.id), json.dumps(req.to_json()))


def take_result(name: str, req_id: str) -> Outcome | None:
    path = res_path(name, req_id)
    try:
        data = store.read_json(path)
    except (OSError, ValueError):
        return None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return Outcome(int(data["code"]), list(data["lines"]))


def drain(name: str, own: Request) -> list[Request]:
    """Own request first, then every other queued request that can be answered without a prompt."""
    batch = [own]
    folder = paths.queue_dir(name)
    for path in sorted(folder.glob("*.req.json")) if folder.is_dir() else []:
        try:
            req = Request.from_json(store.read_json(path))
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)
            continue
        if req.id == own.id:
            continue
        if not store.pid_alive(req.pid) or time.time() - float(req.id.split("-")[0]) > STALE_REQUEST_S:
            path.unlink(missing_ok=True)  # its process is gone: nobody waits for the answer
            continue
        if req.interactive and not req.assume_yes:
            continue  # it may have to ask its user: it runs on its own turn
        batch.append(req)
    return batch


def answer(name: str, req: Request, outcome: Outcome) -> None:
    store.atomic_write(res_path(name, req.id), json.dumps({"code": outcome.code, "lines": outcome.lines}))
    req_path(name, req.id).unlink(missing_ok=True)
