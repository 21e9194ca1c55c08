"""`python -m wacloud`: each command against an independent oracle."""

import hashlib
import hmac
import json
import subprocess
import sys

import pytest

from fixture_files import FIXTURES_DIR
from wacloud import webhook
from wacloud.__main__ import main

TEXT_FIXTURE = FIXTURES_DIR / "message__text.json"


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def json_lines(text):
    return [json.loads(line) for line in text.splitlines()]


def test_phone_prints_one_json_line_per_number(capsys):
    status, out, _ = run(capsys, "phone", "+1 (650) 253-0000", "6502530000", "--region", "US")
    assert status == 0
    first, second = json_lines(out)
    assert first["wa_id"] == second["wa_id"] == "16502530000"
    assert first["e164"] == "+16502530000" and first["is_valid"] is True


def test_phone_reports_unreadable_numbers_and_exits_1(capsys):
    status, out, _ = run(capsys, "phone", "not a number", "+44 20 7946 0958")
    assert status == 1
    bad, good = json_lines(out)
    assert bad["reason"] == "not_a_number" and "error" in bad
    assert good["region"] == "GB"


def test_sign_matches_python_hmac(capsys):
    status, out, _ = run(capsys, "sign", str(TEXT_FIXTURE), "--secret", "s3cret")
    expected = hmac.new(b"s3cret", TEXT_FIXTURE.read_bytes(), hashlib.sha256).hexdigest()
    assert status == 0 and out.strip() == "sha256=" + expected


def test_verify_exit_code_says_whether_the_signature_holds(capsys, monkeypatch):
    header = "sha256=" + hmac.new(b"s3cret", TEXT_FIXTURE.read_bytes(), hashlib.sha256).hexdigest()
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "s3cret")
    assert run(capsys, "verify", str(TEXT_FIXTURE), "--signature", header)[:2] == (0, "valid\n")
    assert run(capsys, "verify", str(TEXT_FIXTURE), "--signature", header[:-1] + "0")[:2] == (1, "invalid\n")


def test_sign_without_a_secret_says_how_to_give_one(capsys, monkeypatch):
    monkeypatch.delenv("WHATSAPP_APP_SECRET", raising=False)
    with pytest.raises(SystemExit, match="WHATSAPP_APP_SECRET"):
        main(["sign", str(TEXT_FIXTURE)])


def test_parse_prints_every_event_of_the_body(capsys):
    status, out, _ = run(capsys, "parse", str(TEXT_FIXTURE))
    events = json_lines(out)
    assert status == 0
    assert [e["message_id"] for e in events] == [
        e.message_id for e in webhook.parse(TEXT_FIXTURE.read_bytes())
    ]
    assert events[0]["class"] == "InboundMessage" and events[0]["text"] == "Body Text"
    assert events[0]["timestamp"].endswith("+00:00")


def test_parse_of_a_malformed_body_fails_with_the_path(capsys, tmp_path):
    body = tmp_path / "bad.json"
    body.write_bytes(b'{"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": 3}]}')
    status, out, err = run(capsys, "parse", str(body))
    assert status == 1 and out == ""
    assert "entry[0].changes" in err


def test_hash_matches_hashlib_and_check_applies_metas_rules(capsys, tmp_path):
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    status, out, _ = run(capsys, "hash", str(png))
    assert status == 0 and out.split()[0] == hashlib.sha256(png.read_bytes()).hexdigest()
    status, out, _ = run(capsys, "hash", "--check", str(png))
    assert status == 0 and json_lines(out)[0]["mime"] == "image/png"
    status, out, _ = run(capsys, "hash", "--check", "--mime", "application/pdf", str(png))
    assert status == 1 and "error" in json_lines(out)[0]


def test_missing_file_is_an_error_not_a_traceback(capsys, tmp_path):
    status, _, err = run(capsys, "parse", str(tmp_path / "missing.json"))
    assert status == 1 and "No such file" in err


def test_module_entry_point_and_closed_pipe():
    # A reader that goes away early (`| head -c 10`) must not turn into an error message.
    process = subprocess.Popen(
        [sys.executable, "-m", "wacloud", "parse", str(TEXT_FIXTURE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    process.stdout.read(10)
    process.stdout.close()
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0
    assert b"error" not in err


def test_help_is_plain_text_under_the_invoked_name(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/wacloud", "--help"])
    with pytest.raises(SystemExit):
        main()
    out = capsys.readouterr().out
    assert out.startswith("usage: wacloud ") and "``" not in out
    assert "wacloud sandbox -h" in out
    monkeypatch.setattr(sys, "argv", ["/site-packages/wacloud/__main__.py", "--help"])
    with pytest.raises(SystemExit):
        main()
    assert capsys.readouterr().out.startswith("usage: python -m wacloud ")


def test_sandbox_without_aiohttp_names_the_extra(capsys, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["wacloud", "sandbox"])
    monkeypatch.setitem(sys.modules, "aiohttp", None)
    status = main(["sandbox", "--access-token", "t", "--phone-number-id", "1"])
    err = capsys.readouterr().err
    assert status == 1 and err == 'error: the sandbox needs aiohttp: pip install "wacloud[sandbox]"\n'
