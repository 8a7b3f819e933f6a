"""`ingest fetch` shows progress on a terminal (a pseudo-terminal here), and nothing of
the kind when stderr is a pipe or with -q."""


import re

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import add_small_site, write_config
from helpers.tty import ANSI, run_with_tty_stderr

BAR = "━"


@pytest.fixture
def config(tmp_path):
    with FaultServer() as server:
        feeds = add_small_site(server, feeds=2) + [("down", server.url("/status/503"))]
        yield write_config(tmp_path / "config.yaml", feeds, extract={"workers": 1})


def test_progress_on_a_terminal(config, tmp_path):
    status, stdout, screen = run_with_tty_stderr("fetch", "-vv", "--config", str(config),
                                                 cwd=tmp_path)
    assert status == 1, screen  # the "down" feed failed
    assert stdout == ""
    assert BAR in screen and ANSI.search(screen)
    text = ANSI.sub("", screen)
    assert "3/3 feeds · 6 articles written · 1 failed" in text
    # -vv log lines are printed above the bar, each on a line of its own.
    logged = re.findall(r"(?:^|\r\n|\r)(\d\d:\d\d:\d\d (?:DEBUG|INFO|WARNING|ERROR) .*?)\r?\n", text)
    assert logged and not any(BAR in line for line in logged)
    assert "feeds: 2 ok, 0 not modified, 1 failed" in text  # the summary still ends the run


def test_no_progress_with_q_on_a_terminal(config, tmp_path):
    status, _, screen = run_with_tty_stderr("fetch", "-q", "--config", str(config), cwd=tmp_path)
    assert status == 1
    assert BAR not in screen and "articles written" not in screen
    assert "feeds: 2 ok, 0 not modified, 1 failed" in screen


def test_no_progress_when_stderr_is_not_a_terminal(config, tmp_path):
    proc = run_cli("fetch", "--config", str(config), env={"TERM": "xterm-256color",
                                                          "FORCE_COLOR": "1"})
    assert proc.returncode == 1
    assert "\x1b" not in proc.stderr and BAR not in proc.stderr
    assert "articles written" not in proc.stderr
    assert "\r" not in proc.stderr
    assert "feeds: 2 ok, 0 not modified, 1 failed\narticles: 6 written" in proc.stderr
    assert "FAILED down" in proc.stderr
