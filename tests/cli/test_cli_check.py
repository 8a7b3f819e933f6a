"""`ingest check` prints the effective config; the installed command and `python -m ingest`."""

import json
import subprocess
import sys
from importlib import metadata

import pytest
from ruamel.yaml import YAML

import ingest
from helpers.cli import run_cli

CONFIG = """\
feeds:
  - url: https://www.ansa.it/sito/ansait_rss.xml
output:
  dir: out
  compress: gzip
  max_file_bytes: 50MB
"""


def test_check_prints_json_and_yaml(tmp_path):
    (tmp_path / "config.yaml").write_text(CONFIG)
    as_json = run_cli("check", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    plain = json.loads(as_json.stdout)
    assert as_json.stdout.startswith('{\n  "path": ')  # indented, one key a line
    assert plain["output"] == {"dir": str(tmp_path / "out"), "partition": "day",
                               "compress": "gzip", "max_file_bytes": 50_000_000,
                               "sink": "files", "table": "articles"}
    assert plain["feeds"][0]["name"] == "ansa.it-sito-ansait_rss.xml"
    assert plain["http"]["timeout"] == 20.0
    assert "OK, 1 feeds" in as_json.stderr

    as_yaml = run_cli("check", "--format", "yaml", cwd=tmp_path)
    assert as_yaml.returncode == 0, as_yaml.stderr
    assert as_yaml.stdout.startswith("path: ") and "\noutput:\n  dir: " in as_yaml.stdout
    assert YAML(typ="safe").load(as_yaml.stdout) == plain


@pytest.mark.parametrize("config, env, message", [
    (CONFIG.replace("gzip", "zip"), {}, "config.yaml:5: output.compress: "),
    (CONFIG.replace("50MB", "lots"), {}, "config.yaml:6: output.max_file_bytes: "),
    (CONFIG, {"INGEST_OUTPUT_COMPRESS": "bz2"}, "env INGEST_OUTPUT_COMPRESS: output.compress"),
    ("feeds: []\n", {}, "config.yaml:1: feeds: expected a non-empty list"),
])
def test_check_exits_2_naming_what_is_wrong(tmp_path, config, env, message):
    (tmp_path / "config.yaml").write_text(config)
    proc = run_cli("check", cwd=tmp_path, env=env)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stdout == ""


def test_the_ingest_command_and_python_m_ingest(tmp_path):
    scripts = {ep.name: ep.value for ep in metadata.entry_points(group="console_scripts")
               if ep.dist and ep.dist.name == "ingest"}
    assert scripts == {"ingest": "ingest.cli.main:main"}
    script = run_cli("--version", cwd=tmp_path)
    module = subprocess.run([sys.executable, "-m", "ingest", "--version"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert script.returncode == module.returncode == 0
    assert script.stdout == module.stdout == f"ingest {ingest.__version__}\n"
    (tmp_path / "config.yaml").write_text(CONFIG)
    module = subprocess.run([sys.executable, "-m", "ingest", "check", "-q"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=60)
    assert module.returncode == 0 and json.loads(module.stdout)["output"]["compress"] == "gzip"


def test_kubernetes_service_links_are_a_warning_not_a_crash_loop(tmp_path):
    # A Service named "ingest" puts these into every pod of its namespace.
    links = {"INGEST_PORT": "tcp://10.0.0.7:8080", "INGEST_PORT_8080_TCP": "tcp://10.0.0.7:8080",
             "INGEST_SERVICE_HOST": "10.0.0.7", "INGEST_SERVICE_PORT": "8080"}
    (tmp_path / "config.yaml").write_text(CONFIG)
    proc = run_cli("check", cwd=tmp_path, env={**links, "INGEST_HTTP_TIMOUT": "5"})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["http"]["timeout"] == 20.0
    warning, ok = proc.stderr.splitlines()
    assert " WARNING config: ignoring unknown environment variables INGEST_HTTP_TIMOUT (did you " \
           "mean INGEST_HTTP_TIMEOUT?)" in warning
    assert "ignoring INGEST_PORT, INGEST_PORT_8080_TCP, INGEST_SERVICE_HOST, " \
           "INGEST_SERVICE_PORT: Kubernetes service links of the Service ingest" in warning
    assert ok.endswith("config.yaml: OK, 1 feeds")
