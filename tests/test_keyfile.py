"""The encrypted key file, `load_credentials`, and `python -m engine keys`.

Key derivation is scrypt; tests use cheap parameters (the file records them), except the one
that checks `keys init` writes the strong default.
"""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from engine import keys_cli
from engine.__main__ import main
from engine.config import ConfigError
from engine.config.keyfile import (
    DEFAULT_SCRYPT,
    MAGIC,
    KeyFile,
    KeyFileCorrupt,
    KeyFileError,
    KeyFileExists,
    KeyFileNotFound,
    ScryptParams,
    WrongPassphrase,
)
from engine.config.schema import EngineConfig, VenueConfig, default_venues
from engine.config.venue_credentials import (
    VenueCredentialsError,
    load_all_credentials,
    load_credentials,
)
from engine.wire.credentials import Credentials

FAST = ScryptParams(n=1 << 10, r=8, p=1)
TINY = ScryptParams(n=16, r=1, p=1)  # for the byte-by-byte tamper sweep only
PASS = "correct horse battery staple"
SECRET = "Sx9-very-secret-value-7f3a"  # grep target: must never appear anywhere
OKX_SECRET = "Okx-secret-2b8e41"
OKX_PASSPHRASE = "Okx-Pass-phrase-99"
BINANCE = Credentials("binance-api-key-0001", SECRET)
OKX = Credentials("okx-api-key-000002", OKX_SECRET, OKX_PASSPHRASE)
SECRETS = (SECRET, OKX_SECRET, OKX_PASSPHRASE, PASS)
ROOT = Path(__file__).resolve().parents[1]


def make(path: Path, params: ScryptParams = FAST, **entries: Credentials) -> KeyFile:
    kf = KeyFile.create(path, PASS, params=params)
    for venue, creds in entries.items():
        kf.put(venue, creds)
    kf.save()
    return kf


def assert_clean(*texts: str | bytes) -> None:
    for text in texts:
        blob = text.encode() if isinstance(text, str) else text
        for secret in SECRETS:
            assert secret.encode() not in blob


# -- the file ------------------------------------------------------------------------------


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE, okx=OKX)
    kf = KeyFile.open(path, PASS)
    assert kf.venues() == ["binance", "okx"]
    assert kf.get("binance") == BINANCE and kf.get("okx") == OKX
    okx = kf.get("okx")
    assert okx is not None and okx.passphrase == OKX_PASSPHRASE
    assert kf.get("gate") is None
    kf.remove("binance")
    kf.save()
    assert KeyFile.open(path, PASS).venues() == ["okx"]
    assert_clean(path.read_bytes(), repr(kf), str(kf))


def test_header_is_readable_and_binds_parameters(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    blob = path.read_bytes()
    assert blob.startswith(MAGIC)
    header = json.loads(blob[len(MAGIC) : blob.index(b"\n", len(MAGIC))])
    assert header["version"] == 1
    assert header["kdf"] | {"salt": None} == {
        "name": "scrypt",
        "n": 1024,
        "r": 8,
        "p": 1,
        "salt": None,
    }
    assert header["aead"]["name"] == "aes-256-gcm"


def test_default_parameters_are_strong() -> None:
    assert DEFAULT_SCRYPT.n >= 1 << 15 and DEFAULT_SCRYPT.r >= 8
    with pytest.raises(ValueError):
        ScryptParams(n=1000)
    with pytest.raises(ValueError):
        ScryptParams(n=1 << 22)


def test_wrong_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    with pytest.raises(WrongPassphrase) as err:
        KeyFile.open(path, "not the passphrase")
    message = str(err.value)
    assert "wrong passphrase" in message and str(path) in message and "\n" not in message
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert_clean(message)


def test_every_single_byte_change_is_detected(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, TINY, binance=BINANCE)
    good = path.read_bytes()
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        path.write_bytes(bytes(bad))
        with pytest.raises(KeyFileError) as err:
            KeyFile.open(path, PASS)
        assert isinstance(err.value, WrongPassphrase | KeyFileCorrupt), i
        assert_clean(str(err.value))
    path.write_bytes(good)
    assert KeyFile.open(path, PASS).get("binance") == BINANCE


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b'"n":1024', b'"n":2048'),  # KDF parameters are authenticated
        (b'"r":8', b'"r":9'),
        (b'"p":1', b'"p":2'),
    ],
)
def test_tampered_header_fails_authentication(tmp_path: Path, old: bytes, new: bytes) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    blob = path.read_bytes()
    assert blob.count(old) == 1
    path.write_bytes(blob.replace(old, new))
    with pytest.raises(WrongPassphrase):
        KeyFile.open(path, PASS)


def test_swapped_salt_or_nonce_fails(tmp_path: Path) -> None:
    a, b = tmp_path / "a.enc", tmp_path / "b.enc"
    make(a, binance=BINANCE)
    make(b, binance=BINANCE)
    header_a = a.read_bytes().split(b"\n")[1]
    blob_b = b.read_bytes()
    header_b = blob_b.split(b"\n")[1]
    b.write_bytes(blob_b.replace(header_b, header_a))
    with pytest.raises(WrongPassphrase):
        KeyFile.open(b, PASS)


@pytest.mark.parametrize(
    ("blob", "fragment"),
    [
        (b"", "not an engine key file"),
        (b"hello world\n", "not an engine key file"),
        (MAGIC + b"{not json}\n" + b"x" * 32, "not JSON"),
        (MAGIC + b'{"version":2}\n' + b"x" * 32, "unsupported key file version 2"),
        (MAGIC + b"x" * 5000, "no end of header"),
    ],
)
def test_corrupt_files(tmp_path: Path, blob: bytes, fragment: str) -> None:
    path = tmp_path / "keys.enc"
    path.write_bytes(blob)
    with pytest.raises(KeyFileCorrupt, match=fragment):
        KeyFile.open(path, PASS)


def test_header_cannot_demand_huge_kdf_cost(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    path.write_bytes(path.read_bytes().replace(b'"n":1024', b'"n":1073741824'))
    with pytest.raises(KeyFileCorrupt, match="scrypt n"):
        KeyFile.open(path, PASS)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    blob = path.read_bytes()
    path.write_bytes(blob[: blob.index(b"\n", len(MAGIC)) + 5])
    with pytest.raises(KeyFileCorrupt, match="truncated"):
        KeyFile.open(path, PASS)
    path.write_bytes(blob[:-1])
    with pytest.raises(WrongPassphrase):
        KeyFile.open(path, PASS)


def test_missing_file_and_no_overwrite(tmp_path: Path) -> None:
    with pytest.raises(KeyFileNotFound, match="no such key file"):
        KeyFile.open(tmp_path / "absent.enc", PASS)
    path = tmp_path / "keys.enc"
    path.write_bytes(b"precious")
    with pytest.raises(KeyFileExists, match="refusing to overwrite"):
        KeyFile.create(path, PASS, params=FAST)
    assert path.read_bytes() == b"precious"
    with pytest.raises(KeyFileError, match="non-empty"):
        KeyFile.create(tmp_path / "new.enc", "", params=FAST)


def test_mode_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    old = os.umask(0)
    try:
        kf = make(path, binance=BINANCE)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        path.chmod(0o644)
        kf.save()  # a rewrite is a new file: 0600 again
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    finally:
        os.umask(old)


def test_every_write_uses_a_fresh_nonce_and_hides_lengths(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    kf = make(path, binance=BINANCE)
    first = path.read_bytes()
    kf.save()
    second = path.read_bytes()
    assert first != second and len(first) == len(second)
    nonce = json.loads(first.split(b"\n")[1])["aead"]["nonce"]
    assert nonce != json.loads(second.split(b"\n")[1])["aead"]["nonce"]
    kf.put("binance", Credentials("binance-api-key-0001", SECRET + "x" * 40))
    kf.save()
    assert len(path.read_bytes()) == len(first)  # padded to 256 bytes


@pytest.mark.parametrize("failing", ["replace", "fsync", "write"])
def test_failed_rewrite_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    path = tmp_path / "keys.enc"
    kf = make(path, binance=BINANCE)
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, failing, boom)
    kf.put("okx", OKX)
    with pytest.raises(KeyFileError, match="cannot write: No space left"):
        kf.save()
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.enc"]  # no temp file left
    assert KeyFile.open(path, PASS).venues() == ["binance"]


def test_change_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    kf = make(path, binance=BINANCE)
    kf.change_passphrase("a new passphrase")
    kf.save()
    with pytest.raises(WrongPassphrase):
        KeyFile.open(path, PASS)
    assert KeyFile.open(path, "a new passphrase").get("binance") == BINANCE


# -- load_credentials --------------------------------------------------------------------


def venue(name: str, key_source: str = "none", keyfile: str = "") -> VenueConfig:
    return replace(default_venues()[name], enabled=True, key_source=key_source, keyfile=keyfile)


def test_key_source_none_and_env() -> None:
    assert load_credentials("binance", venue("binance"), environ={}) is None
    env = {"HFT_OKX_API_KEY": "k" * 10, "HFT_OKX_API_SECRET": SECRET, "HFT_OKX_PASSPHRASE": "pp"}
    creds = load_credentials("okx", venue("okx", key_source="env"), environ=env)
    assert creds == Credentials("k" * 10, SECRET, "pp")
    with pytest.raises(VenueCredentialsError) as err:
        load_credentials("okx", venue("okx", key_source="env"), environ={"HFT_OKX_API_KEY": "k"})
    message = str(err.value)
    assert isinstance(err.value, ConfigError)
    assert message.startswith("venues.okx.key_source: ")
    assert "HFT_OKX_API_SECRET" in message and "HFT_OKX_PASSPHRASE" in message
    assert "HFT_OKX_API_KEY" not in message  # set, so not reported


def test_key_source_keyfile(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE, okx=OKX)
    env = {"HFT_KEYFILE_PASSPHRASE": PASS}
    cfg = venue("okx", key_source="keyfile", keyfile=str(path))
    assert load_credentials("okx", cfg, environ=env) == OKX
    # the prompt is asked only when the variable is unset
    asked: list[int] = []

    def prompt() -> str:
        asked.append(1)
        return PASS

    assert load_credentials("okx", cfg, environ={}, passphrase=prompt) == OKX
    assert load_credentials("okx", cfg, environ=env, passphrase=prompt) == OKX
    assert asked == [1]


@pytest.mark.parametrize(
    ("name", "setup", "environ", "fragments"),
    [
        ("binance", "none", {"HFT_KEYFILE_PASSPHRASE": PASS}, ["not found", "keys init"]),
        ("binance", "ok", {}, ["needs its passphrase", "HFT_KEYFILE_PASSPHRASE"]),
        ("binance", "ok", {"HFT_KEYFILE_PASSPHRASE": "wrong"}, ["wrong passphrase"]),
        ("gate", "ok", {"HFT_KEYFILE_PASSPHRASE": PASS}, ["no keys for gate", "keys add gate"]),
        ("okx", "okx-no-pp", {"HFT_KEYFILE_PASSPHRASE": PASS}, ["has no passphrase"]),
        ("binance", "garbage", {"HFT_KEYFILE_PASSPHRASE": PASS}, ["not an engine key file"]),
    ],
)
def test_keyfile_errors_name_the_venue_and_the_fix(
    tmp_path: Path, name: str, setup: str, environ: dict[str, str], fragments: list[str]
) -> None:
    path = tmp_path / "keys.enc"
    if setup == "ok":
        make(path, binance=BINANCE, okx=OKX)
    elif setup == "okx-no-pp":
        make(path, okx=Credentials("okx-api-key-000002", OKX_SECRET))
    elif setup == "garbage":
        path.write_bytes(b"garbage")
    cfg = venue(name, key_source="keyfile", keyfile=str(path))
    with pytest.raises(VenueCredentialsError) as err:
        load_credentials(name, cfg, environ=environ)
    message = str(err.value)
    assert message.startswith(f"venues.{name}.keyfile: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    assert_clean(message)


def test_load_all_decrypts_a_shared_file_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE, okx=OKX)
    opened: list[Path] = []
    real_open = KeyFile.open

    def counting(p: str | Path, passphrase: str) -> KeyFile:
        opened.append(Path(p))
        return real_open(p, passphrase)

    monkeypatch.setattr(KeyFile, "open", counting)
    venues = default_venues()
    venues["binance"] = venue("binance", key_source="keyfile", keyfile=str(path))
    venues["okx"] = venue("okx", key_source="keyfile", keyfile=str(path))
    venues["gate"] = venue("gate", key_source="none")
    cfg = EngineConfig(venues=venues)
    found = load_all_credentials(cfg, environ={"HFT_KEYFILE_PASSPHRASE": PASS})
    assert found == {"binance": BINANCE, "okx": OKX}
    assert len(opened) == 1


# -- the CLI, in process (prompts) -----------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def cli(
    args: list[str],
    *,
    answers: list[str] | None = None,
    stdin: str = "",
    env: dict[str, str] | None = None,
) -> tuple[int, str, str, list[str]]:
    """keys_cli.main in process: `answers` makes stdin a terminal and answers its prompts."""
    out, err = io.StringIO(), io.StringIO()
    prompts: list[str] = []
    queue = list(answers or [])

    def prompt(text: str) -> str:
        prompts.append(text)
        return queue.pop(0)

    term = Tty() if answers is not None else io.StringIO(stdin)
    code = keys_cli.main(args, keys_cli.Io(term, out, err, dict(env or {}), prompt))
    return code, out.getvalue(), err.getvalue(), prompts


def test_interactive_init_add_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keys_cli, "INIT_SCRYPT", FAST)
    path = str(tmp_path / "keys.enc")
    code, _, err, prompts = cli(["init", "--file", path], answers=[PASS, "typo"])
    assert code == 2 and "do not match" in err and not Path(path).exists()
    code, _, _, prompts = cli(["init", "--file", path], answers=[PASS, PASS])
    assert code == 0 and len(prompts) == 2
    answers = [PASS, "okx-api-key-000002", OKX_SECRET, OKX_PASSPHRASE]
    code, out, err, prompts = cli(["add", "okx", "--file", path], answers=answers)
    assert code == 0, err
    assert prompts == [
        "Key file passphrase: ",
        "okx API key: ",
        "okx API secret: ",
        "okx API passphrase: ",
    ]
    code, out, err, _ = cli(["list", "--file", path], answers=[PASS])
    assert code == 0 and out == "okx      ***0002  passphrase set\n"
    assert_clean(out, err)


def test_passwd(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    env = {"HFT_KEYFILE_PASSPHRASE": PASS, "HFT_KEYFILE_NEW_PASSPHRASE": "second one"}
    code, _, err, _ = cli(["passwd", "--file", str(path)], env=env)
    assert code == 0, err
    assert KeyFile.open(path, "second one").get("binance") == BINANCE


def test_stdin_must_hold_exactly_the_expected_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path)
    env = {"HFT_KEYFILE_PASSPHRASE": PASS}
    code, _, err, _ = cli(["add", "okx", "--file", str(path)], stdin="k\nsecret\n", env=env)
    assert code == 2 and "3 lines" in err
    code, _, err, _ = cli(["add", "binance", "--file", str(path)], stdin="a\nb\nc\n", env=env)
    assert code == 2 and "2 lines" in err
    code, _, err, _ = cli(["add", "binance", "--file", str(path)], stdin="a\n\n", env=env)
    assert code == 2
    assert KeyFile.open(path, PASS).venues() == []
    code, _, err, _ = cli(["add", "binance", "--file", str(path)], stdin="a\nb\n\n", env=env)
    assert code == 0, err
    code, _, err, _ = cli(["add", "binance", "--file", str(path)], stdin="c\nd\n", env=env)
    assert code == 1 and "--replace" in err
    code, _, err, _ = cli(
        ["add", "binance", "--replace", "--file", str(path)], stdin="c\nd\n", env=env
    )
    assert code == 0 and KeyFile.open(path, PASS).get("binance") == Credentials("c", "d")


# -- the CLI, end to end -----------------------------------------------------------------------


def engine_keys(
    tmp_path: Path, *args: str, stdin: str = "", passphrase: str | None = PASS
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HFT")}
    if passphrase is not None:
        env["HFT_KEYFILE_PASSPHRASE"] = passphrase
    return subprocess.run(
        [sys.executable, "-m", "engine", "keys", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=tmp_path,
    )


def test_cli_end_to_end_never_shows_a_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.enc"
    make(path)  # cheap KDF parameters; the CLI keeps a file's parameters when it rewrites
    outputs: list[str] = []

    def run(
        *args: str, stdin: str = "", passphrase: str | None = PASS, code: int = 0
    ) -> subprocess.CompletedProcess[str]:
        out = engine_keys(tmp_path, *args, stdin=stdin, passphrase=passphrase)
        outputs.extend((out.stdout, out.stderr))
        assert out.returncode == code, out.stderr
        assert "Traceback" not in out.stderr
        return out

    run("add", "binance", "--file", "keys.enc", stdin=f"{BINANCE.api_key}\n{SECRET}\n")
    okx_in = f"{OKX.api_key}\n{OKX_SECRET}\n{OKX_PASSPHRASE}\n"
    run("add", "okx", "--file", "keys.enc", stdin=okx_in)
    listed = run("list", "--file", "keys.enc")
    assert listed.stdout.splitlines() == ["binance  ***0001", "okx      ***0002  passphrase set"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    # a secret given as an argument is refused and not echoed; the file is untouched
    before = path.read_bytes()
    refused = run("add", "gate", SECRET, "--file", "keys.enc", code=2)
    assert "never taken from the command line" in refused.stderr
    run("add", f"--api-secret={SECRET}", "gate", "--file", "keys.enc", code=2)
    run(SECRET, "--file", "keys.enc", code=2)  # in the action's place
    assert path.read_bytes() == before

    # expected failures: one line, no traceback (the cases: test_cli_failures)
    wrong = run("list", "--file", "keys.enc", passphrase="nope", code=1)
    assert wrong.stderr.count("\n") == 1 and "wrong passphrase" in wrong.stderr
    assert HFT_PASSPHRASE_HINT in run("list", "--file", "keys.enc", passphrase=None, code=2).stderr

    run("remove", "binance", "--file", "keys.enc")
    assert run("list", "--file", "keys.enc").stdout.splitlines() == [
        "okx      ***0002  passphrase set"
    ]
    assert KeyFile.open(path, PASS).get("okx") == OKX
    assert_clean(*outputs, path.read_bytes())


HFT_PASSPHRASE_HINT = "set HFT_KEYFILE_PASSPHRASE"


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (
            ["list", "--file", "keys.enc"],
            {"HFT_KEYFILE_PASSPHRASE": "nope"},
            (1, "wrong passphrase"),
        ),
        (["list", "--file", "absent.enc"], None, (1, "no such key file")),
        (["list", "--file", "junk.enc"], None, (1, "not an engine key file")),
        (["list", "--file", "."], None, (1, "is a directory")),
        (["remove", "gate", "--file", "keys.enc"], None, (1, "no keys for venue 'gate'")),
        (["init", "--file", "keys.enc"], None, (1, "refusing to overwrite")),
        (["init", "--file", "no/such/dir/k.enc"], None, (1, "does not exist")),
        (["remove", "bitmex", "--file", "keys.enc"], None, (2, "unknown venue")),
        (["list", "--file", "keys.enc"], {}, (2, HFT_PASSPHRASE_HINT)),
        (["add", "gate", "--file", "keys.enc", "--api-secret", SECRET], None, (2, "not shown")),
        (["add", SECRET, "--file", "keys.enc"], None, (2, "unknown venue")),
        (["frob", "--file", "keys.enc"], None, (2, "invalid choice")),
        (["list"], None, (2, "required: --file")),
    ],
)
def test_cli_failures(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str] | None,
    expected: tuple[int, str],
) -> None:
    code, fragment = expected
    monkeypatch.chdir(tmp_path)
    make(tmp_path / "keys.enc", binance=BINANCE)
    before = (tmp_path / "keys.enc").read_bytes()
    (tmp_path / "junk.enc").write_bytes(b"junk")
    got, out, err, _ = cli(args, env={"HFT_KEYFILE_PASSPHRASE": PASS} if env is None else env)
    assert got == code, err
    assert fragment in err and err.startswith("python -m engine keys: error: ")
    assert out == ""
    assert_clean(err)
    assert (tmp_path / "keys.enc").read_bytes() == before


def test_cli_init_writes_strong_parameters(tmp_path: Path) -> None:
    out = engine_keys(tmp_path, "init", "--file", "keys.enc")
    assert out.returncode == 0, out.stderr
    path = tmp_path / "keys.enc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header = json.loads(path.read_bytes().split(b"\n")[1])
    assert header["kdf"]["n"] >= 1 << 15
    assert KeyFile.open(path, PASS).venues() == []


def test_top_level_help_lists_keys(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "engine", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and "keys" in out.stdout


def test_dispatch_after_top_level_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    monkeypatch.setenv("HFT_KEYFILE_PASSPHRASE", PASS)
    assert main(["--config", "config/paper.toml", "keys", "list", "--file", str(path)]) == 0


def test_hidden_prompts_on_a_terminal(tmp_path: Path) -> None:
    """On a real (pseudo) terminal the secrets are asked with echo off: the terminal never
    shows them."""
    import select

    path = tmp_path / "keys.enc"
    make(path)
    master, slave = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HFT")}
    env["HFT_KEYFILE_PASSPHRASE"] = PASS
    proc = subprocess.Popen(
        [sys.executable, "-m", "engine", "keys", "add", "binance", "--file", str(path)],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    os.close(slave)
    screen = b""

    def wait_for(text: bytes) -> None:
        nonlocal screen
        while text not in screen:
            ready, _, _ = select.select([master], [], [], 30)
            assert ready, f"no {text!r} on the terminal; got {screen!r}"
            screen += os.read(master, 4096)

    try:
        wait_for(b"binance API key: ")
        os.write(master, BINANCE.api_key.encode() + b"\n")
        wait_for(b"binance API secret: ")
        os.write(master, SECRET.encode() + b"\n")
        assert proc.wait(timeout=30) == 0
        try:  # the rest of the output, until EOF or EIO (the child closed the terminal)
            while chunk := os.read(master, 4096):
                screen += chunk
        except OSError:
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert b"stored keys for binance" in screen
    assert_clean(screen)
    assert BINANCE.api_key.encode() not in screen
    assert KeyFile.open(path, PASS).get("binance") == BINANCE


def test_create_without_hard_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(*args: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "keys.enc"
    make(path, binance=BINANCE)
    assert KeyFile.open(path, PASS).get("binance") == BINANCE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.enc"]
