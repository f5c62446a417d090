"""Device bring-in samples (Art. 12) on the care-insurance contract.

Three requests by 伊藤 (ito): a USB medium awaiting the city's permission (渡辺), a
maintenance PC for the LGWAN segment that the city permitted and that now waits for the
information policy division (高橋), and a PC on a city terminal that went through both
permissions and the pre-use check, so it is in the device register awaiting its removal
report. Dates are relative to today, because permissions may not start in the past.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from .. import clock, engine
from ..engine.calendar import to_tokyo
from . import sample_file


def request(contract, requester, today: date, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "computer", "model": "ThinkPad L14 Gen 5（保守用）", "serial": "PF4BX9K2", "owner": "房総データ株式会社",
        "purpose": "介護保険システムのサーバ定期保守（ログ採取・パッチ適用）のため、保守用PCを持ち込む。",
        "place": "市役所本庁舎 3階 サーバ室", "valid_from": today.isoformat(),
        "valid_until": min(today + timedelta(days=14), contract.ends_on).isoformat(),
        "connection": "network", "segment": "lgwan", "connection_target": "サーバ室 保守用LANポート（LGWAN接続系）",
        "scan_date": (today - timedelta(days=1)).isoformat(), "scan_result": "clean", "encrypted": True,
        "os_patch_level": "Windows 11 Pro 24H2（最新の累積更新プログラム適用済み）", "no_unauthorised_software": True,
    }
    data.update(overrides)
    data = {k: v for k, v in data.items() if v is not None}
    # A small scan report as the request's evidence (attachments are required).
    serial = data["serial"]
    report = (f"ウイルス検査結果報告\n対象機器: {serial}\n定義ファイル: 最新（検査当日更新）\n"
              "検査範囲: 全ドライブ\n結果: 検出なし\n")
    data["evidence"] = [sample_file(requester, f"ウイルス検査結果_{serial}.txt", report, "evidence")]
    return data


def load(world) -> None:
    if world.has_instances("device_connection"):
        return
    contract = world.contract("R8-KAI-0034")
    ito, watanabe, takahashi = world.user("ito"), world.user("watanabe"), world.user("takahashi")
    today = to_tokyo(clock.now()).date()

    engine.start("device_connection", contract, request(
        contract, ito, today, kind="storage_media", model="暗号化USBメモリ 32GB（パスワードロック付）",
        serial="KZUSB0042", purpose="介護保険システムの帳票テンプレート更新ファイルを受け渡すため。",
        place="介護保険課 執務室", connection="none", segment="none", connection_target=None,
        os_patch_level=None), ito)

    waiting = engine.start("device_connection", contract, request(contract, ito, today), ito)
    world.complete(waiting, "approve", watanabe, {"decision": "approve", "conditions": "サーバ室内でのみ使用すること。"})

    registered = engine.start("device_connection", contract, request(
        contract, ito, today, model="Let's note SV2（検証用）", serial="5KTSA01234", connection="terminal",
        segment="internet", connection_target="介護保険課 インターネット接続系端末（資産番号 KZ-PC-118）",
        purpose="保守マニュアル改訂版の表示確認のため、検証用PCを市の端末にUSB接続する。", place="介護保険課 執務室"), ito)
    world.complete(registered, "approve", watanabe, {"decision": "approve"})
    world.complete(registered, "security_review", takahashi,
                   {"decision": "approve", "conditions": "接続は作業時間内に限り、作業後は直ちに切断すること。"})
    world.complete(registered, "confirm_check", ito, {
        "serial_confirmation": "5KTSA01234", "checked_on": today.isoformat(), "check_done": True,
        "check_notes": "持込み当日に最新の定義ファイルで再検査し、検出なし。"})
