from __future__ import annotations

from pathlib import Path

import pytest

from syncd.config import ConfigError, load_settings, resolve_secret


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "syncd.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file_use_sqlite_in_the_state_dir(tmp_path: Path) -> None:
    settings = load_settings()
    assert settings.source is None
    assert settings.db_url == f"sqlite:///{tmp_path / 'state' / 'syncd.db'}"


def test_misspelt_connector_kind_names_file_key_and_choices(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[connectors]]
kind = "files"
name = "a"
[[connectors]]
kind = "msgrpah"
name = "b"
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems == [
        "syncd.toml: connectors[1].kind: 'msgrpah' is not one of msgraph, ews, files"
    ]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, """
colour = "blue"
[policy]
auto_create = "maybe"
[[connectors]]
kind = "msgraph"
name = "m365"
client_id = "x"
client_secret = "hunter2"
""")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    text = "\n".join(info.value.problems)
    assert "syncd.toml: colour: unknown key" in text
    assert "syncd.toml: policy.auto_create:" in text
    assert "connectors[0].tenant_id: required key is missing" in text
    assert "connectors[0].client_secret: secrets must be references" in text
    assert "hunter2" not in text  # a secret typed in by mistake is never echoed


def test_secret_values_never_appear_when_valid_reference(tmp_path: Path) -> None:
    path = write(tmp_path, """
internal_domains = ["Contoso.FR", "@fabrikam.com"]
[[connectors]]
kind = "msgraph"
name = "m365"
tenant_id = "contoso"
client_id = "x"
client_secret = "env:SYNCD_TEST_SECRET"
""")
    settings = load_settings(path)
    assert settings.internal_domains == ("contoso.fr", "fabrikam.com")
    conn = settings.connector("m365")
    assert conn.kind == "msgraph"
    with pytest.raises(ConfigError, match="SYNCD_TEST_SECRET is not set"):
        resolve_secret("env:SYNCD_TEST_SECRET", env={})
    assert resolve_secret("env:SYNCD_TEST_SECRET", env={"SYNCD_TEST_SECRET": "s3"}) == "s3"


def test_file_secrets_resolve_against_systemd_credentials_directory(tmp_path: Path) -> None:
    (tmp_path / "graph-secret").write_text("from-credential\n")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path)}
    assert resolve_secret("file:graph-secret", env=env) == "from-credential"
    with pytest.raises(ConfigError, match="cannot read"):
        resolve_secret("file:missing", env=env)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, 'database_url = "sqlite:///from-file.db"\n')
    monkeypatch.setenv("SYNCD_DATABASE_URL", "sqlite:///from-env.db")
    monkeypatch.setenv("SYNCD_INTERNAL_DOMAINS", "a.fr,b.be")
    settings = load_settings()  # ./syncd.toml is found by the lookup order
    assert settings.source == Path("syncd.toml")
    assert settings.db_url == "sqlite:///from-env.db"
    assert settings.internal_domains == ("a.fr", "b.be")


def test_explicit_missing_file_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "internal_domains = [\n"))


def test_duplicate_connector_names(tmp_path: Path) -> None:
    path = write(tmp_path, """
[[connectors]]
kind = "files"
name = "x"
[[connectors]]
kind = "files"
name = "x"
""")
    with pytest.raises(ConfigError, match=r"connectors\[1\].name: 'x' is used twice"):
        load_settings(path)


def test_example_config_is_valid() -> None:
    example = Path(__file__).resolve().parents[1] / "config" / "syncd.example.toml"
    settings = load_settings(example, env={"SYNCD_STATE_DIR": "/tmp/x"})
    kinds = {c.kind for c in settings.connectors}
    assert kinds == {"files", "msgraph", "ews"}
