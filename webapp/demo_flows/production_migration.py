"""Production-migration samples (Art. 13, 15) on R8-ZEI-0012.

Three requests in the states a city approver and a contractor meet first: a configuration
change awaiting approval, a program migration sent back for more test evidence, and a
program migration approved and waiting for the backup (the migration step opens only after
it; kobayashi, the developer, will be refused the migration and sato may do it).
Windows are planned a week ahead of the demo's "today" so they are never in the past.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from .. import clock, engine
from ..engine.calendar import to_tokyo
from . import sample_file


def _window(contract, days_ahead: int) -> tuple[str, str]:
    """A night-time window ``days_ahead`` days from today (Japan time), inside the contract."""
    day: date = min(to_tokyo(clock.now()).date() + timedelta(days=days_ahead), contract.ends_on)
    start = datetime.combine(day, time(20, 0))
    return start.isoformat(timespec="minutes"), (start + timedelta(hours=3)).isoformat(timespec="minutes")


def program_request(contract, developer, days_ahead: int = 7, **overrides: Any) -> dict[str, Any]:
    start, end = _window(contract, days_ahead)
    data: dict[str, Any] = {
        "variant": "program", "change_title": "住民税課税計算モジュール 令和9年度税制改正対応",
        "purpose": "令和9年度の税制改正（定額減税の終了）に合わせて課税計算ロジックを改修する。",
        "schedule_summary": "12/7 検証完了、12/9 移行判定会議、移行当日 20:00 停止・移行・確認、23:00 再開。",
        "schedule_files": [sample_file(developer, "作業工程表.txt", "作業工程表（課税計算モジュール改修）")],
        "test_summary": "単体テスト 412件・結合テスト 86件すべて合格。前年度課税データ1,000件で差異なし。",
        "test_results": [sample_file(developer, "テスト結果報告書.txt", "テスト結果：412/412 合格、86/86 合格")],
        "components": "tax-calc-core 3.5.0\ntax-calc-batch 3.5.0\n税額計算設定テーブル（R9版）",
        "window_start": start, "window_end": end,
        "rollback_plan": "移行後の確認で差異が出た場合は、移行前バックアップ（v3.4.2）から復元し、22:30までに再開する。",
    }
    data.update(overrides)
    return data


def config_request(contract, days_ahead: int = 10) -> dict[str, Any]:
    start, end = _window(contract, days_ahead)
    return {
        "variant": "config", "change_title": "課税システム用ファイアウォールの通信許可設定の変更",
        "purpose": "eLTAX連携サーバの更新に伴い、新サーバからの通信を許可する。",
        "config_description": "FW-ZEI-01 に新連携サーバ（10.20.3.15）から課税APサーバ（443/tcp）への許可ルールを追加し、旧サーバのルールを削除する。",
        "affected_systems": "ファイアウォール FW-ZEI-01\n課税APサーバ ZEI-AP-01",
        "window_start": start, "window_end": end,
        "rollback_plan": "設定変更前のコンフィグを保存し、通信異常があれば直ちに戻す。",
    }


def load(world) -> None:
    if world.has_instances("production_migration"):
        return
    contract = world.contract("R8-ZEI-0012")
    kobayashi, sato, tanaka = world.user("kobayashi"), world.user("sato"), world.user("tanaka")
    engine.start("production_migration", contract, config_request(contract), sato)
    sent_back = engine.start("production_migration", contract, program_request(
        contract, kobayashi, days_ahead=14, change_title="住民税申告受付画面の入力チェック改修",
        components="tax-entry-web 2.8.1"), kobayashi)
    world.complete(sent_back, "approve", tanaka, {
        "decision": "send_back", "comment": "テスト結果に、障害時の切り戻し手順の検証結果も含めてください。"})
    approved = engine.start("production_migration", contract, program_request(contract, kobayashi), kobayashi)
    world.complete(approved, "approve", tanaka, {
        "decision": "approve", "conditions": "移行作業は小林さん以外の者が行い、完了後速やかに作業報告書を提出すること。"})
