"""Subcontracting samples (Art. 10): one subcontractor approved and registered, one request
waiting for the information policy division after the city approver's approval.

Both are on R8-ZEI-0012, so the copying-consent form there offers the approved
subcontractor among the people handling assets.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from .. import clock, engine
from ..engine.calendar import to_tokyo
from . import sample_file

_LEVELS = {
    "certification": ("ISMS（ISO/IEC 27001）認証取得、プライバシーマーク付与", "ISMS（ISO/IEC 27001）認証取得（2025年更新）"),
    "access_control": ("個人ID・多要素認証、権限は業務単位で最小化、操作ログ1年保存",
                       "個人ID・多要素認証、権限は作業者単位で最小化、操作ログ1年保存"),
    "training": ("全従事者に年2回の情報セキュリティ研修、受講記録を保管", "全従事者に年2回の研修、受講記録を保管"),
    "incident": ("24時間連絡体制、1時間以内に市へ第一報", "24時間連絡体制、30分以内に乙へ第一報"),
    "physical": ("入退室をICカードで記録、施錠キャビネットで保管", "入退室をICカードと生体認証で記録、施錠保管"),
}


def request(world, contract, requester, company: str, corporate_number: str, scope: str,
            codes: tuple[str, ...], starts_on: date, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "company": company, "corporate_number": corporate_number, "address": "千葉県木更津市",
        "scope": scope, "assets": world.asset_ids(contract, *codes),
        "starts_on": starts_on.isoformat(), "ends_on": contract.ends_on.isoformat(),
        "evidence": [sample_file(requester, f"{company}_情報セキュリティ対策資料.pdf",
                                 b"%PDF-1.4\n% Shodaku demo evidence\n", "evidence")],
    }
    for item, (ours, theirs) in _LEVELS.items():
        data.update({f"{item}_contractor": ours, f"{item}_subcontractor": theirs,
                     f"{item}_comparison": "equal", f"{item}_note": ""})
    data["incident_comparison"] = "above"
    data.update(overrides)
    return data


def load(world) -> None:
    if world.has_instances("subcontracting"):
        return
    contract = world.contract("R8-ZEI-0012")
    sato, kobayashi = world.user("sato"), world.user("kobayashi")
    tanaka, takahashi = world.user("tanaka"), world.user("takahashi")
    today = to_tokyo(clock.now()).date()
    approve = {"decision": "approve", "finding": "equivalent"}

    approved = engine.start("subcontracting", contract, request(
        world, contract, sato, "株式会社南総ソフト", "1040001012345",
        "課税計算バッチのテスト工程（テストデータ作成と結果照合）", ("A-003",), today), sato)
    world.complete(approved, "review_city", tanaka, {**approve, "conditions": "作業場所を市に事前に届け出ること。"})
    world.complete(approved, "review_security", takahashi, approve)

    waiting = engine.start("subcontracting", contract, request(
        world, contract, kobayashi, "株式会社上総データエントリー", "9040001098765",
        "給与支払報告書イメージの入力作業", ("A-002",), today), kobayashi)
    world.complete(waiting, "review_city", tanaka, approve)
