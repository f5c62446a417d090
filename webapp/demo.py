"""A realistic demo: Kisarazu City departments, two contractors, two contracts, one user per role.

Idempotent: running it again finds what exists and adds nothing twice. Sample requests
are started only when the demo contract has none yet.
"""
from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa

from . import accounts, demo_flows, engine
from .extensions import db
from .models import Asset, Contract, HumanTask, Organization, ProcessInstance, User
from .models.identity import CITY, CONTRACTOR

DEMO_PASSWORD = "shodaku-demo-2026"

ORGANIZATIONS = [
    # code, name, name_en, kind, parent, corporate number, information policy division
    ("D-SOMU", "総務部", "General Affairs Department", CITY, None, None, False),
    ("D-JOHO", "情報政策課", "Information Policy Division", CITY, "D-SOMU", None, True),
    ("D-ZAIMU", "財務部", "Finance Department", CITY, None, None, False),
    ("D-SHIMINZEI", "市民税課", "Municipal Tax Division", CITY, "D-ZAIMU", None, False),
    ("D-KENKO", "健康こども部", "Health and Children Department", CITY, None, None, False),
    ("D-KAIGO", "介護保険課", "Long-Term Care Insurance Division", CITY, "D-KENKO", None, False),
    ("D-KANSA", "監査委員事務局", "Audit Commissioners' Office", CITY, None, None, False),
    ("C-KAZUSA", "株式会社かずさシステムサービス", "Kazusa System Service Co., Ltd.", CONTRACTOR, None, "7000012050002", False),
    ("C-BOSO", "房総データ株式会社", "Boso Data Co., Ltd.", CONTRACTOR, None, "1010001000006", False),
]

CONTRACTS = [
    # number, title, department, contractor, second contractor, start, end, info manager (title, name)
    ("R8-ZEI-0012", "住民税課税システム保守業務委託", "D-SHIMINZEI", "C-KAZUSA", None,
     date(2026, 4, 1), date(2027, 3, 31), ("情報管理責任者", "佐藤 美咲")),
    ("R8-KAI-0034", "介護保険システム運用支援業務委託", "D-KAIGO", "C-BOSO", "C-KAZUSA",
     date(2026, 4, 1), date(2028, 3, 31), ("情報管理責任者", "伊藤 大輔")),
]

ASSETS = {
    "R8-ZEI-0012": [("A-001", "令和8年度 住民税課税データ", "機密性3"),
                    ("A-002", "給与支払報告書イメージ", "機密性3"),
                    ("A-003", "課税システム設計書", "機密性2")],
    "R8-KAI-0034": [("B-001", "介護保険被保険者台帳", "機密性3"),
                    ("B-002", "要介護認定データ", "機密性3"),
                    ("B-003", "運用手順書", "機密性2")],
}

USERS = [
    # username, name, name (en), organization, roles, description
    ("kobayashi", "小林 健一", "Kenichi Kobayashi", "C-KAZUSA", ["contractor_staff@contract:R8-ZEI-0012"],
     "受託者 担当者（乙）"),
    ("sato", "佐藤 美咲", "Misaki Sato", "C-KAZUSA",
     ["contractor_manager@contract:R8-ZEI-0012", "contractor_staff@contract:R8-ZEI-0012"], "受託者 情報管理責任者"),
    ("ito", "伊藤 大輔", "Daisuke Ito", "C-BOSO",
     ["contractor_staff@contract:R8-KAI-0034", "contractor_manager@contract:R8-KAI-0034"], "受託者 担当者（別契約）"),
    ("tanaka", "田中 誠", "Makoto Tanaka", "D-SHIMINZEI", ["city_approver@dept:D-SHIMINZEI"], "市 承認者（市民税課）"),
    ("suzuki", "鈴木 花子", "Hanako Suzuki", "D-SHIMINZEI", ["city_supervisor@dept:D-SHIMINZEI"], "市 課長（市民税課）"),
    ("watanabe", "渡辺 直樹", "Naoki Watanabe", "D-KAIGO", ["city_approver@dept:D-KAIGO"], "市 承認者（介護保険課）"),
    ("takahashi", "高橋 由美", "Yumi Takahashi", "D-JOHO", ["security_officer"], "情報政策課（セキュリティ担当）"),
    ("morita", "森田 和也", "Kazuya Morita", "D-JOHO", ["security_supervisor"], "情報政策課長（エスカレーション先）"),
    ("nakamura", "中村 恵", "Megumi Nakamura", "D-JOHO", ["process_owner"], "プロセスオーナー"),
    ("kato", "加藤 剛", "Tsuyoshi Kato", "D-KANSA", ["auditor"], "監査担当"),
    ("yamamoto", "山本 一郎", "Ichiro Yamamoto", "D-JOHO", ["admin"], "システム管理者"),
]


def _org(code: str) -> Organization:
    return db.session.scalar(sa.select(Organization).where(Organization.code == code))


def load(with_requests: bool = True) -> list[tuple[str, str, str]]:
    """Create what is missing; return (username, name, description) of the demo accounts."""
    for code, name, name_en, kind, parent, corporate, policy in ORGANIZATIONS:
        if _org(code) is None:
            db.session.add(Organization(code=code, name=name, name_en=name_en, kind=kind,
                                        parent_id=_org(parent).id if parent else None, corporate_number=corporate,
                                        is_information_policy=policy))
            db.session.flush()
    for number, title, dept, contractor, second, starts, ends, (mgr_title, mgr_name) in CONTRACTS:
        contract = db.session.scalar(sa.select(Contract).where(Contract.number == number))
        if contract is None:
            contract = Contract(number=number, title=title, department_id=_org(dept).id,
                                contractor_id=_org(contractor).id,
                                second_contractor_id=_org(second).id if second else None,
                                starts_on=starts, ends_on=ends, info_manager_title=mgr_title, info_manager_name=mgr_name)
            db.session.add(contract)
            db.session.flush()
        for code, name, classification in ASSETS[number]:
            exists = db.session.scalar(sa.select(Asset).where(Asset.contract_id == contract.id, Asset.code == code))
            if exists is None:
                db.session.add(Asset(contract_id=contract.id, code=code, name=name, classification=classification))
    db.session.flush()
    for username, name, name_en, org, roles, _desc in USERS:
        if db.session.scalar(sa.select(User).where(User.username == username)) is None:
            user = accounts.create_user(username, name, DEMO_PASSWORD, email=f"{username}@demo.shodaku.example",
                                        org_code=org, roles=roles)
            user.display_name_en = name_en
    db.session.flush()
    if with_requests:
        load_requests()
    return [(u[0], u[1], u[5]) for u in USERS]


class DemoWorld:
    """Lookups the demo flow modules use."""

    def user(self, username: str) -> User:
        return db.session.scalar(sa.select(User).where(User.username == username))

    def contract(self, number: str) -> Contract:
        return db.session.scalar(sa.select(Contract).where(Contract.number == number))

    def asset_ids(self, contract: Contract, *codes: str) -> list[int]:
        return list(db.session.scalars(sa.select(Asset.id).where(Asset.contract_id == contract.id,
                                                                  Asset.code.in_(codes)).order_by(Asset.code)))

    def has_instances(self, process_key: str) -> bool:
        return bool(db.session.scalar(sa.select(sa.func.count()).select_from(ProcessInstance)
                                      .where(ProcessInstance.process_key == process_key)))

    def open_task(self, instance: ProcessInstance, spec_id: str) -> HumanTask:
        return db.session.scalar(sa.select(HumanTask).where(
            HumanTask.instance_id == instance.id, HumanTask.status == "open", HumanTask.spec_id == spec_id))

    def complete(self, instance: ProcessInstance, spec_id: str, user: User, data: dict[str, Any]) -> None:
        engine.complete(self.open_task(instance, spec_id).id, data, user)


def load_requests() -> None:
    """Sample requests of every flow, in realistic states (see :mod:`webapp.demo_flows`)."""
    world = DemoWorld()
    for module in demo_flows.modules():
        module.load(world)
