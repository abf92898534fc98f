"""Demo data: a deterministic employee handbook of a fictional company, loaded by ``make demo``.

``load_demo_data(ctx)`` creates collection ``handbook`` in tenant ``northwind`` (markdown chunking) and indexes
the generated documents synchronously; it is idempotent (unchanged documents are no-ops by sha256). Two documents
are restricted (``hr``, ``engineering``) so the demo shows access control: ask about salary bands as ``alice``
and as a user in group ``hr``. ``python -m projects.enterprise_rag.demo --out DIR`` writes the same files to a
folder, e.g. to try folder sync.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

from shared.api.context import ServiceContext
from shared.retrieval.chunking import ChunkingConfig
from shared.retrieval.ingest import Indexer
from shared.retrieval.models import Principal

TENANT = "northwind"
COLLECTION = "handbook"
ADMIN = Principal(user_id="demo-admin", tenant_id=TENANT, groups=("hr", "engineering"))
RESTRICTED = {"salary-bands.md": ["hr"], "incident-runbook.md": ["engineering"]}


def generate_documents(seed: int = 7) -> dict[str, str]:
    """The handbook as ``{filename: markdown}``; the same seed always gives the same text."""
    rng = random.Random(seed)
    leave_days = rng.choice([25, 26, 28, 30])
    carry_month = rng.choice(["March", "April", "June"])
    hotel_cap = rng.choice([140, 160, 180])
    per_diem = rng.choice([45, 55, 60])
    expense_days = rng.choice([30, 45, 60])
    laptop = rng.choice(["a 14-inch ThinkPad", "a 14-inch MacBook Pro", "a Dell XPS 13"])
    office_days = rng.choice([2, 3])
    bands = {
        "Engineer I": (58, 72),
        "Engineer II": (70, 88),
        "Senior Engineer": (86, 110),
        "Staff Engineer": (105, 135),
    }
    docs = {
        "annual-leave.md": f"""# Annual leave

## Entitlement
Every full-time employee of Northwind Robotics receives {leave_days} days of paid annual leave per calendar year,
plus public holidays. Part-time employees receive a pro-rated entitlement.

## Carry-over
Up to five unused days can be carried over into the next year. Carried-over days expire at the end of
{carry_month}.

## Requesting leave
Request leave in the HR portal at least two weeks in advance; your manager approves it within three working days.
""",
        "travel-policy.md": f"""# Travel policy

## Booking
Book all trips through the travel desk. Economy class is standard for flights under six hours; business class
needs director approval.

## Hotels and meals
Hotels are reimbursed up to {hotel_cap} EUR per night. The daily meal allowance (per diem) is {per_diem} EUR.
""",
        "expenses.md": f"""# Expense reports

## Deadlines
Submit expense reports within {expense_days} days of the purchase, with an itemised receipt for every item over
25 EUR.

## Approval
Managers approve reports in the finance tool; reimbursement follows with the next payroll run.
""",
        "it-security.md": """# IT security

## Passwords and two-factor authentication
Use a password manager. Two-factor authentication is mandatory for email, the VPN and the code repository.

## VPN
Install the WireGuard client and import your personal profile from the IT portal. The VPN is required for access
to internal dashboards from outside the office.

## Reporting incidents
Report a lost laptop or a suspicious email to security@northwind.example within one hour.
""",
        "onboarding.md": f"""# Onboarding

## First day
New hires receive {laptop}, a badge and a buddy from their team. IT sets up accounts before the first day.

## First month
Complete the security training and the product overview course within the first 30 days.
""",
        "remote-work.md": f"""# Remote and hybrid work

## Office days
Teams meet in the office {office_days} days a week; the other days may be worked remotely.

## Equipment
Employees may claim a one-time home-office budget of 500 EUR for a chair, desk or monitor.
""",
        "benefits.md": """# Benefits

## Health insurance
The company pays 80% of the premium of the group health plan for employees and their children.

## Learning budget
Every employee has an annual learning budget of 1,200 EUR for courses, books and conferences.
""",
        "code-of-conduct.md": """# Code of conduct

## Respect
We treat colleagues, customers and partners with respect. Harassment and discrimination are not tolerated.

## Gifts
Gifts from suppliers worth more than 50 EUR must be declared to compliance.
""",
        "salary-bands.md": "# Salary bands (HR only)\n\n"
        + "\n".join(f"- {title}: {lo}k to {hi}k EUR per year" for title, (lo, hi) in bands.items())
        + "\n\nBands are reviewed every January against market data.\n",
        "incident-runbook.md": """# Incident runbook (engineering)

## Severity 1
Page the on-call engineer, open an incident channel and post status updates every 30 minutes.

## Post-mortem
Write a blameless post-mortem within five working days of resolving a severity 1 or 2 incident.
""",
    }
    return docs


def load_demo_data(ctx: ServiceContext) -> None:
    """Create the demo collection and index the handbook (idempotent)."""
    from projects.enterprise_rag.service import RagService
    from projects.enterprise_rag.settings import get_rag_settings

    settings = get_rag_settings().model_copy(update={"inline_worker": False})
    service = RagService(ctx.db_url(), ctx.embedder(), ctx.chat_model, settings)
    try:
        service.create_collection(
            ADMIN, COLLECTION, description="Northwind Robotics employee handbook (demo)",
            chunking=ChunkingConfig(strategy="markdown"),
        )  # fmt: skip
        indexer = Indexer(service.store, service.embedder)
        for name, text in generate_documents().items():
            doc = service.parse_upload(ADMIN, COLLECTION, name, text.encode(), RESTRICTED.get(name))
            indexer.index(doc)
    finally:
        service.queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the handbook files into")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, text in generate_documents().items():
        (args.out / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(generate_documents())} files to {args.out}")


if __name__ == "__main__":
    main()
