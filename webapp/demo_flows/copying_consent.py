"""Copying-consent samples: one awaiting approval, one sent back, one approved."""
from __future__ import annotations

from typing import Any

from .. import engine


def request(world, contract, requester, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "kind": "copy", "assets": world.asset_ids(contract, "A-001"),
        "purpose": "課税計算ロジック改修の検証のため、本番データを検証環境へ複製する。",
        "copies": 1, "medium": "暗号化USBメモリ（管理番号 K-012）", "location": "市役所本庁舎 3階 サーバ室 施錠キャビネット",
        "handlers": [f"user:{requester.username}"], "destruction_due": contract.ends_on.isoformat(),
    }
    data.update(overrides)
    return data


def load(world) -> None:
    if world.has_instances("copying_consent"):
        return
    contract = world.contract("R8-ZEI-0012")
    kobayashi, tanaka = world.user("kobayashi"), world.user("tanaka")
    engine.start("copying_consent", contract, request(world, contract, kobayashi), kobayashi)
    sent_back = engine.start("copying_consent", contract, request(
        world, contract, kobayashi, kind="other_purpose",
        purpose="障害調査のため、課税データの一部を受託者の分析環境で利用する。",
        assets=world.asset_ids(contract, "A-001", "A-002"),
        copies=None, medium=None, location=None, destruction_due=None), kobayashi)
    world.complete(sent_back, "approve", tanaka,
                   {"decision": "send_back", "comment": "対象データの範囲（項目・件数）を具体的に記載してください。"})
    approved = engine.start("copying_consent", contract, request(
        world, contract, kobayashi, purpose="設計書を受託者の開発拠点で参照するため複写する。",
        assets=world.asset_ids(contract, "A-003"), medium="暗号化ノートPC（資産番号 KZ-PC-031）",
        location="かずさシステムサービス 開発室 入退室管理区画"), kobayashi)
    world.complete(approved, "approve", tanaka, {"decision": "approve", "conditions": "作業終了後、速やかに消去し報告すること。"})
