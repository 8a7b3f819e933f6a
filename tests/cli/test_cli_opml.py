"""`ingest import-opml` and `ingest export-opml`, run as a user runs them."""

from helpers.cli import run_cli
from ingest.config.load import load_config

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0"><head><title>FreshRSS</title></head><body>
  <outline text="Italia" title="Italia">
    <outline text="Politica"><outline type="rss" text="ANSA Politica"
      xmlUrl="https://www.ansa.it/sito/notizie/politica/politica_rss.xml"/></outline>
    <outline type="rss" text="ANSA Top" xmlUrl="https://www.ansa.it/sito/ansait_rss.xml?utm_source=fr"/>
  </outline>
  <outline type="rss" text="Le Monde" xmlUrl="https://www.lemonde.fr/rss/une.xml"/>
  <outline type="rss" text="Le Monde (copy)" xmlUrl="https://www.lemonde.fr/rss/une.xml#x"/>
</body></opml>
"""
CONFIG = """\
# ingest config
feeds:
  # the wire
  - name: ansa
    url: https://www.ansa.it/sito/ansait_rss.xml   # top news

# schedule: poll every 10 minutes
schedule:
  interval: 10m
"""


def test_import_then_export_round_trip(tmp_path):
    config, opml = tmp_path / "config.yaml", tmp_path / "subs.opml"
    config.write_text(CONFIG)
    opml.write_text(OPML)

    proc = run_cli("import-opml", str(opml), "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "added\tANSA Politica\thttps://www.ansa.it/sito/notizie/politica/politica_rss.xml",
        "added\tLe Monde\thttps://www.lemonde.fr/rss/une.xml"]
    assert "skipped ANSA Top (" in proc.stderr and "already configured" in proc.stderr
    assert "skipped Le Monde (copy)" in proc.stderr
    assert "added 2 feeds" in proc.stderr and "skipped 2" in proc.stderr
    text = config.read_text()
    assert text.startswith(CONFIG.split("\n\n")[0] + "\n  - name: ANSA Politica\n")
    assert text.endswith("\n\n# schedule: poll every 10 minutes\nschedule:\n  interval: 10m\n")
    feeds = load_config(config, env={}).feeds
    assert [(f.name, f.tags) for f in feeds] == [
        ("ansa", ()), ("ANSA Politica", ("Italia", "Politica")), ("Le Monde", ())]

    again = run_cli("import-opml", str(opml), "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0 and "added 0 feeds" in again.stderr
    assert config.read_text() == text

    exported = run_cli("export-opml", "--config", str(config))
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">')
    (tmp_path / "back.opml").write_text(exported.stdout)
    fresh = tmp_path / "fresh.yaml"
    proc = run_cli("import-opml", str(tmp_path / "back.opml"), "--config", str(fresh))
    assert proc.returncode == 0, proc.stderr
    assert sorted((f.name, f.url, f.tags) for f in load_config(fresh, env={}).feeds) == sorted(
        (f.name, f.url, f.tags) for f in feeds)


def test_export_to_a_file(tmp_path):
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG)
    proc = run_cli("export-opml", "--config", str(config), "-o", str(tmp_path / "out.opml"))
    assert proc.returncode == 0 and "wrote 1 feeds" in proc.stderr
    assert 'xmlUrl="https://www.ansa.it/sito/ansait_rss.xml"' in (tmp_path / "out.opml").read_text()


def test_an_unsafe_opml_is_refused_and_the_config_left_alone(tmp_path):
    config, opml = tmp_path / "config.yaml", tmp_path / "evil.opml"
    config.write_text(CONFIG)
    opml.write_text('<?xml version="1.0"?>\n<!DOCTYPE opml [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    '<opml><body><outline text="&x;" xmlUrl="https://e.example/"/></body></opml>')
    proc = run_cli("import-opml", str(opml), "--config", str(config))
    assert proc.returncode == 2
    assert "evil.opml:2: a DOCTYPE or entity declaration" in proc.stderr
    assert "refused for safety" in proc.stderr and "root:" not in proc.stderr
    assert config.read_text() == CONFIG


def test_dry_run_changes_nothing(tmp_path):
    config, opml = tmp_path / "config.yaml", tmp_path / "subs.opml"
    config.write_text(CONFIG)
    opml.write_text(OPML)
    proc = run_cli("import-opml", str(opml), "--config", str(config), "--dry-run")
    assert proc.returncode == 0 and proc.stdout.count("would add\t") == 2
    assert config.read_text() == CONFIG


def test_an_opml_in_an_encoding_python_cannot_give_expat_is_one_line(tmp_path):
    config, opml = tmp_path / "config.yaml", tmp_path / "subs.opml"
    config.write_text(CONFIG)
    opml.write_text(OPML.replace('encoding="UTF-8"', 'encoding="utf-7"'))
    proc = run_cli("import-opml", str(opml), "--config", str(config))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines() == [
        f"ingest: {opml}:1: cannot read the encoding its XML declaration names (multi-byte "
        "encodings are not supported); save the file as UTF-8 and import it again"]
    assert config.read_text() == CONFIG
