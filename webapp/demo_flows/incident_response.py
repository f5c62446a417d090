"""Incident-response sample: a high-severity leak on the care-insurance contract, reviewed by
the information policy division and now waiting for the contractor's action report."""
from __future__ import annotations

from datetime import timedelta

from .. import clock, engine
from ..engine.calendar import to_tokyo


def load(world) -> None:
    if world.has_instances("incident_response"):
        return
    contract = world.contract("R8-KAI-0034")
    ito, watanabe, takahashi = world.user("ito"), world.user("watanabe"), world.user("takahashi")
    found = to_tokyo(clock.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    instance = engine.start("incident_response", contract, {
        "kind": "leakage", "found_at": found,
        "summary": "要介護認定データの抽出ファイルを、誤って委託先外部の取引先へメール送信した。",
        "assets": world.asset_ids(contract, "B-002"), "people_affected": 48,
        "containment": "送信先へ電話で削除を依頼済み。送信元アカウントの外部送信を停止した。",
    }, ito)
    world.complete(instance, "triage", watanabe, {
        "severity": "high",
        "instructions": "送信先からの削除完了の書面を取得し、送信経緯と対象者一覧を本日中に報告すること。",
    })
    world.complete(instance, "policy_review", takahashi, {
        "advice": "個人データの漏えいのため、個人情報保護委員会への速報を所管課と準備する。対象者への通知文案を用意すること。",
    })
