"""Print where everything is, for `make run`."""

from django.core.management.base import BaseCommand

from crm.demo import DEMO_PASSWORD, DEMO_USERS


class Command(BaseCommand):
    help = "Print the URLs and demo logins of this Switchboard."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, port: int, **options):
        base = f"http://127.0.0.1:{port}"
        lines = [
            "",
            "Switchboard is starting (embedded profile: SQLite, in-memory layers, eager tasks).",
            f"  Log in          {base}/accounts/login/",
            f"  Contacts (CRM)  {base}/crm/contacts/",
            f"  Agent console   {base}/agent/",
            f"  Supervisor      {base}/supervisor/",
            f"  Admin           {base}/admin/",
            f"  Widget demo     {base}/widget/demo/demo/",
            f"  Health          {base}/healthz",
            "  Demo logins (password " + DEMO_PASSWORD + "): " + ", ".join(f"{u} ({r})" for u, r, *_ in DEMO_USERS),
            "",
        ]
        self.stdout.write("\n".join(lines))
