"""`crisisflow demo`: a throwaway workspace and one realistic media-crisis incident walked from
detection to the after-action review, through the same App calls the CLI makes."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from .app import App
from .app.incidents import Outcome
from .config import load_settings
from .i18n import _
from .mailbox import Sink
from .views import mailbox_text, outcome_text, report_text
from .workspace import init

# (trigger, note, facts, actor): the story of one morning in Vĩnh Linh.
STEPS: list[tuple[str, str | None, dict[str, str], str | None]] = [
    ("triage", "Văn phòng tiếp nhận, báo cáo Chánh Văn phòng.", {}, None),
    ("verify", None, {"field_unit": "ubnd-cua-tung"}, None),
    (
        "assess",
        None,
        {
            "verified_facts": "Sáng 26/11, một đoạn bờ kè dài khoảng 15 m tại khu phố An Đức 2 "
            "bị sụt lún do mưa lớn kéo dài; không có thiệt hại về người. UBND thị trấn "
            "Cửa Tùng đã căng dây cảnh báo và bố trí lực lượng trực.",
            "severity": "L3",
        },
        None,
    ),
    ("assign_spokesperson", None, {"spokesperson": "chu-tich"}, None),
    ("hold", None, {}, None),
    ("submit_holding", None, {}, None),
    (
        "approve_holding",
        "Chủ tịch duyệt tuyên bố ban đầu qua điện thoại lúc 09 giờ 10.",
        {},
        "chu-tich",
    ),
    (
        "publish_holding",
        "Đăng trên Cổng thông tin điện tử huyện.",
        {"publish_channel": "portal"},
        None,
    ),
    ("submit", None, {}, None),
    ("reject", "Bổ sung số hộ dân bị ảnh hưởng và biện pháp hỗ trợ.", {}, "chu-tich"),
    ("submit", None, {}, None),
    ("approve", "Chủ tịch duyệt qua điện thoại lúc 10 giờ 40.", {}, "chu-tich"),
    ("publish", "Chủ tịch cho phát hành ngay.", {"publish_channel": "press_release"}, "chu-tich"),
    ("monitor", None, {}, None),
    ("close", "Dư luận đã ổn định; báo chí đưa tin đúng nội dung thông cáo.", {}, None),
    ("review", "Họp rút kinh nghiệm: thời gian xác minh 1 giờ 40 phút, đạt mục tiêu.", {}, None),
]


def run(keep: Path | None, echo: Callable[[str], None]) -> Path:
    """Run the demo; return the workspace folder (deleted afterwards unless ``keep``)."""
    folder = keep if keep is not None else Path(tempfile.mkdtemp(prefix="crisisflow-demo-"))
    try:
        report = init(folder, update=keep is not None and (folder / "crisisflow.toml").exists())
        # The demo's mail goes to a sink of its own, on a free port, whatever the settings say.
        sink = Sink(report.workspace / "mailbox").start()
        overrides = {"smtp_host": sink.host, "smtp_port": sink.port, "smtp_security": "none"}
        # The Chairman decides by phone in the demo; the duty officer enters it on his behalf
        # (signed in himself, he would use `crisisflow serve`).
        overrides["on_behalf_approvals"] = "allowed"
        app = App(load_settings(report.workspace, overrides))
        echo(
            _("Demo workspace: {path} (SQLite; mail to a local sink on port {port})").format(
                path=report.workspace, port=sink.port
            )
        )
        outcome = app.incidents.open(
            "media-crisis",
            "Mạng xã hội lan truyền tin sạt lở bờ kè tại thị trấn Cửa Tùng",
            given={"channel": "social", "source_url": "https://social.example/posts/261126"},
            note="Trung tâm VH-TT&TDTT phát hiện bài đăng lúc 07 giờ 45.",
            actor=app.identify(),
        )
        _show(outcome, app, echo)
        _walk(app, outcome.ref, echo)
        data = app.records.show(outcome.ref)
        echo("")
        echo(
            _(
                "{ref} reached {state}: {events} events, {statements} statement(s), {mails} "
                "e-mail(s) queued for delivery."
            ).format(
                ref=outcome.ref,
                state=data["state"],
                events=len(data["events"]),
                statements=len(data["statements"]),
                mails=len(data["messages"]),
            )
        )
        echo("")
        echo("$ crisisflow dispatch")
        echo(report_text(app.delivery.dispatch()))
        echo("")
        echo("$ crisisflow mailbox list")
        echo(mailbox_text(app.delivery.received(), app.local))
        sink.stop()
        app.close()
        return folder
    finally:
        if "sink" in locals():
            sink.stop()
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def _walk(app: App, ref: str, echo: Callable[[str], None]) -> None:
    """Take the incident through the demo's steps, printing each as a command."""
    for trigger, note, facts, actor in STEPS:
        if trigger == "submit" and app.statements.list(ref)[-1]["status"] == "rejected":
            _revise(app, ref, echo)
        echo("")
        echo(
            f"$ crisisflow advance {ref} {trigger}"
            + "".join(f" --set {k}=…" for k in facts)
            + (" --note …" if note else "")
            + (f" --as {actor} --on-behalf" if actor else "")
        )
        who = app.identify(actor, on_behalf=note) if actor else app.identify()
        step = app.incidents.advance(ref, trigger, note=note, given=facts, actor=who)
        _show(step, app, echo)


def _show(outcome: Outcome, app: App, echo: Callable[[str], None]) -> None:
    echo(outcome_text(outcome, app.settings["language"], preview=14, local=app.local))


def _revise(app: App, ref: str, echo: Callable[[str], None]) -> None:
    """What the office does after a rejection: edit the text as the Chairman asked."""
    text = app.statements.show(ref, "initial_info")["text"]
    addition = (
        "Qua rà soát, có 12 hộ dân sinh sống gần khu vực bờ kè; UBND thị trấn Cửa Tùng đã "
        "vận động các hộ tạm di chuyển đến nơi an toàn và hỗ trợ lương thực, nước uống."
    )
    anchor = "\n\nHiện nay,"
    revised = text.replace(anchor, f"\n\n{addition}{anchor}", 1)
    if revised == text:
        revised = text + "\n" + addition + "\n"
    result = app.statements.edit(ref, "initial_info", revised, actor=app.identify())
    echo("")
    echo(f"$ crisisflow statement edit {ref} initial_info")
    echo(_("{ref} {kind}: saved as version {version}").format(**result))
    echo(f"$ crisisflow statement diff {ref} initial_info")
    echo(app.statements.diff(ref, "initial_info").rstrip("\n"))
