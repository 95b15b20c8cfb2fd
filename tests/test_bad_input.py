"""Bad input of every kind: one line naming what, where and what to do, its own exit code (never
0, never 70), no traceback, and nothing changed."""

from __future__ import annotations

import gc
import os
import re
import smtplib
import socket
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import event as sa_event
from sqlalchemy.pool import Pool

from crisisflow import models
from crisisflow.cli import cli
from crisisflow.config import SETTINGS, load_settings
from crisisflow.errors import ConfigError, InvalidInput, NotFoundError
from crisisflow.facts import clean_document, parse_time, read_text_file
from crisisflow.mailbox import Sink, messages
from crisisflow.refs import clean_ref
from crisisflow.workspace import init

TITLE = "Mạng xã hội lan truyền tin sạt lở bờ kè"
NOT_UTF8 = "Tin sai \udcff\udcfe sự thật"  # what click makes of argv bytes that are not UTF-8
NUMERIC = [s for s in SETTINGS if s.kind in (int, float)]


def refused(workspace: Path, *args: str, code: int, env: dict[str, str] | None = None) -> str:
    """Run a command that must be refused; return its one line of error."""
    result = CliRunner().invoke(
        cli, list(args), env={"CRISISFLOW_HOME": str(workspace), **(env or {})}
    )
    assert code not in (0, 70)
    assert result.exit_code == code, (result.exit_code, result.output)
    assert "Traceback" not in result.output and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0].removeprefix("error: ")


def ok(workspace: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env={"CRISISFLOW_HOME": str(workspace)})
    assert result.exit_code == 0, result.output
    return result.stdout


def snapshot(workspace: Path) -> dict[str, list[str]]:
    """Every row of every table, to show a refused command changed nothing."""
    engine = sa.create_engine(load_settings(workspace).database_url)
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted(repr(tuple(row)) for row in conn.execute(sa.select(table)))
                for table in models.metadata.sorted_tables
            }
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A workspace on its own SQLite file, for what only a file can get wrong."""
    monkeypatch.delenv("CRISISFLOW_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRISISFLOW_HOME", raising=False)
    return init(tmp_path / "ws").workspace


def line_of(path: Path, text: str) -> int:
    return path.read_text(encoding="utf-8").split(text)[0].count("\n") + 1


# --- settings --------------------------------------------------------------------------------


def test_every_numeric_setting_has_bounds_around_its_default() -> None:
    for s in NUMERIC:
        assert s.low is not None and s.high is not None and s.low <= s.default <= s.high, s.name


@pytest.mark.parametrize("setting", NUMERIC, ids=lambda s: s.name)
def test_a_numeric_setting_out_of_range_names_it_and_its_variable(
    sqlite_workspace: Path, setting: Any
) -> None:
    assert setting.low is not None and setting.high is not None
    wrong = [setting.low - 1 if setting.kind is int else 0, setting.high + 1]
    wrong += ["nan", "inf"] if setting.kind is float else []
    for value in wrong:
        message = refused(sqlite_workspace, "list", code=3, env={setting.env: str(value)})
        assert message.startswith(f"{setting.env}: setting {setting.name} must be between ")


def test_a_zero_lease_in_the_settings_file_is_refused_before_dispatch(
    sqlite_workspace: Path,
) -> None:
    toml = sqlite_workspace / "crisisflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + "lease_seconds = 0\n", encoding="utf-8")
    message = refused(sqlite_workspace, "dispatch", code=3)
    where = f"{toml}:{line_of(toml, 'lease_seconds = 0')}"
    assert message == f"{where}: setting lease_seconds must be between 0.1 and 86400, got 0.0"


@pytest.mark.parametrize("value", ["2.5", "true"])
def test_a_whole_number_setting_refuses_fractions_and_booleans(
    sqlite_workspace: Path, value: str
) -> None:
    toml = sqlite_workspace / "crisisflow.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f"max_attempts = {value}\n", "utf-8")
    message = refused(sqlite_workspace, "list", code=3)
    assert f"setting max_attempts must be a whole number, got {value.title()}" in message


def test_an_unknown_time_zone_in_the_settings_file_names_file_and_line(
    sqlite_workspace: Path,
) -> None:
    toml = sqlite_workspace / "crisisflow.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace('"Asia/Ho_Chi_Minh"', '"Asia/Hanoi"'), "utf-8"
    )
    message = refused(sqlite_workspace, "list", code=3)
    assert message == (
        f"{toml}:{line_of(toml, 'Asia/Hanoi')}: setting time_zone must be a time zone name of "
        "the IANA database such as Asia/Ho_Chi_Minh, got 'Asia/Hanoi'"
    )


@pytest.mark.parametrize("zone", ["asia/ho_chi_minh", "Asia/Ho_Chi_Mihn", "Asia", "../etc", ""])
def test_an_unknown_time_zone_in_the_environment_names_the_variable(
    sqlite_workspace: Path, zone: str
) -> None:
    message = refused(sqlite_workspace, "list", code=3, env={"CRISISFLOW_TIME_ZONE": zone})
    assert message.startswith("CRISISFLOW_TIME_ZONE: setting time_zone must be a time zone")
    if zone.startswith(("asia/", "Asia/")):
        assert message.endswith("; did you mean Asia/Ho_Chi_Minh?")


# --- text, times and references --------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--title", NOT_UTF8], "--title"),
        (["--title", TITLE, "--note", NOT_UTF8], "--note"),
        (["--title", TITLE, "--set", "source_url=https://x.example/\udcff"], "fact source_url"),
    ],
)
def test_text_that_was_not_utf8_is_refused_naming_the_field(
    workspace: Path, args: list[str], field: str
) -> None:
    before = snapshot(workspace)
    message = refused(workspace, "open", "media-crisis", *args, code=8)
    assert message.startswith(f"{field}: contains bytes that are not UTF-8 text; set the ")
    assert snapshot(workspace) == before


def test_a_note_that_was_not_utf8_leaves_the_incident_as_it_was(workspace: Path) -> None:
    ok(workspace, "open", "media-crisis", "--title", TITLE)
    before = snapshot(workspace)
    message = refused(workspace, "advance", "KC-2026-0001", "triage", "--note", NOT_UTF8, code=8)
    assert message.startswith("--note: contains bytes that are not UTF-8 text")
    assert snapshot(workspace) == before


@pytest.mark.parametrize("when", ["0001-01-01", "9999-12-31 23:59", "31/12/9999", "1899-12-31"])
def test_an_absurd_year_is_refused_naming_the_field(workspace: Path, when: str) -> None:
    before = snapshot(workspace)
    args = ("open", "media-crisis", "--title", TITLE, "--occurred-at", when)
    message = refused(workspace, *args, code=8)
    assert message == f"--occurred-at: {when!r}: the year must be between 1900 and 2200"
    assert snapshot(workspace) == before


def test_times_at_the_ends_of_the_window_convert_in_any_zone() -> None:
    from zoneinfo import ZoneInfo

    for zone in ("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Ho_Chi_Minh"):
        tz = ZoneInfo(zone)
        assert parse_time("1900-01-01 00:00", tz, "t").year in (1899, 1900)
        assert parse_time("2200-12-31T23:59-12:00", tz, "t").year in (2200, 2201)
    with pytest.raises(InvalidInput, match="between 1900 and 2200"):
        parse_time("0001-01-01T00:00+05:00", ZoneInfo("UTC"), "t")


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("KC-2026-0007", "KC-2026-0007"),
        (" kc-2026-0007\n", "KC-2026-0007"),
        ("KC-2026-7", "KC-2026-0007"),
        ("VB9-2027-12345", "VB9-2027-12345"),
    ],
)
def test_clean_ref_gives_the_stored_form(given: str, stored: str) -> None:
    assert clean_ref(given) == stored


@pytest.mark.parametrize(
    "ref",
    [
        "",
        "KC",
        "KC-2026",
        "KC-2026-0001; DROP TABLE incidents",
        "KC-２０２６-0001",
        "KC-2026-0001\x1b[2J",
        "KC\udcff-2026-0001",
        "KC-2026-" + "1" * 40,
        "../KC-2026-0001",
        "ık-2026-0001",
        "KC_2026_0001",
    ],
)
def test_clean_ref_refuses_what_cannot_be_a_reference(ref: str) -> None:
    with pytest.raises(NotFoundError) as refused_ref:
        clean_ref(ref)
    message = str(refused_ref.value)
    assert message.startswith("no incident '") and "\n" not in message and "\x1b" not in message
    assert message.endswith("a reference looks like KC-2026-0007; see `crisisflow list --all`")
    assert len(message) < 160


# --- files and documents ----------------------------------------------------------------------


def test_read_text_file_reads_utf8_and_drops_a_byte_order_mark(tmp_path: Path) -> None:
    file = tmp_path / "ban.txt"
    file.write_bytes("\ufeffThông cáo báo chí\r\n".encode())
    assert read_text_file(file, 100, "--file") == "Thông cáo báo chí\r\n"
    assert read_text_file(file, len(file.read_bytes()), "--file") == "Thông cáo báo chí\r\n"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"Th\xf4ng c\xe1o", "not UTF-8 text (byte 2); save it as UTF-8"),
        (b"Thong\x00cao", "contains NUL bytes; is it a text file?"),
        (b"x" * 101, "larger than 100 bytes; is it the right file?"),
    ],
)
def test_read_text_file_refuses_naming_the_file(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    file = tmp_path / "ban.txt"
    file.write_bytes(content)
    with pytest.raises(InvalidInput) as refused_file:
        read_text_file(file, 100, "--file")
    assert str(refused_file.value) == f"--file {file}: {expected}"


def test_read_text_file_names_a_missing_file_or_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"ban\.txt: cannot read it: no such file or directory$"):
        read_text_file(tmp_path / "ban.txt", 100, "--file")
    with pytest.raises(
        InvalidInput, match=re.escape(f"--file {tmp_path}: is a folder; give a text file")
    ):
        read_text_file(tmp_path, 100, "--file")


def test_read_text_file_reads_standard_input(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("Văn bản\n".encode())))
    assert read_text_file("-", 100, "--file") == "Văn bản\n"


def test_read_text_file_never_reads_past_the_limit_of_a_huge_file_or_dev_zero(
    tmp_path: Path,
) -> None:
    """In a process that may not use more than 1 GiB: reading either whole would fail."""
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as out:
        out.truncate(8 * 2**30)  # sparse: 8 GiB of nothing
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))\n"
        "from crisisflow.facts import read_text_file\n"
        "try:\n    read_text_file(sys.argv[1], 1000, '--file')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    for path in (str(huge), "/dev/zero"):
        done = subprocess.run(
            [sys.executable, "-c", code, path], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.strip() == (
            f"InvalidInput --file {path}: larger than 1000 bytes; is it the right file?"
        ), done.stderr


def test_read_text_file_refuses_a_large_file_by_its_size_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from crisisflow import facts

    file = tmp_path / "ban.txt"
    file.write_bytes(b"x" * 5000)
    reads: list[int] = []

    class Spy:
        def __init__(self, *args: Any) -> None:
            self.handle = open(*args)  # noqa: SIM115 - closed in __exit__

        def __enter__(self) -> Spy:
            return self

        def __exit__(self, *exc: object) -> None:
            self.handle.close()

        def fileno(self) -> int:
            return self.handle.fileno()

        def read(self, size: int = -1) -> bytes:
            reads.append(size)
            return bytes(self.handle.read(size))

    monkeypatch.setattr(facts, "open", Spy, raising=False)
    with pytest.raises(InvalidInput, match="larger than 1000 bytes"):
        read_text_file(file, 1000, "--file")
    assert reads == []
    assert read_text_file(file, 5000, "--file") == "x" * 5000 and reads == [5001]


def test_read_text_file_stops_reading_a_pipe_at_the_limit(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    written = [0]

    def writer() -> None:
        try:
            with open(fifo, "wb") as out:
                for _ in range(1000):
                    out.write(b"a" * 10_000)
                    out.flush()
                    written[0] += 10_000
        except BrokenPipeError:
            pass  # the reader stopped reading: that is the point

    thread = threading.Thread(target=writer)
    thread.start()
    with pytest.raises(InvalidInput, match="larger than 1000 bytes"):
        read_text_file(fifo, 1000, "--file")
    thread.join(timeout=30)
    assert written[0] < 200_000  # the limit, plus what the pipe buffers


def test_clean_document_normalises_like_a_statement() -> None:
    text = "  Thông cáo\r\nbáo chí   \rdòng ba\t\n\n\n"
    assert clean_document(text, 1000, "t") == "  Thông cáo\nbáo chí\ndòng ba\n"
    assert clean_document("Cafe\u0301", 1000, "t") == "Café\n"  # NFC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "t: the text is empty; write the text"),
        (" \r\n\t\u00a0\n", "t: the text is empty; write the text"),
        ("\ufeff\u200b\n", "t: the text is empty; write the text"),
        ("Thông\x00cáo", "t: contains the control character U+0000 (line 1); remove it"),
        ("a\n\x1b[2Jb", "t: contains the control character U+001B (line 2); remove it"),
        ("Thông \udcff", "t: contains bytes that are not UTF-8 text; save it as UTF-8"),
        ("x" * 11, "t: longer than 10 characters (12); shorten it"),
    ],
)
def test_clean_document_refuses(text: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as refused_text:
        clean_document(text, 10, "t")
    assert str(refused_text.value) == expected


def test_clean_document_counts_the_limit_after_normalising() -> None:
    assert clean_document("abcdefghi\r\n", 10, "t") == "abcdefghi\n"


# --- the directory ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "email: vanphong@vinhlinh.example",
            "email: vănphòng@vinhlinh.example",
            "unit 'van-phong': 'vănphòng@vinhlinh.example' has letters outside ASCII (ăò), which "
            "mail servers refuse; write the address in plain ASCII as the mail server knows it, "
            "e.g. vanphong@vinhlinh.example",
        ),
        (
            "email: chutich@vinhlinh.example",
            "email: chủtịch@vinhlinh.example",
            "person 'chu-tich': 'chủtịch@vinhlinh.example' has letters outside ASCII",
        ),
        (
            "email: thoisu@qrt.example",
            "email: thờisự@qrt.example",
            "press entry 2: 'thờisự@qrt.example' has letters outside ASCII",
        ),
        (
            "email: crisisflow@vinhlinh.example",
            "email: crisisflow@vĩnhlinh.example",
            "e.g. crisisflow@xn--vnhlinh-xdb.example",
        ),
        (
            "name: Văn phòng HĐND và UBND huyện",
            "name: Văn phòng <HĐND> và UBND huyện",
            "unit 'van-phong': name may not contain < (it goes into mail headers); remove it",
        ),
        (
            "name: Báo Quảng Trị",
            'name: "Báo Quảng Trị\\r\\nBcc: all@evil.example"',
            "press entry 1: name may not contain a line break or control character",
        ),
        (
            "email: toasoan@baoquangtri.example",
            "email: toasoan@baoquangtri.example\\n",
            "press entry 1: email may not contain a line break or control character",
        ),
    ],
)
def test_a_directory_address_or_name_mail_cannot_carry_is_refused_at_its_line(
    workspace: Path, old: str, new: str, expected: str
) -> None:
    path = workspace / "directory.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    if new.endswith("\\n"):  # a line break inside a double-quoted YAML string
        new = new.replace("email: ", 'email: "') + '"'
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    before = snapshot(workspace)
    message = refused(workspace, "open", "media-crisis", "--title", TITLE, code=3)
    assert message.startswith(f"{path}:{line_of(path, new)}: ")
    assert expected in message
    assert snapshot(workspace) == before


# --- the database -----------------------------------------------------------------------------


def test_a_file_that_is_not_a_database_is_named_not_upgraded(sqlite_workspace: Path) -> None:
    file = sqlite_workspace / "crisisflow.db"
    file.write_bytes(b"SQLite format 2\x00 -- not ours\n" * 100)
    before = file.read_bytes()
    message = refused(sqlite_workspace, "list", code=10)
    assert message == f"{file} is not an SQLite database; check database_url names the right file"
    assert file.read_bytes() == before


def test_a_truncated_database_is_called_damaged(sqlite_workspace: Path) -> None:
    ok(sqlite_workspace, "open", "media-crisis", "--title", TITLE)
    file = sqlite_workspace / "crisisflow.db"
    os.truncate(file, file.stat().st_size // 2)
    before = file.read_bytes()
    message = refused(sqlite_workspace, "show", "KC-2026-0001", code=10)
    assert message == f"{file} is damaged (truncated or corrupt); restore it from a backup"
    assert file.read_bytes() == before


def test_a_full_disk_is_named_and_nothing_is_half_written(sqlite_workspace: Path) -> None:
    before = snapshot(sqlite_workspace)

    def no_room(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA max_page_count = 1")  # SQLITE_FULL once pages run out

    sa_event.listen(Pool, "connect", no_room)
    try:
        message = refused(sqlite_workspace, "open", "media-crisis", "--title", TITLE, code=10)
    finally:
        sa_event.remove(Pool, "connect", no_room)
    file = sqlite_workspace / "crisisflow.db"
    assert message == f"cannot write to {file}: the disk is full; free some space and try again"
    assert snapshot(sqlite_workspace) == before


def test_a_database_in_a_missing_folder_is_named_and_not_created(sqlite_workspace: Path) -> None:
    file = sqlite_workspace / "gone" / "crisisflow.db"
    env = {"CRISISFLOW_DATABASE_URL": f"sqlite:///{file}"}
    message = refused(sqlite_workspace, "list", code=10, env=env)
    assert message.startswith(f"cannot open {file}: the folder {file.parent} does not exist")
    assert not file.parent.exists()


def test_an_unreachable_postgresql_is_named_without_its_password(sqlite_workspace: Path) -> None:
    env = {"CRISISFLOW_DATABASE_URL": "postgresql+psycopg://duty:s3cret@127.0.0.1:1/crisisflow"}
    message = refused(sqlite_workspace, "list", code=10, env=env)
    assert message == (
        "cannot connect to PostgreSQL at 127.0.0.1:1: connection refused; is the server running?"
    )


def test_a_database_url_that_does_not_parse_is_named_without_its_password(
    sqlite_workspace: Path,
) -> None:
    env = {"CRISISFLOW_DATABASE_URL": "postgresql+psycopg://duty:s3cret@db:port/crisisflow"}
    message = refused(sqlite_workspace, "list", code=10, env=env)
    assert message.startswith("cannot use database URL <invalid database URL>: ")
    assert message.endswith("; check database_url") and "s3cret" not in message


def test_only_a_database_without_the_schema_says_to_upgrade(sqlite_workspace: Path) -> None:
    file = sqlite_workspace / "crisisflow.db"
    file.unlink()
    engine = sa.create_engine(f"sqlite:///{file}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE unrelated (x)")
    engine.dispose()
    message = refused(sqlite_workspace, "list", code=10)
    assert message.endswith(
        "has schema none, this crisisflow needs 0009; run `crisisflow db upgrade`"
    )


# --- the local mail sink ----------------------------------------------------------------------


def test_a_sink_on_port_0_takes_a_free_port_and_reports_it(tmp_path: Path) -> None:
    with Sink(tmp_path / "mailbox", port=0) as sink:
        assert sink.port > 0
        with smtplib.SMTP(sink.host, sink.port, timeout=10) as client:
            client.sendmail("a@x.example", ["b@x.example"], b"Subject: thu\r\n\r\nthu\r\n")
    assert len(messages(tmp_path / "mailbox")) == 1


def test_a_sink_that_cannot_bind_leaves_nothing_open(tmp_path: Path) -> None:
    threads = threading.active_count()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.monotonic()
            try:
                Sink(tmp_path / "mailbox", port=port).start()
            except ConfigError as exc:  # its traceback goes at the end of this block
                message = str(exc)
            else:  # pragma: no cover
                pytest.fail("a sink started on a port in use")
            elapsed = time.monotonic() - started
            gc.collect()  # what the failed start left unreferenced warns now, or never
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert threading.active_count() == threads and elapsed < 5
    assert message == (
        f"cannot listen on 127.0.0.1:{port}: address already in use; is another sink running? "
        "choose another port with --port (0 picks a free one)"
    )


@pytest.mark.parametrize("port", ["busy", "70000"])
def test_the_mailbox_command_on_a_port_it_cannot_use_is_one_line(
    sqlite_workspace: Path, port: str
) -> None:
    import signal

    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        number = str(taken.getsockname()[1]) if port == "busy" else port
        try:
            message = refused(sqlite_workspace, "mailbox", "--port", number, code=3)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # the command blocks SIGINT/TERM
    assert ("address already in use" if port == "busy" else "from 1 to 65535") in message


@pytest.mark.parametrize("setting", ["MAIL_FROM", "REPLY_TO"])
def test_a_sender_address_outside_ascii_is_refused_in_one_line(
    workspace: Path, setting: str
) -> None:
    env = {
        "CRISISFLOW_HOME": str(workspace),
        f"CRISISFLOW_{setting}": "vănphòng@vinhlinh.example",
    }
    result = CliRunner().invoke(cli, ["open", "media-crisis", "--title", "Thử"], env=env)
    assert result.exit_code == 3, result.output
    assert f"setting {setting.lower()}" in result.stderr and "Traceback" not in result.output
    listed = CliRunner().invoke(cli, ["list", "--all"], env={"CRISISFLOW_HOME": str(workspace)})
    assert "KC-" not in listed.stdout


def test_statement_edit_from_dev_zero_is_refused_before_reading_it_all(workspace: Path) -> None:
    env = {"CRISISFLOW_HOME": str(workspace)}
    runner = CliRunner()
    ref = "KC-2026-0001"
    assert runner.invoke(cli, ["open", "media-crisis", "--title", "Thử"], env=env).exit_code == 0
    result = runner.invoke(
        cli, ["statement", "edit", ref, "initial_info", "--file", "/dev/zero"], env=env
    )
    assert result.exit_code not in (0, 70) and "Traceback" not in result.output
    assert "--file /dev/zero" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["list", "--due-within", "99999999999d"], "is not a duration"),
        (["list", "--due-within", "9999999d"], "at most 3660d"),
        (["list", "--limit", "-1"], "--limit"),
        (["outbox", "--limit", "0"], "--limit"),
        (["report", "KC-2026-0001", "--year", "2026"], "--year is for the yearly report"),
    ],
)
def test_listing_options_out_of_range_are_refused_in_one_line(
    workspace: Path, args: list[str], expected: str
) -> None:
    env = {"CRISISFLOW_HOME": str(workspace)}
    CliRunner().invoke(cli, ["open", "media-crisis", "--title", "Thử"], env=env)
    result = CliRunner().invoke(cli, args, env=env)
    assert result.exit_code not in (0, 70), result.output
    assert expected in result.stderr and "Traceback" not in result.output


def test_a_reminder_setting_beyond_any_clock_is_a_settings_error(workspace: Path) -> None:
    env = {"CRISISFLOW_HOME": str(workspace), "CRISISFLOW_REMINDERS": "50%, 99999999999d"}
    result = CliRunner().invoke(cli, ["open", "media-crisis", "--title", "Thử"], env=env)
    assert result.exit_code not in (0, 70), result.output
    assert "setting reminders" in result.stderr


def test_outbox_takes_a_reference_as_every_command_does(workspace: Path) -> None:
    env = {"CRISISFLOW_HOME": str(workspace)}
    CliRunner().invoke(cli, ["open", "media-crisis", "--title", "Thử"], env=env)
    result = CliRunner().invoke(cli, ["outbox", "--incident", "kc-2026-1", "--json"], env=env)
    assert result.exit_code == 0 and "KC-2026-0001" in result.stdout
