"""Print where everything is, for `make run`: the pages, the demo logins, and each demo inbox's page or
webhook URL with its demo secrets (each app's `demo.describe`, switchboard/demo.py)."""

from django.core.management.base import BaseCommand

from switchboard.demo import demo_descriptions


class Command(BaseCommand):
    help = "Print the URLs, the demo logins and the demo inboxes' webhook URLs and secrets of this Switchboard."

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
            f"  API docs        {base}/api/rest/v1/docs  (tokens: {base}/account/)",
            *(f"  {line}" for line in demo_descriptions(base=base)),
            "",
        ]
        self.stdout.write("\n".join(lines))
